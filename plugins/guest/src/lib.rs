//! What every Rust job type needs, in one place: the bindings of Deckhand's
//! contract (`wit/deckhand.wit`), the macro that exports a plugin, and the
//! helpers each guest would otherwise repeat (the payload decoded, an LLM
//! failure as the job's next step, a job type's description).
//!
//! A plugin is then:
//!
//! ```ignore
//! use deckhand_guest::{Guest, Job, JobError, PluginInfo, job_type};
//!
//! struct Echo;
//!
//! impl Guest for Echo {
//!     fn describe() -> PluginInfo {
//!         PluginInfo {
//!             name: "echo".into(),
//!             version: env!("CARGO_PKG_VERSION").into(),
//!             job_types: vec![job_type("echo", "Returns its payload unchanged.")],
//!         }
//!     }
//!
//!     fn process(job: Job) -> Result<String, JobError> {
//!         Ok(job.payload)
//!     }
//! }
//!
//! deckhand_guest::export!(Echo);
//! ```

wit_bindgen::generate!({
    world: "job-plugin",
    path: "../../wit",
    pub_export_macro: true,
    default_bindings_module: "deckhand_guest",
});

pub use deckhand::plugin::types::{Job, JobError, JobTypeInfo, PluginInfo, RetryFeedback};
pub use deckhand::plugin::{jobs, llm, log, schema};
pub use exports::deckhand::plugin::handler::Guest;

/// The job's payload decoded; one that does not decode fails the job (a
/// retry would read the same payload), naming what is wrong.
pub fn payload<T: serde::de::DeserializeOwned>(job: &Job) -> Result<T, JobError> {
    serde_json::from_str(&job.payload).map_err(|e| {
        JobError::Fail(if e.is_data() {
            format!("payload: {e}")
        } else {
            format!("payload is not JSON: {e}")
        })
    })
}

/// An LLM failure as what the job does next: an unavailable provider is
/// retried later; an answer that broke the schema is asked again with the
/// reason as feedback; a bad request or no LLM configured fails the job.
pub fn llm_error(e: llm::LlmError) -> JobError {
    match e {
        llm::LlmError::Unavailable(m) => JobError::Retry(format!("LLM unavailable: {m}")),
        llm::LlmError::InvalidResponse(m) => JobError::RetryWithFeedback(RetryFeedback {
            message: format!("invalid LLM answer: {m}"),
            feedback: m,
        }),
        llm::LlmError::InvalidRequest(m) => JobError::Fail(format!("invalid LLM request: {m}")),
        llm::LlmError::NotConfigured(m) => JobError::Fail(format!("no LLM: {m}")),
    }
}

/// A job type that needs no LLM and takes the host's timeout and memory
/// limit; set the fields for more (`needs_llm`, `timeout_ms`, ...).
pub fn job_type(name: &str, description: &str) -> JobTypeInfo {
    JobTypeInfo {
        name: name.into(),
        description: description.into(),
        needs_llm: false,
        timeout_ms: None,
        memory_limit_bytes: None,
    }
}
