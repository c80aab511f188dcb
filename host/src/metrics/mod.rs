//! What `/metrics` exposes, in Prometheus' text format.
//!
//! Two kinds of figures: this host's own (jobs it processed, how long they
//! took, how its plugins failed), kept in memory here; and the queue's,
//! shared by every host, read from Redis at scrape time (queue sizes, the
//! counters the Lua scripts keep: retries, dead letters, cache hits, lease
//! expiries, LLM calls and tokens).

mod bill;

pub use bill::render_bill;

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub use crate::queue::QueueFigures;

/// Histogram bucket bounds for job processing time, in seconds.
/// Most fairness groups exported per job type (the largest), so a type
/// with thousands of customers does not flood the scrape.
const MAX_GROUP_SERIES: usize = 50;

const BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 60.0,
];

#[derive(Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// This host's counters.
pub struct Metrics {
    started: Instant,
    /// Outcome label → count: completed, retried, dead, stale.
    processed: Mutex<BTreeMap<&'static str, u64>>,
    durations: Mutex<BTreeMap<String, Histogram>>,
    /// (job type, failure kind) → count.
    failures: Mutex<BTreeMap<(String, &'static str), u64>>,
    pub claims_paused: AtomicU64,
    /// Times this host found the queue's data gone (identity marker lost).
    pub queue_data_lost: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            started: Instant::now(),
            processed: Mutex::default(),
            durations: Mutex::default(),
            failures: Mutex::default(),
            claims_paused: AtomicU64::new(0),
            queue_data_lost: AtomicU64::new(0),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Metrics {
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// Records one attempt's outcome (`completed`, `retried`, `dead`,
    /// `stale`) and how long the plugin ran.
    pub fn job_processed(&self, job_type: &str, outcome: &'static str, took: Duration) {
        *lock(&self.processed).entry(outcome).or_default() += 1;
        let secs = took.as_secs_f64();
        let mut durations = lock(&self.durations);
        let h = durations.entry(job_type.to_string()).or_default();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                h.counts[i] += 1;
            }
        }
        h.count += 1;
        h.sum += secs;
    }

    /// Records why a plugin attempt failed (timeout, trap, memory_limit, ...).
    pub fn plugin_failed(&self, job_type: &str, kind: &'static str) {
        *lock(&self.failures)
            .entry((job_type.to_string(), kind))
            .or_default() += 1;
    }

    pub fn processed(&self, outcome: &str) -> u64 {
        lock(&self.processed).get(outcome).copied().unwrap_or(0)
    }

    /// Renders this host's figures, then the queue's (`queue` may be empty
    /// when Redis cannot be read).
    pub fn render(&self, queue: &QueueFigures) -> String {
        let mut out = String::new();
        let w = &mut out;
        self.render_host(w);
        render_queue(w, queue);
        render_controls(w, queue);
        render_events(w, queue);
        render_llm(w, queue);
        header(
            w,
            "deckhand_redis_up",
            "gauge",
            "1 when Redis answered this scrape.",
        );
        let _ = writeln!(w, "deckhand_redis_up {}", u8::from(queue.redis_up));
        out
    }

    /// The time plugins spent per attempt, as a histogram per job type.
    fn render_durations(&self, w: &mut String) {
        header(
            w,
            "worker_job_processing_seconds",
            "histogram",
            "Time plugins spent on a job attempt, by job type.",
        );
        for (job_type, h) in lock(&self.durations).iter() {
            let t = escape(job_type);
            for (i, bound) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    w,
                    "worker_job_processing_seconds_bucket{{job_type=\"{t}\",le=\"{bound}\"}} {}",
                    h.counts[i]
                );
            }
            let _ = writeln!(
                w,
                "worker_job_processing_seconds_bucket{{job_type=\"{t}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                w,
                "worker_job_processing_seconds_sum{{job_type=\"{t}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                w,
                "worker_job_processing_seconds_count{{job_type=\"{t}\"}} {}",
                h.count
            );
        }
    }

    /// This host's own figures.
    fn render_host(&self, w: &mut String) {
        header(
            w,
            "worker_jobs_processed_total",
            "counter",
            "Job attempts processed by this host, by outcome.",
        );
        for outcome in ["completed", "retried", "dead", "stale"] {
            let n = self.processed(outcome);
            let _ = writeln!(w, "worker_jobs_processed_total{{status=\"{outcome}\"}} {n}");
        }
        self.render_durations(w);
        header(
            w,
            "deckhand_plugin_failures_total",
            "counter",
            "Failed plugin attempts on this host, by job type and kind (timeout, trap, memory_limit, ...).",
        );
        for ((job_type, kind), n) in lock(&self.failures).iter() {
            let _ = writeln!(
                w,
                "deckhand_plugin_failures_total{{job_type=\"{}\",kind=\"{kind}\"}} {n}",
                escape(job_type)
            );
        }
        header(
            w,
            "deckhand_claims_paused",
            "gauge",
            "1 while the memory guard stops this host from claiming.",
        );
        let _ = writeln!(
            w,
            "deckhand_claims_paused {}",
            self.claims_paused.load(Ordering::Relaxed)
        );
        header(
            w,
            "deckhand_queue_data_lost_total",
            "counter",
            "Times this host found the queue's data gone from Redis (restarted empty, flushed).",
        );
        let _ = writeln!(
            w,
            "deckhand_queue_data_lost_total {}",
            self.queue_data_lost.load(Ordering::Relaxed)
        );
        header(
            w,
            "deckhand_runtime_threads",
            "gauge",
            "Threads running this host's jobs, claims and API (the threads setting; 0 outside a runtime).",
        );
        let threads =
            tokio::runtime::Handle::try_current().map_or(0, |h| h.metrics().num_workers());
        let _ = writeln!(w, "deckhand_runtime_threads {threads}");
        header(
            w,
            "deckhand_uptime_seconds",
            "gauge",
            "Seconds since this host started.",
        );
        let _ = writeln!(w, "deckhand_uptime_seconds {}", self.uptime().as_secs_f64());
    }
}

/// The queue's jobs by state.
fn render_queue(w: &mut String, queue: &QueueFigures) {
    header(
        w,
        "worker_queue_size",
        "gauge",
        "Jobs ready to run, all job types (the whole queue).",
    );
    let _ = writeln!(w, "worker_queue_size {}", queue.ready);
    header(
        w,
        "deckhand_queue_jobs",
        "gauge",
        "Jobs in the queue by status (the whole queue).",
    );
    for (status, n) in [
        ("pending", queue.ready),
        ("scheduled", queue.scheduled),
        ("suspended", queue.suspended),
        ("running", queue.running),
        ("dead", queue.dead),
    ] {
        let _ = writeln!(w, "deckhand_queue_jobs{{status=\"{status}\"}} {n}");
    }
}

/// Each job type's controls: paused, running, cap, rate limit, ready jobs
/// by group.
fn render_controls(w: &mut String, queue: &QueueFigures) {
    per_type(
        w,
        "deckhand_job_type_paused",
        "1 while a job type is paused (no host claims it), else 0.",
        queue
            .job_types
            .iter()
            .map(|(t, p)| (t, u8::from(*p).to_string())),
    );
    per_type(
        w,
        "deckhand_job_type_running",
        "Jobs of a type running now, across all hosts (what caps count).",
        queue
            .running_by_type
            .iter()
            .map(|(t, n)| (t, n.to_string())),
    );
    per_type(
        w,
        "deckhand_job_type_max_running",
        "A job type's cap on jobs running at once across all hosts (types with a cap).",
        queue.caps.iter().map(|(t, n)| (t, n.to_string())),
    );
    per_type(
        w,
        "deckhand_job_type_rate_limit",
        "Most jobs of a type started per interval across all hosts (types with a rate limit).",
        queue.rates.iter().map(|(t, r)| (t, r.jobs.to_string())),
    );
    per_type(
        w,
        "deckhand_job_type_rate_interval_seconds",
        "The interval of a job type's rate limit.",
        queue
            .rates
            .iter()
            .map(|(t, r)| (t, (r.interval_ms as f64 / 1000.0).to_string())),
    );
    header(
        w,
        "deckhand_group_ready_jobs",
        "gauge",
        "Ready jobs by job type and fairness group (the largest groups of each type).",
    );
    for (job_type, groups) in &queue.ready_groups {
        let mut largest: Vec<(&String, &u64)> = groups.iter().collect();
        largest.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        for (group, n) in largest.into_iter().take(MAX_GROUP_SERIES) {
            let _ = writeln!(
                w,
                "deckhand_group_ready_jobs{{job_type=\"{}\",group=\"{}\"}} {n}",
                escape(job_type),
                escape(group)
            );
        }
    }
}

/// One gauge with a value per job type.
fn per_type<'a>(
    w: &mut String,
    name: &str,
    help: &str,
    rows: impl IntoIterator<Item = (&'a String, String)>,
) {
    header(w, name, "gauge", help);
    for (job_type, value) in rows {
        let _ = writeln!(w, "{name}{{job_type=\"{}\"}} {value}", escape(job_type));
    }
}

/// The queue's event counters.
fn render_events(w: &mut String, queue: &QueueFigures) {
    let events: &[(&str, &str, &str)] = &[
        (
            "submitted",
            "deckhand_jobs_submitted_total",
            "Jobs submitted.",
        ),
        (
            "throttled",
            "deckhand_claims_throttled_total",
            "Claims that found a job type at its rate limit with jobs ready.",
        ),
        (
            "completed",
            "deckhand_jobs_completed_total",
            "Jobs completed (runs and cache hits).",
        ),
        (
            "retried",
            "deckhand_retries_total",
            "Attempts that ended in a retry.",
        ),
        (
            "dead",
            "deckhand_dead_letters_total",
            "Jobs moved to the dead-letter queue.",
        ),
        (
            "cache_hits",
            "deckhand_cache_hits_total",
            "Jobs completed from the content store without running.",
        ),
        (
            "attached",
            "deckhand_content_attached_total",
            "Submissions attached to a job already running the same content.",
        ),
        (
            "reaped",
            "deckhand_lease_expiries_total",
            "Leases that expired (host crashed or froze) and were reaped.",
        ),
        (
            "stale_rejected",
            "deckhand_stale_outcomes_total",
            "Outcomes refused because the lease was lost.",
        ),
        (
            "released",
            "deckhand_released_total",
            "Jobs handed back at shutdown.",
        ),
    ];
    for (field, name, help) in events {
        header(w, name, "counter", help);
        let n = queue.stats.get(*field).copied().unwrap_or(0);
        let _ = writeln!(w, "{name} {n}");
    }
}

/// LLM counters, per provider.
fn render_llm(w: &mut String, queue: &QueueFigures) {
    // LLM counters are kept per provider as `<field>:<provider>`.
    let per_provider = |field: &str| -> Vec<(String, i64)> {
        let prefix = format!("{field}:");
        queue
            .stats
            .iter()
            .filter_map(|(k, n)| k.strip_prefix(&prefix).map(|p| (escape(p), *n)))
            .collect()
    };
    let llm: &[(&str, &str, &str)] = &[
        (
            "llm_calls",
            "deckhand_llm_requests_total",
            "HTTP requests to the LLM provider.",
        ),
        (
            "llm_errors",
            "deckhand_llm_errors_total",
            "LLM calls that ended in an error.",
        ),
        (
            "llm_rate_limited",
            "deckhand_llm_rate_limited_total",
            "LLM answers with HTTP 429.",
        ),
        (
            "llm_invalid_outputs",
            "deckhand_llm_invalid_outputs_total",
            "Structured answers rejected (bad JSON or schema) and asked again.",
        ),
    ];
    for (field, name, help) in llm {
        header(w, name, "counter", help);
        for (provider, n) in per_provider(field) {
            let _ = writeln!(w, "{name}{{provider=\"{provider}\"}} {n}");
        }
    }
    header(
        w,
        "deckhand_llm_tokens_total",
        "counter",
        "LLM tokens spent, by provider and kind.",
    );
    for (field, kind) in [
        ("llm_prompt_tokens", "prompt"),
        ("llm_completion_tokens", "completion"),
    ] {
        for (provider, n) in per_provider(field) {
            let _ = writeln!(
                w,
                "deckhand_llm_tokens_total{{provider=\"{provider}\",kind=\"{kind}\"}} {n}"
            );
        }
    }
}

fn header(w: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(w, "# HELP {name} {help}");
    let _ = writeln!(w, "# TYPE {name} {kind}");
}

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// This process' resident memory in bytes (Linux; 0 elsewhere).
pub fn resident_bytes() -> u64 {
    let Ok(statm) = std::fs::read_to_string("/proc/self/statm") else {
        return 0;
    };
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    pages * u64::try_from(page).unwrap_or(4096)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let m = Metrics::default();
        m.job_processed("echo", "completed", Duration::from_millis(3));
        m.job_processed("echo", "completed", Duration::from_millis(300));
        let text = m.render(&QueueFigures::default());
        assert!(
            text.contains("worker_job_processing_seconds_bucket{job_type=\"echo\",le=\"0.005\"} 1")
        );
        assert!(
            text.contains("worker_job_processing_seconds_bucket{job_type=\"echo\",le=\"0.5\"} 2")
        );
        assert!(text.contains("worker_job_processing_seconds_count{job_type=\"echo\"} 2"));
        assert!(text.contains("worker_jobs_processed_total{status=\"completed\"} 2"));
    }

    #[test]
    fn resident_memory_is_read() {
        assert!(resident_bytes() > 1024 * 1024);
    }
}
