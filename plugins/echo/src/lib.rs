//! `echo`: the smallest useful job type. Its result is its payload.
//!
//! Read this first when writing a plugin: `describe` names the job types,
//! `process` runs one attempt of one job.

wit_bindgen::generate!({ world: "job-plugin", path: "../../wit" });

use deckhand::plugin::types::{Job, JobError, JobTypeInfo, PluginInfo};
use exports::deckhand::plugin::handler::Guest;

struct Echo;

impl Guest for Echo {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "echo".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            job_types: vec![JobTypeInfo {
                name: "echo".into(),
                description: "Returns its payload unchanged.".into(),
                needs_llm: false,
                timeout_ms: None,
                memory_limit_bytes: None,
            }],
        }
    }

    fn process(job: Job) -> Result<String, JobError> {
        Ok(job.payload)
    }
}

export!(Echo);
