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
//!
//! A plugin that asks the operator for grants (outbound hosts, a key-value
//! store, variables, LLM models) implements [`Wants`] and is exported with
//! `export_asking!` instead; `http` fetches from the hosts it is granted.

wit_bindgen::generate!({
    world: "granted-plugin",
    path: "../../wit",
    pub_export_macro: true,
    export_macro_name: "export_bindings",
    default_bindings_module: "deckhand_guest",
});

pub mod http;

pub use deckhand::plugin::types::{Job, JobError, JobTypeInfo, PluginInfo, RetryFeedback};
pub use deckhand::plugin::{jobs, keyvalue, llm, log, schema, variables};
pub use exports::deckhand::plugin::capabilities::Asks;
pub use exports::deckhand::plugin::handler::Guest;

/// What a plugin asks the operator for; by default, nothing.
pub trait Wants {
    fn wants() -> Asks {
        Asks {
            outbound_hosts: Vec::new(),
            key_value: false,
            variables: Vec::new(),
            llm_models: Vec::new(),
        }
    }
}

impl<T: Wants> exports::deckhand::plugin::capabilities::Guest for T {
    fn wants() -> Asks {
        <T as Wants>::wants()
    }
}

/// Exports a plugin that asks for nothing beyond computing.
#[macro_export]
macro_rules! export {
    ($t:ident) => {
        impl $crate::Wants for $t {}
        $crate::export_bindings!($t);
    };
}

/// Exports a plugin that says what it asks for in its own [`Wants`].
#[macro_export]
macro_rules! export_asking {
    ($t:ident) => {
        $crate::export_bindings!($t);
    };
}

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
