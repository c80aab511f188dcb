//! The capabilities a host lends to running jobs, behind one trait so that
//! `deckhand exec` (no queue, no LLM) and `deckhand serve` (Redis queue, LLM
//! client) give plugins the same imports with different backing.

use serde::{Deserialize, Serialize};

use super::JobInput;
use crate::job::Wait;

/// A child job a plugin submits from inside a running job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChildJob {
    pub job_type: String,
    pub payload: String,
    pub priority: Option<i32>,
    pub id: Option<String>,
    pub metadata: Vec<(String, String)>,
    pub depends_on: Vec<String>,
    pub max_retries: Option<u32>,
    /// Run once the dependencies finish, even if some of them died.
    pub run_after_failure: bool,
    /// Run no earlier than this many milliseconds from now.
    pub delay_ms: Option<u64>,
}

/// Another job, as `jobs.get` shows it to a plugin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobView {
    pub id: String,
    pub job_type: String,
    pub status: String,
    pub result: Option<String>,
    pub error: Option<String>,
    pub attempts: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LlmMessage {
    pub role: String,
    pub content: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LlmRequest {
    pub messages: Vec<LlmMessage>,
    pub model: Option<String>,
    pub temperature: Option<f32>,
    pub max_tokens: Option<u32>,
    /// JSON Schema as JSON text.
    pub response_schema: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LlmResponse {
    pub content: String,
    pub model: String,
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    pub cached: bool,
}

/// Mirrors the WIT `llm-error` variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
pub enum LlmError {
    #[error("no LLM available: {0}")]
    NotConfigured(String),
    #[error("LLM provider unavailable: {0}")]
    Unavailable(String),
    #[error("invalid LLM request: {0}")]
    InvalidRequest(String),
    #[error("invalid LLM response: {0}")]
    InvalidResponse(String),
}

/// Mirrors the WIT `kv-error` variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
pub enum KvError {
    #[error("key-value store not granted: {0}")]
    NotGranted(String),
    #[error("key-value quota exceeded: {0}")]
    QuotaExceeded(String),
    #[error("invalid key-value call: {0}")]
    Invalid(String),
    #[error("key-value store unavailable: {0}")]
    Unavailable(String),
}

/// One write to a plugin's key-value store, its grant's limits applied.
#[derive(Debug, Clone, PartialEq)]
pub struct KvWrite<'a> {
    pub plugin: &'a str,
    pub key: &'a str,
    pub value: &'a str,
    /// None: no expiry.
    pub ttl_ms: Option<u64>,
    pub quota_bytes: u64,
}

/// What the host does when a plugin calls one of its imports.
#[async_trait::async_trait]
pub trait HostServices: Send + Sync + 'static {
    /// `jobs.submit` and `jobs.submit-many`: enqueue children of `parent`,
    /// in order. Returns their ids, or the index of one refused and why
    /// (what the WIT `submit-many` says stands then).
    async fn submit_children(
        &self,
        parent: &JobInput,
        children: Vec<ChildJob>,
    ) -> Result<Vec<String>, (usize, String)>;

    /// `jobs.progress`.
    async fn progress(&self, job: &JobInput, fraction: f32, message: String);

    /// `jobs.get` and `jobs.get-many`, in the order of `ids`: the jobs of
    /// `job`'s family only (itself, its parent, its children, its siblings,
    /// what it depends on); any other reads as none.
    async fn get_jobs(&self, job: &JobInput, ids: &[String]) -> Vec<Option<JobView>>;

    /// `jobs.wait-also`: make `target`, which waits on `job`, also wait on
    /// `depends_on`. Returns how many dependencies were added.
    async fn wait_also(
        &self,
        job: &JobInput,
        target: &str,
        depends_on: Vec<String>,
    ) -> Result<u64, String>;

    /// `llm.generate`.
    async fn generate(&self, job: &JobInput, request: LlmRequest) -> Result<LlmResponse, LlmError>;

    /// `jobs.suspend`: once this attempt returns `ok`, the job suspends on
    /// `wait` instead of completing. Returns the token that resumes it.
    async fn suspend(&self, job: &JobInput, wait: Wait) -> Result<String, String> {
        let _ = wait;
        Err(format!(
            "job {:?} cannot suspend: this host has no queue (that needs `deckhand serve`)",
            job.id
        ))
    }

    /// `keyvalue.get` in `plugin`'s own store.
    async fn kv_get(&self, plugin: &str, key: &str) -> Result<Option<String>, KvError> {
        let _ = (plugin, key);
        Err(no_store())
    }

    /// `keyvalue.set`, within the plugin's quota.
    async fn kv_set(&self, write: KvWrite<'_>) -> Result<(), KvError> {
        let _ = write;
        Err(no_store())
    }

    /// `keyvalue.delete`; true when the key was there.
    async fn kv_delete(&self, plugin: &str, key: &str) -> Result<bool, KvError> {
        let _ = (plugin, key);
        Err(no_store())
    }

    /// The outbound HTTP an attempt of `job` made, for its record.
    async fn record_outbound(&self, job: &JobInput, requests: u64, bytes: u64) {
        let _ = (job, requests, bytes);
    }

    /// How long the job's calls have waited, so far, for limits shared
    /// with other jobs (an LLM provider's request slots, budget and
    /// cooldown), a wait under way included. The job's timeout does not
    /// count it: it is extended by this much.
    fn waited(&self) -> std::time::Duration {
        std::time::Duration::ZERO
    }
}

/// The services of a host with no queue and no LLM: `deckhand exec` and
/// `describe` at load time. Every call that needs more says so plainly.
pub struct Standalone;

#[async_trait::async_trait]
impl HostServices for Standalone {
    async fn submit_children(
        &self,
        _parent: &JobInput,
        children: Vec<ChildJob>,
    ) -> Result<Vec<String>, (usize, String)> {
        let job_type = children.first().map_or("", |c| c.job_type.as_str());
        Err((
            0,
            format!(
                "cannot submit a {job_type} child job: this host has no queue (child jobs need `deckhand serve`)"
            ),
        ))
    }

    async fn progress(&self, job: &JobInput, fraction: f32, message: String) {
        tracing::info!(job_id = %job.id, fraction, %message, "progress");
    }

    async fn get_jobs(&self, _job: &JobInput, ids: &[String]) -> Vec<Option<JobView>> {
        vec![None; ids.len()]
    }

    async fn wait_also(
        &self,
        _job: &JobInput,
        target: &str,
        _depends_on: Vec<String>,
    ) -> Result<u64, String> {
        Err(format!(
            "cannot make {target:?} wait on more jobs: this host has no queue (that needs `deckhand serve`)"
        ))
    }

    async fn generate(
        &self,
        _job: &JobInput,
        _request: LlmRequest,
    ) -> Result<LlmResponse, LlmError> {
        Err(LlmError::NotConfigured(
            "no LLM configured on this host".into(),
        ))
    }
}

fn no_store() -> KvError {
    KvError::Unavailable("this host has no queue (that needs `deckhand serve`)".into())
}
