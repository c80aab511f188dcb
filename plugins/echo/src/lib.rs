//! `echo`: the smallest useful job type. Its result is its payload.
//!
//! Read this first when writing a plugin: `describe` names the job types,
//! `process` runs one attempt of one job; `deckhand_guest` holds the
//! contract's bindings.

use deckhand_guest::{Guest, Job, JobError, PluginInfo, job_type};

struct Echo;

impl Guest for Echo {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "echo".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            job_types: vec![job_type("echo", "Returns its payload unchanged.")],
        }
    }

    fn process(job: Job) -> Result<String, JobError> {
        Ok(job.payload)
    }
}

deckhand_guest::export!(Echo);
