//! One generation, ask by ask: the budgets pick the client that serves it,
//! each ask (the first answer, then each re-ask carrying the schema's
//! complaints) is recorded with its tokens, cost, HTTP attempts and the
//! problem that made the host ask again, and the whole call's cost goes to
//! the spend ledger. HTTP retries (429, 5xx, timeouts) stay inside one ask:
//! they are transport, not the model's doing.

use serde::Serialize;

use super::price::{Lane, Tokens};
use super::route::{Caller, Held};
use super::*;

/// One ask of a call, as the job's record keeps it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ask {
    pub model: String,
    pub provider: &'static str,
    pub lane: Lane,
    /// 1 for the first answer, 2 for the first re-ask, ...
    pub ask: u32,
    pub prompt_tokens: u32,
    pub cached_tokens: u32,
    pub completion_tokens: u32,
    pub cost_micros: u64,
    /// HTTP requests this ask took (more than 1: transport retries).
    pub http_attempts: u32,
    /// Why the answer was not taken (not JSON, outside the schema, cut
    /// off, an error); none when it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// The usage counters at one moment, to take an ask's share as a difference.
#[derive(Clone, Copy)]
struct Mark {
    calls: u32,
    prompt: u32,
    cached: u32,
    completion: u32,
}

impl Mark {
    fn of(usage: &Usage) -> Mark {
        Mark {
            calls: usage.calls.load(Ordering::Relaxed),
            prompt: usage.prompt_tokens.load(Ordering::Relaxed),
            cached: usage.cached_tokens.load(Ordering::Relaxed),
            completion: usage.completion_tokens.load(Ordering::Relaxed),
        }
    }

    fn since(self, before: Mark) -> (u32, Tokens) {
        (
            self.calls.saturating_sub(before.calls),
            Tokens {
                prompt: self.prompt.saturating_sub(before.prompt),
                cached: self.cached.saturating_sub(before.cached),
                completion: self.completion.saturating_sub(before.completion),
            },
        )
    }
}

/// What one generation asks, prepared once.
pub(super) struct Asking<'r> {
    pub request: &'r LlmRequest,
    pub model: &'r str,
    pub schema: Option<(Value, jsonschema::Validator)>,
    pub max_tokens: Option<u32>,
}

impl LlmClient {
    /// One generation for `caller`: routed by the budgets, asked until the
    /// answer is valid (or the asks run out), every ask recorded in `usage`
    /// and the call's cost added to the ledger.
    pub async fn generate_for(
        &self,
        request: &LlmRequest,
        usage: &Usage,
        caller: &Caller,
    ) -> Result<LlmResponse, LlmError> {
        let schema = request
            .response_schema
            .as_deref()
            .map(compile_schema)
            .transpose()?;
        let model = self.model_for(request)?;
        // The configuration's value is the default and the ceiling.
        let max_tokens = match (request.max_tokens, self.config.max_tokens) {
            (Some(asked), Some(cap)) => Some(asked.min(cap)),
            (asked, cap) => asked.or(cap),
        };
        let prompt: usize = request.messages.iter().map(|m| m.content.len()).sum();
        let most = Tokens {
            prompt: u32::try_from(prompt.div_ceil(4)).unwrap_or(u32::MAX),
            cached: 0,
            completion: max_tokens.unwrap_or(DEFAULT_MAX_TOKENS),
        };
        let asks = if schema.is_some() {
            self.config.max_schema_attempts.max(1)
        } else {
            1
        };
        let (client, why, held) = self.choose(caller, model, (most, asks)).await?;
        let model = if why.is_some() {
            client.config.model.as_str()
        } else {
            model
        };
        *lock(&usage.route) = Some(match &why {
            Some(why) => format!("{model} (fallback: {why})"),
            None => model.to_string(),
        });
        let asking = Asking {
            request,
            model,
            schema,
            max_tokens,
        };
        let first_ask = lock(&usage.asks).len();
        if let (Some(deferral), None) = (&caller.defer, &why)
            && let Some(answered) = client.defer(caller, deferral, &asking, usage).await
        {
            // Charged when its batch ends; the live hold goes back.
            client.add_spend(caller, &asking, usage, None, held).await;
            return answered;
        }
        let result = client.ask_until_valid(&asking, usage).await;
        client
            .add_spend(caller, &asking, usage, Some(first_ask), held)
            .await;
        result
    }

    /// Asks until the answer parses and fits the schema (one ask without a
    /// schema), each ask recorded.
    async fn ask_until_valid(
        &self,
        asking: &Asking<'_>,
        usage: &Usage,
    ) -> Result<LlmResponse, LlmError> {
        let mut messages = asking.request.messages.clone();
        let (mut prompt_tokens, mut completion_tokens) = (0u32, 0u32);
        let attempts = if asking.schema.is_some() {
            self.config.max_schema_attempts.max(1)
        } else {
            1
        };
        let mut last_problem = String::new();
        for attempt in 1..=attempts {
            let call = Call {
                model: asking.model,
                messages: &messages,
                temperature: asking.request.temperature.or(self.config.temperature),
                max_tokens: asking.max_tokens,
                schema: asking.schema.as_ref().map(|(v, _)| v),
            };
            let before = Mark::of(usage);
            let reply = self.call(&call, usage).await;
            let problem = match &reply {
                Err(e) => Some(e.to_string()),
                Ok(reply) => asking
                    .schema
                    .as_ref()
                    .and_then(|(_, v)| schema_problem(v, strip_fences(&reply.content))),
            };
            self.record_ask(asking.model, attempt, before, usage, problem.clone());
            let reply = reply?;
            prompt_tokens = prompt_tokens.saturating_add(reply.prompt_tokens);
            completion_tokens = completion_tokens.saturating_add(reply.completion_tokens);
            let Some(problem) = problem else {
                let content = if asking.schema.is_some() {
                    strip_fences(&reply.content).to_string()
                } else {
                    reply.content.clone()
                };
                let reply = Reply { content, ..reply };
                return Ok(self.response(reply, prompt_tokens, completion_tokens));
            };
            self.count(stat::LLM_INVALID_OUTPUTS, 1).await;
            tracing::debug!(attempt, "structured output rejected: {problem}");
            messages.push(LlmMessage {
                role: "assistant".into(),
                content: reply.content.clone(),
            });
            messages.push(LlmMessage {
                role: "user".into(),
                content: format!(
                    "{problem}\nReply again with only the corrected JSON, nothing else."
                ),
            });
            last_problem = problem;
        }
        Err(LlmError::InvalidResponse(format!(
            "no valid structured output after {attempts} attempts; last problem: {}",
            truncate(&last_problem, 1000)
        )))
    }

    /// Records the ask that ran since `before`, at the price table's price.
    fn record_ask(
        &self,
        model: &str,
        ask: u32,
        before: Mark,
        usage: &Usage,
        problem: Option<String>,
    ) {
        let (http_attempts, tokens) = Mark::of(usage).since(before);
        let cost_micros = self
            .price_of(model)
            .map_or(0, |p| p.cost_micros(tokens, Lane::Live));
        usage.cost_micros.fetch_add(cost_micros, Ordering::Relaxed);
        lock(&usage.asks).push(Ask {
            model: model.to_string(),
            provider: self.config.provider.as_str(),
            lane: Lane::Live,
            ask,
            prompt_tokens: tokens.prompt,
            cached_tokens: tokens.cached,
            completion_tokens: tokens.completion,
            cost_micros,
            http_attempts,
            problem: problem.map(|p| truncate(&p, 500)),
        });
    }

    /// Adds the asks from `first` on (this call's; `None`: it made none,
    /// its answer came from the batch lane) to the ledger, in place of what
    /// the call `held` on its budgets.
    async fn add_spend(
        &self,
        caller: &Caller,
        asking: &Asking<'_>,
        usage: &Usage,
        first: Option<usize>,
        held: Held,
    ) {
        let (release, released) = held.take();
        let Some(queue) = &self.queue else {
            return;
        };
        let (micros, asks) = {
            let asks = lock(&usage.asks);
            let mine = first.and_then(|f| asks.get(f..)).unwrap_or_default();
            (mine.iter().map(|a| a.cost_micros).sum(), mine.len() as u32)
        };
        let spend = crate::queue::Spend {
            provider: self.config.provider.as_str().to_string(),
            model: asking.model.to_string(),
            job_type: caller.job_type.clone(),
            group: caller.group.clone(),
            run: caller.run.clone(),
            micros,
            structured: asking.schema.is_some() && asks > 0,
            reasks: asks.saturating_sub(1),
            release,
            released,
        };
        if let Err(e) = queue.add_spend(&spend).await {
            tracing::warn!("cannot add an LLM call's cost to the ledger: {e}");
        }
    }
}
