//! A minimal Deckhand job type: `{"name": "Ada"}` -> `{"greeting": "Hello, Ada!"}`.
//! Copy this folder, rename the job type, and change `process`.

use deckhand_guest::{Guest, Job, JobError, JobTypeInfo, PluginInfo, job_type, payload};
use serde_json::Value;

struct Plugin;

impl Guest for Plugin {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "hello-rust".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            job_types: vec![JobTypeInfo {
                timeout_ms: Some(5_000),
                ..job_type("hello.rust", "Greets payload.name.")
            }],
        }
    }

    fn process(job: Job) -> Result<String, JobError> {
        // Any `serde::Deserialize` type works here too.
        let payload: Value = payload(&job)?;
        let Some(name) = payload["name"].as_str() else {
            // `fail`: retrying will not help. Use `JobError::Retry` for
            // transient problems.
            return Err(JobError::Fail("payload.name is missing".into()));
        };
        Ok(serde_json::json!({ "greeting": format!("Hello, {name}!") }).to_string())
    }
}

deckhand_guest::export!(Plugin);
