//! A provider's requests and tokens per minute, kept by every host
//! together: each request takes from a shared budget before it is sent
//! (`llm.requests_per_minute`, `llm.tokens_per_minute`), settles what it
//! really used afterwards, and the provider's own rate-limit headers slow
//! every host down before the provider answers 429.

use std::time::Duration;

use reqwest::header::HeaderMap;

use super::*;
use crate::queue::Budget;

/// The longest a call waits for the budget before giving up.
const MAX_BUDGET_WAIT: Duration = Duration::from_secs(3600);
/// How often a caller waiting for the budget looks again (at most).
const BUDGET_POLL: Duration = Duration::from_secs(1);

/// What a provider says about its limits in the headers of an answer
/// (OpenAI's names, which most compatible servers copy).
#[derive(Debug, Default, Clone, PartialEq)]
pub(super) struct RateHeaders {
    pub remaining_requests: Option<u64>,
    pub remaining_tokens: Option<u64>,
    pub reset_requests: Option<Duration>,
    pub reset_tokens: Option<Duration>,
}

impl RateHeaders {
    pub fn read(headers: &HeaderMap) -> RateHeaders {
        let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let number = |name: &str| text(name).and_then(|v| v.trim().parse::<u64>().ok());
        let reset = |name: &str| text(name).and_then(parse_reset);
        RateHeaders {
            remaining_requests: number("x-ratelimit-remaining-requests"),
            remaining_tokens: number("x-ratelimit-remaining-tokens"),
            reset_requests: reset("x-ratelimit-reset-requests"),
            reset_tokens: reset("x-ratelimit-reset-tokens"),
        }
    }

    /// How long to hold every host back before the next request, if the
    /// provider has (nearly) nothing left: no request left, or fewer tokens
    /// than a request takes (`next_tokens`).
    pub fn pause(&self, next_tokens: u64) -> Option<Duration> {
        let requests = (self.remaining_requests == Some(0))
            .then_some(self.reset_requests)
            .flatten();
        let tokens = self
            .remaining_tokens
            .is_some_and(|left| left < next_tokens.max(1))
            .then_some(self.reset_tokens)
            .flatten();
        requests.max(tokens).map(|d| d.min(MAX_WAIT))
    }
}

/// A reset time as providers write it: Go-style durations (`1s`, `6m0s`,
/// `20ms`, `1m30.5s`) or plain seconds (`2`, `0.5`).
pub(super) fn parse_reset(text: &str) -> Option<Duration> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<f64>() {
        return provider_wait(secs);
    }
    let mut total = 0.0f64;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let value: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            "us" | "µs" => 0.000_001,
            "ns" => 0.000_000_001,
            _ => return None,
        };
        total += value * scale;
        rest = &rest[unit_len..];
    }
    if text.is_empty() {
        return None;
    }
    provider_wait(total)
}

impl LlmClient {
    /// The per-minute budget this client keeps, if it has one.
    pub(super) fn budget(&self) -> Option<Budget> {
        let budget = Budget {
            requests_per_minute: self.config.requests_per_minute.unwrap_or(0),
            tokens_per_minute: self.config.tokens_per_minute.unwrap_or(0),
        };
        (budget.requests_per_minute > 0 || budget.tokens_per_minute > 0).then_some(budget)
    }

    /// What a request takes from the token budget up front: its prompt
    /// (about four characters a token) and the answer it may grow to, as
    /// providers count it, or what requests have used on average if that is
    /// more.
    pub(super) async fn estimate_tokens(&self, call: &Call<'_>) -> u64 {
        let prompt: usize = call.messages.iter().map(|m| m.content.len()).sum();
        let estimate = (prompt as u64).div_ceil(4) + u64::from(call.max_tokens.unwrap_or(0));
        let average = match &self.queue {
            Some(queue) => queue
                .budget_average(self.config.provider.as_str())
                .await
                .unwrap_or(0),
            None => 0,
        };
        estimate.max(average)
    }

    /// Waits until the budget has a request and `tokens` for this call, and
    /// takes them. Without a budget or a queue, at once.
    pub(super) async fn take_budget(&self, tokens: u64) -> Result<(), LlmError> {
        let (Some(budget), Some(queue)) = (self.budget(), &self.queue) else {
            return Ok(());
        };
        let started = tokio::time::Instant::now();
        loop {
            match queue
                .take_budget(self.config.provider.as_str(), budget, tokens)
                .await
            {
                Ok(None) => return Ok(()),
                Ok(Some(wait)) => {
                    if started.elapsed() >= MAX_BUDGET_WAIT {
                        return Err(LlmError::Unavailable(format!(
                            "the provider's budget (llm.requests_per_minute, llm.tokens_per_minute) had no room within {} s",
                            MAX_BUDGET_WAIT.as_secs()
                        )));
                    }
                    tracing::debug!(?wait, tokens, "waiting for the LLM provider's budget");
                    tokio::time::sleep(wait.clamp(Duration::from_millis(5), BUDGET_POLL)).await;
                }
                // Redis unreachable: the budget cannot be kept; do not stall
                // the job on it.
                Err(e) => {
                    tracing::debug!("cannot take from the LLM budget: {e}");
                    return Ok(());
                }
            }
        }
    }

    /// Settles a request that took `taken` tokens and used `used` (0: the
    /// provider did not count it, e.g. an error before any work).
    pub(super) async fn settle_budget(&self, taken: u64, used: u64) {
        let (Some(budget), Some(queue)) = (self.budget(), &self.queue) else {
            return;
        };
        let extra = i64::try_from(used).unwrap_or(i64::MAX) - i64::try_from(taken).unwrap_or(0);
        if let Err(e) = queue
            .settle_budget(self.config.provider.as_str(), budget, extra, used)
            .await
        {
            tracing::debug!("cannot settle the LLM budget: {e}");
        }
    }

    /// Holds every host back when the provider's headers say it has
    /// (nearly) nothing left until its reset.
    pub(super) async fn heed(&self, headers: &RateHeaders, next_tokens: u64) {
        if let Some(wait) = headers.pause(next_tokens) {
            tracing::info!(
                ?wait,
                "the LLM provider reports its limit nearly spent; holding requests until it resets"
            );
            self.set_cooldown(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reset_times_read_as_providers_write_them() {
        let ms = |n: u64| Some(Duration::from_millis(n));
        assert_eq!(parse_reset("1s"), ms(1000));
        assert_eq!(parse_reset("6m0s"), ms(360_000));
        assert_eq!(parse_reset("20ms"), ms(20));
        assert_eq!(parse_reset("1m30.5s"), ms(90_500));
        assert_eq!(parse_reset("2"), ms(2000));
        assert_eq!(parse_reset("0.25"), ms(250));
        for bad in ["", "s", "1x", "-1s", "1s2", "nan", "inf"] {
            assert_eq!(parse_reset(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_spent_limit_pauses_until_its_reset() {
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-remaining-requests", "5".parse().unwrap());
        h.insert("x-ratelimit-remaining-tokens", "300".parse().unwrap());
        h.insert("x-ratelimit-reset-requests", "1s".parse().unwrap());
        h.insert("x-ratelimit-reset-tokens", "2s".parse().unwrap());
        let read = RateHeaders::read(&h);
        assert_eq!(read.pause(100), None, "room for the next request");
        assert_eq!(
            read.pause(500),
            Some(Duration::from_secs(2)),
            "too few tokens"
        );
        h.insert("x-ratelimit-remaining-requests", "0".parse().unwrap());
        let read = RateHeaders::read(&h);
        assert_eq!(
            read.pause(100),
            Some(Duration::from_secs(1)),
            "no request left"
        );
        assert_eq!(RateHeaders::read(&HeaderMap::new()).pause(100), None);
        h.insert("x-ratelimit-reset-requests", "99h".parse().unwrap());
        assert_eq!(RateHeaders::read(&h).pause(100), Some(MAX_WAIT));
        // Numbers no Duration can hold are clamped, not panicked on.
        for huge in ["1e20", "1e300", "99999999999999999999h", "1e20s"] {
            let read = parse_reset(huge);
            assert!(read.is_none_or(|d| d <= LONGEST_HEADER_WAIT), "{huge}");
        }
        h.insert("x-ratelimit-reset-requests", "1e20".parse().unwrap());
        assert_eq!(RateHeaders::read(&h).pause(100), Some(MAX_WAIT));
        assert_eq!(parse_reset("-1"), None);
        assert_eq!(parse_reset("NaN"), None);
    }
}
