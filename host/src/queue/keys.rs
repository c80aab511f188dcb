//! The Redis layout's names, spelled once for Rust: the kinds of key under
//! the prefix (`P:<kind>:...`), the job hash's fields, the stats counters,
//! and the words the scripts answer with. The Lua scripts spell the same
//! names (`prelude.lua` draws the layout); the test below reads every script
//! and fails on a name this file does not know, so the two cannot drift.

/// Kinds of key: `P:<kind>` or `P:<kind>:<id>`.
pub mod key {
    pub const JOB: &str = "job";
    pub const ERRORS: &str = "errors";
    pub const READY: &str = "ready";
    pub const SCHEDULED: &str = "scheduled";
    /// Jobs suspended on a wait token, by when the wait runs out.
    pub const SUSPENDED: &str = "suspended";
    pub const LEASES: &str = "leases";
    pub const WAITING: &str = "waiting";
    pub const DEAD: &str = "dead";
    pub const TYPES: &str = "types";
    pub const SEQ: &str = "seq";
    pub const TOKEN: &str = "token";
    pub const IDENTITY: &str = "identity";
    pub const LAYOUT: &str = "layout";
    /// The queue's partition count, recorded on first connect (Rust).
    pub const PARTITIONS: &str = "partitions";
    pub const HOSTS: &str = "hosts";
    /// Host id -> "<Redis ms>:<interval ms>" of its last lease-loop pulse.
    pub const PULSE: &str = "pulse";
    pub const CONTENT: &str = "content";
    pub const STATS: &str = "stats";
    /// Channels.
    pub const FINISHED: &str = "finished";
    pub const WAKE: &str = "wake";
    pub const CANCELLED: &str = "cancelled";
    pub const COOLDOWN: &str = "cooldown";
    pub const PAUSED: &str = "paused";
    pub const RUNNING: &str = "running";
    pub const CAPS: &str = "caps";
    pub const INFLIGHT: &str = "inflight";
    pub const GROUPS: &str = "groups";
    pub const FAIR: &str = "fair";
    pub const RATES: &str = "rates";
    pub const RATE: &str = "rate";
    pub const BUDGET: &str = "budget";
    pub const SCHEDULES: &str = "schedules";
    pub const TICKS: &str = "ticks";
    /// The dashboard's figures: ended jobs by type and minute, the latest
    /// ended ids, a job's children.
    pub const DONE: &str = "done";
    pub const DIED: &str = "died";
    pub const MINUTES: &str = "minutes";
    pub const RECENT: &str = "recent";
    pub const CHILDREN: &str = "children";
    /// Cross-partition dependencies: the jobs waiting on other partitions,
    /// and which of a job's remote dependencies were applied (relay.lua).
    pub const REMOTE: &str = "remote";
    pub const SATISFIED: &str = "satisfied";
    /// A marker written only to wait for the replicas to have it
    /// (replication.rs, `Queue::read`).
    pub const SYNCED: &str = "synced";
    /// Dashboard sessions ended by a logout (`sessions.rs`).
    pub const ENDED: &str = "ended";
    /// A plugin's key-value store (see [`super::kv`]).
    pub const KV: &str = "kv";

    pub const ALL: &[&str] = &[
        JOB, ERRORS, READY, SCHEDULED, SUSPENDED, LEASES, WAITING, DEAD, TYPES, SEQ, TOKEN,
        IDENTITY, LAYOUT, PARTITIONS, HOSTS, PULSE, CONTENT, STATS, FINISHED, WAKE, CANCELLED,
        COOLDOWN, PAUSED, RUNNING, CAPS, INFLIGHT, GROUPS, FAIR, RATES, RATE, BUDGET, SCHEDULES,
        TICKS, DONE, DIED, MINUTES, RECENT, CHILDREN, REMOTE, SATISFIED, SYNCED, ENDED, KV,
    ];
}

/// A plugin's key-value store, `P:kv:<plugin hex>:<part>`: `v:<key>` values
/// (with TTLs), `sizes` (key -> bytes), `expiry` (key -> ms), `bytes` (total).
pub mod kv {
    pub const VALUE: &str = "v";
    pub const SIZES: &str = "sizes";
    pub const EXPIRY: &str = "expiry";
    pub const BYTES: &str = "bytes";

    pub const ALL: &[&str] = &[VALUE, SIZES, EXPIRY, BYTES];
}

/// Fields of the job hash (`P:job:<id>`) and of a content index entry
/// (`P:content:<type>:<hash>`).
pub mod field {
    pub const ID: &str = "id";
    pub const TYPE: &str = "type";
    pub const PAYLOAD: &str = "payload";
    pub const PRIORITY: &str = "priority";
    pub const STATUS: &str = "status";
    pub const ATTEMPTS: &str = "attempts";
    pub const MAX_RETRIES: &str = "max_retries";
    pub const METADATA: &str = "metadata";
    pub const DEPENDS_ON: &str = "depends_on";
    /// Its dependencies in other partitions: JSON object id -> partition.
    pub const REMOTE_DEPS: &str = "remote_deps";
    pub const PENDING_DEPS: &str = "pending_deps";
    pub const RUN_AFTER_FAILURE: &str = "run_after_failure";
    pub const WAITED_ON: &str = "waited_on";
    pub const PARENT: &str = "parent";
    pub const GROUP: &str = "group";
    /// The W3C traceparent the job was submitted with.
    pub const TRACE: &str = "trace";
    pub const CHILDREN_TOTAL: &str = "children_total";
    pub const CHILDREN_DONE: &str = "children_done";
    pub const CHILDREN_FAILED: &str = "children_failed";
    /// The top-level job of the run a child belongs to.
    pub const ROOT: &str = "root";
    /// On a top-level job: the jobs its run has made below it.
    pub const RUN_JOBS: &str = "run_jobs";
    pub const RESULT: &str = "result";
    pub const PLUGIN_VERSION: &str = "plugin_version";
    pub const WORKER: &str = "worker";
    pub const FEEDBACK: &str = "feedback";
    pub const LAST_ERROR: &str = "last_error";
    pub const PROGRESS: &str = "progress";
    pub const PROGRESS_MESSAGE: &str = "progress_message";
    pub const CREATED_AT: &str = "created_at";
    pub const UPDATED_AT: &str = "updated_at";
    pub const STARTED_AT: &str = "started_at";
    pub const FINISHED_AT: &str = "finished_at";
    pub const RUN_AT: &str = "run_at";
    pub const LEASE_TOKEN: &str = "lease_token";
    pub const LEASE_UNTIL: &str = "lease_until";
    /// '0' from a claim until the first renewal: whether the host got it.
    pub const RENEWED: &str = "renewed";
    /// Attempts given back because they never started (reap.lua).
    pub const REFUNDS: &str = "refunds";
    /// A suspended job's wait (suspend.lua): the token that resumes it,
    /// its name, the question (JSON), when it runs out (ms), what then
    /// ('fail' | 'complete' | 'dead'), the suspending attempt's result.
    pub const WAIT_TOKEN: &str = "wait_token";
    pub const WAIT_NAME: &str = "wait_name";
    pub const WAIT_QUESTION: &str = "wait_question";
    pub const WAIT_UNTIL: &str = "wait_until";
    pub const WAIT_POLICY: &str = "wait_policy";
    pub const WAIT_RESULT: &str = "wait_result";
    /// Attempts started by a resume: they spend no retry.
    pub const RESUMES: &str = "resumes";
    pub const CONTENT_HASH: &str = "content_hash";
    pub const CACHE_HIT: &str = "cache_hit";
    pub const FORCE: &str = "force";
    pub const LLM_CALLS: &str = "llm_calls";
    pub const PROMPT_TOKENS: &str = "prompt_tokens";
    pub const COMPLETION_TOKENS: &str = "completion_tokens";
    /// Content index entries: the job that computes (or computed) the result.
    pub const JOB: &str = "job";
    pub const JOB_ID: &str = "job_id";
    pub const STORED_AT: &str = "stored_at";
    /// A provider's budget (`P:budget:<name>`): what is left of each
    /// bucket, when it was last filled, the average tokens per request.
    pub const REQUESTS: &str = "requests";
    pub const TOKENS: &str = "tokens";
    pub const AT: &str = "at";
    pub const AVG: &str = "avg";

    pub const ALL: &[&str] = &[
        ID,
        TYPE,
        PAYLOAD,
        PRIORITY,
        STATUS,
        ATTEMPTS,
        MAX_RETRIES,
        METADATA,
        DEPENDS_ON,
        REMOTE_DEPS,
        PENDING_DEPS,
        RUN_AFTER_FAILURE,
        WAITED_ON,
        PARENT,
        GROUP,
        TRACE,
        CHILDREN_TOTAL,
        CHILDREN_DONE,
        CHILDREN_FAILED,
        ROOT,
        RUN_JOBS,
        RESULT,
        PLUGIN_VERSION,
        WORKER,
        FEEDBACK,
        LAST_ERROR,
        PROGRESS,
        PROGRESS_MESSAGE,
        CREATED_AT,
        UPDATED_AT,
        STARTED_AT,
        FINISHED_AT,
        RUN_AT,
        LEASE_TOKEN,
        LEASE_UNTIL,
        RENEWED,
        REFUNDS,
        WAIT_TOKEN,
        WAIT_NAME,
        WAIT_QUESTION,
        WAIT_UNTIL,
        WAIT_POLICY,
        WAIT_RESULT,
        RESUMES,
        CONTENT_HASH,
        CACHE_HIT,
        FORCE,
        LLM_CALLS,
        PROMPT_TOKENS,
        COMPLETION_TOKENS,
        JOB,
        JOB_ID,
        STORED_AT,
        REQUESTS,
        TOKENS,
        AT,
        AVG,
    ];
}

/// Counters in `P:stats`.
pub mod stat {
    pub const SUBMITTED: &str = "submitted";
    pub const CLAIMED: &str = "claimed";
    pub const COMPLETED: &str = "completed";
    pub const RETRIED: &str = "retried";
    pub const DEAD: &str = "dead";
    pub const CANCELLED: &str = "cancelled";
    pub const REPLAYED: &str = "replayed";
    pub const REAPED: &str = "reaped";
    pub const RELEASED: &str = "released";
    /// Jobs whose attempt never started, given back by the reaper.
    pub const REFUNDED: &str = "refunded";
    pub const STALE_REJECTED: &str = "stale_rejected";
    /// Durable waits: jobs suspended, resumed, and waits that ran out.
    pub const SUSPENDED: &str = "suspended";
    pub const RESUMED: &str = "resumed";
    pub const WAITS_TIMED_OUT: &str = "waits_timed_out";
    pub const CACHE_HITS: &str = "cache_hits";
    pub const ATTACHED: &str = "attached";
    pub const THROTTLED: &str = "throttled";
    pub const LLM_CALLS: &str = "llm_calls";
    pub const LLM_ERRORS: &str = "llm_errors";
    pub const LLM_RATE_LIMITED: &str = "llm_rate_limited";
    pub const LLM_INVALID_OUTPUTS: &str = "llm_invalid_outputs";
    pub const LLM_PROMPT_TOKENS: &str = "llm_prompt_tokens";
    pub const LLM_COMPLETION_TOKENS: &str = "llm_completion_tokens";

    pub const ALL: &[&str] = &[
        SUBMITTED,
        CLAIMED,
        COMPLETED,
        RETRIED,
        DEAD,
        CANCELLED,
        REPLAYED,
        REAPED,
        RELEASED,
        REFUNDED,
        STALE_REJECTED,
        SUSPENDED,
        RESUMED,
        WAITS_TIMED_OUT,
        CACHE_HITS,
        ATTACHED,
        THROTTLED,
        LLM_CALLS,
        LLM_ERRORS,
        LLM_RATE_LIMITED,
        LLM_INVALID_OUTPUTS,
        LLM_PROMPT_TOKENS,
        LLM_COMPLETION_TOKENS,
    ];
}

/// Field prefixes of `P:minutes`: `c<minute>` jobs completed, `d<minute>`
/// jobs dead in that Unix minute.
pub mod minute {
    pub const COMPLETED: &str = "c";
    pub const DEAD: &str = "d";
    pub const ALL: &[&str] = &[COMPLETED, DEAD];
}

/// What the scripts answer, and the failure kinds the queue itself writes
/// into error entries (the plugin's and the runtime's are
/// [`crate::job::JobFailure::kind`]).
pub mod word {
    pub const OK: &str = "ok";
    pub const STALE: &str = "stale";
    pub const MISSING: &str = "missing";
    pub const CREATED: &str = "created";
    pub const EXISTS: &str = "exists";
    pub const CACHED: &str = "cached";
    pub const ATTACHED: &str = "attached";
    pub const SKIPPED: &str = "skipped";
    pub const ERROR: &str = "error";
    pub const UNKNOWN_TYPE: &str = "unknown_type";
    pub const UNKNOWN_DEPENDENCY: &str = "unknown_dependency";
    pub const SELF_DEPENDENCY: &str = "self_dependency";
    pub const TOO_MANY_CHILDREN: &str = "too_many_children";
    pub const TOO_MANY_IN_RUN: &str = "too_many_in_run";
    /// `wait_also.lua`'s refusals (with STALE, UNKNOWN_DEPENDENCY,
    /// SELF_DEPENDENCY and DEPENDENCY_FAILED).
    pub const NOT_WAITING: &str = "not_waiting";
    pub const TOO_MANY_DEPENDENCIES: &str = "too_many_dependencies";
    /// Failure kinds of the queue's own making.
    pub const DEPENDENCY_FAILED: &str = "dependency_failed";
    /// What relay.lua is told of a remote dependency (or COMPLETED).
    pub const FAILED: &str = "failed";
    pub const COMPLETED: &str = "completed";
    pub const LEASE_EXPIRED: &str = "lease_expired";
    pub const CANCELLED: &str = "cancelled";
    /// Durable waits: a wait that ran out (a failure kind), what
    /// resume.lua answers besides RESUMED, and the timeout policies
    /// besides DEAD (`crate::job::OnTimeout`).
    pub const WAIT_TIMEOUT: &str = "wait_timeout";
    pub const RESUMED: &str = "resumed";
    pub const ENDED: &str = "ended";
    pub const UNKNOWN: &str = "unknown";
    pub const FAIL: &str = "fail";
    pub const COMPLETE: &str = "complete";
    /// Fields of an error entry (`P:errors:<id>`, `last_error`).
    pub const KIND: &str = "kind";
    pub const MESSAGE: &str = "message";
    /// Fields of a type's registration (`P:types`) the scripts read.
    pub const CACHE: &str = "cache";
    pub const VERSION_ID: &str = "version_id";
    pub const MODEL: &str = "model";

    pub const ALL: &[&str] = &[
        OK,
        STALE,
        MISSING,
        CREATED,
        EXISTS,
        CACHED,
        ATTACHED,
        SKIPPED,
        ERROR,
        UNKNOWN_TYPE,
        UNKNOWN_DEPENDENCY,
        SELF_DEPENDENCY,
        TOO_MANY_CHILDREN,
        TOO_MANY_IN_RUN,
        NOT_WAITING,
        TOO_MANY_DEPENDENCIES,
        DEPENDENCY_FAILED,
        FAILED,
        COMPLETED,
        LEASE_EXPIRED,
        CANCELLED,
        WAIT_TIMEOUT,
        RESUMED,
        ENDED,
        UNKNOWN,
        FAIL,
        COMPLETE,
        KIND,
        MESSAGE,
        CACHE,
        VERSION_ID,
        MODEL,
    ];
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::job::JobFailure;
    use crate::queue::JobStatus;

    /// Names Lua itself uses, not the layout: `type(x) == 'table'`.
    const LUA_WORDS: &[&str] = &["table"];

    fn scripts() -> Vec<(String, String)> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/queue/scripts");
        let mut out: Vec<(String, String)> = std::fs::read_dir(&dir)
            .expect("the scripts directory")
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "lua"))
            .map(|e| {
                let text = std::fs::read_to_string(e.path()).expect("a script");
                (e.file_name().to_string_lossy().into_owned(), text)
            })
            .collect();
        out.sort();
        out
    }

    /// Every single-quoted lower-case name in the code (comments left out).
    fn names(text: &str) -> BTreeSet<String> {
        let mut found = BTreeSet::new();
        for line in text.lines() {
            let code = line.split("--").next().unwrap_or("");
            let mut rest = code;
            while let Some(start) = rest.find('\'') {
                let after = &rest[start + 1..];
                let Some(end) = after.find('\'') else { break };
                let word = &after[..end];
                if !word.is_empty() && word.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
                    found.insert(word.to_string());
                }
                rest = &after[end + 1..];
            }
        }
        found
    }

    fn known() -> BTreeSet<String> {
        let statuses = [
            JobStatus::Pending,
            JobStatus::Waiting,
            JobStatus::Scheduled,
            JobStatus::Suspended,
            JobStatus::Running,
            JobStatus::Completed,
            JobStatus::Dead,
            JobStatus::Cancelled,
        ]
        .map(|s| s.as_str());
        let m = String::new();
        let failures = [
            JobFailure::Retry { message: m.clone() },
            JobFailure::Fail { message: m.clone() },
            JobFailure::RetryWithFeedback {
                message: m.clone(),
                feedback: m.clone(),
            },
            JobFailure::Timeout { limit_ms: 0 },
            JobFailure::MemoryLimit { limit_bytes: 0 },
            JobFailure::StackOverflow { limit_bytes: 0 },
            JobFailure::Trap { message: m.clone() },
            JobFailure::BadResult { message: m.clone() },
            JobFailure::Instantiate { message: m },
        ]
        .map(|f| f.kind());
        key::ALL
            .iter()
            .chain(field::ALL)
            .chain(stat::ALL)
            .chain(word::ALL)
            .chain(&statuses)
            .chain(&failures)
            .chain(LUA_WORDS)
            .chain(minute::ALL)
            .chain(kv::ALL)
            .map(|s| s.to_string())
            .collect()
    }

    #[test]
    fn every_name_a_script_uses_is_spelled_here() {
        let known = known();
        let mut unknown = Vec::new();
        let scripts = scripts();
        assert!(scripts.len() >= 10, "found the scripts");
        for (file, text) in &scripts {
            for name in names(text) {
                if !known.contains(&name) {
                    unknown.push(format!("{file}: '{name}'"));
                }
            }
        }
        assert!(
            unknown.is_empty(),
            "names the scripts use that keys.rs does not know:\n{}",
            unknown.join("\n")
        );
    }

    #[test]
    fn the_name_reader_skips_comments_and_sees_every_literal() {
        let found = names("redis.call('HSET', k('job', id), 'status', 'x') -- 'not_this'");
        let found: Vec<&str> = found.iter().map(String::as_str).collect();
        assert_eq!(found, ["job", "status", "x"]);
    }

    #[test]
    fn every_key_kind_the_layout_draws_is_known() {
        let prelude = scripts()
            .into_iter()
            .find(|(f, _)| f == "prelude.lua")
            .map(|(_, t)| t)
            .expect("prelude.lua");
        // The layout comment: lines like "--   P:job:<id>   hash ...".
        for line in prelude.lines() {
            let Some(rest) = line.trim_start_matches(['-', ' ']).strip_prefix("P:") else {
                continue;
            };
            let kind: String = rest
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            assert!(
                key::ALL.contains(&kind.as_str()),
                "prelude.lua draws P:{kind}, which keys.rs does not know"
            );
        }
    }
}
