//! The host's LLM client. Plugins ask through the `llm` import; the host
//! owns the provider, the credentials, retries, rate-limit cooldowns,
//! structured-output validation and token accounting.
//!
//! Guarantees a plugin can rely on: a truncated answer or an error body is
//! never returned as a result; with a `response-schema`, the content it gets
//! parses as JSON and validates against the schema, or it gets a typed error.

mod asks;
pub mod batch;
mod batch_api;
mod budget;
mod dialect;
mod fallback;
mod http;
mod lane;
pub mod price;
pub mod route;
mod shared;
mod waited;

pub use asks::Ask;
pub use batch::{BatchConfig, Deferral};
pub use dialect::{Call, Dialect, Provider, Reply, ReplyError};
pub use fallback::FallbackConfig;
pub use route::{BudgetRule, Caller, OnSpent, Period};
pub use waited::Waited;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::queue::Queue;
use crate::queue::keys::stat;
use crate::runtime::{LlmError, LlmMessage, LlmRequest, LlmResponse};
use dialect::truncate;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// The LLM provider a host uses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LlmConfig {
    pub provider: Provider,
    /// e.g. `https://api.openai.com/v1`, `http://127.0.0.1:8080/v1`,
    /// `http://127.0.0.1:11434` (Ollama).
    pub base_url: String,
    pub model: String,
    /// Name of the environment variable holding the API key (none: no key).
    pub api_key_env: String,
    pub temperature: Option<f32>,
    pub max_tokens: Option<u32>,
    /// Per HTTP request.
    pub timeout_secs: f64,
    /// HTTP attempts per call for 429, 5xx, timeouts and refused connections.
    pub max_http_attempts: u32,
    /// Asks per call when the answer is not valid JSON or breaks the schema
    /// (each later ask carries the errors as feedback).
    pub max_schema_attempts: u32,
    /// Overrides the provider's dialect from the capability table.
    pub dialect: Option<Dialect>,
    /// Requests in flight at once to this provider across all hosts (0: no
    /// limit). Default: 1 for `llamacpp` and `ollama` (servers that answer
    /// one request at a time), no limit for the others.
    pub max_in_flight: Option<u32>,
    /// Requests per minute to this provider across all hosts (none: no limit).
    pub requests_per_minute: Option<u64>,
    /// Tokens (prompt and answer) per minute to this provider across all
    /// hosts (none: no limit). A request takes its prompt and `max_tokens`
    /// up front, as providers count it, and settles what it used.
    pub tokens_per_minute: Option<u64>,
    /// Models a job may name besides `model` (a request naming any other is
    /// refused before it reaches the provider); empty: only `model`.
    pub allowed_models: Vec<String>,
    /// The currency the prices and budgets are in (a label).
    pub currency: String,
    /// Prices per model, per million tokens (`[llm.prices."<model>"]`); a
    /// model without one costs nothing (a local server).
    pub prices: BTreeMap<String, price::Price>,
    /// Budgets in money (`[[llm.budgets]]`).
    pub budgets: Vec<BudgetRule>,
    /// Where calls go when a budget with `then = "fallback"` is spent.
    pub fallback: Option<FallbackConfig>,
    /// The batch lane for deferrable calls (`[llm.batch]`).
    pub batch: BatchConfig,
}

impl Default for LlmConfig {
    fn default() -> Self {
        LlmConfig {
            provider: Provider::Openai,
            base_url: "https://api.openai.com/v1".into(),
            model: "gpt-4o-mini".into(),
            api_key_env: "DECKHAND_LLM_API_KEY".into(),
            temperature: None,
            max_tokens: Some(DEFAULT_MAX_TOKENS),
            timeout_secs: 120.0,
            max_http_attempts: 4,
            max_schema_attempts: 3,
            dialect: None,
            max_in_flight: None,
            requests_per_minute: None,
            tokens_per_minute: None,
            allowed_models: Vec::new(),
            currency: "USD".into(),
            prices: BTreeMap::new(),
            budgets: Vec::new(),
            fallback: None,
            batch: BatchConfig::default(),
        }
    }
}

/// A configured client. Cheap to clone.
#[derive(Clone)]
pub struct LlmClient {
    http: reqwest::Client,
    config: LlmConfig,
    api_key: Option<String>,
    /// Shares rate-limit cooldowns and counters with every host of the queue.
    queue: Option<Queue>,
    /// The prices and budgets, shared with the fallback.
    bill: Arc<Bill>,
    /// Where a spent budget sends calls.
    fallback: Option<Arc<LlmClient>>,
}

/// What the calls of a client and its fallback are priced and held by.
#[derive(Debug, Default)]
struct Bill {
    prices: BTreeMap<String, price::Price>,
    budgets: Vec<BudgetRule>,
}

/// Cannot build the client (bad configuration).
#[derive(Debug, thiserror::Error)]
pub enum LlmConfigError {
    #[error("llm.timeout_secs must be > 0 (got {0})")]
    Timeout(f64),
    #[error("llm.base_url {:?} is not an http(s) URL", crate::redact::url(.0))]
    BaseUrl(String),
    #[error("cannot build the HTTP client: {0}")]
    Http(String),
    #[error(transparent)]
    Price(#[from] price::PriceError),
    #[error(transparent)]
    Budget(#[from] route::BudgetError),
    #[error(transparent)]
    Batch(#[from] batch::BatchConfigError),
    #[error("llm.fallback: {0}")]
    Fallback(Box<LlmConfigError>),
}

/// What one generation spent: HTTP calls made and tokens billed, failed
/// asks included; and the time its job waited for the provider's shared
/// limits (shared with the job, which reads it while the call runs).
#[derive(Debug, Default)]
pub struct Usage {
    pub calls: AtomicU32,
    pub prompt_tokens: AtomicU32,
    /// Of the prompt tokens, those the provider served from its cache.
    pub cached_tokens: AtomicU32,
    pub completion_tokens: AtomicU32,
    /// What the asks cost, in micro-units of the price table.
    pub cost_micros: AtomicU64,
    /// Each ask, in order.
    pub asks: std::sync::Mutex<Vec<Ask>>,
    /// The model the last call went to, and why when a budget moved it.
    pub route: std::sync::Mutex<Option<String>>,
    /// Set when the call went to the batch lane: its job must wait.
    pub deferred: std::sync::atomic::AtomicBool,
    pub waited: std::sync::Arc<Waited>,
}

impl Usage {
    fn add_tokens(&self, prompt: u32, cached: u32, completion: u32) {
        self.prompt_tokens.fetch_add(prompt, Ordering::Relaxed);
        self.cached_tokens.fetch_add(cached, Ordering::Relaxed);
        self.completion_tokens
            .fetch_add(completion, Ordering::Relaxed);
    }

    /// (calls, prompt tokens, completion tokens).
    pub fn figures(&self) -> (u32, u32, u32) {
        (
            self.calls.load(Ordering::Relaxed),
            self.prompt_tokens.load(Ordering::Relaxed),
            self.completion_tokens.load(Ordering::Relaxed),
        )
    }
}

/// Tokens an answer may take when neither the job nor the configuration
/// says: bounded, so an abandoned request cannot keep a local server busy
/// until its context is full.
pub const DEFAULT_MAX_TOKENS: u32 = 2048;

/// Longest wait for a provider's `Retry-After` or a shared cooldown.
const MAX_WAIT: Duration = Duration::from_secs(300);

/// The longest wait a provider's header is read as; what the host then
/// holds back for is bounded again by [`MAX_WAIT`].
const LONGEST_HEADER_WAIT: Duration = Duration::from_secs(86_400);

/// A wait a provider asks for in seconds (a header), clamped to
/// [`LONGEST_HEADER_WAIT`]: a provider's number is outside data, and
/// `Duration::from_secs_f64` panics on values it cannot hold (`1e20`).
/// `None` for a negative or non-finite number.
pub(crate) fn provider_wait(secs: f64) -> Option<Duration> {
    (secs.is_finite() && secs >= 0.0)
        .then(|| Duration::from_secs_f64(secs.min(LONGEST_HEADER_WAIT.as_secs_f64())))
}

impl LlmClient {
    pub fn new(config: LlmConfig, queue: Option<Queue>) -> Result<LlmClient, LlmConfigError> {
        for (model, price) in &config.prices {
            price.check(model)?;
        }
        config.batch.check()?;
        for (i, budget) in config.budgets.iter().enumerate() {
            budget.check(i, config.fallback.is_some())?;
        }
        let bill = Arc::new(Bill {
            prices: config.prices.clone(),
            budgets: config.budgets.clone(),
        });
        let fallback = match &config.fallback {
            Some(f) => Some(Arc::new(
                LlmClient::plain(f.config(&config), queue.clone(), bill.clone())
                    .map_err(|e| LlmConfigError::Fallback(Box::new(e)))?,
            )),
            None => None,
        };
        let mut client = LlmClient::plain(config, queue, bill)?;
        client.fallback = fallback;
        Ok(client)
    }

    /// A client without a fallback, priced and held by `bill`.
    fn plain(
        config: LlmConfig,
        queue: Option<Queue>,
        bill: Arc<Bill>,
    ) -> Result<LlmClient, LlmConfigError> {
        if !(config.timeout_secs > 0.0 && config.timeout_secs.is_finite()) {
            return Err(LlmConfigError::Timeout(config.timeout_secs));
        }
        if !(config.base_url.starts_with("http://") || config.base_url.starts_with("https://")) {
            return Err(LlmConfigError::BaseUrl(config.base_url.clone()));
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs_f64(config.timeout_secs))
            .build()
            .map_err(|e| LlmConfigError::Http(e.to_string()))?;
        let api_key = (!config.api_key_env.is_empty())
            .then(|| std::env::var(&config.api_key_env).ok())
            .flatten()
            .filter(|k| !k.is_empty());
        Ok(LlmClient {
            http,
            config,
            api_key,
            queue,
            bill,
            fallback: None,
        })
    }

    pub fn config(&self) -> &LlmConfig {
        &self.config
    }

    pub fn dialect(&self) -> Dialect {
        self.config
            .dialect
            .unwrap_or_else(|| self.config.provider.dialect())
    }

    /// One generation, with structured-output validation when the request
    /// carries a schema.
    pub async fn generate(&self, request: &LlmRequest) -> Result<LlmResponse, LlmError> {
        self.generate_metered(request, &Usage::default()).await
    }

    /// Like [`LlmClient::generate`], adding what it spent to `usage`, failed
    /// asks included (an answer cut off or outside the schema costs tokens
    /// too), whatever the outcome. Budgets by job type or group do not
    /// apply (no caller): [`LlmClient::generate_for`] names one.
    pub async fn generate_metered(
        &self,
        request: &LlmRequest,
        usage: &Usage,
    ) -> Result<LlmResponse, LlmError> {
        self.generate_for(request, usage, &Caller::default()).await
    }

    /// The model that serves `request`: the configured one, or one it
    /// names that `llm.allowed_models` lists. A job's payload is outside
    /// data: it must not pick what the operator pays for.
    fn model_for<'r>(&'r self, request: &'r LlmRequest) -> Result<&'r str, LlmError> {
        match request.model.as_deref() {
            None => Ok(&self.config.model),
            Some(m)
                if m == self.config.model || self.config.allowed_models.iter().any(|a| a == m) =>
            {
                Ok(m)
            }
            Some(m) => Err(LlmError::InvalidRequest(format!(
                "model {:?} is not allowed on this host: it serves {:?}{}",
                truncate(m, 100),
                self.config.model,
                if self.config.allowed_models.is_empty() {
                    " (llm.allowed_models lists no other)".to_string()
                } else {
                    format!(" and llm.allowed_models {:?}", self.config.allowed_models)
                }
            ))),
        }
    }

    fn response(&self, reply: Reply, prompt_tokens: u32, completion_tokens: u32) -> LlmResponse {
        LlmResponse {
            content: reply.content,
            model: reply.model.unwrap_or_else(|| self.config.model.clone()),
            prompt_tokens,
            completion_tokens,
            cached: false,
        }
    }
}

/// The usage's asks and route, also after a panic elsewhere held the lock.
fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A response schema, parsed and compiled (formats checked).
fn compile_schema(text: &str) -> Result<(Value, jsonschema::Validator), LlmError> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| LlmError::InvalidRequest(format!("response-schema is not JSON: {e}")))?;
    let validator = crate::schema::compile(&value).map_err(|e| {
        LlmError::InvalidRequest(format!("response-schema is not a valid JSON Schema: {e}"))
    })?;
    Ok((value, validator))
}

/// What is wrong with an answer against the schema, worded for the model
/// to mend on its next ask; `None` when it is valid.
fn schema_problem(validator: &jsonschema::Validator, text: &str) -> Option<String> {
    match serde_json::from_str::<Value>(text) {
        Err(e) => Some(format!("Your reply was not valid JSON ({e}).")),
        Ok(value) => {
            let errors: Vec<String> = validator
                .iter_errors(&value)
                .take(10)
                .map(|e| format!("at {}: {e}", display_path(&e.instance_path().to_string())))
                .collect();
            (!errors.is_empty()).then(|| {
                format!(
                    "Your reply does not satisfy the JSON Schema:\n- {}",
                    errors.join("\n- ")
                )
            })
        }
    }
}

/// Removes a Markdown code fence around JSON (```json ... ```), and the
/// whitespace around it.
pub fn strip_fences(text: &str) -> &str {
    let t = text.trim();
    let Some(rest) = t.strip_prefix("```") else {
        return t;
    };
    let rest = match rest.find('\n') {
        // The info string (e.g. `json`) runs to the end of the first line.
        Some(newline) if !rest[..newline].contains('{') && !rest[..newline].contains('[') => {
            &rest[newline + 1..]
        }
        _ => rest,
    };
    rest.trim_end().strip_suffix("```").unwrap_or(rest).trim()
}

fn display_path(pointer: &str) -> String {
    if pointer.is_empty() {
        "the top level".into()
    } else {
        pointer.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fences_are_stripped() {
        assert_eq!(strip_fences("```json\n{\"a\":1}\n```"), "{\"a\":1}");
        assert_eq!(strip_fences("  ```\n[1]\n```  "), "[1]");
        assert_eq!(strip_fences("{\"a\":1}"), "{\"a\":1}");
        assert_eq!(strip_fences("```{\"a\":1}```"), "{\"a\":1}");
    }
}
