//! The capabilities a host lends to running jobs, behind one trait so that
//! `deckhand exec` (no queue, no LLM) and `deckhand serve` (Redis queue, LLM
//! client) give plugins the same imports with different backing.

use serde::{Deserialize, Serialize};

use super::JobInput;

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

/// What the host does when a plugin calls one of its imports.
#[async_trait::async_trait]
pub trait HostServices: Send + Sync + 'static {
    /// `jobs.submit`: enqueue a child of `parent`. Returns the child's id.
    async fn submit_child(&self, parent: &JobInput, child: ChildJob) -> Result<String, String>;

    /// `jobs.progress`.
    async fn progress(&self, job: &JobInput, fraction: f32, message: String);

    /// `jobs.get`.
    async fn get_job(&self, id: &str) -> Option<JobView>;

    /// `llm.generate`.
    async fn generate(&self, job: &JobInput, request: LlmRequest) -> Result<LlmResponse, LlmError>;
}

/// The services of a host with no queue and no LLM: `deckhand exec` and
/// `describe` at load time. Every call that needs more says so plainly.
pub struct Standalone;

#[async_trait::async_trait]
impl HostServices for Standalone {
    async fn submit_child(&self, _parent: &JobInput, child: ChildJob) -> Result<String, String> {
        Err(format!(
            "cannot submit a {} child job: this host has no queue (child jobs need `deckhand serve`)",
            child.job_type
        ))
    }

    async fn progress(&self, job: &JobInput, fraction: f32, message: String) {
        tracing::info!(job_id = %job.id, fraction, %message, "progress");
    }

    async fn get_job(&self, _id: &str) -> Option<JobView> {
        None
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
