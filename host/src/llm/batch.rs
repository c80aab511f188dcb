//! The batch lane: deferrable calls sent through the provider's batch API
//! at its discount, while their jobs wait holding nothing.
//!
//! A call is deferrable when its job says so (`llm = "batch"` in its
//! metadata: `deckhand bulk --llm-batch`, the `bulk` plugin's `llm_batch`)
//! or its job type is in `[llm.batch] job_types`. Such a call, named by a
//! hash of its request body, goes to the lane (`queue::llm_batch`) and its
//! job is suspended on a durable wait (no slot, lease or instance held).
//! One host at a time runs the lane ([`LlmClient::batch_round`]): it
//! gathers each model's calls into a batch (when none has joined for
//! `gather_ms`, the oldest has waited `max_gather_ms`, or `max_items` are
//! in), uploads and creates it, polls it, and settles each item: its
//! answer (checked against its schema as a live answer is) or, when the
//! item failed, the batch expired or the answer broke the schema, `live`.
//! Then it resumes the waiting jobs; each runs again, and its call finds
//! the answer (or asks live). The content store still answers a job whose
//! content it has before any of this.

use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::Digest;

use super::price::{Lane, Tokens};
use super::*;
use crate::queue::{DeferItem, Deferred, Item, ItemOutcome, Resumed};

/// What a deferred call says to the plugin (its job is suspended whatever
/// it does next, and runs again when the answer is in).
pub const DEFERRED: &str =
    "deferred to the provider's batch API: this job runs again when the answer is in";
/// The name of the wait a deferred job is suspended on.
pub const WAIT_NAME: &str = "llm-batch";
/// Waiting jobs woken per round.
const WAKE_PER_ROUND: usize = 1000;
/// Waiting jobs resumed at once.
const RESUME_IN_FLIGHT: usize = 32;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BatchConfig {
    /// Job types whose calls are always deferrable.
    pub job_types: Vec<String>,
    /// A model's calls go out once none has joined for this long...
    pub gather_ms: u64,
    /// ...or once the oldest has waited this long...
    pub max_gather_ms: u64,
    /// ...or once this many are in (OpenAI takes 50,000 a batch).
    pub max_items: usize,
    /// How often the lane looks at its batches.
    pub poll_ms: u64,
    /// How long a job waits on a batch; then it runs again (and asks live
    /// if its call is still out).
    pub wait_timeout_ms: u64,
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            job_types: Vec::new(),
            gather_ms: 60_000,
            max_gather_ms: 600_000,
            max_items: 50_000,
            poll_ms: 30_000,
            wait_timeout_ms: 26 * 3600 * 1000,
        }
    }
}

/// A setting of `[llm.batch]` out of range.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("llm.batch.{field} must be {range}, got {value}")]
pub struct BatchConfigError {
    pub field: &'static str,
    pub range: &'static str,
    pub value: u64,
}

impl BatchConfig {
    pub fn check(&self) -> Result<(), BatchConfigError> {
        let day = 24 * 3600 * 1000;
        let checks = [
            ("gather_ms", self.gather_ms, 10, day, "10 ms to 1 day"),
            (
                "max_gather_ms",
                self.max_gather_ms,
                10,
                day,
                "10 ms to 1 day",
            ),
            ("max_items", self.max_items as u64, 1, 50_000, "1 to 50000"),
            ("poll_ms", self.poll_ms, 10, 3_600_000, "10 ms to 1 hour"),
            (
                "wait_timeout_ms",
                self.wait_timeout_ms,
                1000,
                crate::job::wait::MAX_WAIT_MS,
                "1 s to 30 days",
            ),
        ];
        for (field, value, low, high, range) in checks {
            if !(low..=high).contains(&value) {
                return Err(BatchConfigError {
                    field,
                    range,
                    value,
                });
            }
        }
        Ok(())
    }
}

/// A deferrable call's job: the token its wait will carry, and its
/// feedback before (given back when it runs again).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Deferral {
    pub token: String,
    pub feedback: Option<String>,
}

/// The feedback a job resumed by the lane runs with: what it had before
/// it waited. Any other feedback as it is.
pub fn restore_feedback(feedback: Option<String>) -> Option<String> {
    let text = feedback?;
    let Ok(v) = serde_json::from_str::<Value>(&text) else {
        return Some(text);
    };
    if v["resume"]["name"] != WAIT_NAME {
        return Some(text);
    }
    v["resume"]["value"]["feedback"].as_str().map(String::from)
}

impl LlmClient {
    /// Hands a deferrable call to the lane. `None`: ask live (the lane
    /// failed it, or cannot take it); else the batch's answer, or the
    /// [`DEFERRED`] error with `usage.deferred` set.
    pub(super) async fn defer(
        &self,
        caller: &Caller,
        deferral: &Deferral,
        asking: &asks::Asking<'_>,
        usage: &Usage,
    ) -> Option<Result<LlmResponse, LlmError>> {
        let queue = self
            .queue
            .as_ref()
            .filter(|_| self.dialect() != Dialect::Ollama)?;
        let call = Call {
            model: asking.model,
            messages: &asking.request.messages,
            temperature: asking.request.temperature.or(self.config.temperature),
            max_tokens: asking.max_tokens,
            schema: asking.schema.as_ref().map(|(v, _)| v),
        };
        let body = self.dialect().body(&call).to_string();
        let id = hex::encode(&sha2::Sha256::digest(body.as_bytes())[..16]);
        let item = DeferItem {
            id: &id,
            model: asking.model,
            token: &deferral.token,
            feedback: deferral.feedback.as_deref(),
            body: &body,
            schema: asking.request.response_schema.as_deref(),
            job_type: &caller.job_type,
            group: caller.group.as_deref(),
            run: caller.run.as_deref(),
            payer: &caller.job_id,
        };
        match queue.llm_defer(&item).await {
            Err(e) => {
                tracing::warn!("cannot hand the call to the batch lane ({e}); asking live");
                None
            }
            Ok(Deferred::Waiting) => {
                usage.deferred.store(true, Ordering::Relaxed);
                Some(Err(LlmError::Unavailable(DEFERRED.into())))
            }
            Ok(Deferred::Live(reason)) => {
                *lock(&usage.route) = Some(format!("{} (live: {reason})", asking.model));
                None
            }
            Ok(Deferred::Done(found)) => Some(Ok(self.batch_answer(caller, *found, usage))),
        }
    }

    /// A batch's answer as the job's response, its ask recorded (the cost
    /// on the job that paid for it: the first to ask).
    fn batch_answer(&self, caller: &Caller, found: Item, usage: &Usage) -> LlmResponse {
        let payer = found.payer == caller.job_id;
        let tokens = Tokens {
            prompt: found.prompt_tokens,
            cached: found.cached_tokens,
            completion: found.completion_tokens,
        };
        let cost_micros = if payer { found.cost_micros } else { 0 };
        usage.cost_micros.fetch_add(cost_micros, Ordering::Relaxed);
        if payer {
            usage.add_tokens(tokens.prompt, tokens.cached, tokens.completion);
        }
        *lock(&usage.route) = Some(format!("{} (batch)", found.model));
        lock(&usage.asks).push(Ask {
            model: found.model.clone(),
            provider: self.config.provider.as_str(),
            lane: Lane::Batch,
            ask: 1,
            prompt_tokens: tokens.prompt,
            cached_tokens: tokens.cached,
            completion_tokens: tokens.completion,
            cost_micros,
            http_attempts: 0,
            problem: None,
        });
        LlmResponse {
            content: found.content,
            model: found.model,
            prompt_tokens: tokens.prompt,
            completion_tokens: tokens.completion,
            cached: !payer,
        }
    }

    /// What a batch's output line means for its item: the answer (checked
    /// against its schema) and its cost at the batch price, or why the
    /// call goes live.
    pub(super) fn batch_outcome(&self, item: &Item, line: &Value) -> ItemOutcome {
        let mut out = ItemOutcome {
            id: item.id.clone(),
            answer: Err(String::new()),
            prompt_tokens: 0,
            cached_tokens: 0,
            completion_tokens: 0,
            cost_micros: 0,
        };
        let response = &line["response"];
        let status = response["status_code"].as_u64().unwrap_or(0);
        if status != 200 {
            let error = line["error"]["message"]
                .as_str()
                .map(String::from)
                .unwrap_or_else(|| format!("HTTP {status}"));
            out.answer = Err(format!(
                "the batch failed the call: {}",
                truncate(&error, 300)
            ));
            return out;
        }
        let reply = match self.dialect().parse(&response["body"]) {
            Ok(reply) => reply,
            Err(e) => {
                out.answer = Err(format!("the batch's answer is not one: {e:?}"));
                return out;
            }
        };
        let tokens = Tokens {
            prompt: reply.prompt_tokens,
            cached: reply.cached_tokens,
            completion: reply.completion_tokens,
        };
        (out.prompt_tokens, out.cached_tokens, out.completion_tokens) =
            (tokens.prompt, tokens.cached, tokens.completion);
        out.cost_micros = self
            .price_of(&item.model)
            .map_or(0, |p| p.cost_micros(tokens, Lane::Batch));
        let text = strip_fences(&reply.content);
        let problem = match item.schema.as_deref().map(compile_schema) {
            None => None,
            Some(Err(e)) => Some(e.to_string()),
            Some(Ok((_, validator))) => schema_problem(&validator, text),
        };
        out.answer = match problem {
            None => Ok(text.to_string()),
            Some(p) => Err(format!(
                "the batch's answer broke the schema: {}",
                truncate(&p, 300)
            )),
        };
        out
    }

    /// Wakes the jobs waiting on settled items: each runs again with the
    /// feedback it had. A token no job waits on yet (its suspension is
    /// still being written) stays for the next round.
    pub(super) async fn wake_waiters(&self, queue: &Queue) -> Result<(), String> {
        use futures::StreamExt;
        let waking = queue
            .llm_waking(WAKE_PER_ROUND)
            .await
            .map_err(|e| e.to_string())?;
        for (id, waiters) in waking {
            let resumes = waiters.into_iter().map(|(token, feedback)| async move {
                let feedback = (!feedback.is_empty()).then_some(feedback);
                let value = json!({ "feedback": feedback }).to_string();
                // Unknown yet, or Redis did not answer: kept for the next round.
                let done = matches!(
                    queue.resume_wait(&token, &value).await,
                    Ok(Resumed::Resumed | Resumed::Ended)
                );
                (token, done)
            });
            let results: Vec<(String, bool)> = futures::stream::iter(resumes)
                .buffer_unordered(RESUME_IN_FLIGHT)
                .collect()
                .await;
            let woken: Vec<String> = results
                .iter()
                .filter(|r| r.1)
                .map(|r| r.0.clone())
                .collect();
            let left = woken.len() < results.len();
            queue
                .llm_woken(&id, &woken, left)
                .await
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_resumed_by_the_lane_gets_the_feedback_it_had() {
        let resumed = |value: Value| {
            Some(json!({ "resume": { "name": WAIT_NAME, "value": value } }).to_string())
        };
        let before = "fix the phone".to_string();
        assert_eq!(
            restore_feedback(resumed(json!({ "feedback": before }))),
            Some(before)
        );
        assert_eq!(restore_feedback(resumed(json!({ "feedback": null }))), None);
        // Anything else passes as it is: a person's answer, plain text.
        let review = json!({ "resume": { "name": "review", "value": 1 } }).to_string();
        assert_eq!(restore_feedback(Some(review.clone())), Some(review));
        assert_eq!(restore_feedback(Some("x".into())), Some("x".into()));
        assert_eq!(restore_feedback(None), None);
    }

    #[test]
    fn lane_settings_out_of_range_are_named() {
        assert!(BatchConfig::default().check().is_ok());
        let e = BatchConfig {
            max_items: 50_001,
            ..BatchConfig::default()
        }
        .check()
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "llm.batch.max_items must be 1 to 50000, got 50001"
        );
        let e = BatchConfig {
            poll_ms: 0,
            ..BatchConfig::default()
        }
        .check()
        .unwrap_err();
        assert_eq!(e.field, "poll_ms");
    }
}
