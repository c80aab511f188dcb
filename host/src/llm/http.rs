//! One provider call over HTTP: the attempts, each inside the provider's
//! shared limits (cooldown, budget, request slot), and what each kind of
//! answer means: a reply, a refusal that ends the call, or a reason to try
//! again (429, 5xx, a timeout, a refused connection).

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use super::budget::RateHeaders;
use super::*;

/// What one attempt came to.
enum Attempt {
    Done(Reply),
    /// Worth another attempt: why this one failed, and how long the
    /// provider asked to wait (if it said).
    Again {
        why: String,
        after: Option<Duration>,
    },
}

/// An answer read whole.
struct Answer<T = String> {
    status: StatusCode,
    retry_after: Option<Duration>,
    limits: RateHeaders,
    text: T,
}

/// Largest answer body read from a provider; a longer one is refused
/// before it is held whole (a provider's body is outside data).
const MAX_ANSWER_BYTES: usize = 16 * 1024 * 1024;

/// A provider's body, read up to [`MAX_ANSWER_BYTES`]: `Err` says it was
/// longer. A body cut off by the connection reads as what arrived.
async fn read_body(mut resp: reqwest::Response) -> Result<String, String> {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(format!(
                "the provider's answer is longer than {MAX_ANSWER_BYTES} bytes: not read"
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(String::from_utf8_lossy(&body).into_owned())
}

impl LlmClient {
    /// One provider call with HTTP-level retries.
    pub(super) async fn call(&self, call: &Call<'_>, usage: &Usage) -> Result<Reply, LlmError> {
        let url = format!(
            "{}{}",
            self.config.base_url.trim_end_matches('/'),
            self.dialect().path()
        );
        let body = self.dialect().body(call);
        let attempts = self.config.max_http_attempts.max(1);
        let tokens = self.estimate_tokens(call).await;
        let mut last = String::new();
        for attempt in 1..=attempts {
            {
                let _waiting = usage.waited.start();
                self.wait_for_cooldown().await;
                self.take_budget(tokens).await?;
            }
            let after = match self
                .traced_attempt(call, attempt, &url, &body, tokens, usage)
                .await?
            {
                Attempt::Done(reply) => return Ok(reply),
                Attempt::Again { why, after } => {
                    last = why;
                    after
                }
            };
            if attempt < attempts {
                let backoff = Duration::from_millis(250 * 2u64.pow(attempt.min(10)))
                    .mul_f64(0.5 + fastrand::f64());
                let wait = after.unwrap_or(backoff).min(MAX_WAIT);
                tracing::warn!(attempt, "LLM call failed ({last}); retrying in {wait:?}");
                tokio::time::sleep(wait).await;
            }
        }
        self.count(stat::LLM_ERRORS, 1).await;
        Err(LlmError::Unavailable(format!(
            "gave up after {attempts} attempts: {last}"
        )))
    }

    /// One attempt inside its `llm_request` span: model, attempt, latency,
    /// tokens and outcome as the span's fields (attributes in a trace).
    async fn traced_attempt(
        &self,
        call: &Call<'_>,
        attempt: u32,
        url: &str,
        body: &Value,
        tokens: u64,
        usage: &Usage,
    ) -> Result<Attempt, LlmError> {
        use tracing::Instrument;
        use tracing::field::Empty;
        let span = tracing::info_span!(
            "llm_request",
            model = call.model,
            attempt,
            latency_ms = Empty,
            prompt_tokens = Empty,
            completion_tokens = Empty,
            outcome = Empty,
        );
        let started = std::time::Instant::now();
        let result = self
            .attempt(url, body, tokens, usage)
            .instrument(span.clone())
            .await;
        span.record("latency_ms", started.elapsed().as_millis() as u64);
        let outcome = match &result {
            Ok(Attempt::Done(reply)) => {
                span.record("prompt_tokens", reply.prompt_tokens);
                span.record("completion_tokens", reply.completion_tokens);
                "ok".to_string()
            }
            Ok(Attempt::Again { why, .. }) => format!("retry: {why}"),
            Err(e) => format!("error: {e}"),
        };
        span.record("outcome", outcome.as_str());
        result
    }

    /// Sends the request once, holding one of the provider's request slots
    /// (if it has a limit) until the answer is read whole.
    async fn attempt(
        &self,
        url: &str,
        body: &Value,
        tokens: u64,
        usage: &Usage,
    ) -> Result<Attempt, LlmError> {
        let mut req = self.http.post(url).json(body);
        if let Some(key) = &self.api_key {
            req = req.bearer_auth(key);
        }
        self.count(stat::LLM_CALLS, 1).await;
        usage.calls.fetch_add(1, Ordering::Relaxed);
        let slot = {
            let _waiting = usage.waited.start();
            self.take_slot().await?
        };
        let exchange = async {
            let resp = req.send().await?;
            Ok::<_, reqwest::Error>(Answer {
                status: resp.status(),
                retry_after: parse_retry_after(resp.headers()),
                limits: RateHeaders::read(resp.headers()),
                text: read_body(resp).await.map(|t| self.redacted(t)),
            })
        }
        .await;
        match &exchange {
            // A request given up on may still keep the server busy: its
            // slot stays taken for as long again, so the next request does
            // not queue behind it (and time out in turn).
            Err(e) if e.is_timeout() => self.hold_slot(slot).await,
            _ => self.give_slot(slot).await,
        }
        let answer = match exchange {
            Ok(answer) => answer,
            Err(e) => {
                let shown = crate::redact::url(url);
                let why = if e.is_timeout() {
                    format!(
                        "no answer within {} s from {shown}",
                        self.config.timeout_secs
                    )
                } else {
                    crate::redact::text(&format!("cannot reach {shown}: {e}"), url)
                };
                return Ok(Attempt::Again { why, after: None });
            }
        };
        self.heed(&answer.limits, tokens).await;
        let answer = match answer.text {
            Ok(text) => Answer {
                status: answer.status,
                retry_after: answer.retry_after,
                limits: answer.limits,
                text,
            },
            Err(too_large) => {
                self.settle_budget(tokens, tokens).await;
                self.count(stat::LLM_ERRORS, 1).await;
                return Err(LlmError::InvalidResponse(too_large));
            }
        };
        if answer.status.is_success() {
            return self
                .accept(&answer.text, tokens, usage)
                .await
                .map(Attempt::Done);
        }
        // Refused before any work: the tokens go back.
        self.settle_budget(tokens, 0).await;
        self.refused(answer).await
    }

    /// An HTTP 200: the reply, or why it is not one (an error body, an
    /// answer cut off at `max_tokens`, no content). Its tokens are counted
    /// and settled with the budget either way.
    async fn accept(&self, text: &str, tokens: u64, usage: &Usage) -> Result<Reply, LlmError> {
        let json: Value = serde_json::from_str(text).map_err(|e| {
            LlmError::InvalidResponse(format!(
                "HTTP 200 with a body that is not JSON ({e}): {}",
                truncate(text, 300)
            ))
        })?;
        let parsed = self.dialect().parse(&json);
        let (spent, cached) = match &parsed {
            Ok(reply) => (
                (reply.prompt_tokens, reply.completion_tokens),
                reply.cached_tokens,
            ),
            Err(ReplyError::Truncated { usage }) => (*usage, 0),
            Err(_) => ((0, 0), 0),
        };
        let used = u64::from(spent.0) + u64::from(spent.1);
        // What the provider did not say it used stays spent.
        self.settle_budget(tokens, if used > 0 { used } else { tokens })
            .await;
        usage.add_tokens(spent.0, cached, spent.1);
        self.count(stat::LLM_PROMPT_TOKENS, i64::from(spent.0))
            .await;
        self.count(stat::LLM_COMPLETION_TOKENS, i64::from(spent.1))
            .await;
        let problem = match parsed {
            Ok(reply) => return Ok(reply),
            Err(problem) => problem,
        };
        self.count(stat::LLM_ERRORS, 1).await;
        Err(match problem {
            ReplyError::ErrorBody(m) => {
                LlmError::Unavailable(format!("the provider answered HTTP 200 with an error: {m}"))
            }
            ReplyError::Truncated { usage } => LlmError::InvalidResponse(format!(
                "the answer was cut off at max_tokens ({} completion tokens)",
                usage.1
            )),
            ReplyError::NoContent(b) => {
                LlmError::InvalidResponse(format!("no message content in the answer: {b}"))
            }
        })
    }

    /// An answer other than 200: credentials refused and bad requests end
    /// the call; 429 (which cools every host down) and 5xx are tried again.
    async fn refused(&self, answer: Answer) -> Result<Attempt, LlmError> {
        let status = answer.status;
        let excerpt = truncate(&answer.text, 300);
        match status.as_u16() {
            401 | 403 => {
                self.count(stat::LLM_ERRORS, 1).await;
                let key = if self.config.api_key_env.is_empty() {
                    "the API key".to_string()
                } else {
                    format!("${}", self.config.api_key_env)
                };
                // The body is left out: providers echo (part of) the key.
                Err(LlmError::NotConfigured(format!(
                    "the provider refused the credentials (HTTP {status}); check {key}"
                )))
            }
            429 => {
                self.count(stat::LLM_RATE_LIMITED, 1).await;
                let wait = answer
                    .retry_after
                    .unwrap_or(Duration::from_secs(5))
                    .min(MAX_WAIT);
                self.set_cooldown(wait).await;
                Ok(Attempt::Again {
                    why: format!("rate limited (HTTP 429): {excerpt}"),
                    after: Some(wait),
                })
            }
            500..=599 => Ok(Attempt::Again {
                why: format!("HTTP {status}: {excerpt}"),
                after: answer.retry_after,
            }),
            _ => {
                self.count(stat::LLM_ERRORS, 1).await;
                Err(LlmError::InvalidRequest(format!(
                    "HTTP {status}: {excerpt}"
                )))
            }
        }
    }
}

impl LlmClient {
    /// `text` (a provider's body) with the API key replaced, and in a body
    /// of error size (64 KiB at most) any run of eight or more of its
    /// characters too: providers echo the key, whole or in part.
    pub(super) fn redacted(&self, text: String) -> String {
        let Some(key) = self.api_key.as_deref() else {
            return text;
        };
        let mut out = text.replace(key, "[redacted]");
        if out.len() > 64 * 1024 {
            return out;
        }
        for len in (8..key.len()).rev() {
            for start in 0..=key.len() - len {
                if let Some(part) = key.get(start..start + len)
                    && out.contains(part)
                {
                    out = out.replace(part, "[redacted]");
                }
            }
        }
        out
    }
}

/// `Retry-After` as seconds or an HTTP date.
fn parse_retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    if let Ok(secs) = value.trim().parse::<f64>() {
        return super::provider_wait(secs);
    }
    let when = httpdate::parse_http_date(value.trim()).ok()?;
    Some(
        when.duration_since(std::time::SystemTime::now())
            .unwrap_or_default()
            .min(super::LONGEST_HEADER_WAIT),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_and_dates() {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert(reqwest::header::RETRY_AFTER, "2".parse().unwrap());
        assert_eq!(parse_retry_after(&h), Some(Duration::from_secs(2)));
        let future = std::time::SystemTime::now() + Duration::from_secs(30);
        h.insert(
            reqwest::header::RETRY_AFTER,
            httpdate::fmt_http_date(future).parse().unwrap(),
        );
        let d = parse_retry_after(&h).unwrap();
        // A number no Duration can hold is clamped, not panicked on.
        let mut huge = reqwest::header::HeaderMap::new();
        huge.insert(reqwest::header::RETRY_AFTER, "1e20".parse().unwrap());
        assert_eq!(
            parse_retry_after(&huge),
            Some(super::super::LONGEST_HEADER_WAIT)
        );
        assert!(
            d <= Duration::from_secs(30) && d >= Duration::from_secs(28),
            "{d:?}"
        );
    }
}
