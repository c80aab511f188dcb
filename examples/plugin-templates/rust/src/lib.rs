//! A minimal Deckhand job type: `{"name": "Ada"}` -> `{"greeting": "Hello, Ada!"}`.
//! Copy this folder, rename the job type, and change `process`.

// The contract; point `path` at your copy of Deckhand's `wit/` folder.
wit_bindgen::generate!({ world: "job-plugin", path: "../../../wit" });

use deckhand::plugin::types::{Job, JobError, JobTypeInfo, PluginInfo};
use exports::deckhand::plugin::handler::Guest;

struct Hello;

impl Guest for Hello {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "hello-rust".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            job_types: vec![JobTypeInfo {
                name: "hello.rust".into(),
                description: "Greets payload.name.".into(),
                needs_llm: false,
                timeout_ms: Some(5_000),
                memory_limit_bytes: None,
            }],
        }
    }

    fn process(job: Job) -> Result<String, JobError> {
        let payload: serde_json::Value = serde_json::from_str(&job.payload)
            .map_err(|e| JobError::Fail(format!("payload is not JSON: {e}")))?;
        let Some(name) = payload["name"].as_str() else {
            // `fail`: retrying will not help. Use `JobError::Retry` for
            // transient problems.
            return Err(JobError::Fail("payload.name is missing".into()));
        };
        Ok(serde_json::json!({ "greeting": format!("Hello, {name}!") }).to_string())
    }
}

export!(Hello);
