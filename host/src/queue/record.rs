//! A job as stored in Redis, read back into types.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::keys::field;

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Ready to run.
    Pending,
    /// Waiting for its dependencies to complete.
    Waiting,
    /// Waiting for a retry's backoff to pass.
    Scheduled,
    /// Waiting, with no lease, for a value from outside (a wait token) or
    /// for its wait to run out.
    Suspended,
    /// Claimed by a host, under a lease.
    Running,
    Completed,
    /// Out of retries, failed for good, or a dependency failed: in the dead-letter queue.
    Dead,
    Cancelled,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Pending => "pending",
            JobStatus::Waiting => "waiting",
            JobStatus::Scheduled => "scheduled",
            JobStatus::Suspended => "suspended",
            JobStatus::Running => "running",
            JobStatus::Completed => "completed",
            JobStatus::Dead => "dead",
            JobStatus::Cancelled => "cancelled",
        }
    }

    /// Completed, dead or cancelled: nothing more will happen to it.
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            JobStatus::Completed | JobStatus::Dead | JobStatus::Cancelled
        )
    }
}

impl std::fmt::Display for JobStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JobStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "pending" => JobStatus::Pending,
            "waiting" => JobStatus::Waiting,
            "scheduled" => JobStatus::Scheduled,
            "suspended" => JobStatus::Suspended,
            "running" => JobStatus::Running,
            "completed" => JobStatus::Completed,
            "dead" => JobStatus::Dead,
            "cancelled" => JobStatus::Cancelled,
            other => return Err(format!("unknown job status {other:?}")),
        })
    }
}

/// One failed attempt in a job's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorEntry {
    /// The attempt that failed (0: the job never ran, e.g. a dependency failed).
    #[serde(default)]
    pub attempt: u32,
    /// `timeout`, `trap`, `retry`, `lease_expired`, `dependency_failed`, ...
    pub kind: String,
    pub message: String,
    /// The host the attempt ran on, when it ran.
    #[serde(default)]
    pub host: Option<String>,
    /// Unix milliseconds.
    #[serde(default)]
    pub at: u64,
}

/// Everything stored about a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRecord {
    pub id: String,
    pub job_type: String,
    pub status: JobStatus,
    /// JSON text.
    pub payload: String,
    pub priority: i32,
    /// Attempts started so far.
    pub attempts: u32,
    pub max_retries: u32,
    pub depends_on: Vec<String>,
    pub parent: Option<String>,
    /// Its fairness group, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    pub metadata: BTreeMap<String, String>,
    /// JSON text, once completed.
    pub result: Option<String>,
    /// Version id of the plugin that produced the last outcome.
    pub plugin_version: Option<String>,
    /// The host that ran (or runs) the latest attempt.
    pub worker: Option<String>,
    pub feedback: Option<String>,
    pub progress: Option<f32>,
    pub progress_message: Option<String>,
    pub created_at: u64,
    pub updated_at: u64,
    pub started_at: Option<u64>,
    pub finished_at: Option<u64>,
    /// When a scheduled retry becomes ready (Unix ms).
    pub run_at: Option<u64>,
    pub lease_until: Option<u64>,
    /// The content-store key (with the job type), when the job takes part.
    pub content_hash: Option<String>,
    /// Completed from the content store without running.
    pub cache_hit: bool,
    pub llm_calls: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// What its LLM calls cost, in micro-units of the price table's currency.
    pub llm_cost: u64,
    /// The model its last LLM call went to, and why when a budget sent it
    /// to the fallback.
    pub llm_route: Option<String>,
    /// Its last 50 LLM asks (the first answer and each re-ask, with tokens,
    /// cost and the problem that made it ask again), and how many in all.
    pub llm_asks: Vec<serde_json::Value>,
    pub llm_asks_total: u64,
    /// Outbound HTTP requests its attempts made, and their body bytes.
    pub http_requests: u64,
    pub http_bytes: u64,
    /// Runs once its dependencies finish, even if some died.
    pub run_after_failure: bool,
    /// Jobs this one submitted, and how many of them have finished (and died
    /// or were cancelled): the progress of a fan-out.
    pub children: Children,
    pub errors: Vec<ErrorEntry>,
    /// What a suspended job waits for; none in any other status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait: Option<WaitState>,
}

/// A suspended job's wait, as its record shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WaitState {
    /// What resumes the job (`POST /v1/tokens/{token}`).
    pub token: String,
    pub name: String,
    /// The question, as the plugin wrote it (JSON text).
    pub question: String,
    /// When the wait runs out (Unix ms).
    pub until: u64,
    /// `fail`, `complete` or `dead`.
    pub on_timeout: String,
}

/// The children of a fan-out job, counted as they are submitted and finish.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Children {
    pub total: u64,
    pub finished: u64,
    pub failed: u64,
}

/// A field holding JSON, read; what does not parse reads as empty.
fn json_or_default<T: serde::de::DeserializeOwned + Default>(text: Option<String>) -> T {
    text.and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

impl JobRecord {
    /// Decodes a job hash (HGETALL) and its error list. Never panics on
    /// malformed data: a field that does not parse is an error naming it.
    pub fn from_redis(
        mut f: HashMap<String, String>,
        errors: Vec<String>,
    ) -> Result<JobRecord, String> {
        let mut take = |name: &str| f.remove(name).filter(|v| !v.is_empty());
        let id = take(field::ID).ok_or("job hash without id")?;
        let number = |v: Option<String>, name: &str| -> Result<Option<u64>, String> {
            v.map(|s| {
                s.parse::<u64>()
                    .map_err(|_| format!("job {id}: {name} is {s:?}"))
            })
            .transpose()
        };
        let status = take(field::STATUS)
            .ok_or_else(|| format!("job {id} has no status"))?
            .parse()?;
        let job_type = take(field::TYPE).unwrap_or_default();
        let payload = take(field::PAYLOAD).unwrap_or_default();
        let priority = take(field::PRIORITY)
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        let attempts = number(take(field::ATTEMPTS), field::ATTEMPTS)?.unwrap_or(0) as u32;
        let max_retries = number(take(field::MAX_RETRIES), field::MAX_RETRIES)?.unwrap_or(0) as u32;
        let depends_on = json_or_default(take(field::DEPENDS_ON));
        let metadata = json_or_default(take(field::METADATA));
        let wait = wait_state(status, &mut take)?;
        let record = JobRecord {
            status,
            job_type,
            payload,
            priority,
            attempts,
            max_retries,
            depends_on,
            metadata,
            parent: take(field::PARENT).filter(|p| !p.is_empty()),
            group: take(field::GROUP).filter(|g| !g.is_empty()),
            result: take(field::RESULT),
            plugin_version: take(field::PLUGIN_VERSION),
            worker: take(field::WORKER),
            feedback: take(field::FEEDBACK),
            progress: take(field::PROGRESS).and_then(|p| p.parse().ok()),
            progress_message: take(field::PROGRESS_MESSAGE),
            created_at: number(take(field::CREATED_AT), field::CREATED_AT)?.unwrap_or(0),
            updated_at: number(take(field::UPDATED_AT), field::UPDATED_AT)?.unwrap_or(0),
            started_at: number(take(field::STARTED_AT), field::STARTED_AT)?,
            finished_at: number(take(field::FINISHED_AT), field::FINISHED_AT)?,
            run_at: number(take(field::RUN_AT), field::RUN_AT)?,
            // Left behind when a job finishes; only a running job has a lease.
            lease_until: number(take(field::LEASE_UNTIL), field::LEASE_UNTIL)?
                .filter(|_| status == JobStatus::Running),
            content_hash: take(field::CONTENT_HASH),
            cache_hit: take(field::CACHE_HIT).is_some_and(|v| v == "1"),
            llm_calls: number(take(field::LLM_CALLS), field::LLM_CALLS)?.unwrap_or(0),
            prompt_tokens: number(take(field::PROMPT_TOKENS), field::PROMPT_TOKENS)?.unwrap_or(0),
            completion_tokens: number(take(field::COMPLETION_TOKENS), field::COMPLETION_TOKENS)?
                .unwrap_or(0),
            llm_cost: number(take(field::LLM_COST), field::LLM_COST)?.unwrap_or(0),
            llm_route: take(field::LLM_ROUTE),
            llm_asks: json_or_default(take(field::LLM_ASKS)),
            llm_asks_total: number(take(field::LLM_ASKS_TOTAL), field::LLM_ASKS_TOTAL)?
                .unwrap_or(0),
            http_requests: number(take(field::HTTP_REQUESTS), field::HTTP_REQUESTS)?.unwrap_or(0),
            http_bytes: number(take(field::HTTP_BYTES), field::HTTP_BYTES)?.unwrap_or(0),
            run_after_failure: take(field::RUN_AFTER_FAILURE).is_some_and(|v| v == "1"),
            children: Children {
                total: number(take(field::CHILDREN_TOTAL), field::CHILDREN_TOTAL)?.unwrap_or(0),
                finished: number(take(field::CHILDREN_DONE), field::CHILDREN_DONE)?.unwrap_or(0),
                failed: number(take(field::CHILDREN_FAILED), field::CHILDREN_FAILED)?.unwrap_or(0),
            },
            errors: errors.iter().map(|e| ErrorEntry::read(e)).collect(),
            wait,
            id,
        };
        Ok(record)
    }
}

/// A suspended job's wait, from its record's fields (`take` removes one).
fn wait_state(
    status: JobStatus,
    take: &mut impl FnMut(&str) -> Option<String>,
) -> Result<Option<WaitState>, String> {
    if status != JobStatus::Suspended {
        return Ok(None);
    }
    let (Some(token), Some(until)) = (take(field::WAIT_TOKEN), take(field::WAIT_UNTIL)) else {
        return Ok(None);
    };
    let until = until
        .parse::<u64>()
        .map_err(|_| format!("{} is {until:?}", field::WAIT_UNTIL))?;
    Ok(Some(WaitState {
        token,
        name: take(field::WAIT_NAME).unwrap_or_default(),
        question: take(field::WAIT_QUESTION).unwrap_or_else(|| "{}".into()),
        until,
        on_timeout: take(field::WAIT_POLICY).unwrap_or_default(),
    }))
}

impl ErrorEntry {
    /// An entry as stored; one that cannot be read is kept as its text.
    fn read(text: &str) -> ErrorEntry {
        serde_json::from_str(text).unwrap_or_else(|_| ErrorEntry {
            attempt: 0,
            kind: "unreadable".into(),
            message: text.to_string(),
            host: None,
            at: 0,
        })
    }
}
