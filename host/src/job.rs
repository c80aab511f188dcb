//! The job vocabulary every layer shares, with no IO: why an attempt
//! failed, what a job type may be called, a payload's content hash, a
//! stored result. The queue (storage) and the runtime both build on it; it
//! imports nothing from the crate.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Why an attempt did not produce a result. The first three come from the
/// plugin itself; the rest are the host ending a job that broke a rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum JobFailure {
    #[error("the plugin asked to retry: {message}")]
    Retry { message: String },
    #[error("the plugin failed the job for good: {message}")]
    Fail { message: String },
    #[error("the plugin asked to retry with feedback: {message}")]
    RetryWithFeedback { message: String, feedback: String },
    #[error("timed out after {limit_ms} ms")]
    Timeout { limit_ms: u64 },
    #[error("exceeded its memory limit of {limit_bytes} bytes")]
    MemoryLimit { limit_bytes: u64 },
    #[error("stack overflow (the wasm stack is {limit_bytes} bytes)")]
    StackOverflow { limit_bytes: u64 },
    #[error("trapped: {message}")]
    Trap { message: String },
    #[error("the plugin returned a result that is not JSON: {message}")]
    BadResult { message: String },
    #[error("could not start the plugin: {message}")]
    Instantiate { message: String },
}

impl JobFailure {
    /// A short stable name for logs, metrics and the CLI.
    pub fn kind(&self) -> &'static str {
        match self {
            JobFailure::Retry { .. } => "retry",
            JobFailure::Fail { .. } => "fail",
            JobFailure::RetryWithFeedback { .. } => "retry_with_feedback",
            JobFailure::Timeout { .. } => "timeout",
            JobFailure::MemoryLimit { .. } => "memory_limit",
            JobFailure::StackOverflow { .. } => "stack_overflow",
            JobFailure::Trap { .. } => "trap",
            JobFailure::BadResult { .. } => "bad_result",
            JobFailure::Instantiate { .. } => "instantiate",
        }
    }

    /// Whether another attempt could succeed. Only an explicit `fail` from
    /// the plugin is final; limits and traps may depend on the input and the
    /// moment, and they count against `max_retries` like any other attempt.
    pub fn retryable(&self) -> bool {
        !matches!(self, JobFailure::Fail { .. })
    }

    /// The feedback to hand to the next attempt, if the plugin asked for it.
    pub fn feedback(&self) -> Option<&str> {
        match self {
            JobFailure::RetryWithFeedback { feedback, .. } => Some(feedback),
            _ => None,
        }
    }
}

/// Longest job type name; they appear in Redis keys and metric labels.
pub const MAX_JOB_TYPE_LEN: usize = 128;

/// Job type names: 1–128 characters of `A-Z a-z 0-9 . _ -`.
pub fn valid_job_type_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > MAX_JOB_TYPE_LEN {
        return Err(format!(
            "job type name {name:?} must be 1 to {MAX_JOB_TYPE_LEN} characters"
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(format!(
            "job type name {name:?} contains {c:?}; use letters, digits, '.', '_' and '-'"
        ));
    }
    Ok(())
}

/// The content hash of a submission: the submitter's
/// `metadata.content_hash` when given, else SHA-256 of the canonical payload
/// (object keys sorted, no whitespace), so `{"a":1,"b":2}` and
/// `{ "b": 2, "a": 1 }` are the same content.
pub fn content_hash(payload: &str, metadata_hash: Option<&str>) -> Result<String, String> {
    if let Some(given) = metadata_hash {
        valid_hash(given)?;
        return Ok(given.to_string());
    }
    let value: Value =
        serde_json::from_str(payload).map_err(|e| format!("payload is not valid JSON: {e}"))?;
    // serde_json's maps are ordered by key, so this serialization is canonical.
    let canonical = serde_json::to_string(&value).map_err(|e| e.to_string())?;
    Ok(hex::encode(Sha256::digest(canonical.as_bytes())))
}

/// Content hashes become key and file names: 8–128 of `[0-9A-Za-z_-]`.
pub fn valid_hash(hash: &str) -> Result<(), String> {
    if !(8..=128).contains(&hash.len())
        || !hash
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(format!(
            "content_hash {hash:?} must be 8 to 128 letters, digits, '_' or '-'"
        ));
    }
    Ok(())
}

/// One stored result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredResult {
    pub job_type: String,
    pub content_hash: String,
    /// JSON text.
    pub result: String,
    pub job_id: String,
    pub plugin_version: String,
    /// Unix milliseconds.
    pub stored_at: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_type_names() {
        assert!(valid_job_type_name("hsds.align").is_ok());
        assert!(valid_job_type_name("a-b_c.9").is_ok());
        assert!(valid_job_type_name("").is_err());
        assert!(valid_job_type_name("has space").is_err());
        assert!(valid_job_type_name("{tag}").is_err());
        assert!(valid_job_type_name(&"x".repeat(129)).is_err());
    }
}
