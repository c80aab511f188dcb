//! The job vocabulary every layer shares, with no IO: why an attempt
//! failed, what a job type and a fairness group may be called, the
//! priority range, a payload's content hash, a
//! stored result. The queue (storage) and the runtime both build on it; it
//! imports nothing from the crate.

use serde::{Deserialize, Serialize};

mod new;
pub mod wait;
pub use new::{NewJob, Payload};
pub use wait::{OnTimeout, Wait, WaitError, WaitToken};

/// The longest job id, in bytes.
pub const MAX_JOB_ID_LEN: usize = 256;

/// Job ids: 1–256 printable ASCII characters, no spaces.
pub fn valid_id(id: &str) -> Result<(), String> {
    printable(id, MAX_JOB_ID_LEN)
}

/// A name of 1 to `max` printable ASCII characters, no spaces.
fn printable(name: &str, max: usize) -> Result<(), String> {
    if name.is_empty() || name.len() > max {
        return Err(format!("{name:?} must be 1 to {max} characters"));
    }
    if let Some(c) = name.chars().find(|c| !c.is_ascii_graphic()) {
        return Err(format!(
            "{name:?} contains {c:?}; use printable ASCII without spaces"
        ));
    }
    Ok(())
}

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

/// Priorities are kept to this range so ready scores stay exact.
pub const MAX_PRIORITY: i32 = 1_000_000;

/// Longest fairness group name.
pub const MAX_GROUP_LEN: usize = 128;

/// The metadata key naming the bulk run a job belongs to: what LLM spend is
/// summed by per run (`deckhand bulk` and the `bulk` plugin set it).
pub const RUN_METADATA: &str = "run";

/// The metadata that makes a job's LLM calls deferrable to the provider's
/// batch API: `llm = "batch"` (`deckhand bulk --llm-batch` sets it).
pub const LLM_LANE_METADATA: (&str, &str) = ("llm", "batch");

/// Fairness groups: 1–128 printable ASCII characters, no spaces.
pub fn valid_group(group: &str) -> Result<(), String> {
    printable(group, MAX_GROUP_LEN)
}

/// The content hash of a submission, computed by the host from what it
/// will run: SHA-256 of the canonical payload (object keys sorted, no
/// whitespace), so `{"a":1,"b":2}` and `{ "b": 2, "a": 1 }` are the same
/// content. A submitter's `metadata.content_hash` is mixed in as a version
/// (change it to compute again), never taken as the key: a job naming
/// another payload's hash must not be answered with, or answer for, that
/// payload's result.
pub fn content_hash(payload: &str, metadata_hash: Option<&str>) -> Result<String, String> {
    let payload = Payload::parse(payload).map_err(|e| format!("payload is {e}"))?;
    payload.content_hash(metadata_hash)
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

/// This machine's clock as Unix milliseconds (for coarse bounds only: the
/// queue's times come from Redis' clock).
pub fn unix_ms_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The latest a job may be scheduled for: this far ahead of now.
pub const MAX_SCHEDULE_AHEAD_MS: u64 = 10 * 366 * 24 * 3600 * 1000;

/// An RFC 3339 time (`2026-12-01T08:30:00Z`, `2026-12-01T09:30:00.250+01:00`)
/// as Unix milliseconds. Seconds may carry a fraction (kept to the
/// millisecond); the offset is `Z` or `±HH:MM`; years 1970 to 9999.
pub fn parse_rfc3339_ms(text: &str) -> Result<u64, String> {
    let bad = || format!("{text:?} is not an RFC 3339 time like 2026-12-01T08:30:00Z");
    let b = text.as_bytes();
    // ASCII only, so every slice below falls on a character boundary.
    if !text.is_ascii()
        || b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return Err(bad());
    }
    let num = |from: usize, to: usize| -> Result<i64, String> {
        let part = text.get(from..to).ok_or_else(bad)?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        part.parse().map_err(|_| bad())
    };
    let (year, month, day) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (hour, minute, second) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    let mut rest = &text[19..];
    let mut millis = 0;
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad());
        }
        let first3: String = fraction[..digits]
            .chars()
            .chain("00".chars())
            .take(3)
            .collect();
        millis = first3.parse::<i64>().map_err(|_| bad())?;
        rest = &fraction[digits..];
    }
    let offset_minutes = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 && matches!(&rest[..1], "+" | "-") && &rest[3..4] == ":" => {
            let hours: i64 = rest[1..3].parse().map_err(|_| bad())?;
            let minutes: i64 = rest[4..6].parse().map_err(|_| bad())?;
            if hours > 23 || minutes > 59 {
                return Err(bad());
            }
            let sign = if rest.starts_with('-') { -1 } else { 1 };
            sign * (hours * 60 + minutes)
        }
        _ => return Err(bad()),
    };
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let february = if leap { 29 } else { 28 };
    let month_days = [31, february, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if (0..1970).contains(&year) {
        return Err(format!(
            "{text:?} is before 1970: a time to run must be 1970-01-01T00:00:00Z or later"
        ));
    }
    if !(1970..=9999).contains(&year)
        || !(1..=12).contains(&month)
        || day < 1
        || day > month_days[(month - 1) as usize]
        || hour > 23
        || minute > 59
        || second > 60
    {
        return Err(bad());
    }
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second.min(59) - offset_minutes * 60;
    u64::try_from(seconds * 1000 + millis).map_err(|_| {
        format!("{text:?} is before 1970: a time to run must be 1970-01-01T00:00:00Z or later")
    })
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Checks a W3C `traceparent` value: version `00`, a trace id of 32 and a
/// span id of 16 lower-case hex digits (neither all zeros), two hex digits
/// of flags.
pub fn valid_traceparent(text: &str) -> Result<(), String> {
    let bad = || format!("traceparent {text:?} is not 00-<32 hex>-<16 hex>-<2 hex>");
    let parts: Vec<&str> = text.split('-').collect();
    let [version, trace, span, flags] = parts.as_slice() else {
        return Err(bad());
    };
    let hex = |s: &str, n: usize| {
        s.len() == n
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    let zero = |s: &str| s.bytes().all(|b| b == b'0');
    if *version != "00"
        || !hex(trace, 32)
        || !hex(span, 16)
        || !hex(flags, 2)
        || zero(trace)
        || zero(span)
    {
        return Err(bad());
    }
    Ok(())
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

    #[test]
    fn rfc3339_times() {
        assert_eq!(parse_rfc3339_ms("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(
            parse_rfc3339_ms("2026-12-01T08:30:00Z"),
            Ok(1_796_113_800_000)
        );
        assert_eq!(
            parse_rfc3339_ms("2026-12-01T09:30:00.25+01:00"),
            Ok(1_796_113_800_250)
        );
        assert_eq!(
            parse_rfc3339_ms("2024-02-29T00:00:00-00:30"),
            Ok(1_709_166_600_000)
        );
        for bad in [
            "",
            "2026-12-01",
            "2026-13-01T00:00:00Z",
            "2025-02-29T00:00:00Z",
            "2026-12-01T24:00:00Z",
            "2026-12-01T08:30:00",
            "2026-12-01T08:30:00+1:00",
            "2026-12-01T08:30:00.Z",
            "1969-12-31T23:59:59Z",
            "２026-12-01T08:30:00Z",
        ] {
            assert!(parse_rfc3339_ms(bad).is_err(), "{bad:?}");
        }
    }
}
