//! The host side of the WIT imports: what `log`, `llm`, `jobs` and `schema` do when a
//! plugin calls them. Each call is tagged with the plugin and the job. The
//! granted imports (`keyvalue`, `variables`) are in `granted_api.rs`.

use tracing::Instrument;
use wasmtime::component::{HasSelf, Linker};

use super::JobState;
use super::bindings::{self, jobs, llm, log, schema};
use super::services::{ChildJob, LlmError, LlmMessage, LlmRequest};
use crate::job::{OnTimeout, Wait};

/// A span per host call (a child of the job attempt's span).
fn host_call(call: &'static str) -> tracing::Span {
    tracing::info_span!("host_call", call)
}

pub(super) fn add_to_linker(linker: &mut Linker<JobState>) -> wasmtime::Result<()> {
    bindings::JobPlugin::add_to_linker::<JobState, HasSelf<JobState>>(linker, |state| state)
}

impl bindings::types::Host for JobState {}

impl log::Host for JobState {
    async fn log(&mut self, level: log::Level, message: String, fields: Vec<(String, String)>) {
        let plugin = &self.context.plugin;
        let job_id = &self.context.job.id;
        let job_type = &self.context.job.job_type;
        let message = self.secrets.scrub(&message);
        let fields: Vec<(String, String)> = fields
            .iter()
            .map(|(k, v)| (k.clone(), self.secrets.scrub(v).into_owned()))
            .collect();
        let fields = FieldList(&fields);
        match level {
            log::Level::Trace => tracing::trace!(%plugin, %job_id, %job_type, %fields, "{message}"),
            log::Level::Debug => tracing::debug!(%plugin, %job_id, %job_type, %fields, "{message}"),
            log::Level::Info => tracing::info!(%plugin, %job_id, %job_type, %fields, "{message}"),
            log::Level::Warn => tracing::warn!(%plugin, %job_id, %job_type, %fields, "{message}"),
            log::Level::Error => tracing::error!(%plugin, %job_id, %job_type, %fields, "{message}"),
        }
    }
}

/// Renders a plugin's key/value fields as `k=v k=v` inside one log field.
struct FieldList<'a>(&'a [(String, String)]);

impl std::fmt::Display for FieldList<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, (k, v)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{k}={v:?}")?;
        }
        Ok(())
    }
}

impl jobs::Host for JobState {
    async fn submit(&mut self, child: jobs::ChildJob) -> Result<String, String> {
        self.submit_one(child_job(child)).await
    }

    async fn submit_later(
        &mut self,
        child: jobs::ChildJob,
        delay_ms: u64,
    ) -> Result<String, String> {
        self.submit_one(ChildJob {
            delay_ms: Some(delay_ms),
            ..child_job(child)
        })
        .await
    }

    async fn submit_many(
        &mut self,
        children: Vec<jobs::ChildJob>,
    ) -> Result<Vec<String>, (u32, String)> {
        let services = self.context.services.clone();
        let children = children.into_iter().map(child_job).collect();
        services
            .submit_children(&self.context.job, children)
            .instrument(host_call("jobs.submit-many"))
            .await
            .map_err(|(index, reason)| (u32::try_from(index).unwrap_or(u32::MAX), reason))
    }

    async fn progress(&mut self, fraction: f32, message: String) {
        let fraction = if fraction.is_finite() {
            fraction.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let services = self.context.services.clone();
        services
            .progress(&self.context.job, fraction, message)
            .instrument(host_call("jobs.progress"))
            .await
    }

    async fn get(&mut self, id: String) -> Option<jobs::JobState> {
        self.get_many(vec![id]).await.pop().flatten()
    }

    async fn wait_also(&mut self, id: String, depends_on: Vec<String>) -> Result<u32, String> {
        let services = self.context.services.clone();
        services
            .wait_also(&self.context.job, &id, depends_on)
            .instrument(host_call("jobs.wait-also"))
            .await
            .map(|n| u32::try_from(n).unwrap_or(u32::MAX))
    }

    async fn suspend(&mut self, wait: jobs::Wait) -> Result<String, String> {
        let on_timeout = match wait.on_timeout {
            jobs::OnTimeout::Fail => OnTimeout::Fail,
            jobs::OnTimeout::Complete => OnTimeout::Complete,
            jobs::OnTimeout::DeadLetter => OnTimeout::DeadLetter,
        };
        let wait = Wait::new(wait.name, wait.question, wait.timeout_ms, on_timeout)
            .map_err(|e| e.to_string())?;
        let services = self.context.services.clone();
        services
            .suspend(&self.context.job, wait)
            .instrument(host_call("jobs.suspend"))
            .await
    }

    async fn get_many(&mut self, ids: Vec<String>) -> Vec<Option<jobs::JobState>> {
        let services = self.context.services.clone();
        services
            .get_jobs(&self.context.job, &ids)
            .instrument(host_call("jobs.get-many"))
            .await
            .into_iter()
            .map(|j| {
                j.map(|j| jobs::JobState {
                    id: j.id,
                    job_type: j.job_type,
                    status: j.status,
                    result: j.result,
                    error: j.error,
                    attempts: j.attempts,
                })
            })
            .collect()
    }
}

impl JobState {
    async fn submit_one(&mut self, child: ChildJob) -> Result<String, String> {
        let services = self.context.services.clone();
        match services
            .submit_children(&self.context.job, vec![child])
            .instrument(host_call("jobs.submit"))
            .await
        {
            Ok(mut ids) => ids
                .pop()
                .ok_or_else(|| "the queue returned no id".to_string()),
            Err((_, reason)) => Err(reason),
        }
    }
}

fn child_job(child: jobs::ChildJob) -> ChildJob {
    ChildJob {
        job_type: child.job_type,
        payload: child.payload,
        priority: child.priority,
        id: child.id,
        metadata: child.metadata,
        depends_on: child.depends_on,
        max_retries: child.max_retries,
        run_after_failure: child.run_after_failure,
        delay_ms: None,
    }
}

impl schema::Host for JobState {
    async fn validate(
        &mut self,
        schema: String,
        instance: String,
    ) -> Result<Vec<schema::SchemaError>, String> {
        let _call = host_call("schema.validate").entered();
        crate::schema::validate(&schema, &instance).map(|errors| {
            errors
                .into_iter()
                .map(|e| schema::SchemaError {
                    instance_path: e.instance_path,
                    schema_path: e.schema_path,
                    message: e.message,
                })
                .collect()
        })
    }
}

impl llm::Host for JobState {
    async fn generate(&mut self, request: llm::Request) -> Result<llm::Response, llm::LlmError> {
        if !self.context.needs_llm {
            return Err(llm::LlmError::NotConfigured(format!(
                "job type {:?} did not declare needs-llm in describe()",
                self.context.job.job_type
            )));
        }
        self.llm_granted(request.model.as_deref())?;
        let request = LlmRequest {
            messages: request
                .messages
                .into_iter()
                .map(|m| LlmMessage {
                    role: m.role,
                    content: m.content,
                })
                .collect(),
            model: request.model,
            temperature: request.temperature,
            max_tokens: request.max_tokens,
            response_schema: request.response_schema,
        };
        let services = self.context.services.clone();
        match services
            .generate(&self.context.job, request)
            .instrument(host_call("llm.generate"))
            .await
        {
            Ok(r) => {
                let spent = u64::from(r.prompt_tokens) + u64::from(r.completion_tokens);
                if !r.cached {
                    self.llm_tokens = self.llm_tokens.saturating_add(spent);
                    self.meter.add_tokens(&self.context.plugin, spent);
                }
                Ok(llm::Response {
                    content: r.content,
                    model: r.model,
                    usage: llm::Usage {
                        prompt_tokens: r.prompt_tokens,
                        completion_tokens: r.completion_tokens,
                    },
                    cached: r.cached,
                })
            }
            Err(LlmError::NotConfigured(m)) => Err(llm::LlmError::NotConfigured(m)),
            Err(LlmError::Unavailable(m)) => Err(llm::LlmError::Unavailable(m)),
            Err(LlmError::InvalidRequest(m)) => Err(llm::LlmError::InvalidRequest(m)),
            Err(LlmError::InvalidResponse(m)) => Err(llm::LlmError::InvalidResponse(m)),
        }
    }
}

impl JobState {
    /// Whether the plugin's LLM grant lets this call through: a model it
    /// names must be granted (none: the host's default), and its tokens per
    /// job and per minute must not be spent. A plugin with no LLM grant
    /// gets what the host's `[llm]` allows every job type that declares
    /// `needs-llm` (its `allowed_models`), as before grants.
    fn llm_granted(&mut self, model: Option<&str>) -> Result<(), llm::LlmError> {
        let plugin = self.context.plugin.clone();
        let Some(grant) = self.context.grant.llm.clone() else {
            return Ok(());
        };
        let refused = |state: &Self, why: String| {
            state.meter.count_llm_refused(&plugin);
            tracing::warn!(%plugin, job_id = %state.context.job.id, "LLM call refused: {why}");
            why
        };
        if let Some(model) = model
            && !grant.models.iter().any(|m| m == model)
        {
            let why = format!(
                "model {model:?} is not granted to plugin {plugin:?} (add it to [plugins.{plugin}.llm] models)"
            );
            return Err(llm::LlmError::NotConfigured(refused(self, why)));
        }
        if grant.tokens_per_job > 0 && self.llm_tokens >= grant.tokens_per_job {
            let why = format!(
                "this job spent its {} tokens ([plugins.{plugin}.llm] tokens_per_job)",
                grant.tokens_per_job
            );
            return Err(llm::LlmError::NotConfigured(refused(self, why)));
        }
        if !self.meter.tokens_left(&plugin, grant.tokens_per_minute) {
            let why = format!(
                "plugin {plugin:?} spent its {} tokens this minute ([plugins.{plugin}.llm] tokens_per_minute)",
                grant.tokens_per_minute
            );
            return Err(llm::LlmError::Unavailable(refused(self, why)));
        }
        Ok(())
    }
}
