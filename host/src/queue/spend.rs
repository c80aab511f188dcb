//! The LLM spend ledger (`keys::spend`): what calls cost in micro-units,
//! summed ever, per UTC day and per bulk run, by provider, model, job type
//! and group; and how many structured-output calls needed a re-ask, by job
//! type and model. Written in one pipelined trip per LLM call, read in one
//! per budget check.

use std::collections::BTreeMap;

use redis::AsyncCommands;

use super::keys::{key, spend};
use super::{Queue, QueueError};

/// How long a day's figures are kept.
const DAY_TTL_SECS: i64 = 8 * 24 * 3600;
/// How long a run's figures are kept after its last call.
const RUN_TTL_SECS: i64 = 30 * 24 * 3600;

/// What a budget covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpendScope {
    Provider,
    Model,
    JobType,
    Group,
}

impl SpendScope {
    pub fn as_str(self) -> &'static str {
        match self {
            SpendScope::Provider => "provider",
            SpendScope::Model => "model",
            SpendScope::JobType => "type",
            SpendScope::Group => "group",
        }
    }
}

/// One figure of the ledger: a scope's spend today, or within a run.
#[derive(Debug, Clone, PartialEq)]
pub struct SpendField {
    /// Within this run; none: today (UTC).
    pub run: Option<String>,
    pub scope: SpendScope,
    pub name: String,
}

/// What one LLM call (all its asks) cost, and who made it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Spend {
    pub provider: String,
    pub model: String,
    pub job_type: String,
    pub group: Option<String>,
    pub run: Option<String>,
    pub micros: u64,
    /// Whether it was a structured-output call, and its re-asks.
    pub structured: bool,
    pub reasks: u32,
    /// A hold taken before the call ([`Queue::hold_spend`]), given back
    /// now that the call's real cost is added: the fields and the amount.
    pub release: Vec<SpendField>,
    pub released: u64,
}

/// What an attempt's LLM calls spent, as its job's record keeps it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LlmUsage {
    pub calls: u32,
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    pub cost_micros: u64,
    /// The model the last call went to, and why when not the first choice.
    pub route: Option<String>,
    /// Each ask, as JSON objects.
    pub asks: Vec<serde_json::Value>,
}

/// Structured-output calls of one job type and model.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct AskFigures {
    pub job_type: String,
    pub model: String,
    pub calls: u64,
    /// Calls that needed at least one re-ask.
    pub reasked: u64,
    /// Re-asks in all.
    pub reasks: u64,
}

/// LLM spend in micro-units, ever and today, and the re-asks.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct BillFigures {
    pub ever: Ledger,
    pub today: Ledger,
    pub asks: Vec<AskFigures>,
}

/// The whole ledger as `stats` and `/metrics` show it: `total` and
/// `<scope>:<name>` fields, in micro-units.
pub type Ledger = BTreeMap<String, u64>;

fn field(scope: SpendScope, name: &str) -> String {
    format!("{}:{name}", scope.as_str())
}

/// How long a day's (`None`) or a run's figures are kept.
fn ttl(run: Option<&str>) -> i64 {
    if run.is_some() {
        RUN_TTL_SECS
    } else {
        DAY_TTL_SECS
    }
}

fn today() -> String {
    chrono::Utc::now().format("%Y-%m-%d").to_string()
}

impl Queue {
    fn spend_key(&self, run: Option<&str>) -> String {
        let hub = self.hub();
        match run {
            Some(run) => hub.key(&[key::SPEND, spend::RUN, run]),
            None => hub.key(&[key::SPEND, spend::DAY, &today()]),
        }
    }

    /// Holds `most` on each field before a call, as long as none passes
    /// its limit (`limits`, in order): what the call may cost counts as
    /// spent until [`Queue::add_spend`] puts its real cost in its place, so
    /// calls in flight at once cannot pass a budget together. `Some(i)`:
    /// field `i` would pass its limit, and nothing is held. Two calls that
    /// both pass a limit at once both let go (neither is held).
    pub async fn hold_spend(
        &self,
        fields: &[SpendField],
        most: u64,
        limits: &[u64],
    ) -> Result<Option<usize>, QueueError> {
        let mut pipe = redis::pipe();
        for f in fields {
            pipe.hincr(
                self.spend_key(f.run.as_deref()),
                field(f.scope, &f.name),
                most,
            );
        }
        for run in [None, fields.iter().find_map(|f| f.run.as_deref())] {
            pipe.expire(self.spend_key(run), ttl(run)).ignore();
        }
        let after: Vec<u64> = pipe.query_async(&mut self.hub().conn()).await?;
        let passed = after.iter().zip(limits).position(|(a, limit)| a > limit);
        if passed.is_some() {
            self.release_spend(fields, most).await?;
        }
        Ok(passed)
    }

    /// Lets go of `most` held on each field with [`Queue::hold_spend`],
    /// for a call that ends without a cost to put in its place (refused,
    /// or dropped mid-call: its job cancelled or timed out).
    pub async fn release_spend(&self, fields: &[SpendField], most: u64) -> Result<(), QueueError> {
        let mut undo = redis::pipe();
        for f in fields {
            let key = self.spend_key(f.run.as_deref());
            undo.hincr(key, field(f.scope, &f.name), -(most as i64))
                .ignore();
        }
        let () = undo.query_async(&mut self.hub().conn()).await?;
        Ok(())
    }

    /// Adds one call's cost to the ledger (ever, today, its run) and its
    /// asks to the re-ask counts, and lets go of its hold.
    pub async fn add_spend(&self, s: &Spend) -> Result<(), QueueError> {
        self.add_spends(std::slice::from_ref(s)).await
    }

    /// [`Queue::add_spend`] for many calls, in one trip.
    pub async fn add_spends(&self, all: &[Spend]) -> Result<(), QueueError> {
        let mut pipe = redis::pipe();
        let mut any = false;
        for s in all {
            any |= self.spend_into(&mut pipe, s);
        }
        if any {
            let () = pipe.query_async(&mut self.hub().conn()).await?;
        }
        Ok(())
    }

    /// Queues one call's writes on `pipe`; false when it has none.
    fn spend_into(&self, pipe: &mut redis::Pipeline, s: &Spend) -> bool {
        let hub = self.hub();
        if s.micros == 0 && !s.structured && s.release.is_empty() {
            return false;
        }
        let mut fields = vec![
            spend::TOTAL.to_string(),
            field(SpendScope::Provider, &s.provider),
            field(SpendScope::Model, &s.model),
            field(SpendScope::JobType, &s.job_type),
        ];
        fields.extend(s.group.iter().map(|g| field(SpendScope::Group, g)));
        for f in &s.release {
            let key = self.spend_key(f.run.as_deref());
            pipe.hincr(key, field(f.scope, &f.name), -(s.released as i64))
                .ignore();
        }
        let (ever, day) = (hub.key(&[key::SPEND]), self.spend_key(None));
        if s.micros > 0 {
            for f in &fields {
                pipe.hincr(&ever, f, s.micros).ignore();
                pipe.hincr(&day, f, s.micros).ignore();
            }
            pipe.expire(&day, ttl(None)).ignore();
            if let Some(run) = &s.run {
                let run_key = self.spend_key(Some(run));
                for f in &fields {
                    pipe.hincr(&run_key, f, s.micros).ignore();
                }
                pipe.expire(&run_key, ttl(Some(run))).ignore();
                pipe.hincr(&ever, format!("{}:{run}", spend::RUN), s.micros)
                    .ignore();
            }
        }
        if s.structured {
            let asks = hub.key(&[key::ASKS]);
            let which = format!("{}|{}", s.job_type, s.model);
            pipe.hincr(&asks, format!("{}|{which}", spend::CALLS), 1)
                .ignore();
            if s.reasks > 0 {
                pipe.hincr(&asks, format!("{}|{which}", spend::REASKED), 1)
                    .ignore();
                pipe.hincr(&asks, format!("{}|{which}", spend::REASKS), s.reasks)
                    .ignore();
            }
        }
        true
    }

    /// The ledger: ever (`run` none) or one run's.
    pub async fn ledger(&self, run: Option<&str>) -> Result<Ledger, QueueError> {
        let hub = self.hub();
        let key = match run {
            Some(run) => self.spend_key(Some(run)),
            None => hub.key(&[key::SPEND]),
        };
        Ok(hub.conn().hgetall(key).await?)
    }

    /// Today's ledger (UTC).
    pub async fn ledger_today(&self) -> Result<Ledger, QueueError> {
        Ok(self.hub().conn().hgetall(self.spend_key(None)).await?)
    }

    /// Structured-output calls by job type and model, with those that
    /// needed a re-ask.
    pub async fn ask_counts(&self) -> Result<Vec<AskFigures>, QueueError> {
        let hub = self.hub();
        let all: BTreeMap<String, u64> = hub.conn().hgetall(hub.key(&[key::ASKS])).await?;
        let mut by: BTreeMap<(String, String), AskFigures> = BTreeMap::new();
        for (f, n) in all {
            let mut parts = f.splitn(3, '|');
            let (Some(what), Some(t), Some(m)) = (parts.next(), parts.next(), parts.next()) else {
                continue;
            };
            let entry = by
                .entry((t.to_string(), m.to_string()))
                .or_insert_with(|| AskFigures {
                    job_type: t.to_string(),
                    model: m.to_string(),
                    ..AskFigures::default()
                });
            match what {
                spend::CALLS => entry.calls = n,
                spend::REASKED => entry.reasked = n,
                spend::REASKS => entry.reasks = n,
                _ => {}
            }
        }
        Ok(by.into_values().collect())
    }

    /// The bill at a glance: ever, today (UTC), and the re-asks.
    pub async fn bill(&self) -> Result<BillFigures, QueueError> {
        let (ever, today, asks) =
            tokio::try_join!(self.ledger(None), self.ledger_today(), self.ask_counts())?;
        Ok(BillFigures { ever, today, asks })
    }
}
