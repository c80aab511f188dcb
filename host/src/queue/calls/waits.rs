//! The calls of durable waits and of waiting on more jobs (`suspend.lua`,
//! `resume.lua`, `expire_waits.lua`, `wait_also.lua`).

use crate::job::{Wait, WaitToken};

use super::*;
use crate::queue::keys::word;

/// `suspend`: a leased job set aside on `wait` until `wait_token` resumes
/// it, keeping `result` for a wait that ends `complete`.
pub(in crate::queue) struct SuspendJob<'a> {
    pub id: &'a str,
    pub lease_token: &'a str,
    pub wait_token: &'a WaitToken,
    pub wait: &'a Wait,
    pub result: &'a str,
    pub plugin_version: &'a str,
}

impl Script for SuspendJob<'_> {
    type Raw = String;
    type Reply = Ack;

    fn function(f: &Functions) -> &Function {
        &f.suspend
    }

    fn args(&self, call: &mut Call) {
        call.arg(self.id)
            .arg(self.lease_token)
            .arg(self.wait_token.to_string())
            .arg(&self.wait.name)
            .arg(&self.wait.question)
            .arg(self.wait.timeout_ms)
            .arg(self.wait.on_timeout.as_str())
            .arg(self.result)
            .arg(self.plugin_version);
    }

    fn reply(&self, raw: String) -> Result<Ack, QueueError> {
        // 'suspended', now or by an earlier call with this lease and token.
        Ok(match raw.as_str() {
            word::STALE => Ack::Stale,
            _ => Ack::Recorded(JobStatus::Suspended),
        })
    }
}

/// `resume`: the job waiting on `token` ready again, `value` its feedback.
pub(in crate::queue) struct ResumeWait<'a> {
    pub token: &'a WaitToken,
    /// JSON text, checked before the call.
    pub value: &'a str,
}

impl Script for ResumeWait<'_> {
    type Raw = String;
    type Reply = Resumed;

    fn function(f: &Functions) -> &Function {
        &f.resume
    }

    fn args(&self, call: &mut Call) {
        call.arg(&self.token.job_id)
            .arg(self.token.to_string())
            .arg(self.value);
    }

    fn reply(&self, raw: String) -> Result<Resumed, QueueError> {
        match raw.as_str() {
            word::RESUMED => Ok(Resumed::Resumed),
            word::ENDED => Ok(Resumed::Ended),
            word::UNKNOWN => Ok(Resumed::Unknown),
            other => Err(QueueError::Protocol(format!("resume returned {other:?}"))),
        }
    }
}

/// `expire_waits`: up to `most` waits that ran out ended as each one's
/// policy says; the reply is (id, new status) pairs.
pub(in crate::queue) struct ExpireWaits {
    pub lifetimes: String,
    pub most: u32,
}

impl Script for ExpireWaits {
    type Raw = Vec<String>;
    type Reply = Vec<(String, JobStatus)>;

    fn function(f: &Functions) -> &Function {
        &f.expire_waits
    }

    fn args(&self, call: &mut Call) {
        call.arg(&self.lifetimes).arg(self.most);
    }

    fn reply(&self, flat: Vec<String>) -> Result<Self::Reply, QueueError> {
        status_pairs("expire_waits", flat)
    }
}

/// `wait_also`: `target`, waiting on the caller (or its parent), made to
/// wait on `depends_on` too.
pub(in crate::queue) struct WaitAlso<'a> {
    pub caller: &'a str,
    pub lease_token: &'a str,
    pub target: &'a str,
    /// The dependency ids as a JSON list.
    pub depends_on: String,
    pub max_dependencies: usize,
}

/// What `wait_also` answered.
pub(in crate::queue) enum WaitAlsoReply {
    /// This many dependencies added (those already there are left alone).
    Added(u64),
    /// Nothing written: the reply word (`keys::word`), and the id it names.
    Refused(String, String),
}

impl Script for WaitAlso<'_> {
    type Raw = Vec<String>;
    type Reply = WaitAlsoReply;

    fn function(f: &Functions) -> &Function {
        &f.wait_also
    }

    fn args(&self, call: &mut Call) {
        call.arg(self.caller)
            .arg(self.lease_token)
            .arg(self.target)
            .arg(&self.depends_on)
            .arg(self.max_dependencies);
    }

    fn reply(&self, raw: Vec<String>) -> Result<WaitAlsoReply, QueueError> {
        let wrong = || QueueError::Protocol(format!("wait_also replied {raw:?}"));
        match raw.first().map(String::as_str) {
            Some(word::OK) => raw
                .get(1)
                .and_then(|n| n.parse().ok())
                .map(WaitAlsoReply::Added)
                .ok_or_else(wrong),
            Some(word::ERROR) => {
                let reason = raw.get(1).cloned().ok_or_else(wrong)?;
                Ok(WaitAlsoReply::Refused(
                    reason,
                    raw.get(2).cloned().unwrap_or_default(),
                ))
            }
            _ => Err(wrong()),
        }
    }
}

/// A flat list of id, status pairs, as `reap` and `expire_waits` answer.
pub(super) fn status_pairs(
    function: &str,
    flat: Vec<String>,
) -> Result<Vec<(String, JobStatus)>, QueueError> {
    flat.chunks(2)
        .map(|pair| match pair {
            [id, status] => Ok((id.clone(), status.parse().map_err(QueueError::Protocol)?)),
            other => Err(QueueError::Protocol(format!(
                "{function} returned {other:?}"
            ))),
        })
        .collect()
}
