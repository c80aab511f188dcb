//! The call of one submission (`submit.lua`, with `submit_job.lua`).

use super::*;
use crate::queue::keys::word;

/// `submit`: one checked job written, or the one its id or content names.
pub(in crate::queue) struct SubmitJob<'a> {
    pub spec: &'a Spec,
}

impl Script for SubmitJob<'_> {
    type Raw = Vec<String>;
    type Reply = Submitted;

    fn function(f: &Functions) -> &Function {
        &f.submit
    }

    fn args(&self, call: &mut Call) {
        self.spec.push_args(call);
    }

    fn reply(&self, raw: Vec<String>) -> Result<Submitted, QueueError> {
        submitted(&raw, self.spec)
    }
}

/// One schedule tick to fire: the schedule, the tick (Unix ms) and its
/// job, checked.
pub(in crate::queue) struct Tick<'a> {
    pub schedule: &'a str,
    pub at: u64,
    pub spec: &'a Spec,
}

/// `fire`: each tick's job submitted unless that tick (or a later one of
/// its schedule) was fired already; one reply a tick, in order.
pub(in crate::queue) struct FireTicks<'a> {
    pub ticks: &'a [Tick<'a>],
}

/// What `fire` answered for one tick.
pub(in crate::queue) enum TickReply {
    /// The schedule is gone, or the tick is not newer than the last fired.
    Skipped,
    /// `submit`'s reply for the tick's job.
    Submit(Vec<String>),
}

impl Script for FireTicks<'_> {
    type Raw = Vec<Vec<String>>;
    type Reply = Vec<TickReply>;

    fn function(f: &Functions) -> &Function {
        &f.fire
    }

    fn args(&self, call: &mut Call) {
        // The stride: arguments per tick.
        call.arg(2 + Spec::ARGS);
        for tick in self.ticks {
            call.arg(tick.schedule).arg(tick.at);
            tick.spec.push_args(call);
        }
    }

    fn reply(&self, raw: Vec<Vec<String>>) -> Result<Vec<TickReply>, QueueError> {
        if raw.len() != self.ticks.len() {
            return Err(QueueError::Protocol(format!(
                "{} replies to {} ticks fired",
                raw.len(),
                self.ticks.len()
            )));
        }
        Ok(raw
            .into_iter()
            .map(|reply| match reply.first().map(String::as_str) {
                Some(word::SKIPPED) => TickReply::Skipped,
                _ => TickReply::Submit(reply),
            })
            .collect())
    }
}

/// `submit_batch`: checked jobs written all or nothing, in one encoding
/// (JSON: what the jobs share once, then what is each job's own).
pub(in crate::queue) struct SubmitBatch<'a> {
    pub specs: &'a [Spec],
}

/// What `submit_batch` answered.
pub(in crate::queue) enum BatchReply {
    /// Every job written: `submit`'s reply for each, in order.
    Written(Vec<Vec<String>>),
    /// Nothing written: job `index` (0-based) was refused with `reply`.
    Refused { index: usize, reply: Vec<String> },
}

impl Script for SubmitBatch<'_> {
    type Raw = String;
    type Reply = BatchReply;

    fn function(f: &Functions) -> &Function {
        &f.submit_batch
    }

    fn args(&self, call: &mut Call) {
        call.arg(batch_argument(self.specs).to_string());
    }

    fn reply(&self, raw: String) -> Result<BatchReply, QueueError> {
        #[derive(Deserialize)]
        struct Reply {
            ok: Option<Vec<Vec<String>>>,
            error: Option<Vec<String>>,
            index: Option<usize>,
        }
        let reply: Reply = serde_json::from_str(&raw)
            .map_err(|e| QueueError::Protocol(format!("submit_batch: {e}")))?;
        match (reply.ok, reply.error, reply.index) {
            (Some(replies), _, _) => Ok(BatchReply::Written(replies)),
            (None, Some(reply), Some(index)) => Ok(BatchReply::Refused { index, reply }),
            _ => Err(QueueError::Protocol(
                "submit_batch returned neither ok nor error".into(),
            )),
        }
    }
}

/// `submit_batch.lua`'s argument: the settings every job of a batch shares
/// once, then each job with only what is its own (fields at their default
/// are left out; the script fills them in), so Redis decodes less.
fn batch_argument(specs: &[Spec]) -> serde_json::Value {
    let Some(first) = specs.first() else {
        return serde_json::json!({ "common": {}, "jobs": [] });
    };
    let jobs: Vec<serde_json::Value> = specs
        .iter()
        .map(|spec| {
            let mut job = serde_json::Map::new();
            let mut put = |name: &str, value: &str, default: Option<&str>| {
                if default != Some(value) {
                    job.insert(name.to_string(), value.into());
                }
            };
            put("id", &spec.id, None);
            put("job_type", &spec.job_type, None);
            put("payload", &spec.payload, None);
            put("max_retries", &spec.max_retries, None);
            put("content_hash", &spec.content_hash, None);
            put("priority", &spec.priority, Some("0"));
            put("metadata", &spec.metadata, Some("{}"));
            put("depends_on", &spec.depends_on, Some("[]"));
            put("parent", &spec.parent, Some(""));
            put("force", &spec.force, Some("0"));
            put("run_after_failure", &spec.run_after_failure, Some("0"));
            put("run_at", &spec.run_at, Some(""));
            put("delay", &spec.delay, Some(""));
            put("group", &spec.group, Some(""));
            put("trace", &spec.trace, Some(""));
            put("remote", &spec.remote, Some(""));
            serde_json::Value::Object(job)
        })
        .collect();
    // The same for every job: they come from the queue's settings.
    serde_json::json!({
        "common": {
            "check_type": first.check_type,
            "ttl": first.ttl,
            "use_store": first.use_store,
            "max_children": first.max_children,
            "max_run_jobs": first.max_run_jobs,
        },
        "jobs": jobs,
    })
}

/// One job as the submit scripts take it (every field a string).
#[derive(Debug, Clone)]
pub(in crate::queue) struct Spec {
    pub(in crate::queue) id: String,
    pub(in crate::queue) job_type: String,
    pub(in crate::queue) payload: String,
    pub(in crate::queue) priority: String,
    pub(in crate::queue) max_retries: String,
    pub(in crate::queue) metadata: String,
    pub(in crate::queue) depends_on: String,
    pub(in crate::queue) parent: String,
    pub(in crate::queue) check_type: String,
    pub(in crate::queue) ttl: String,
    pub(in crate::queue) content_hash: String,
    pub(in crate::queue) force: String,
    pub(in crate::queue) use_store: String,
    pub(in crate::queue) run_after_failure: String,
    pub(in crate::queue) max_children: String,
    pub(in crate::queue) run_at: String,
    pub(in crate::queue) delay: String,
    pub(in crate::queue) group: String,
    pub(in crate::queue) trace: String,
    /// Its dependencies in other partitions (JSON id -> partition; '' for
    /// none), set by `route`.
    pub(in crate::queue) remote: String,
    pub(in crate::queue) max_run_jobs: String,
}

impl Spec {
    /// How many arguments [`Spec::push_args`] adds.
    pub(in crate::queue) const ARGS: usize = 21;

    /// The arguments in `submit.lua`'s order (`fire.lua` takes them too).
    pub(in crate::queue) fn push_args(&self, invocation: &mut Call) {
        let args: [&String; Spec::ARGS] = [
            &self.id,
            &self.job_type,
            &self.payload,
            &self.priority,
            &self.max_retries,
            &self.metadata,
            &self.depends_on,
            &self.parent,
            &self.check_type,
            &self.ttl,
            &self.content_hash,
            &self.force,
            &self.use_store,
            &self.run_after_failure,
            &self.max_children,
            &self.run_at,
            &self.delay,
            &self.group,
            &self.trace,
            &self.remote,
            &self.max_run_jobs,
        ];
        for arg in args {
            invocation.arg(arg);
        }
    }
}

/// Reads a submit script's reply.
pub(in crate::queue) fn submitted(reply: &[String], spec: &Spec) -> Result<Submitted, QueueError> {
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
        [e, kind, root] if e == "error" && kind == "too_many_in_run" => {
            Err(QueueError::TooManyInRun {
                root: root.clone(),
                parent: spec.parent.clone(),
                max: spec.max_run_jobs.clone(),
            })
        }
        [e, kind, dep] if e == "error" && kind == "unknown_dependency" => {
            Err(QueueError::UnknownDependency(dep.clone()))
        }
        other => Err(QueueError::Protocol(format!("submit returned {other:?}"))),
    }
}
