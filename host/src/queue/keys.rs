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
    /// LLM spend in micro-units (see [`super::spend`]).
    pub const SPEND: &str = "spend";
    /// Structured-output asks by job type and model (`spend.rs`).
    pub const ASKS: &str = "asks";
    /// The LLM batch lane (see [`super::llmb`]).
    pub const LLMB: &str = "llmb";

    pub const ALL: &[&str] = &[
        JOB, ERRORS, READY, SCHEDULED, SUSPENDED, LEASES, WAITING, DEAD, TYPES, SEQ, TOKEN,
        IDENTITY, LAYOUT, PARTITIONS, HOSTS, PULSE, CONTENT, STATS, FINISHED, WAKE, CANCELLED,
        COOLDOWN, PAUSED, RUNNING, CAPS, INFLIGHT, GROUPS, FAIR, RATES, RATE, BUDGET, SCHEDULES,
        TICKS, DONE, DIED, MINUTES, RECENT, CHILDREN, REMOTE, SATISFIED, SYNCED, ENDED, KV, SPEND,
        ASKS, LLMB,
    ];
}

/// The LLM batch lane, `P:llmb:<part>`: `item:<id>` a deferred call (hash),
/// `waiters:<id>` the wait tokens of the jobs waiting on it (token -> the
/// job's feedback before), `pending:<model>` items not yet in a batch
/// (zset by time), `models` the models with pending items, `batches` the
/// batches in flight, `batch:<local id>` one batch, `waking` items whose
/// waiters are not all resumed yet, `lock` the host running the lane.
pub mod llmb {
    pub const ITEM: &str = "item";
    pub const WAITERS: &str = "waiters";
    pub const PENDING: &str = "pending";
    pub const MODELS: &str = "models";
    pub const BATCHES: &str = "batches";
    pub const BATCH: &str = "batch";
    pub const WAKING: &str = "waking";
    pub const LOCK: &str = "lock";
    /// Item fields.
    pub const STATE: &str = "state";
    pub const MODEL: &str = "model";
    pub const BODY: &str = "body";
    pub const SCHEMA: &str = "schema";
    pub const RUN: &str = "run";
    pub const PAYER: &str = "payer";
    pub const AT: &str = "at";
    pub const CONTENT: &str = "content";
    pub const PROMPT: &str = "prompt";
    pub const CACHED: &str = "cached";
    pub const COMPLETION: &str = "completion";
    pub const COST: &str = "cost";
    pub const REASON: &str = "reason";
    /// Batch field: the provider's id of the batch.
    pub const PROVIDER_ID: &str = "provider_id";
    /// Item states: waiting for a batch, in one, answered, to be asked live.
    pub const PENDING_STATE: &str = "pending";
    pub const SUBMITTED: &str = "submitted";
    pub const DONE: &str = "done";
    pub const LIVE: &str = "live";

    pub const ALL: &[&str] = &[
        ITEM,
        WAITERS,
        PENDING,
        MODELS,
        BATCHES,
        BATCH,
        WAKING,
        LOCK,
        STATE,
        MODEL,
        BODY,
        SCHEMA,
        RUN,
        PAYER,
        AT,
        CONTENT,
        PROMPT,
        CACHED,
        COMPLETION,
        COST,
        REASON,
        PROVIDER_ID,
        PENDING_STATE,
        SUBMITTED,
        DONE,
        LIVE,
    ];
}

/// LLM spend, hashes of micro-units: `P:spend` ever, `P:spend:day:<UTC
/// date>` (kept 8 days), `P:spend:run:<run>` (kept 30 days); fields
/// `total` and `<scope>:<name>` (scopes `provider`, `model`, `type`,
/// `group`; `run:<run>` in `P:spend` only).
pub mod spend {
    pub const DAY: &str = "day";
    pub const RUN: &str = "run";
    pub const TOTAL: &str = "total";
    /// `P:asks` fields: `calls|<type>|<model>` structured calls,
    /// `reasked|<type>|<model>` of them needing a re-ask, `reasks|...` re-asks.
    pub const CALLS: &str = "calls";
    pub const REASKED: &str = "reasked";
    pub const REASKS: &str = "reasks";
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
    /// What the job's LLM calls cost, in micro-units of the price table.
    pub const LLM_COST: &str = "llm_cost";
    /// The model the last call went to, and why when not the first choice.
    pub const LLM_ROUTE: &str = "llm_route";
    /// The last 50 asks (JSON array), and how many there were in all.
    pub const LLM_ASKS: &str = "llm_asks";
    pub const LLM_ASKS_TOTAL: &str = "llm_asks_total";
    pub const COMPLETION_TOKENS: &str = "completion_tokens";
    /// Outbound HTTP a job's attempts made: requests, and body bytes both ways.
    pub const HTTP_REQUESTS: &str = "http_requests";
    pub const HTTP_BYTES: &str = "http_bytes";
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
        LLM_COST,
        LLM_ROUTE,
        LLM_ASKS,
        LLM_ASKS_TOTAL,
        COMPLETION_TOKENS,
        HTTP_REQUESTS,
        HTTP_BYTES,
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
#[path = "keys_tests.rs"]
mod tests;
