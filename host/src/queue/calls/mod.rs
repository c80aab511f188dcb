//! Script calls as types, as mini-redis gives each command its own: a type
//! per library function, its arguments named (in the order its body's
//! header in `scripts/<name>.lua` lists them) and its reply read into what
//! it means ([`Script`]). A partition runs one (`Partition::run`); calls
//! know nothing of partitions or the router (a layout test keeps it so).
//!
//! - `lease.rs`: claim, complete, fail, renew, reap, release, cancel;
//! - `submit.rs`: one submission, a batch, schedule ticks fired;
//! - `waits.rs`: durable waits, and a waiting job made to wait on more;
//! - `upkeep.rs`: the dead-letter queue, relayed outcomes, layout upkeep;
//! - `provider.rs`: an outside provider's slots and budget; a host's pulse;
//! - `kv.rs`: a plugin's key-value store;
//! - `llm.rs`: an attempt's LLM spending on its job; the LLM batch lane.

mod kv;
mod lease;
mod llm;
mod provider;
mod submit;
mod upkeep;
mod waits;

pub(super) use kv::{KvDelete, KvSet};
pub(super) use lease::{
    CancelJob, ClaimJobs, CompleteJobs, FailJob, ReapLeases, ReleaseJob, RenewLeases,
};
pub(super) use llm::{AddLlmUsage, LlmDefer, LlmSettle};
pub use llm::{DeferItem, ItemOutcome};
pub(super) use provider::{BudgetUse, HoldSlot, Pulse, SpendBudget, TakeSlot};
pub(super) use submit::{
    BatchReply, FireTicks, Spec, SubmitBatch, SubmitJob, Tick, TickReply, submitted,
};
pub(super) use upkeep::{
    MarkWaited, PurgeDead, RecountRunning, RelayOutcomes, ReplayDead, TrimDead,
};
pub(super) use waits::{ExpireWaits, ResumeWait, SuspendJob, WaitAlso, WaitAlsoReply};

use super::scripts::{Call, Function, Functions};
use super::*;

/// One call of a library function.
pub(super) trait Script {
    /// What Redis answers.
    type Raw: redis::FromRedisValue;
    /// What the answer means.
    type Reply;
    /// The function called.
    fn function(functions: &Functions) -> &Function;
    /// Its arguments after the tag, in the order its body reads them.
    fn args(&self, call: &mut Call);
    /// The answer read; one the function never gives is a protocol error.
    fn reply(&self, raw: Self::Raw) -> Result<Self::Reply, QueueError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::scripts::functions;

    /// The arguments a body's header lists after `ARGV:` (continued on
    /// the lines indented under it), split at commas outside parentheses.
    fn header_argv(body: &str) -> Vec<String> {
        let mut text = String::new();
        let mut inside = false;
        for line in body.lines() {
            let Some(rest) = line.strip_prefix("--") else {
                break;
            };
            if let Some(argv) = rest.trim().strip_prefix("ARGV:") {
                inside = true;
                text.push_str(argv);
            } else if inside && rest.starts_with("  ") {
                text.push(' ');
                text.push_str(rest.trim());
            } else if inside {
                break;
            }
        }
        let (mut names, mut name, mut depth) = (Vec::new(), String::new(), 0);
        for c in text.chars() {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                ',' if depth == 0 => {
                    names.push(name.trim().to_string());
                    name.clear();
                    continue;
                }
                _ => {}
            }
            name.push(c);
        }
        names.push(name.trim().to_string());
        names
    }

    /// The ARGV a call of `script` passes (the tag first, as every call).
    fn argv<S: Script>(script: &S) -> usize {
        let mut call = Call::new(S::function(functions()), "{q}:seq".into(), 0);
        call.arg("{q}");
        script.args(&mut call);
        // FCALL, the function, the key count and the key come first.
        call.cmd().args_iter().count() - 4
    }

    /// `script` passes as many arguments as `body`'s header lists, less
    /// `unlisted` (optional ones left off) plus `variadic` (one each).
    fn agrees<S: Script>(script: &S, body: &str, unlisted: usize, variadic: usize) {
        let header = header_argv(body);
        assert_eq!(
            argv(script),
            header.len() - unlisted + variadic,
            "{}: {header:?}",
            body.lines().next().unwrap_or("")
        );
    }

    #[test]
    fn the_lease_calls_pass_the_arguments_their_bodies_list() {
        let fail = FailJob {
            id: "j",
            token: "t",
            entry: "{}".into(),
            retryable: true,
            feedback: "",
            delay: Duration::ZERO,
            plugin_version: "v",
            lifetimes: "1/2/3".into(),
        };
        agrees(&fail, include_str!("../scripts/fail.lua"), 0, 0);
        let release = ReleaseJob {
            id: "j",
            token: "t",
        };
        agrees(&release, include_str!("../scripts/release.lua"), 0, 0);
        let cancel = CancelJob {
            id: "j",
            lifetimes: "1/2/3".into(),
        };
        agrees(&cancel, include_str!("../scripts/cancel.lua"), 0, 0);
        let reap = ReapLeases {
            max: 10,
            lifetimes: "1/2/3".into(),
            pulses: "{}",
        };
        agrees(&reap, include_str!("../scripts/reap.lua"), 0, 0);
        // Claim ends with its job types (`job types...`), one argument each.
        let claim = ClaimJobs {
            count: 1,
            lease: Duration::from_secs(1),
            host: "h",
            nonce: "n".into(),
            partitions: 1,
            job_types: &["a", "b", "c"],
        };
        let body = include_str!("../scripts/claim.lua");
        assert_eq!(
            header_argv(body).last().map(String::as_str),
            Some("job types...")
        );
        agrees(&claim, body, 1, 3);
    }

    #[test]
    fn the_provider_calls_pass_the_arguments_their_bodies_list() {
        let hold = Duration::from_secs(1);
        let slot = TakeSlot {
            name: "p",
            limit: 2,
            token: "t",
            hold,
        };
        agrees(&slot, include_str!("../scripts/slot.lua"), 0, 0);
        let keep = HoldSlot {
            name: "p",
            token: "t",
            hold,
        };
        agrees(&keep, include_str!("../scripts/slot_hold.lua"), 0, 0);
        let pulse = Pulse {
            host: "h",
            every: hold,
        };
        agrees(&pulse, include_str!("../scripts/pulse.lua"), 0, 0);
        // A settlement passes every argument; a take leaves off `used`.
        let budget = Budget {
            requests_per_minute: 10,
            tokens_per_minute: 1000,
        };
        let settle = SpendBudget {
            name: "p",
            budget,
            usage: BudgetUse::Settle { extra: -3, used: 7 },
        };
        agrees(&settle, include_str!("../scripts/budget.lua"), 0, 0);
        let take = SpendBudget {
            usage: BudgetUse::Take { tokens: 5 },
            ..settle
        };
        agrees(&take, include_str!("../scripts/budget.lua"), 1, 0);
    }

    #[test]
    fn the_upkeep_and_wait_calls_pass_the_arguments_their_bodies_list() {
        let expire = ExpireWaits {
            lifetimes: "1/2/3".into(),
            most: 5,
        };
        agrees(&expire, include_str!("../scripts/expire_waits.lua"), 0, 0);
        let also = WaitAlso {
            caller: "c",
            lease_token: "t",
            target: "r",
            depends_on: "[]".into(),
            max_dependencies: 10,
        };
        agrees(&also, include_str!("../scripts/wait_also.lua"), 0, 0);
        let trim = TrimDead {
            lifetimes: "1/2/3".into(),
            check: 10,
        };
        agrees(&trim, include_str!("../scripts/dlq_trim.lua"), 0, 0);
        agrees(
            &RecountRunning,
            include_str!("../scripts/recount_running.lua"),
            0,
            0,
        );
    }

    #[test]
    fn the_header_reader_keeps_parenthesised_commas_together() {
        let body = "-- What it does.\n--\n-- ARGV: prefix, nonce (random, per call), then\n--       more, last\n-- Keys: P:x\n";
        assert_eq!(
            header_argv(body),
            ["prefix", "nonce (random, per call)", "then more", "last"]
        );
    }
}
