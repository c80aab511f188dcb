//! A durable wait: a job suspended until a value arrives from outside (a
//! person's answer, another system's callback) or its time runs out.
//!
//! A plugin asks for one with `jobs.suspend` and gets back a token; the
//! token names the job and carries 122 random bits, so only whoever was
//! handed it (the dashboard, the system the plugin told) can resume the
//! job. The queue keeps the wait in the job's record (`suspend.lua`,
//! `resume.lua`, `expire_waits.lua`).

use serde::{Deserialize, Serialize};

/// The longest a job may wait: 30 days.
pub const MAX_WAIT_MS: u64 = 30 * 24 * 3600 * 1000;
/// The longest wait name, in bytes.
pub const MAX_WAIT_NAME_LEN: usize = 64;
/// The largest question, in bytes of JSON text.
pub const MAX_QUESTION_LEN: usize = 64 * 1024;
/// The largest value a resume hands the job, in bytes of JSON text.
pub const MAX_RESUME_VALUE_LEN: usize = 256 * 1024;

/// What happens to a suspended job when its wait runs out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnTimeout {
    /// The attempt counts as failed: retried at once while retries last,
    /// then dead.
    Fail,
    /// The job completes with the result the suspending attempt returned.
    Complete,
    /// The job goes to the dead-letter queue.
    DeadLetter,
}

impl OnTimeout {
    /// As the queue stores it (`wait_policy`).
    pub fn as_str(self) -> &'static str {
        match self {
            OnTimeout::Fail => "fail",
            OnTimeout::Complete => "complete",
            OnTimeout::DeadLetter => "dead",
        }
    }

    pub fn parse(text: &str) -> Option<OnTimeout> {
        match text {
            "fail" => Some(OnTimeout::Fail),
            "complete" => Some(OnTimeout::Complete),
            "dead" | "dead_letter" => Some(OnTimeout::DeadLetter),
            _ => None,
        }
    }
}

/// Why a wait or a resume was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WaitError {
    #[error(
        "wait name must be 1 to {MAX_WAIT_NAME_LEN} letters, digits, '.', '_' or '-', got {0:?}"
    )]
    Name(String),
    #[error("wait timeout must be 1 ms to {MAX_WAIT_MS} ms (30 days), got {0}")]
    Timeout(u64),
    #[error("wait question must be JSON text of at most {MAX_QUESTION_LEN} bytes: {0}")]
    Question(String),
    #[error("resume value must be JSON text of at most {MAX_RESUME_VALUE_LEN} bytes: {0}")]
    Value(String),
    #[error("not a wait token (expected <32 hex digits>.<job id>)")]
    Token,
    #[error("this attempt has already asked to suspend")]
    Twice,
}

/// A wait as a plugin asks for it, checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Wait {
    pub name: String,
    /// JSON text.
    pub question: String,
    pub timeout_ms: u64,
    pub on_timeout: OnTimeout,
}

impl Wait {
    /// The one way to make a wait: every bound checked here.
    pub fn new(
        name: String,
        question: String,
        timeout_ms: u64,
        on_timeout: OnTimeout,
    ) -> Result<Wait, WaitError> {
        let name_ok = !name.is_empty()
            && name.len() <= MAX_WAIT_NAME_LEN
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if !name_ok {
            return Err(WaitError::Name(name));
        }
        if !(1..=MAX_WAIT_MS).contains(&timeout_ms) {
            return Err(WaitError::Timeout(timeout_ms));
        }
        check_json(&question, MAX_QUESTION_LEN).map_err(WaitError::Question)?;
        Ok(Wait {
            name,
            question,
            timeout_ms,
            on_timeout,
        })
    }
}

/// A resume value, checked: JSON text within the size bound.
pub fn check_value(value: &str) -> Result<(), WaitError> {
    check_json(value, MAX_RESUME_VALUE_LEN).map_err(WaitError::Value)
}

fn check_json(text: &str, max: usize) -> Result<(), String> {
    if text.len() > max {
        return Err(format!("{} bytes", text.len()));
    }
    serde_json::from_str::<serde_json::Value>(text)
        .map(drop)
        .map_err(|e| e.to_string())
}

/// The token that resumes one suspended job: `<secret>.<job id>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitToken {
    pub job_id: String,
    /// 32 hex digits.
    secret: String,
}

impl WaitToken {
    /// A new token for `job_id`.
    pub fn new(job_id: &str) -> WaitToken {
        WaitToken {
            job_id: job_id.to_string(),
            secret: uuid::Uuid::new_v4().simple().to_string(),
        }
    }

    /// Reads a token handed in from outside.
    pub fn parse(text: &str) -> Result<WaitToken, WaitError> {
        let (secret, job_id) = text.split_once('.').ok_or(WaitError::Token)?;
        let hex = secret.len() == 32 && secret.bytes().all(|b| b.is_ascii_hexdigit());
        if !hex || crate::job::valid_id(job_id).is_err() {
            return Err(WaitError::Token);
        }
        Ok(WaitToken {
            job_id: job_id.to_string(),
            secret: secret.to_ascii_lowercase(),
        })
    }
}

impl std::fmt::Display for WaitToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.secret, self.job_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wait_is_checked_where_it_is_made() {
        let ok = Wait::new("review".into(), "{}".into(), 1000, OnTimeout::Fail);
        assert!(ok.is_ok());
        let bad = |name: &str, q: &str, ms| Wait::new(name.into(), q.into(), ms, OnTimeout::Fail);
        assert!(matches!(bad("", "{}", 1), Err(WaitError::Name(_))));
        assert!(matches!(bad("a b", "{}", 1), Err(WaitError::Name(_))));
        assert!(matches!(bad("r", "{}", 0), Err(WaitError::Timeout(0))));
        let too_long = MAX_WAIT_MS + 1;
        assert!(matches!(
            bad("r", "{}", too_long),
            Err(WaitError::Timeout(_))
        ));
        assert!(matches!(
            bad("r", "{not json", 1),
            Err(WaitError::Question(_))
        ));
        let big = format!("\"{}\"", "x".repeat(MAX_QUESTION_LEN));
        assert!(matches!(bad("r", &big, 1), Err(WaitError::Question(_))));
        assert!(check_value("[1,2]").is_ok());
        assert!(matches!(check_value("nope"), Err(WaitError::Value(_))));
    }

    #[test]
    fn a_token_names_its_job_and_reads_back() {
        let t = WaitToken::new("job.with.dots");
        let text = t.to_string();
        assert_eq!(WaitToken::parse(&text), Ok(t));
        assert_eq!(
            WaitToken::parse(&text).map(|t| t.job_id).as_deref(),
            Ok("job.with.dots")
        );
        let spaced = format!("{}.job id", "a".repeat(32));
        for bad in [
            "",
            "abc",
            "abc.job",
            &format!("{}.", "a".repeat(32)),
            &"a".repeat(40),
            &spaced,
        ] {
            assert_eq!(WaitToken::parse(bad), Err(WaitError::Token), "{bad}");
        }
        assert_ne!(
            WaitToken::new("j").to_string(),
            WaitToken::new("j").to_string()
        );
    }

    #[test]
    fn policies_read_back() {
        for p in [OnTimeout::Fail, OnTimeout::Complete, OnTimeout::DeadLetter] {
            assert_eq!(OnTimeout::parse(p.as_str()), Some(p));
        }
        assert_eq!(OnTimeout::parse("later"), None);
    }
}
