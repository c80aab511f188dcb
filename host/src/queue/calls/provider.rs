//! The calls of an outside provider's shared limits (`slot.lua`,
//! `slot_hold.lua`, `budget.lua`) and of a host's pulse (`pulse.lua`).

use super::*;

/// `slot`: one of `limit` request slots of `name`, held by `token` for
/// `hold`; the reply is how long until one frees (`None`: taken).
pub(in crate::queue) struct TakeSlot<'a> {
    pub name: &'a str,
    pub limit: u32,
    pub token: &'a str,
    pub hold: Duration,
}

impl Script for TakeSlot<'_> {
    type Raw = u64;
    type Reply = Option<Duration>;

    fn function(f: &Functions) -> &Function {
        &f.slot
    }

    fn args(&self, call: &mut Call) {
        call.arg(self.name)
            .arg(self.limit)
            .arg(self.token)
            .arg(millis(self.hold).max(1));
    }

    fn reply(&self, wait_ms: u64) -> Result<Option<Duration>, QueueError> {
        Ok(wait_from(wait_ms))
    }
}

/// `slot_hold`: the slot `token` holds kept for `hold` from now; the reply
/// says whether it was still there.
pub(in crate::queue) struct HoldSlot<'a> {
    pub name: &'a str,
    pub token: &'a str,
    pub hold: Duration,
}

impl Script for HoldSlot<'_> {
    type Raw = u8;
    type Reply = bool;

    fn function(f: &Functions) -> &Function {
        &f.slot_hold
    }

    fn args(&self, call: &mut Call) {
        call.arg(self.name)
            .arg(self.token)
            .arg(millis(self.hold).max(1));
    }

    fn reply(&self, held: u8) -> Result<bool, QueueError> {
        Ok(held == 1)
    }
}

/// What a `budget` call does to the provider's budget.
pub(in crate::queue) enum BudgetUse {
    /// One request and this many tokens taken up front.
    Take { tokens: u64 },
    /// A request's tokens settled: `extra` beyond what was taken (negative:
    /// fewer), and its total `used`, for the running average.
    Settle { extra: i64, used: u64 },
}

/// `budget`: requests and tokens per minute of `name`, shared by every
/// host; the reply is how long until enough has refilled (`None`: taken;
/// always `None` for a settlement).
pub(in crate::queue) struct SpendBudget<'a> {
    pub name: &'a str,
    pub budget: Budget,
    pub usage: BudgetUse,
}

impl Script for SpendBudget<'_> {
    type Raw = u64;
    type Reply = Option<Duration>;

    fn function(f: &Functions) -> &Function {
        &f.budget
    }

    fn args(&self, call: &mut Call) {
        call.arg(self.name)
            .arg(self.budget.requests_per_minute)
            .arg(self.budget.tokens_per_minute);
        match self.usage {
            BudgetUse::Take { tokens } => call.arg(1).arg(tokens),
            BudgetUse::Settle { extra, used } => call.arg(0).arg(extra).arg(used),
        };
    }

    fn reply(&self, wait_ms: u64) -> Result<Option<Duration>, QueueError> {
        Ok(wait_from(wait_ms))
    }
}

/// `pulse`: `host` is alive and renews its leases `every` so often.
pub(in crate::queue) struct Pulse<'a> {
    pub host: &'a str,
    pub every: Duration,
}

impl Script for Pulse<'_> {
    type Raw = String;
    type Reply = ();

    fn function(f: &Functions) -> &Function {
        &f.pulse
    }

    fn args(&self, call: &mut Call) {
        call.arg(self.host).arg(millis(self.every));
    }

    fn reply(&self, ok: String) -> Result<(), QueueError> {
        match ok.as_str() {
            "ok" => Ok(()),
            other => Err(QueueError::Protocol(format!("pulse returned {other:?}"))),
        }
    }
}

/// A wait in milliseconds as the scripts answer it: 0 for none.
fn wait_from(ms: u64) -> Option<Duration> {
    (ms > 0).then(|| Duration::from_millis(ms))
}
