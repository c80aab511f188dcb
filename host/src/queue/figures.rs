//! What the queue's reads answer, as types and no IO: a job type's
//! registration read back ([`TypeInfo`]), its rate limit ([`RateLimit`]),
//! the dashboard's overview ([`Overview`]), counts as read. The partitions
//! fill them and the router adds them up; both import them from here.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A registration is live for this many heartbeat intervals after it was
/// written (a host that missed two beats is taken for gone).
const LIVE_BEATS: u64 = 3;
/// The heartbeat interval assumed when a registration gives none.
pub(in crate::queue) const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);

/// Most claims a rate limit may allow per interval.
pub const MAX_RATE_JOBS: u64 = 1_000_000;
/// The longest rate-limit interval: one day.
pub const MAX_RATE_INTERVAL_MS: u64 = 24 * 3600 * 1000;

/// A rate limit on a job type: at most `jobs` claims per `interval_ms`,
/// across all hosts. A job that cannot start yet stays ready (no attempt
/// is spent); hosts look again when the interval ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    pub jobs: u64,
    pub interval_ms: u64,
}

impl RateLimit {
    /// A limit with both numbers in range (jobs 1 to 1,000,000, interval
    /// 1 ms to one day).
    pub fn new(jobs: u64, interval_ms: u64) -> Result<Self, String> {
        if !(1..=MAX_RATE_JOBS).contains(&jobs) {
            return Err(format!(
                "rate limit jobs {jobs} is outside 1..={MAX_RATE_JOBS}"
            ));
        }
        if !(1..=MAX_RATE_INTERVAL_MS).contains(&interval_ms) {
            return Err(format!(
                "rate limit interval {interval_ms} ms is outside 1..={MAX_RATE_INTERVAL_MS} (one day)"
            ));
        }
        Ok(RateLimit { jobs, interval_ms })
    }

    /// `"<jobs>/<interval>"`, the interval a number with a unit: `ms`, `s`,
    /// `m` or `h` (`"100/1m"`, `"5/500ms"`).
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad =
            || format!("rate limit {text:?} is not <jobs>/<interval>, like 100/1m or 5/500ms");
        let (jobs, interval) = text.trim().split_once('/').ok_or_else(bad)?;
        let jobs: u64 = jobs.trim().parse().map_err(|_| bad())?;
        let interval = interval.trim();
        let digits = interval.bytes().take_while(u8::is_ascii_digit).count();
        let (number, unit) = interval.split_at(digits);
        let number: u64 = number.parse().map_err(|_| bad())?;
        let scale = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            _ => return Err(bad()),
        };
        let interval_ms = number.checked_mul(scale).ok_or_else(bad)?;
        RateLimit::new(jobs, interval_ms)
    }

    /// As the claim script reads it from `P:rates`.
    pub(in crate::queue) fn stored(&self) -> String {
        format!("{}/{}", self.jobs, self.interval_ms)
    }

    pub(in crate::queue) fn from_stored(text: &str) -> Option<Self> {
        let (jobs, interval) = text.split_once('/')?;
        RateLimit::new(jobs.parse().ok()?, interval.parse().ok()?).ok()
    }
}

impl std::fmt::Display for RateLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} per {} ms", self.jobs, self.interval_ms)
    }
}

/// A registered job type, as read back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypeInfo {
    pub job_type: String,
    /// The host that registered it last.
    pub host: String,
    pub plugin: String,
    pub version_id: String,
    /// Unix ms of that registration (0: written by a host from before
    /// registrations carried their time).
    pub at: u64,
    /// Whether a host registered it within the last few heartbeats.
    pub live: bool,
    /// Paused: no host claims it until it is resumed.
    pub paused: bool,
    /// Jobs of it running now, across all hosts.
    pub running: u64,
    /// Its cap on running jobs across all hosts, if it has one.
    pub max_running: Option<u64>,
    /// Its rate limit across all hosts, if it has one.
    pub rate_limit: Option<RateLimit>,
    /// Its ready jobs by fairness group (empty: none has a group).
    pub ready_groups: BTreeMap<String, u64>,
}

/// Minutes of throughput the overview reports.
pub const OVERVIEW_MINUTES: u64 = 60;

/// One job type's figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TypeFigures {
    pub job_type: String,
    /// Ready to run now.
    pub ready: u64,
    /// Running now, across all hosts.
    pub running: u64,
    /// Completed by a host, ever (since the queue began counting).
    pub completed: u64,
    /// Dead, ever.
    pub dead: u64,
    pub paused: bool,
    /// Most jobs of the type running at once, when capped.
    pub cap: Option<u64>,
    /// The rate limit, when one is set.
    pub rate_limit: Option<RateLimit>,
    /// Whether a live host serves the type now.
    pub live: bool,
}

/// Jobs ended in one minute.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Minute {
    /// Unix time of the minute's start, in ms.
    pub at_ms: u64,
    pub completed: u64,
    pub dead: u64,
}

/// The queue at a glance.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Overview {
    /// Redis' clock, Unix ms, when this was read.
    pub now_ms: u64,
    pub job_types: Vec<TypeFigures>,
    /// Queue-wide: waiting for their time, running, in the dead-letter queue.
    pub scheduled: u64,
    /// Suspended on a wait token (a durable wait).
    pub suspended: u64,
    pub running: u64,
    pub dead_letter: u64,
    /// The last hour, oldest minute first (the current minute last).
    pub throughput: Vec<Minute>,
    /// The queue's counters (`submitted`, `completed`, `cache_hits`,
    /// `llm_calls`, `llm_prompt_tokens`, ...).
    pub stats: BTreeMap<String, i64>,
    /// Every host's last heartbeat, by host id.
    pub hosts: BTreeMap<String, serde_json::Value>,
}

/// A registration as `P:types` holds it (JSON), read at `now` (Unix ms).
pub(in crate::queue) fn type_info(job_type: String, raw: &str, now: u64) -> TypeInfo {
    let info: serde_json::Value = serde_json::from_str(raw).unwrap_or_default();
    let text = |k: &str| info[k].as_str().unwrap_or_default().to_string();
    let at = info["at"].as_u64().unwrap_or(0);
    let interval = info["interval_ms"]
        .as_u64()
        .unwrap_or(super::millis(DEFAULT_INTERVAL))
        .max(1000);
    TypeInfo {
        job_type,
        host: text("host"),
        plugin: text("plugin"),
        version_id: text("version_id"),
        at,
        live: at > 0 && now.saturating_sub(at) <= interval.saturating_mul(LIVE_BEATS),
        paused: false,
        running: 0,
        max_running: None,
        rate_limit: None,
        ready_groups: BTreeMap::new(),
    }
}

/// Running counts as read from `P:running` (a count below zero, which the
/// scripts never leave, reads as 0).
pub(in crate::queue) fn non_negative(raw: BTreeMap<String, i64>) -> BTreeMap<String, u64> {
    raw.into_iter()
        .map(|(t, n)| (t, u64::try_from(n).unwrap_or(0)))
        .collect()
}
