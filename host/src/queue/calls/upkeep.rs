//! The calls of the dead-letter queue and of the queue's upkeep
//! (`dlq_trim.lua`, `replay.lua`, `purge.lua`, `recount_running.lua`,
//! `mark_waited.lua`, `relay.lua`).

use super::*;

/// `dlq_trim`: entries past their lifetime or the cap dropped, and stale
/// ones among the oldest `check`; the reply is how many are left.
pub(in crate::queue) struct TrimDead {
    pub lifetimes: String,
    pub check: usize,
}

impl Script for TrimDead {
    type Raw = u64;
    type Reply = u64;

    fn function(f: &Functions) -> &Function {
        &f.dlq_trim
    }

    fn args(&self, call: &mut Call) {
        call.arg(&self.lifetimes).arg(self.check);
    }

    fn reply(&self, left: u64) -> Result<u64, QueueError> {
        Ok(left)
    }
}

/// `replay`: the dead jobs `ids` ready again; the reply names those
/// replayed. Never called with no ids (the script would take the whole
/// dead-letter queue in one call).
pub(in crate::queue) struct ReplayDead<'a> {
    pub ids: &'a [String],
}

impl Script for ReplayDead<'_> {
    type Raw = Vec<String>;
    type Reply = Vec<String>;

    fn function(f: &Functions) -> &Function {
        &f.replay
    }

    fn args(&self, call: &mut Call) {
        // One argument an id.
        call.arg(self.ids);
    }

    fn reply(&self, replayed: Vec<String>) -> Result<Vec<String>, QueueError> {
        Ok(replayed)
    }
}

/// `purge`: the dead jobs `ids` deleted; the reply is how many. Never
/// called with no ids, as [`ReplayDead`].
pub(in crate::queue) struct PurgeDead<'a> {
    pub ids: &'a [String],
}

impl Script for PurgeDead<'_> {
    type Raw = u64;
    type Reply = u64;

    fn function(f: &Functions) -> &Function {
        &f.purge
    }

    fn args(&self, call: &mut Call) {
        // One argument an id.
        call.arg(self.ids);
    }

    fn reply(&self, purged: u64) -> Result<u64, QueueError> {
        Ok(purged)
    }
}

/// `recount_running`: the running counts per type rebuilt from the leases;
/// the reply is how many leases were counted.
pub(in crate::queue) struct RecountRunning;

impl Script for RecountRunning {
    type Raw = u64;
    type Reply = u64;

    fn function(f: &Functions) -> &Function {
        &f.recount_running
    }

    fn args(&self, _: &mut Call) {}

    fn reply(&self, counted: u64) -> Result<u64, QueueError> {
        Ok(counted)
    }
}

/// `mark_waited`: the jobs `ids` (each waited on) flagged so; the reply is
/// how many were newly flagged.
pub(in crate::queue) struct MarkWaited<'a> {
    pub ids: &'a [String],
}

impl Script for MarkWaited<'_> {
    type Raw = u64;
    type Reply = u64;

    fn function(f: &Functions) -> &Function {
        &f.mark_waited
    }

    fn args(&self, call: &mut Call) {
        // One argument an id.
        call.arg(self.ids);
    }

    fn reply(&self, flagged: u64) -> Result<u64, QueueError> {
        Ok(flagged)
    }
}

/// `relay`: what became of dependencies in other partitions, handed to the
/// jobs waiting on them; the reply is how many outcomes were applied.
pub(in crate::queue) struct RelayOutcomes<'a> {
    pub lifetimes: String,
    /// Job id, dependency id ('' : only tidy up), `completed` | `failed`.
    pub outcomes: &'a [[String; 3]],
}

impl Script for RelayOutcomes<'_> {
    type Raw = u64;
    type Reply = u64;

    fn function(f: &Functions) -> &Function {
        &f.relay
    }

    fn args(&self, call: &mut Call) {
        call.arg(&self.lifetimes);
        for outcome in self.outcomes {
            call.arg(&outcome[..]);
        }
    }

    fn reply(&self, applied: u64) -> Result<u64, QueueError> {
        Ok(applied)
    }
}
