//! What an LLM client shares with every host of the queue through Redis:
//! the provider's request slots (`max_in_flight`), its rate-limit
//! cooldown, and the counters `/metrics` reads. Without a queue (`exec`),
//! none of it applies.

use std::time::Duration;

use super::*;

/// A request slot is held at most the request timeout plus this.
const SLOT_MARGIN: Duration = Duration::from_secs(5);
/// How often a caller waiting for a request slot looks again (at most).
const SLOT_POLL: Duration = Duration::from_millis(100);
/// The longest a call waits for a request slot before giving up.
const MAX_SLOT_WAIT: Duration = Duration::from_secs(3600);

impl LlmClient {
    /// Requests to this provider in flight at once across all hosts: the
    /// configured `max_in_flight`, else 1 for servers that answer one
    /// request at a time (llama.cpp, Ollama), else no limit (0).
    pub fn max_in_flight(&self) -> u32 {
        self.config
            .max_in_flight
            .unwrap_or(match self.config.provider {
                Provider::Llamacpp | Provider::Ollama => 1,
                _ => 0,
            })
    }

    /// Waits for one of the provider's request slots (shared by every host
    /// through Redis); `None` when there is no limit or no queue. A slot is
    /// held at most the request timeout plus a margin, so a host that dies
    /// mid-request frees it by itself.
    pub(super) async fn take_slot(&self) -> Result<Option<String>, LlmError> {
        let limit = self.max_in_flight();
        let Some(queue) = self.queue.as_ref().filter(|_| limit > 0) else {
            return Ok(None);
        };
        let token = uuid::Uuid::now_v7().to_string();
        let hold = Duration::from_secs_f64(self.config.timeout_secs) + SLOT_MARGIN;
        let started = tokio::time::Instant::now();
        let mut told = false;
        loop {
            match queue
                .take_slot(self.config.provider.as_str(), limit, &token, hold)
                .await
            {
                Ok(None) => return Ok(Some(token)),
                Ok(Some(hint)) => {
                    if !told {
                        tracing::debug!(
                            limit,
                            "waiting for a free request slot of the LLM provider"
                        );
                        told = true;
                    }
                    if started.elapsed() >= MAX_SLOT_WAIT {
                        return Err(LlmError::Unavailable(format!(
                            "no free request slot at the provider within {} s ({limit} in flight at most, llm.max_in_flight)",
                            MAX_SLOT_WAIT.as_secs()
                        )));
                    }
                    tokio::time::sleep(hint.clamp(Duration::from_millis(5), SLOT_POLL)).await;
                }
                // Redis unreachable: the limit cannot be kept; do not stall
                // the job on it (the request itself may still work).
                Err(e) => {
                    tracing::debug!("cannot take an LLM request slot: {e}");
                    return Ok(None);
                }
            }
        }
    }

    pub(super) async fn give_slot(&self, slot: Option<String>) {
        if let (Some(queue), Some(token)) = (&self.queue, slot)
            && let Err(e) = queue.give_slot(self.config.provider.as_str(), &token).await
        {
            tracing::debug!("cannot give back an LLM request slot: {e}");
        }
    }

    /// Keeps the slot of a request given up on (timed out) for another
    /// request timeout: the server may still be working on it.
    pub(super) async fn hold_slot(&self, slot: Option<String>) {
        if let (Some(queue), Some(token)) = (&self.queue, slot) {
            let hold = Duration::from_secs_f64(self.config.timeout_secs);
            if let Err(e) = queue
                .hold_slot(self.config.provider.as_str(), &token, hold)
                .await
            {
                tracing::debug!("cannot keep the LLM request slot: {e}");
            }
        }
    }

    pub(super) fn cooldown_key(&self) -> String {
        self.config.provider.as_str().to_string()
    }

    /// Waits out a rate-limit cooldown set by any host.
    pub(super) async fn wait_for_cooldown(&self) {
        let Some(queue) = &self.queue else { return };
        if let Ok(Some(left)) = queue.cooldown_left(&self.cooldown_key()).await {
            let left = left.min(MAX_WAIT);
            tracing::info!("LLM provider cooling down for {left:?} (rate limited)");
            tokio::time::sleep(left).await;
        }
    }

    pub(super) async fn set_cooldown(&self, wait: Duration) {
        if let Some(queue) = &self.queue
            && let Err(e) = queue.set_cooldown(&self.cooldown_key(), wait).await
        {
            tracing::debug!("cannot record the LLM cooldown: {e}");
        }
    }

    /// Counts `name` in the queue's stats twice: in total, and per
    /// provider as `name:provider` (what `/metrics` labels by provider).
    pub(super) async fn count(&self, name: &str, by: i64) {
        if let Some(queue) = &self.queue
            && by != 0
        {
            let _ = queue.count(name, by).await;
            let scoped = format!("{name}:{}", self.config.provider.as_str());
            let _ = queue.count(&scoped, by).await;
        }
    }
}
