//! What the hosts share about an outside provider (an LLM's API) through
//! Redis, so that its limits hold across all of them: request slots (most
//! requests in flight), a budget of requests and tokens per minute, a
//! cooldown after the provider said to slow down, and counters.

use std::time::Duration;

use redis::AsyncCommands;

use super::keys::{field, key};
use super::{Queue, QueueError, calls, millis};

/// What a provider's per-minute budget is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Requests per minute (0: no limit).
    pub requests_per_minute: u64,
    /// Tokens per minute (0: no limit).
    pub tokens_per_minute: u64,
}

impl Queue {
    /// Takes one of `limit` slots named `name` for `token`, held at most
    /// `hold`: `None` when taken, else how long until a hold ends (look
    /// again by then).
    pub async fn take_slot(
        &self,
        name: &str,
        limit: u32,
        token: &str,
        hold: Duration,
    ) -> Result<Option<Duration>, QueueError> {
        self.hub()
            .run(&calls::TakeSlot {
                name,
                limit,
                token,
                hold,
            })
            .await
    }

    /// Gives back a slot taken with [`Queue::take_slot`].
    pub async fn give_slot(&self, name: &str, token: &str) -> Result<(), QueueError> {
        let hub = self.hub();
        let _: i64 = hub
            .conn()
            .zrem(hub.key(&[key::INFLIGHT, name]), token)
            .await?;
        Ok(())
    }

    /// Time left on a shared cooldown (e.g. an LLM provider's rate limit).
    pub async fn cooldown_left(&self, name: &str) -> Result<Option<Duration>, QueueError> {
        let hub = self.hub();
        let ms: i64 = hub.conn().pttl(hub.key(&[key::COOLDOWN, name])).await?;
        Ok((ms > 0).then(|| Duration::from_millis(ms as u64)))
    }

    /// Starts (or extends) a shared cooldown every host honours.
    pub async fn set_cooldown(&self, name: &str, wait: Duration) -> Result<(), QueueError> {
        let hub = self.hub();
        let ms = millis(wait).max(1);
        let _: () = redis::cmd("SET")
            .arg(hub.key(&[key::COOLDOWN, name]))
            .arg(1)
            .arg("PX")
            .arg(ms)
            .query_async(&mut hub.conn())
            .await?;
        Ok(())
    }

    /// Increments a host-side counter in the shared stats hash.
    pub async fn count(&self, name: &str, by: i64) -> Result<(), QueueError> {
        let hub = self.hub();
        let _: i64 = hub.conn().hincr(hub.key(&[key::STATS]), name, by).await?;
        Ok(())
    }

    /// Keeps the slot `token` holds for `hold` from now (a request given up
    /// on may still occupy the provider); nothing when it is gone already.
    pub async fn hold_slot(
        &self,
        name: &str,
        token: &str,
        hold: Duration,
    ) -> Result<(), QueueError> {
        self.hub()
            .run(&calls::HoldSlot { name, token, hold })
            .await?;
        Ok(())
    }

    /// Takes one request and `tokens` tokens from the provider's budget:
    /// `None` when taken, else how long until enough has refilled. A
    /// request larger than the whole budget waits for a full one.
    pub async fn take_budget(
        &self,
        name: &str,
        budget: Budget,
        tokens: u64,
    ) -> Result<Option<Duration>, QueueError> {
        self.hub()
            .run(&calls::SpendBudget {
                name,
                budget,
                usage: calls::BudgetUse::Take { tokens },
            })
            .await
    }

    /// Settles a request's tokens once the provider said what it used:
    /// `extra` more than was taken (negative: fewer), and the provider's
    /// running average per request (what later requests take up front).
    pub async fn settle_budget(
        &self,
        name: &str,
        budget: Budget,
        extra: i64,
        used: u64,
    ) -> Result<(), QueueError> {
        self.hub()
            .run(&calls::SpendBudget {
                name,
                budget,
                usage: calls::BudgetUse::Settle { extra, used },
            })
            .await?;
        Ok(())
    }

    /// The tokens a request of this provider has used on average (0: none
    /// seen yet), as the budget learned it.
    pub async fn budget_average(&self, name: &str) -> Result<u64, QueueError> {
        let hub = self.hub();
        let avg: Option<f64> = hub
            .conn()
            .hget(hub.key(&[key::BUDGET, name]), field::AVG)
            .await?;
        Ok(avg
            .filter(|a| a.is_finite() && *a > 0.0)
            .map_or(0, |a| a as u64))
    }
}
