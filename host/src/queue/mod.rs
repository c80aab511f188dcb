//! The Redis job queue: submit, claim under a lease, complete, fail and
//! retry, dead-letter, dependencies, and waiting for results.
//!
//! Every change of a job's state is one Lua script (see [`scripts`]), so a
//! crash between two Redis commands can never leave a job half-moved. Leases
//! carry a fencing token: a host that lost its lease (frozen, cut off) cannot
//! overwrite the outcome of whoever holds the job now.

mod presence;
mod record;
mod retry;
mod scripts;

pub use presence::{Durability, TypeInfo};
pub use record::{Children, ErrorEntry, JobRecord, JobStatus};
pub use retry::RetryStrategy;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use futures::StreamExt;
use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};

use crate::runtime::{JobFailure, valid_job_type_name};
use scripts::scripts;

/// Priorities are clamped to this range so ready scores stay exact.
pub const MAX_PRIORITY: i32 = 1_000_000;
/// Longest caller-chosen job id.
pub const MAX_ID_LEN: usize = 256;
/// Most dependencies one job may have.
pub const MAX_DEPENDENCIES: usize = 1_000;
/// The ceiling of `max_batch_jobs`.
pub const MAX_BATCH_JOBS: usize = 100_000;
/// Most retries a job may ask for.
pub const MAX_RETRIES: u32 = 1_000;
/// The layout version from which jobs others wait on carry `waited_on`
/// (stored in `P:layout` once a queue has been brought to it).
const LAYOUT_WAITED_ON: u32 = 1;
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
    /// Refuse submissions of job types no host has registered.
    pub check_job_types: bool,
    /// Use the content store for job types registered with `cache`.
    pub content_store: bool,
    pub retry: RetryStrategy,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            prefix: "deckhand".into(),
            max_payload_bytes: 1024 * 1024,
            result_ttl_secs: 30 * 24 * 3600,
            dead_ttl_secs: 30 * 24 * 3600,
            dead_max: 1_000_000,
            max_batch_jobs: 100,
            max_children: 10_000,
            check_job_types: true,
            content_store: true,
            retry: RetryStrategy::default(),
        }
    }
}

/// Why a queue operation failed.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("invalid {field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error(
        "unknown job type {0:?}: no host has registered it (is a host with that plugin running?)"
    )]
    UnknownJobType(String),
    #[error("unknown dependency {0:?}: no such job")]
    UnknownDependency(String),
    #[error("a job cannot depend on itself ({0:?})")]
    SelfDependency(String),
    #[error(
        "job {parent:?} has submitted its limit of {max} child jobs (queue.max_children); no more are accepted"
    )]
    TooManyChildren { parent: String, max: String },
    #[error("no job {0:?}")]
    NotFound(String),
    #[error("timed out after {0:?} waiting for jobs")]
    WaitTimeout(Duration),
    #[error("unexpected reply from redis: {0}")]
    Protocol(String),
}

fn invalid(field: &'static str, reason: impl Into<String>) -> QueueError {
    QueueError::Invalid {
        field,
        reason: reason.into(),
    }
}

/// A job to submit.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SubmitRequest {
    pub job_type: String,
    /// JSON text.
    pub payload: String,
    /// Higher runs first; FIFO within a priority.
    pub priority: i32,
    pub depends_on: Vec<String>,
    /// Caller-chosen id, doubling as idempotency key.
    pub id: Option<String>,
    pub max_retries: Option<u32>,
    pub metadata: BTreeMap<String, String>,
    /// The job that submitted this one, for fan-out.
    pub parent: Option<String>,
    /// Run even if the content store has a result (and store the new one).
    pub force: bool,
    /// Run once every dependency has finished, even if some died (an
    /// aggregate over them); by default a dead dependency kills this job.
    pub run_after_failure: bool,
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

/// A handle on one queue. Cheap to clone; reconnects by itself.
#[derive(Clone)]
pub struct Queue {
    client: redis::Client,
    conn: ConnectionManager,
    config: QueueConfig,
    /// `{prefix}`, with the hash-tag braces.
    tag: String,
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
                .contains(['{', '}', ' ', '*', '?', '[', ']', '\\'])
        {
            return Err(invalid(
                "prefix",
                format!(
                    "{:?}: must be non-empty, without braces, spaces or glob characters (*?[]\\)",
                    config.prefix
                ),
            ));
        }
        let client = redis::Client::open(url)?;
        let manager_config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Duration::from_secs(2))
            .set_response_timeout(Duration::from_secs(10))
            .set_number_of_retries(2)
            .set_max_delay(1000);
        let conn = client
            .get_connection_manager_with_config(manager_config)
            .await?;
        let tag = format!("{{{}}}", config.prefix);
        Ok(Queue {
            client,
            conn,
            config,
            tag,
        })
    }

    pub fn config(&self) -> &QueueConfig {
        &self.config
    }

    /// The lifetimes argument of the scripts that may end a job:
    /// "<result ttl>/<dead ttl>/<dead max>" (see `lifetimes` in prelude.lua).
    fn lifetimes(&self) -> String {
        format!(
            "{}/{}/{}",
            self.config.result_ttl_secs, self.config.dead_ttl_secs, self.config.dead_max
        )
    }

    fn key(&self, parts: &[&str]) -> String {
        let mut key = self.tag.clone();
        for part in parts {
            key.push(':');
            key.push_str(part);
        }
        key
    }

    /// Starts a script call: KEYS[1] is a key under the queue's hash tag, so
    /// a Redis Cluster client routes the script to the node that owns every
    /// key it touches; ARGV[1] is the tag the script builds its keys from.
    fn invocation<'a>(&self, script: &'a redis::Script) -> redis::ScriptInvocation<'a> {
        let mut invocation = script.prepare_invoke();
        invocation.key(self.key(&["seq"])).arg(&self.tag);
        invocation
    }

    /// The pub/sub channel job ids are published on when jobs end (several
    /// ids in one message are separated by spaces).
    pub fn finished_channel(&self) -> String {
        self.key(&["finished"])
    }

    /// The pub/sub channel a job type is published on when a job is ready.
    pub fn wake_channel(&self) -> String {
        self.key(&["wake"])
    }

    /// A dedicated pub/sub connection (pub/sub cannot share the multiplexed one).
    pub async fn pubsub(&self) -> Result<redis::aio::PubSub, QueueError> {
        Ok(self.client.get_async_pubsub().await?)
    }

    fn validate(&self, req: &SubmitRequest) -> Result<(), QueueError> {
        check_request(&self.config, req)
    }

    /// Submits a job. With a caller-chosen id that already exists, returns
    /// that job (`created: false`) and writes nothing. Invalid input, an
    /// unknown job type or an unknown dependency write nothing either.
    pub async fn submit(&self, req: SubmitRequest) -> Result<Submitted, QueueError> {
        let spec = self.spec(&req)?;
        let reply: Vec<String> = self
            .invocation(&scripts().submit)
            .arg(&spec.id)
            .arg(&spec.job_type)
            .arg(&spec.payload)
            .arg(&spec.priority)
            .arg(&spec.max_retries)
            .arg(&spec.metadata)
            .arg(&spec.depends_on)
            .arg(&spec.parent)
            .arg(&spec.check_type)
            .arg(&spec.ttl)
            .arg(&spec.content_hash)
            .arg(&spec.force)
            .arg(&spec.use_store)
            .arg(&spec.run_after_failure)
            .arg(&spec.max_children)
            .invoke_async(&mut self.conn.clone())
            .await?;
        submitted(&reply, &spec)
    }

    /// Submits many jobs, all or nothing: if any is refused (bad input,
    /// unknown type, unknown dependency), none is written, and the error
    /// says which (0-based index). A job may depend on one earlier in the
    /// batch by its caller-chosen id.
    pub async fn submit_batch(
        &self,
        requests: Vec<SubmitRequest>,
    ) -> Result<Vec<Submitted>, BatchError> {
        if requests.len() > self.config.max_batch_jobs {
            return Err(BatchError {
                index: self.config.max_batch_jobs,
                error: invalid(
                    "batch",
                    format!(
                        "{} jobs in one batch; at most {} (queue.max_batch_jobs)",
                        requests.len(),
                        self.config.max_batch_jobs
                    ),
                ),
            });
        }
        let mut specs = Vec::with_capacity(requests.len());
        let mut ids = HashSet::new();
        for (index, req) in requests.iter().enumerate() {
            // Dependencies on earlier jobs of the batch are checked in Redis.
            let spec = self
                .spec(req)
                .map_err(|error| BatchError { index, error })?;
            if !ids.insert(spec.id.clone()) {
                return Err(BatchError {
                    index,
                    error: invalid(
                        "job id",
                        format!("{:?} appears twice in the batch", spec.id),
                    ),
                });
            }
            specs.push(spec);
        }
        let json = serde_json::to_string(&specs).map_err(|e| BatchError {
            index: 0,
            error: QueueError::Protocol(e.to_string()),
        })?;
        let reply: String = self
            .invocation(&scripts().submit_batch)
            .arg(json)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(|e| BatchError {
                index: 0,
                error: e.into(),
            })?;
        #[derive(Deserialize)]
        struct Reply {
            ok: Option<Vec<Vec<String>>>,
            error: Option<Vec<String>>,
            index: Option<usize>,
        }
        let protocol = |m: String| BatchError {
            index: 0,
            error: QueueError::Protocol(m),
        };
        let reply: Reply =
            serde_json::from_str(&reply).map_err(|e| protocol(format!("submit_batch: {e}")))?;
        match (reply.ok, reply.error, reply.index) {
            (Some(replies), _, _) => replies
                .iter()
                .zip(&specs)
                .enumerate()
                .map(|(index, (r, spec))| {
                    submitted(r, spec).map_err(|error| BatchError { index, error })
                })
                .collect(),
            (None, Some(error), Some(index)) => Err(BatchError {
                index,
                error: submitted(&error, &specs[index.min(specs.len().saturating_sub(1))])
                    .err()
                    .unwrap_or_else(|| QueueError::Protocol("batch error without a reason".into())),
            }),
            _ => Err(protocol(
                "submit_batch returned neither ok nor error".into(),
            )),
        }
    }

    /// Checks a request and turns it into the script's arguments.
    fn spec(&self, req: &SubmitRequest) -> Result<Spec, QueueError> {
        self.validate(req)?;
        let content_hash = crate::content::content_hash(
            &req.payload,
            req.metadata.get("content_hash").map(String::as_str),
        )
        .map_err(|r| {
            let field = if req.metadata.contains_key("content_hash") {
                "metadata"
            } else {
                "payload"
            };
            invalid(field, r)
        })?;
        let flag = |b: bool| if b { "1" } else { "0" }.to_string();
        Ok(Spec {
            id: req
                .id
                .clone()
                .unwrap_or_else(|| uuid::Uuid::now_v7().to_string()),
            job_type: req.job_type.clone(),
            payload: req.payload.clone(),
            priority: req.priority.to_string(),
            max_retries: req
                .max_retries
                .unwrap_or(self.config.retry.max_retries)
                .to_string(),
            metadata: serde_json::to_string(&req.metadata)
                .map_err(|e| invalid("metadata", e.to_string()))?,
            depends_on: serde_json::to_string(&req.depends_on)
                .map_err(|e| invalid("depends_on", e.to_string()))?,
            parent: req.parent.clone().unwrap_or_default(),
            check_type: flag(self.config.check_job_types),
            ttl: self.lifetimes(),
            content_hash,
            force: flag(req.force),
            use_store: flag(self.config.content_store),
            run_after_failure: flag(req.run_after_failure),
            max_children: self.config.max_children.to_string(),
        })
    }

    /// Reads a job by id, with its error history.
    pub async fn get(&self, id: &str) -> Result<Option<JobRecord>, QueueError> {
        let mut conn = self.conn.clone();
        let (fields, errors): (HashMap<String, String>, Vec<String>) = redis::pipe()
            .hgetall(self.key(&["job", id]))
            .lrange(self.key(&["errors", id]), 0, -1)
            .query_async(&mut conn)
            .await?;
        if fields.is_empty() {
            return Ok(None);
        }
        JobRecord::from_redis(fields, errors)
            .map(Some)
            .map_err(QueueError::Protocol)
    }

    /// Reads many jobs in pipelined round trips (1,000 a trip), in the
    /// order of `ids`; `None` for a job that does not exist.
    pub async fn get_many(&self, ids: &[String]) -> Result<Vec<Option<JobRecord>>, QueueError> {
        let mut out = Vec::with_capacity(ids.len());
        let mut conn = self.conn.clone();
        for chunk in ids.chunks(1000) {
            let mut pipe = redis::pipe();
            for id in chunk {
                pipe.hgetall(self.key(&["job", id]))
                    .lrange(self.key(&["errors", id]), 0, -1);
            }
            let replies: Vec<(HashMap<String, String>, Vec<String>)> = {
                let flat: Vec<redis::Value> = pipe.query_async(&mut conn).await?;
                let mut pairs = Vec::with_capacity(chunk.len());
                let mut it = flat.into_iter();
                while let (Some(f), Some(e)) = (it.next(), it.next()) {
                    pairs.push((redis::from_redis_value(&f)?, redis::from_redis_value(&e)?));
                }
                pairs
            };
            for (fields, errors) in replies {
                if fields.is_empty() {
                    out.push(None);
                } else {
                    out.push(Some(
                        JobRecord::from_redis(fields, errors).map_err(QueueError::Protocol)?,
                    ));
                }
            }
        }
        Ok(out)
    }

    /// The status of many jobs in pipelined round trips (5,000 a trip), in
    /// the order of `ids`; `None` for a job that does not exist.
    pub async fn statuses(&self, ids: &[String]) -> Result<Vec<Option<JobStatus>>, QueueError> {
        let mut out = Vec::with_capacity(ids.len());
        let mut conn = self.conn.clone();
        for chunk in ids.chunks(5000) {
            let mut pipe = redis::pipe();
            for id in chunk {
                pipe.hget(self.key(&["job", id]), "status");
            }
            let replies: Vec<Option<String>> = pipe.query_async(&mut conn).await?;
            for reply in replies {
                out.push(match reply {
                    None => None,
                    Some(s) => Some(s.parse().map_err(QueueError::Protocol)?),
                });
            }
        }
        Ok(out)
    }

    /// Claims up to `count` ready jobs of the given types for `host`.
    pub async fn claim(
        &self,
        host: &str,
        job_types: &[&str],
        count: usize,
        lease: Duration,
    ) -> Result<Vec<ClaimedJob>, QueueError> {
        if job_types.is_empty() || count == 0 {
            return Ok(vec![]);
        }
        let mut invocation = self.invocation(&scripts().claim);
        invocation
            .arg(count.min(MAX_CLAIM))
            .arg(millis(lease))
            .arg(host);
        for t in job_types {
            invocation.arg(*t);
        }
        let flat: Vec<String> = invocation.invoke_async(&mut self.conn.clone()).await?;
        flat.chunks(11)
            .map(|f| match f {
                [
                    id,
                    job_type,
                    payload,
                    attempt,
                    feedback,
                    metadata,
                    token,
                    lease_until,
                    priority,
                    content_hash,
                    forced,
                ] => Ok(ClaimedJob {
                    id: id.clone(),
                    job_type: job_type.clone(),
                    payload: payload.clone(),
                    attempt: attempt
                        .parse()
                        .map_err(|_| QueueError::Protocol(format!("attempt {attempt:?}")))?,
                    feedback: (!feedback.is_empty()).then(|| feedback.clone()),
                    metadata: serde_json::from_str(metadata).unwrap_or_default(),
                    token: token.clone(),
                    lease_until_ms: lease_until.parse().unwrap_or(0),
                    priority: priority.parse().unwrap_or(0),
                    content_hash: (!content_hash.is_empty()).then(|| content_hash.clone()),
                    forced: forced == "1",
                }),
                other => Err(QueueError::Protocol(format!("claim returned {other:?}"))),
            })
            .collect()
    }

    /// Records a result, if `job`'s lease is still held.
    pub async fn complete(
        &self,
        job: &ClaimedJob,
        result: &str,
        plugin_version: &str,
    ) -> Result<Ack, QueueError> {
        self.complete_as(job, result, plugin_version, false).await
    }

    /// Like [`Queue::complete`]; `cache_hit` marks a result taken from the
    /// content directory instead of a run.
    pub async fn complete_as(
        &self,
        job: &ClaimedJob,
        result: &str,
        plugin_version: &str,
        cache_hit: bool,
    ) -> Result<Ack, QueueError> {
        let acks = self
            .complete_many(&[Completion {
                job,
                result,
                plugin_version,
                cache_hit,
            }])
            .await?;
        acks.into_iter()
            .next()
            .ok_or_else(|| QueueError::Protocol("complete returned no reply".into()))
    }

    /// Records several results in one atomic step and one round trip; each
    /// is checked against its own lease. Returns one ack per completion, in
    /// order. At most [`MAX_COMPLETE_BATCH`] at once.
    pub async fn complete_many(
        &self,
        completions: &[Completion<'_>],
    ) -> Result<Vec<Ack>, QueueError> {
        if completions.len() > MAX_COMPLETE_BATCH {
            return Err(invalid(
                "completions",
                format!(
                    "{} in one call; at most {MAX_COMPLETE_BATCH}",
                    completions.len()
                ),
            ));
        }
        if completions.is_empty() {
            return Ok(vec![]);
        }
        let mut invocation = self.invocation(&scripts().complete);
        invocation.arg(self.config.result_ttl_secs);
        for c in completions {
            invocation
                .arg(&c.job.id)
                .arg(&c.job.token)
                .arg(c.result)
                .arg(c.plugin_version)
                .arg(if c.cache_hit { "1" } else { "0" });
        }
        let replies: Vec<String> = invocation.invoke_async(&mut self.conn.clone()).await?;
        if replies.len() != completions.len() {
            return Err(QueueError::Protocol(format!(
                "complete returned {} replies for {} jobs",
                replies.len(),
                completions.len()
            )));
        }
        replies
            .iter()
            .map(|reply| match reply.as_str() {
                "ok" => Ok(Ack::Recorded(JobStatus::Completed)),
                "stale" => Ok(Ack::Stale),
                other => Err(QueueError::Protocol(format!("complete returned {other:?}"))),
            })
            .collect()
    }

    /// Records a failed attempt, if `job`'s lease is still held: a retry
    /// after the strategy's backoff while retries remain and the failure is
    /// retryable, otherwise the dead-letter queue.
    pub async fn fail(
        &self,
        job: &ClaimedJob,
        failure: &JobFailure,
        host: &str,
        plugin_version: &str,
    ) -> Result<Ack, QueueError> {
        let entry = ErrorEntry {
            attempt: job.attempt,
            kind: failure.kind().to_string(),
            message: failure.to_string(),
            host: Some(host.to_string()),
            at: now_ms(),
        };
        let entry =
            serde_json::to_string(&entry).map_err(|e| QueueError::Protocol(e.to_string()))?;
        let delay = self.config.retry.delay(job.attempt);
        let reply: String = self
            .invocation(&scripts().fail)
            .arg(&job.id)
            .arg(&job.token)
            .arg(entry)
            .arg(if failure.retryable() { "1" } else { "0" })
            .arg(failure.feedback().unwrap_or(""))
            .arg(millis(delay))
            .arg(plugin_version)
            .arg(self.lifetimes())
            .invoke_async(&mut self.conn.clone())
            .await?;
        match reply.as_str() {
            "stale" => Ok(Ack::Stale),
            status => Ok(Ack::Recorded(status.parse().map_err(QueueError::Protocol)?)),
        }
    }

    /// Extends leases; returns the ids whose lease was lost.
    pub async fn renew(
        &self,
        leases: &[(String, String)],
        lease: Duration,
    ) -> Result<Vec<String>, QueueError> {
        if leases.is_empty() {
            return Ok(vec![]);
        }
        let mut invocation = self.invocation(&scripts().renew);
        invocation.arg(millis(lease));
        for (id, token) in leases {
            invocation.arg(id).arg(token);
        }
        Ok(invocation.invoke_async(&mut self.conn.clone()).await?)
    }

    /// Returns jobs with expired leases to the queue (or the dead-letter
    /// queue, when out of retries). Returns (id, new status) pairs.
    pub async fn reap(&self) -> Result<Vec<(String, JobStatus)>, QueueError> {
        let flat: Vec<String> = self
            .invocation(&scripts().reap)
            .arg(1000)
            .arg(self.lifetimes())
            .invoke_async(&mut self.conn.clone())
            .await?;
        flat.chunks(2)
            .map(|pair| match pair {
                [id, status] => Ok((id.clone(), status.parse().map_err(QueueError::Protocol)?)),
                other => Err(QueueError::Protocol(format!("reap returned {other:?}"))),
            })
            .collect()
    }

    /// Hands a running job back to the queue at once; the attempt does not count.
    pub async fn release(&self, job: &ClaimedJob) -> Result<Ack, QueueError> {
        let reply: String = self
            .invocation(&scripts().release)
            .arg(&job.id)
            .arg(&job.token)
            .invoke_async(&mut self.conn.clone())
            .await?;
        Ok(match reply.as_str() {
            "ok" => Ack::Recorded(JobStatus::Pending),
            _ => Ack::Stale,
        })
    }

    /// Cancels a job that has not finished; its dependents end dead.
    pub async fn cancel(&self, id: &str) -> Result<Cancel, QueueError> {
        let reply: String = self
            .invocation(&scripts().cancel)
            .arg(id)
            .arg(self.lifetimes())
            .invoke_async(&mut self.conn.clone())
            .await?;
        match reply.as_str() {
            "ok" => Ok(Cancel::Cancelled),
            "missing" => Err(QueueError::NotFound(id.to_string())),
            status => Ok(Cancel::AlreadyFinished(
                status.parse().map_err(QueueError::Protocol)?,
            )),
        }
    }

    /// Records progress reported by a running job.
    pub async fn set_progress(
        &self,
        id: &str,
        fraction: f32,
        message: &str,
    ) -> Result<(), QueueError> {
        let _: () = self
            .conn
            .clone()
            .hset_multiple(
                self.key(&["job", id]),
                &[
                    ("progress", fraction.to_string()),
                    ("progress_message", message.to_string()),
                ],
            )
            .await?;
        Ok(())
    }

    /// Waits until every job in `ids` has finished (completed, dead or
    /// cancelled), woken by pub/sub, and returns their final records.
    pub async fn wait_for_jobs(
        &self,
        ids: &[String],
        timeout: Duration,
    ) -> Result<Vec<JobRecord>, QueueError> {
        let deadline = deadline_after(timeout);
        // Subscribe first, then read: a job that ends in between is seen by one or the other.
        let mut pubsub = self.pubsub().await?;
        pubsub.subscribe(self.finished_channel()).await?;
        let mut open: HashSet<String> = HashSet::new();
        for (id, job) in ids.iter().zip(self.get_many(ids).await?) {
            match job {
                None => return Err(QueueError::NotFound(id.clone())),
                Some(job) if job.status.is_finished() => {}
                Some(_) => {
                    open.insert(id.clone());
                }
            }
        }
        let mut messages = pubsub.on_message();
        while !open.is_empty() {
            let next = tokio::time::timeout_at(deadline, messages.next()).await;
            match next {
                Err(_) => return Err(QueueError::WaitTimeout(timeout)),
                Ok(None) => {
                    return Err(QueueError::Protocol(
                        "pub/sub connection closed while waiting".into(),
                    ));
                }
                Ok(Some(msg)) => {
                    if let Ok(ids) = msg.get_payload::<String>() {
                        for id in ids.split(' ') {
                            open.remove(id);
                        }
                    }
                }
            }
        }
        drop(messages);
        ids.iter()
            .zip(self.get_many(ids).await?)
            .map(|(id, job)| job.ok_or_else(|| QueueError::NotFound(id.clone())))
            .collect()
    }

    /// The dead-letter queue, oldest death first.
    pub async fn dlq_list(
        &self,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<JobRecord>, QueueError> {
        let start = isize::try_from(offset).unwrap_or(isize::MAX);
        let stop = if limit == 0 {
            -1
        } else {
            isize::try_from(offset.saturating_add(limit) - 1).unwrap_or(isize::MAX)
        };
        self.dlq_trim().await?;
        let ids: Vec<String> = self
            .conn
            .clone()
            .zrange(self.key(&["dead"]), start, stop)
            .await?;
        Ok(self.get_many(&ids).await?.into_iter().flatten().collect())
    }

    /// Jobs in the dead-letter queue.
    pub async fn dlq_len(&self) -> Result<u64, QueueError> {
        self.dlq_trim().await
    }

    /// Drops dead-letter entries past their lifetime or the cap, and stale
    /// entries among the oldest; returns how many are left.
    pub async fn dlq_trim(&self) -> Result<u64, QueueError> {
        Ok(self
            .invocation(&scripts().dlq_trim)
            .arg(self.lifetimes())
            .arg(DLQ_CHECK)
            .invoke_async(&mut self.conn.clone())
            .await?)
    }

    /// Replays the given dead jobs (none: all of them). Returns the ids replayed.
    pub async fn dlq_replay(&self, ids: &[String]) -> Result<Vec<String>, QueueError> {
        let mut invocation = self.invocation(&scripts().replay);
        for id in ids {
            invocation.arg(id);
        }
        Ok(invocation.invoke_async(&mut self.conn.clone()).await?)
    }

    /// Deletes the given dead jobs (none: all of them). Returns how many.
    pub async fn dlq_purge(&self, ids: &[String]) -> Result<u64, QueueError> {
        let mut invocation = self.invocation(&scripts().purge);
        for id in ids {
            invocation.arg(id);
        }
        Ok(invocation.invoke_async(&mut self.conn.clone()).await?)
    }

    /// The queue's counters (submitted, claimed, completed, retried, dead, ...).
    pub async fn stats(&self) -> Result<BTreeMap<String, i64>, QueueError> {
        Ok(self.conn.clone().hgetall(self.key(&["stats"])).await?)
    }

    /// Ready jobs per job type.
    pub async fn ready_counts(&self, job_types: &[&str]) -> Result<Vec<u64>, QueueError> {
        let mut pipe = redis::pipe();
        for t in job_types {
            pipe.zcard(self.key(&["ready", t]));
        }
        Ok(pipe.query_async(&mut self.conn.clone()).await?)
    }

    /// Adds LLM calls and their token usage to a job's record.
    pub async fn add_usage(
        &self,
        id: &str,
        calls: u32,
        prompt_tokens: u32,
        completion_tokens: u32,
    ) -> Result<(), QueueError> {
        let key = self.key(&["job", id]);
        let _: () = redis::pipe()
            .hincr(&key, "llm_calls", calls)
            .hincr(&key, "prompt_tokens", prompt_tokens)
            .hincr(&key, "completion_tokens", completion_tokens)
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(())
    }

    /// Every key matching the glob made of `parts` under the prefix.
    async fn scan(&self, parts: &[&str]) -> Result<Vec<String>, QueueError> {
        // Braces are not special in Redis glob patterns; the prefix cannot
        // contain the characters that are (checked in `connect`).
        let pattern = self.key(parts);
        let mut conn = self.conn.clone();
        let mut keys: Vec<String> = Vec::new();
        let mut cursor: u64 = 0;
        loop {
            let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut conn)
                .await?;
            keys.extend(batch);
            if next == 0 {
                return Ok(keys);
            }
            cursor = next;
        }
    }

    /// Flags every job that others wait on, for jobs queued by a host from
    /// before the `waited_on` flag: without it, completing such a job would
    /// not release its waiters. Idempotent; `serve` runs it once at start.
    /// Returns how many jobs it flagged.
    pub async fn mark_waited_jobs(&self) -> Result<u64, QueueError> {
        // The layout version this queue has been brought to; the scan runs
        // once per queue, not at every start.
        let layout: Option<u32> = self.conn.clone().get(self.key(&["layout"])).await?;
        if layout.is_some_and(|v| v >= LAYOUT_WAITED_ON) {
            return Ok(0);
        }
        let flagged = self.flag_waited_jobs().await?;
        let _: () = self
            .conn
            .clone()
            .set(self.key(&["layout"]), LAYOUT_WAITED_ON)
            .await?;
        Ok(flagged)
    }

    async fn flag_waited_jobs(&self) -> Result<u64, QueueError> {
        let prefix = self.key(&["waiting", ""]);
        let ids: Vec<String> = self
            .scan(&["waiting", "*"])
            .await?
            .into_iter()
            .filter_map(|key| key.strip_prefix(&prefix).map(str::to_string))
            .collect();
        let mut flagged = 0;
        for chunk in ids.chunks(500) {
            let mut invocation = self.invocation(&scripts().mark_waited);
            for id in chunk {
                invocation.arg(id);
            }
            let n: u64 = invocation.invoke_async(&mut self.conn.clone()).await?;
            flagged += n;
        }
        Ok(flagged)
    }

    /// Every result in the content index.
    pub async fn content_results(&self) -> Result<Vec<crate::content::StoredResult>, QueueError> {
        let keys = self.scan(&["content", "*"]).await?;
        let mut conn = self.conn.clone();
        let prefix = format!("{}:content:", self.tag);
        let mut out = Vec::new();
        for key in keys {
            let Some((job_type, hash)) = key
                .strip_prefix(&prefix)
                .and_then(|rest| rest.rsplit_once(':'))
            else {
                continue;
            };
            let f: HashMap<String, String> = conn.hgetall(&key).await?;
            let Some(result) = f.get("result") else {
                continue;
            };
            out.push(crate::content::StoredResult {
                job_type: job_type.to_string(),
                content_hash: hash.to_string(),
                result: result.clone(),
                job_id: f.get("job_id").cloned().unwrap_or_default(),
                plugin_version: f.get("plugin_version").cloned().unwrap_or_default(),
                stored_at: f.get("stored_at").and_then(|s| s.parse().ok()).unwrap_or(0),
            });
        }
        out.sort_by(|a, b| (&a.job_type, &a.content_hash).cmp(&(&b.job_type, &b.content_hash)));
        Ok(out)
    }

    /// Puts one result into the content index (import).
    pub async fn store_content(&self, s: &crate::content::StoredResult) -> Result<(), QueueError> {
        let key = self.key(&["content", &s.job_type, &s.content_hash]);
        let _: () = self
            .conn
            .clone()
            .hset_multiple(
                key,
                &[
                    ("result", s.result.clone()),
                    ("job_id", s.job_id.clone()),
                    ("plugin_version", s.plugin_version.clone()),
                    ("stored_at", s.stored_at.to_string()),
                ],
            )
            .await?;
        Ok(())
    }

    /// Queue sizes and counters for `/metrics`.
    pub async fn figures(&self) -> Result<crate::metrics::QueueFigures, QueueError> {
        let types: Vec<String> = self.conn.clone().hkeys(self.key(&["types"])).await?;
        let type_refs: Vec<&str> = types.iter().map(String::as_str).collect();
        let ready: u64 = self.ready_counts(&type_refs).await?.iter().sum();
        let mut conn = self.conn.clone();
        let (scheduled, running): (u64, u64) = redis::pipe()
            .zcard(self.key(&["scheduled"]))
            .zcard(self.key(&["leases"]))
            .query_async(&mut conn)
            .await?;
        let dead = self.dlq_trim().await?;
        Ok(crate::metrics::QueueFigures {
            redis_up: true,
            ready,
            scheduled,
            running,
            dead,
            stats: self.stats().await?,
        })
    }

    /// Whether Redis answers now.
    pub async fn ping(&self) -> Result<(), QueueError> {
        let _: String = redis::cmd("PING")
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(())
    }

    /// Time left on a shared cooldown (e.g. an LLM provider's rate limit).
    pub async fn cooldown_left(&self, name: &str) -> Result<Option<Duration>, QueueError> {
        let ms: i64 = self.conn.clone().pttl(self.key(&[name])).await?;
        Ok((ms > 0).then(|| Duration::from_millis(ms as u64)))
    }

    /// Starts (or extends) a shared cooldown every host honours.
    pub async fn set_cooldown(&self, name: &str, wait: Duration) -> Result<(), QueueError> {
        let ms = millis(wait).max(1);
        let _: () = redis::cmd("SET")
            .arg(self.key(&[name]))
            .arg(1)
            .arg("PX")
            .arg(ms)
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(())
    }

    /// Increments a host-side counter in the shared stats hash.
    pub async fn count(&self, name: &str, by: i64) -> Result<(), QueueError> {
        let _: i64 = self
            .conn
            .clone()
            .hincr(self.key(&["stats"]), name, by)
            .await?;
        Ok(())
    }
}

/// The checks every submission passes before anything reaches Redis:
/// job type name, payload (JSON, size), priority range, ids.
pub fn check_request(config: &QueueConfig, req: &SubmitRequest) -> Result<(), QueueError> {
    valid_job_type_name(&req.job_type).map_err(|r| invalid("job type", r))?;
    if req.payload.len() > config.max_payload_bytes {
        return Err(invalid(
            "payload",
            format!(
                "{} bytes is over the limit of {} bytes",
                req.payload.len(),
                config.max_payload_bytes
            ),
        ));
    }
    serde_json::from_str::<serde::de::IgnoredAny>(&req.payload)
        .map_err(|e| invalid("payload", format!("not valid JSON: {e}")))?;
    if !(-MAX_PRIORITY..=MAX_PRIORITY).contains(&req.priority) {
        return Err(invalid(
            "priority",
            format!(
                "{} is outside -{MAX_PRIORITY}..={MAX_PRIORITY}",
                req.priority
            ),
        ));
    }
    if let Some(n) = req.max_retries
        && n > MAX_RETRIES
    {
        return Err(invalid(
            "max_retries",
            format!("{n} is over the limit of {MAX_RETRIES}"),
        ));
    }
    if let Some(id) = &req.id {
        valid_id(id).map_err(|r| invalid("job id", r))?;
    }
    if req.depends_on.len() > MAX_DEPENDENCIES {
        return Err(invalid(
            "depends_on",
            format!(
                "{} dependencies; at most {MAX_DEPENDENCIES}",
                req.depends_on.len()
            ),
        ));
    }
    for dep in &req.depends_on {
        valid_id(dep).map_err(|r| invalid("depends_on", r))?;
    }
    Ok(())
}

/// One job as the submit scripts take it (every field a string).
#[derive(Debug, Clone, Serialize)]
struct Spec {
    id: String,
    job_type: String,
    payload: String,
    priority: String,
    max_retries: String,
    metadata: String,
    depends_on: String,
    parent: String,
    check_type: String,
    ttl: String,
    content_hash: String,
    force: String,
    use_store: String,
    run_after_failure: String,
    max_children: String,
}

/// Reads a submit script's reply.
fn submitted(reply: &[String], spec: &Spec) -> Result<Submitted, QueueError> {
    let parse = |s: &str| s.parse::<JobStatus>().map_err(QueueError::Protocol);
    match reply {
        [what, status] if what == "created" || what == "exists" || what == "cached" => {
            Ok(Submitted {
                id: spec.id.clone(),
                status: parse(status)?,
                created: what != "exists",
                cache_hit: what == "cached",
            })
        }
        [what, existing, status] if what == "attached" => Ok(Submitted {
            id: existing.clone(),
            status: parse(status)?,
            created: false,
            cache_hit: false,
        }),
        [e, kind] if e == "error" && kind == "unknown_type" => {
            Err(QueueError::UnknownJobType(spec.job_type.clone()))
        }
        [e, kind] if e == "error" && kind == "self_dependency" => {
            Err(QueueError::SelfDependency(spec.id.clone()))
        }
        [e, kind] if e == "error" && kind == "too_many_children" => {
            Err(QueueError::TooManyChildren {
                parent: spec.parent.clone(),
                max: spec.max_children.clone(),
            })
        }
        [e, kind, dep] if e == "error" && kind == "unknown_dependency" => {
            Err(QueueError::UnknownDependency(dep.clone()))
        }
        other => Err(QueueError::Protocol(format!("submit returned {other:?}"))),
    }
}

/// A refused batch: which job, and why. Nothing was written.
#[derive(Debug, thiserror::Error)]
#[error("job {index} of the batch: {error}")]
pub struct BatchError {
    pub index: usize,
    pub error: QueueError,
}

/// Job ids: 1–256 printable ASCII characters, no spaces.
pub fn valid_id(id: &str) -> Result<(), String> {
    if id.is_empty() || id.len() > MAX_ID_LEN {
        return Err(format!("{id:?} must be 1 to {MAX_ID_LEN} characters"));
    }
    if let Some(c) = id.chars().find(|c| !c.is_ascii_graphic()) {
        return Err(format!(
            "{id:?} contains {c:?}; use printable ASCII without spaces"
        ));
    }
    Ok(())
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

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(millis)
        .unwrap_or(0)
}
