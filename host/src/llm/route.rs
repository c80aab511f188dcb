//! Budgets in money, and where a call goes when one is spent.
//!
//! `[[llm.budgets]]` each cover one provider, job type or group, per day
//! (UTC) or per run (a bulk run: the `run` metadata its jobs carry). Before
//! every call the host holds the most the call can cost (its prompt, about
//! 4 characters a token, and `max_tokens` of answer, for each ask a
//! structured call may take, at the price table's prices) on each budget
//! that covers it, and puts the real cost in its place when the call ends:
//! calls in flight at once on any host cannot pass a budget together. When
//! the hold would pass one, the budget's `then` decides: `fallback` sends
//! the call to `[llm.fallback]` (held again there, on the model that will
//! serve it), `wait` waits for room, `fail` ends the call. A call whose
//! prompt is dearer than its estimate may pass a budget by the difference.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::price::{Lane, Tokens};
use super::*;
use crate::queue::{SpendField, SpendScope};

/// The longest a call waits for a budget with `then = "wait"`.
const MAX_BUDGET_WAIT: Duration = Duration::from_secs(3600);
/// How often such a call looks again.
const BUDGET_POLL: Duration = Duration::from_secs(2);
/// The largest budget amount, in the currency unit.
pub const MAX_AMOUNT: f64 = 1e9;

/// One budget in money.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetRule {
    /// Exactly one of `provider`, `job_type`, `group` names what it covers.
    pub provider: Option<String>,
    pub job_type: Option<String>,
    pub group: Option<String>,
    /// In the price table's currency.
    pub amount: f64,
    pub per: Period,
    #[serde(default)]
    pub then: OnSpent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    /// The UTC day.
    Day,
    /// One bulk run (jobs whose `run` metadata is the same); calls of jobs
    /// outside a run are not held by it.
    Run,
}

/// What a call does when a budget that covers it is spent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnSpent {
    /// Go to `[llm.fallback]`.
    #[default]
    Fallback,
    /// Wait for room (the next day), up to an hour, then fail as unavailable.
    Wait,
    /// Fail the call (and, as a plugin usually maps it, the job).
    Fail,
}

/// A budget rule that cannot be used, named by its place.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BudgetError {
    #[error("llm.budgets[{0}] must name exactly one of provider, job_type or group")]
    Scope(usize),
    #[error("llm.budgets[{0}].amount must be 0 to {MAX_AMOUNT}, got {1}")]
    Amount(usize, f64),
    #[error("llm.budgets[{0}] falls back, but [llm.fallback] is not configured")]
    NoFallback(usize),
}

impl BudgetRule {
    /// What it covers, as the spend ledger names it.
    pub fn scope(&self) -> Option<(SpendScope, &str)> {
        match (&self.provider, &self.job_type, &self.group) {
            (Some(p), None, None) => Some((SpendScope::Provider, p)),
            (None, Some(t), None) => Some((SpendScope::JobType, t)),
            (None, None, Some(g)) => Some((SpendScope::Group, g)),
            _ => None,
        }
    }

    pub fn check(&self, index: usize, has_fallback: bool) -> Result<(), BudgetError> {
        if self.scope().is_none() {
            return Err(BudgetError::Scope(index));
        }
        if !(self.amount.is_finite() && (0.0..=MAX_AMOUNT).contains(&self.amount)) {
            return Err(BudgetError::Amount(index, self.amount));
        }
        if self.then == OnSpent::Fallback && !has_fallback {
            return Err(BudgetError::NoFallback(index));
        }
        Ok(())
    }

    fn amount_micros(&self) -> u64 {
        (self.amount * 1e6).round() as u64
    }

    fn label(&self) -> String {
        let (scope, name) = self.scope().unwrap_or((SpendScope::Provider, "?"));
        let per = match self.per {
            Period::Day => "day",
            Period::Run => "run",
        };
        format!(
            "budget {}={name:?} of {} per {per}",
            scope.as_str(),
            price::money(self.amount_micros())
        )
    }
}

/// Who a call is made for: what its budgets and spend are counted by.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Caller {
    /// The job making the call.
    pub job_id: String,
    pub job_type: String,
    pub group: Option<String>,
    /// The bulk run the job belongs to (its `run` metadata).
    pub run: Option<String>,
    /// Set when the call may go to the batch lane.
    pub defer: Option<super::Deferral>,
}

/// What a call holds on the budgets that cover it until its real cost is
/// known (see [`crate::queue::Queue::hold_spend`]). Taken by the ledger
/// entry that puts the cost in its place; a hold dropped untaken (the call
/// dropped mid-way: its job cancelled or timed out) is given back.
#[derive(Default)]
pub(super) struct Held {
    fields: Vec<SpendField>,
    most: u64,
    queue: Option<crate::queue::Queue>,
}

impl Held {
    /// The fields held and the amount on each, for the ledger entry that
    /// replaces them; nothing is given back on drop after this.
    pub(super) fn take(mut self) -> (Vec<SpendField>, u64) {
        self.queue = None;
        (std::mem::take(&mut self.fields), self.most)
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let Some(queue) = self.queue.take().filter(|_| !self.fields.is_empty()) else {
            return;
        };
        let (fields, most) = (std::mem::take(&mut self.fields), self.most);
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        runtime.spawn(async move {
            if let Err(e) = queue.release_spend(&fields, most).await {
                tracing::warn!("cannot give back a dropped LLM call's budget hold: {e}");
            }
        });
    }
}

impl LlmClient {
    /// The client that serves a call of `caller` that may cost at most
    /// `most` tokens an ask over `asks` asks, after the budgets that cover
    /// it: the reason when it is the fallback, and what it holds on them.
    pub(super) async fn choose<'c>(
        &'c self,
        caller: &Caller,
        model: &str,
        most: (Tokens, u32),
    ) -> Result<(&'c LlmClient, Option<String>, Held), LlmError> {
        let started = tokio::time::Instant::now();
        loop {
            let spent = match self.hold(caller, model, most).await {
                Ok(held) => return Ok((self, None, held)),
                Err(spent) => spent,
            };
            let why = format!("{} is spent", spent.label());
            match spent.then {
                OnSpent::Fail => return Err(LlmError::NotConfigured(why)),
                OnSpent::Wait if started.elapsed() < MAX_BUDGET_WAIT => {
                    tokio::time::sleep(BUDGET_POLL).await;
                }
                OnSpent::Wait => return Err(LlmError::Unavailable(why)),
                OnSpent::Fallback => {
                    let Some(fallback) = self.fallback.as_deref() else {
                        return Err(LlmError::NotConfigured(why));
                    };
                    let model = fallback.config.model.as_str();
                    return match fallback.hold(caller, model, most).await {
                        Ok(held) => Ok((fallback, Some(why), held)),
                        Err(also) => Err(LlmError::NotConfigured(format!(
                            "{why}, and the fallback's {} is spent too",
                            also.label()
                        ))),
                    };
                }
            }
        }
    }

    /// Holds the most a call on this client can cost on every budget that
    /// covers it (its provider, the caller's job type and group); the
    /// first budget it would pass otherwise. A free call holds nothing.
    async fn hold(
        &self,
        caller: &Caller,
        model: &str,
        (per_ask, asks): (Tokens, u32),
    ) -> Result<Held, &BudgetRule> {
        let Some(price) = self.price_of(model) else {
            return Ok(Held::default());
        };
        let most = price
            .cost_micros(per_ask, Lane::Live)
            .saturating_mul(u64::from(asks));
        let Some(queue) = self.queue.as_ref().filter(|_| most > 0) else {
            return Ok(Held::default());
        };
        let provider = self.config.provider.as_str();
        let covering: Vec<&BudgetRule> = self
            .bill
            .budgets
            .iter()
            .filter(|b| match b.scope() {
                Some((SpendScope::Provider, p)) => p == provider,
                Some((SpendScope::JobType, t)) => t == caller.job_type,
                Some((SpendScope::Group, g)) => caller.group.as_deref() == Some(g),
                _ => false,
            })
            .filter(|b| b.per == Period::Day || caller.run.is_some())
            .collect();
        let fields: Vec<SpendField> = covering
            .iter()
            .map(|b| {
                let (scope, name) = b.scope().unwrap_or((SpendScope::Provider, ""));
                SpendField {
                    run: (b.per == Period::Run).then(|| caller.run.clone()).flatten(),
                    scope,
                    name: name.to_string(),
                }
            })
            .collect();
        if fields.is_empty() {
            return Ok(Held::default());
        }
        let limits: Vec<u64> = covering.iter().map(|b| b.amount_micros()).collect();
        match queue.hold_spend(&fields, most, &limits).await {
            Ok(None) => Ok(Held {
                fields,
                most,
                queue: Some(queue.clone()),
            }),
            Ok(Some(i)) => Err(covering[i]),
            Err(e) => {
                tracing::warn!("cannot hold the LLM budgets ({e}); the call goes on");
                Ok(Held::default())
            }
        }
    }

    /// The price table's entry for `model`, if it has one (a model without
    /// one costs nothing: a local server).
    pub(super) fn price_of(&self, model: &str) -> Option<&price::Price> {
        self.bill.prices.get(model)
    }
}
