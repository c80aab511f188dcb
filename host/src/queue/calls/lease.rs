//! The calls of a job's life under a lease (`claim.lua`, `complete.lua`,
//! `fail.lua`, `renew.lua`, `reap.lua`, `release.lua`, `cancel.lua`).

use super::*;

/// Fields per job in the claim script's reply.
const CLAIM_FIELDS: usize = 13;

/// `claim`: up to `count` ready jobs of `job_types`, each leased to `host`.
pub(in crate::queue) struct ClaimJobs<'a> {
    pub count: usize,
    pub lease: Duration,
    pub host: &'a str,
    /// Unique per call, naming the partition (`partition::claim_nonce`).
    pub nonce: String,
    pub partitions: u32,
    pub job_types: &'a [&'a str],
}

impl Script for ClaimJobs<'_> {
    type Raw = Vec<String>;
    type Reply = Claim;

    fn function(f: &Functions) -> &Function {
        &f.claim
    }

    fn args(&self, call: &mut Call) {
        call.arg(self.count.min(MAX_CLAIM))
            .arg(millis(self.lease))
            .arg(self.host)
            .arg(&self.nonce)
            .arg(self.partitions)
            // One argument a job type.
            .arg(self.job_types);
    }

    /// The next due time, then `CLAIM_FIELDS` fields a job.
    fn reply(&self, raw: Vec<String>) -> Result<Claim, QueueError> {
        let mut fields = raw.into_iter();
        let Some(due) = fields.next() else {
            return Err(QueueError::Protocol("claim returned nothing".into()));
        };
        if !fields.len().is_multiple_of(CLAIM_FIELDS) {
            return Err(QueueError::Protocol(format!(
                "claim returned {} fields, not {CLAIM_FIELDS} a job",
                fields.len()
            )));
        }
        let next_due = due.parse::<u64>().ok().map(Duration::from_millis);
        let mut jobs = Vec::with_capacity(fields.len() / CLAIM_FIELDS);
        while fields.len() > 0 {
            // The fields are moved out, not copied: a payload can be large.
            jobs.push(claimed_job(|| fields.next().unwrap_or_default())?);
        }
        Ok(Claim { jobs, next_due })
    }
}

/// One job of a claim's reply, from its [`CLAIM_FIELDS`] fields in
/// `claim.lua`'s order.
fn claimed_job(mut field: impl FnMut() -> String) -> Result<ClaimedJob, QueueError> {
    let (id, job_type, payload, attempt) = (field(), field(), field(), field());
    let (feedback, metadata, token, lease_until) = (field(), field(), field(), field());
    let (priority, content_hash, forced) = (field(), field(), field());
    let (group, trace) = (field(), field());
    let some = |s: String| (!s.is_empty()).then_some(s);
    Ok(ClaimedJob {
        attempt: attempt
            .parse()
            .map_err(|_| QueueError::Protocol(format!("attempt {attempt:?}")))?,
        id,
        job_type,
        payload,
        feedback: some(feedback),
        metadata: serde_json::from_str(&metadata).unwrap_or_default(),
        token,
        lease_until_ms: lease_until.parse().unwrap_or(0),
        priority: priority.parse().unwrap_or(0),
        content_hash: some(content_hash),
        forced: forced == "1",
        group: some(group),
        trace: some(trace),
    })
}

/// `complete`: results recorded, each only under its own lease.
pub(in crate::queue) struct CompleteJobs<'a> {
    pub result_ttl_secs: u64,
    pub completions: &'a [Completion<'a>],
}

impl Script for CompleteJobs<'_> {
    type Raw = Vec<String>;
    type Reply = Vec<Ack>;

    fn function(f: &Functions) -> &Function {
        &f.complete
    }

    fn args(&self, call: &mut Call) {
        call.arg(self.result_ttl_secs);
        for c in self.completions {
            call.arg(&c.job.id)
                .arg(&c.job.token)
                .arg(c.result)
                .arg(c.plugin_version)
                .arg(flag(c.cache_hit));
        }
    }

    /// One reply a completion, in order.
    fn reply(&self, raw: Vec<String>) -> Result<Vec<Ack>, QueueError> {
        if raw.len() != self.completions.len() {
            return Err(QueueError::Protocol(format!(
                "complete returned {} replies for {} jobs",
                raw.len(),
                self.completions.len()
            )));
        }
        raw.iter()
            .map(|reply| match reply.as_str() {
                "ok" => Ok(Ack::Recorded(JobStatus::Completed)),
                "stale" => Ok(Ack::Stale),
                other => Err(QueueError::Protocol(format!("complete returned {other:?}"))),
            })
            .collect()
    }
}

/// `fail`: a failed attempt recorded under its lease; a retry after
/// `delay` while `retryable`, else the dead-letter queue.
pub(in crate::queue) struct FailJob<'a> {
    pub id: &'a str,
    pub token: &'a str,
    /// The error entry (`ErrorEntry` as JSON).
    pub entry: String,
    pub retryable: bool,
    /// What the next attempt is told ('' for nothing).
    pub feedback: &'a str,
    pub delay: Duration,
    pub plugin_version: &'a str,
    /// `Queue::lifetimes`.
    pub lifetimes: String,
}

impl Script for FailJob<'_> {
    type Raw = String;
    type Reply = Ack;

    fn function(f: &Functions) -> &Function {
        &f.fail
    }

    fn args(&self, call: &mut Call) {
        call.arg(self.id)
            .arg(self.token)
            .arg(&self.entry)
            .arg(flag(self.retryable))
            .arg(self.feedback)
            .arg(millis(self.delay))
            .arg(self.plugin_version)
            .arg(&self.lifetimes);
    }

    fn reply(&self, raw: String) -> Result<Ack, QueueError> {
        match raw.as_str() {
            "stale" => Ok(Ack::Stale),
            status => Ok(Ack::Recorded(status.parse().map_err(QueueError::Protocol)?)),
        }
    }
}

/// `renew`: leases extended; the reply names the jobs whose lease was lost.
pub(in crate::queue) struct RenewLeases<'a> {
    pub lease: Duration,
    /// (job id, fencing token) pairs.
    pub leases: &'a [(String, String)],
}

impl Script for RenewLeases<'_> {
    type Raw = Vec<String>;
    type Reply = Vec<String>;

    fn function(f: &Functions) -> &Function {
        &f.renew
    }

    fn args(&self, call: &mut Call) {
        call.arg(millis(self.lease));
        for (id, token) in self.leases {
            call.arg(id).arg(token);
        }
    }

    fn reply(&self, lost: Vec<String>) -> Result<Vec<String>, QueueError> {
        Ok(lost)
    }
}

/// `reap`: up to `max` expired leases' jobs back to the queue (or dead).
pub(in crate::queue) struct ReapLeases<'a> {
    pub max: u32,
    pub lifetimes: String,
    /// Every host's last pulse (JSON, see `pulse.lua`).
    pub pulses: &'a str,
}

impl Script for ReapLeases<'_> {
    type Raw = Vec<String>;
    type Reply = Vec<(String, JobStatus)>;

    fn function(f: &Functions) -> &Function {
        &f.reap
    }

    fn args(&self, call: &mut Call) {
        call.arg(self.max).arg(&self.lifetimes).arg(self.pulses);
    }

    fn reply(&self, flat: Vec<String>) -> Result<Self::Reply, QueueError> {
        super::waits::status_pairs("reap", flat)
    }
}

/// `release`: a running job handed back; the attempt does not count.
pub(in crate::queue) struct ReleaseJob<'a> {
    pub id: &'a str,
    pub token: &'a str,
}

impl Script for ReleaseJob<'_> {
    type Raw = String;
    type Reply = Ack;

    fn function(f: &Functions) -> &Function {
        &f.release
    }

    fn args(&self, call: &mut Call) {
        call.arg(self.id).arg(self.token);
    }

    fn reply(&self, raw: String) -> Result<Ack, QueueError> {
        match raw.as_str() {
            "ok" => Ok(Ack::Recorded(JobStatus::Pending)),
            "stale" => Ok(Ack::Stale),
            other => Err(QueueError::Protocol(format!("release returned {other:?}"))),
        }
    }
}

/// `cancel`: a job that has not finished ends cancelled.
pub(in crate::queue) struct CancelJob<'a> {
    pub id: &'a str,
    pub lifetimes: String,
}

impl Script for CancelJob<'_> {
    type Raw = String;
    type Reply = Cancel;

    fn function(f: &Functions) -> &Function {
        &f.cancel
    }

    fn args(&self, call: &mut Call) {
        call.arg(self.id).arg(&self.lifetimes);
    }

    fn reply(&self, raw: String) -> Result<Cancel, QueueError> {
        match raw.as_str() {
            "ok" => Ok(Cancel::Cancelled),
            "missing" => Err(QueueError::NotFound(self.id.to_string())),
            status => Ok(Cancel::AlreadyFinished(
                status.parse().map_err(QueueError::Protocol)?,
            )),
        }
    }
}

/// A yes/no argument as the scripts read it.
fn flag(yes: bool) -> &'static str {
    if yes { "1" } else { "0" }
}
