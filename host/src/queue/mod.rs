//! The Redis job queue: submit, claim under a lease, complete, fail and
//! retry, dead-letter, dependencies, and waiting for results.
//!
//! Every change of a job's state is one Lua function (see [`scripts`]), so a
//! crash between two Redis commands can never leave a job half-moved. Leases
//! carry a fencing token: a host that lost its lease (frozen, cut off) cannot
//! overwrite the outcome of whoever holds the job now.
//!
//! Layout, in three layers:
//! - `net/`: the connection layer, importing nothing of the queue: the
//!   Redis URL (one server, a cluster, Sentinel), the one connection type
//!   over them, TLS files, what a failed call means;
//! - `partition/`: one partition (one hash tag, one slot): [`Partition`]
//!   runs that slot's scripts and reads, one operation family a file
//!   (`replication.rs`: writes and reads that wait for replicas), and
//!   names nothing of the router (a layout test keeps it so);
//! - the router, [`Queue`] (defined here, `router.rs` for its helpers):
//!   holds every partition, picks the one an operation runs on or runs it
//!   on each and gathers the answers, and never calls itself. One concern a
//!   file, each an `impl Queue` block:
//! - `route.rs`: which partition a new job goes to; batches split by it;
//! - `relay.rs`: dependencies on jobs in other partitions;
//! - `shared_content.rs`: content store results shared across partitions;
//! - `error.rs`: why an operation failed, and which failures are transient;
//! - `submit.rs`: submit one job or a batch; the checks before Redis;
//! - `lease.rs`: claim, complete, fail and retry, renew, reap, release, cancel;
//! - `read.rs`: read jobs (one, many pipelined, their states), wait, figures;
//! - `notifier.rs`: the process's one pub/sub connection, with typed topics
//!   (wake, finished, cancelled) and a cue to read again after a gap;
//! - `dlq.rs`: the dead-letter queue, its lifetime and cap;
//! - `extend.rs`: a waiting job made to wait on more jobs (staged fan-in);
//! - `presence.rs`: job types and live hosts, the identity marker, durability;
//! - `controls.rs`: pause, caps and rate limits per job type; fairness groups;
//! - `provider.rs`: an outside provider's limits shared by every host (LLM
//!   request slots, token and request budgets, cooldowns) and its counters;
//! - `maintenance.rs`: keyspace scans: the layout migration, the content index;
//! - `schedules.rs`: periodic jobs stored, and each tick fired once;
//! - `overview.rs`, `browse.rs`: what the dashboard reads: the queue at a
//!   glance from counters; jobs listed by state, a job's children;
//! - `record.rs`, `retry.rs`: the job record read back; the retry strategy;
//! - `scripts.rs` and `scripts/*.lua`: every state change, one Lua function
//!   each, in one Redis Functions library.
//! - `calls/`: each function's call as a type: its arguments named, its
//!   reply typed.

mod browse;
mod calls;
mod controls;
mod dlq;
mod error;
mod extend;
mod figures;
pub mod keys;
mod kv;
mod lease;
mod llm_batch;
mod maintenance;
pub mod net;
mod notifier;
mod overview;
mod partition;
mod presence;
mod provider;
mod read;
mod record;
mod relay;
mod retry;
mod route;
mod router;
mod schedules;
mod scripts;
mod sessions;
mod shared_content;
mod spend;
mod submit;
mod waits;

pub use crate::job::valid_id;
pub use calls::{DeferItem, ItemOutcome};
pub use controls::shareable;
pub use error::{BatchError, QueueError};
pub use figures::{
    MAX_RATE_INTERVAL_MS, MAX_RATE_JOBS, Minute, OVERVIEW_MINUTES, Overview, RateLimit,
    TypeFigures, TypeInfo,
};
pub use kv::KvEntry;
pub use llm_batch::{Deferred, Item, PendingModel, StoredBatch, Waiters};
pub use net::TlsFiles;
pub use notifier::{Listener, Message, Notice, Topic};
use partition::Partition;
pub use partition::replication::{MAX_REPLICA_ACK_TIMEOUT_MS, MAX_REPLICA_ACKS};
pub use partition::{DLQ_CHUNK, JobFilter, JobPage, JobSummary, MAX_PARTITIONS, MAX_SCAN};
pub use presence::Durability;
pub use provider::Budget;
pub use read::{Outcome, QueueFigures};
pub use record::{Children, ErrorEntry, JobRecord, JobStatus, WaitState};
pub use relay::GRACE as REMOTE_DEPENDENCY_GRACE;
pub use retry::RetryStrategy;
pub use schedules::{FIRE_BATCH, Fired, StoredSchedule};
pub use spend::{AskFigures, BillFigures, Ledger, LlmUsage, Spend, SpendField, SpendScope};
pub use submit::check_request;
pub use waits::Resumed;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use redis::AsyncCommands;
use serde::{Deserialize, Serialize};

use crate::job::{JobFailure, NewJob, valid_job_type_name};
use keys::{field, key};
use net::{Connector, Endpoint};

/// A hash of counters as Redis gives it back (job type or name -> count).
type Counts = BTreeMap<String, i64>;
/// A set of names (job types) as Redis gives it back.
type Names = std::collections::BTreeSet<String>;

pub use crate::job::{MAX_GROUP_LEN, MAX_PRIORITY, valid_group};
/// Longest caller-chosen job id.
pub const MAX_ID_LEN: usize = crate::job::MAX_JOB_ID_LEN;
/// Most dependencies one job may have.
pub const MAX_DEPENDENCIES: usize = 1_000;
/// The ceiling of `max_batch_jobs`.
pub const MAX_BATCH_JOBS: usize = 100_000;
/// Most retries a job may ask for.
pub const MAX_RETRIES: u32 = 1_000;
/// Most `metadata` entries one job may carry.
pub const MAX_METADATA_ENTRIES: usize = 64;
/// Most bytes of `metadata` (keys and values) one job may carry.
pub const MAX_METADATA_BYTES: usize = 64 * 1024;
/// The largest cap on jobs of one type running at once (`set_cap`).
pub const MAX_RUNNING_CAP: u64 = 1_000_000;

/// The largest payload any setting may allow, in bytes (a Redis string
/// holds at most 512 MiB).
pub const MAX_PAYLOAD_BYTES: usize = 512 * 1024 * 1024;
/// The layout version from which jobs others wait on carry `waited_on`
/// (stored in `P:layout` once a queue has been brought to it).
const LAYOUT_WAITED_ON: u32 = 1;
/// Layout 2: `P:running` counts each job type's leases.
const LAYOUT_RUNNING: u32 = 2;
/// How many of the oldest dead-letter entries each trim checks for a
/// record that is gone.
const DLQ_CHECK: usize = 1_000;
/// Most jobs one claim takes (a larger request takes this many).
pub const MAX_CLAIM: usize = 1_000;
/// Most results one [`Queue::complete_many`] call records.
pub const MAX_COMPLETE_BATCH: usize = 1_000;

/// Queue settings shared by every host and client of one queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueueConfig {
    /// Every key starts with `{prefix}:`; the braces make it a Redis Cluster
    /// hash tag, so each script's keys share one slot.
    pub prefix: String,
    /// Largest accepted payload, in bytes.
    pub max_payload_bytes: usize,
    /// Job types whose payloads may be larger (or must be smaller) than
    /// `max_payload_bytes`, e.g. a bulk job that carries its records.
    pub payload_limits: BTreeMap<String, usize>,
    /// How long completed and cancelled jobs are kept, in seconds.
    pub result_ttl_secs: u64,
    /// How long dead jobs stay in the dead-letter queue (record and entry
    /// together), in seconds, unless someone replays or purges them.
    pub dead_ttl_secs: u64,
    /// Most jobs the dead-letter queue holds; past it, the oldest go.
    pub dead_max: u64,
    /// Most jobs one [`Queue::submit_batch`] call takes.
    pub max_batch_jobs: usize,
    /// Most child jobs one job may submit.
    pub max_children: u64,
    /// Most jobs one run may make below its top-level job, at any depth
    /// (a fan-out of fan-outs is bounded as a whole).
    pub max_run_jobs: u64,
    /// The furthest ahead a job may be scheduled (`run_at`, a delay), in ms.
    pub max_schedule_ahead_ms: u64,
    /// Refuse submissions of job types no host has registered.
    pub check_job_types: bool,
    /// Use the content store for job types registered with `cache`.
    pub content_store: bool,
    pub retry: RetryStrategy,
    /// Replicas that must hold a submission or an outcome before it is
    /// acknowledged (Redis `WAIT`); 0: acknowledged once the master has it.
    pub min_replica_acks: u32,
    /// How long a write waits for `min_replica_acks` replicas, in ms; past
    /// it the write is reported as failed (it may still reach them).
    pub replica_ack_timeout_ms: u64,
    /// Partitions the queue is split into (see `router.rs` and `partition/`); 1 is the
    /// single-slot layout. Every host and client of a queue must agree.
    pub partitions: u32,
    /// TLS files for a `rediss://` connection (see `tls.rs`).
    pub tls: TlsFiles,
}

impl QueueConfig {
    /// The largest payload a job of `job_type` may carry, and the setting
    /// that says so.
    pub fn payload_limit(&self, job_type: &str) -> (usize, &'static str) {
        match self.payload_limits.get(job_type) {
            Some(&n) => (n, "[job_types.<type>] max_payload_bytes"),
            None => (self.max_payload_bytes, "queue.max_payload_bytes"),
        }
    }
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            prefix: "deckhand".into(),
            max_payload_bytes: 1024 * 1024,
            payload_limits: BTreeMap::new(),
            result_ttl_secs: 30 * 24 * 3600,
            dead_ttl_secs: 30 * 24 * 3600,
            dead_max: 1_000_000,
            max_batch_jobs: 100,
            max_children: 10_000,
            max_run_jobs: 250_000,
            max_schedule_ahead_ms: crate::job::MAX_SCHEDULE_AHEAD_MS,
            check_job_types: true,
            content_store: true,
            retry: RetryStrategy::default(),
            min_replica_acks: 0,
            replica_ack_timeout_ms: 1_000,
            partitions: 1,
            tls: TlsFiles::default(),
        }
    }
}

fn invalid(field: &'static str, reason: impl Into<String>) -> QueueError {
    QueueError::Invalid {
        field,
        reason: reason.into(),
    }
}

/// What one claim took, and when the next scheduled job comes due
/// (`None`: nothing is scheduled).
#[derive(Debug, Default)]
pub struct Claim {
    pub jobs: Vec<ClaimedJob>,
    pub next_due: Option<Duration>,
}

/// What a submission did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Submitted {
    pub id: String,
    pub status: JobStatus,
    /// False when no new job was made: a job with this id already existed,
    /// or the same content was already queued or running (that job's id is
    /// returned).
    pub created: bool,
    /// Completed at once from the content store.
    pub cache_hit: bool,
}

/// A job claimed by a host, with the lease that proves it.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedJob {
    pub id: String,
    pub job_type: String,
    pub payload: String,
    pub attempt: u32,
    pub feedback: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub token: String,
    pub lease_until_ms: u64,
    pub priority: i32,
    /// Set when the job takes part in the content store.
    pub content_hash: Option<String>,
    /// Submitted with `force`: run even if a result is stored.
    pub forced: bool,
    /// Its fairness group, if it has one (children inherit it).
    pub group: Option<String>,
    /// The W3C `traceparent` it was submitted with, if any.
    pub trace: Option<String>,
}

/// One result for [`Queue::complete_many`].
#[derive(Debug, Clone, Copy)]
pub struct Completion<'a> {
    pub job: &'a ClaimedJob,
    /// JSON text.
    pub result: &'a str,
    pub plugin_version: &'a str,
    /// The result came from the content directory, not a run.
    pub cache_hit: bool,
}

/// A job type a host offers, as registered in Redis.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RegisteredType {
    pub job_type: String,
    pub plugin: String,
    pub version_id: String,
    /// Results go to the content store (job types that need an LLM).
    pub cache: bool,
}

/// What a cancel did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cancel {
    Cancelled,
    /// Nothing to cancel: the job had already finished with this status.
    AlreadyFinished(JobStatus),
}

/// Whether Redis took a completion or failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ack {
    /// The outcome was recorded; for a failure, what happens next.
    Recorded(JobStatus),
    /// The lease was lost; the outcome was rejected.
    Stale,
}

/// A handle on one queue: the router over its partitions (see
/// `router.rs`). Cheap to clone; reconnects by itself.
#[derive(Clone)]
pub struct Queue {
    connector: Connector,
    config: Arc<QueueConfig>,
    /// Every partition, in order; partition 0 first (see [`Queue::hub`]).
    parts: Arc<[Partition]>,
    /// The process's one pub/sub subscription (see `notifier.rs`).
    notifier: notifier::Notifier,
}

impl Queue {
    /// Connects to Redis at `url`. Fails if Redis does not answer now; once
    /// connected, the queue reconnects by itself after Redis restarts.
    pub async fn connect(url: &str, config: QueueConfig) -> Result<Queue, QueueError> {
        // Braces would break the hash tag; glob characters would make the
        // key scans (`scan`) match other prefixes' keys.
        if config.prefix.is_empty()
            || config
                .prefix
                .contains(['{', '}', '~', ' ', '*', '?', '[', ']', '\\'])
        {
            return Err(invalid(
                "prefix",
                format!(
                    "{:?}: must be non-empty, without braces, '~', spaces or glob characters (*?[]\\)",
                    config.prefix
                ),
            ));
        }
        partition::replication::check(&config)?;
        if !(1..=MAX_PARTITIONS).contains(&config.partitions) {
            return Err(invalid(
                "partitions",
                format!("{}: must be 1 to {MAX_PARTITIONS}", config.partitions),
            ));
        }
        let endpoint = Endpoint::parse(url)?;
        let tls = config.tls.load()?;
        if tls.is_some() && !endpoint.tls() {
            return Err(invalid(
                "queue.tls_ca_file",
                "TLS files are set, but the Redis URL does not ask for TLS: use rediss:// or rediss+cluster://",
            ));
        }
        let (conn, connector) = endpoint.connect(tls).await?;
        let config = Arc::new(config);
        let parts = (0..config.partitions)
            .map(|p| Partition::new(&conn, config.clone(), p))
            .collect();
        let queue = Queue {
            connector,
            config,
            parts,
            notifier: Default::default(),
        };
        queue.check_partitions().await?;
        Ok(queue)
    }

    pub fn config(&self) -> &QueueConfig {
        &self.config
    }

    /// A channel of the queue's: every partition publishes on the same
    /// one (`{prefix}:<name>`).
    fn channel(&self, name: &str) -> String {
        format!("{{{}}}:{name}", self.config.prefix)
    }

    /// The pub/sub channel job ids are published on when jobs end (several
    /// ids in one message are separated by spaces).
    pub fn finished_channel(&self) -> String {
        self.channel(key::FINISHED)
    }

    /// The pub/sub channel a job type is published on when a job is ready.
    pub fn wake_channel(&self) -> String {
        self.channel(key::WAKE)
    }

    /// The pub/sub channel the id of a running job is published on when it
    /// is cancelled, so that its host stops it at once.
    pub fn cancelled_channel(&self) -> String {
        self.channel(key::CANCELLED)
    }

    /// A dedicated pub/sub connection (pub/sub cannot share the multiplexed
    /// one); the notifier's.
    async fn pubsub(&self) -> Result<redis::aio::PubSub, QueueError> {
        Ok(self.connector.pubsub().await?)
    }

    fn validate(&self, req: &NewJob) -> Result<(), QueueError> {
        check_request(&self.config, req)
    }
}

/// `timeout` from now; a timeout too long to add is a wait without end.
pub fn deadline_after(timeout: Duration) -> tokio::time::Instant {
    let now = tokio::time::Instant::now();
    now.checked_add(timeout)
        .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600))
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// This machine's clock in Unix milliseconds (0 if it is before 1970).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(millis)
        .unwrap_or(0)
}
