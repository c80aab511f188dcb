//! One partition: one hash tag, one Redis Cluster slot, one full copy of
//! the queue's layout. A [`Partition`] runs the single-slot operations (its
//! scripts, its reads); it knows nothing of the others: which partition a
//! job goes to, claims across them and figures added up are the router's
//! (`router.rs`). Nothing here names the router type (a layout
//! test keeps it so).
//!
//! - Partition 0 is `{prefix}`, the others `{prefix~p}`: with `P = 1` the
//!   keys are those of every release before partitions. Partition 0 also
//!   holds the queue-wide state (hosts, schedules, provider slots and
//!   budgets, the LLM ledger and batch lane, the plugins' key-value store).
//! - A claim's nonce names its partition, so every lease token it hands out
//!   does too, and the lease's later calls go straight to it.
//!
//! One operation family a file: `lease.rs` (a claim, results recorded),
//! `submit.rs` (one job, a batch), `read.rs` (records, states, outcomes,
//! figures, a ping), `browse.rs` (jobs listed by state), `overview.rs`
//! (the dashboard's figures), `dlq.rs` (the dead-letter queue), `relay.rs`
//! (jobs waiting on other partitions, outcomes handed to them), `upkeep.rs`
//! (layout migration, the content index, the identity marker),
//! `replication.rs` (writes and reads that wait for replicas). The script
//! calls themselves are types in `calls/`, the layer below, run by
//! [`Partition::run`].

mod browse;
mod dlq;
mod lease;
mod overview;
mod read;
mod relay;
pub(in crate::queue) mod replication;
mod submit;
mod upkeep;

pub use browse::{JobFilter, JobPage, JobSummary, MAX_SCAN};
pub use dlq::DLQ_CHUNK;

use std::sync::Arc;

use super::calls::Script;
use super::keys::key;
use super::net::{self, Conn};
use super::{QueueConfig, QueueError, scripts};

/// The most partitions a queue may have.
pub const MAX_PARTITIONS: u32 = 256;

/// A handle on one partition. Cheap to clone.
#[derive(Clone)]
pub struct Partition {
    conn: Conn,
    pub(in crate::queue) config: Arc<QueueConfig>,
    /// `{prefix}` or `{prefix~p}`, with the hash-tag braces.
    tag: String,
    /// The cluster slot of every key (the tag's).
    slot: u16,
    /// Which partition this is.
    index: u32,
}

impl Partition {
    /// Partition `p` of the queue `config` describes, over `conn`.
    pub(in crate::queue) fn new(conn: &Conn, config: Arc<QueueConfig>, p: u32) -> Partition {
        let name = tag_name(&config.prefix, p);
        let slot = net::slot(&name);
        Partition {
            conn: conn.on(slot),
            config,
            tag: format!("{{{name}}}"),
            slot,
            index: p,
        }
    }

    /// A connection to this partition's slot (a cheap clone).
    pub(in crate::queue) fn conn(&self) -> Conn {
        self.conn.clone()
    }

    /// Which partition this is (0 holds the queue-wide state).
    pub(in crate::queue) fn index(&self) -> u32 {
        self.index
    }

    /// The cluster slot of every key of this partition.
    pub(in crate::queue) fn slot(&self) -> u16 {
        self.slot
    }

    /// `{prefix}` or `{prefix~p}`, with the braces.
    pub(in crate::queue) fn tag(&self) -> &str {
        &self.tag
    }

    /// How many partitions the queue has.
    pub(in crate::queue) fn partitions(&self) -> u32 {
        self.config.partitions.max(1)
    }

    /// A key of this partition: `{tag}:part:part...`.
    pub(in crate::queue) fn key(&self, parts: &[&str]) -> String {
        let mut key = self.tag.clone();
        for part in parts {
            key.push(':');
            key.push_str(part);
        }
        key
    }

    /// Starts a function call: its one key is under the partition's hash
    /// tag, so a Redis Cluster client routes it to the node that owns every
    /// key it touches; ARGV[1] is the tag the function builds its keys from.
    pub(in crate::queue) fn invocation(&self, function: &scripts::Function) -> scripts::Call {
        let mut call = scripts::Call::new(function, self.key(&[key::SEQ]), self.slot);
        call.arg(&self.tag);
        call
    }

    /// Runs `script` in this partition.
    pub(in crate::queue) async fn run<S: Script>(
        &self,
        script: &S,
    ) -> Result<S::Reply, QueueError> {
        let raw: S::Raw = self.call(script).invoke_async(&mut self.conn()).await?;
        script.reply(raw)
    }

    /// Like [`Partition::run`], for a write that waits for the replicas when
    /// `min_replica_acks` asks it to (see `replication.rs`).
    pub(in crate::queue) async fn run_write<S: Script>(
        &self,
        script: &S,
    ) -> Result<S::Reply, QueueError> {
        let raw: S::Raw = self.write(&self.call(script)).await?;
        script.reply(raw)
    }

    /// A call of `script`: its function, the tag, its arguments.
    fn call<S: Script>(&self, script: &S) -> scripts::Call {
        let mut call = self.invocation(S::function(scripts::functions()));
        script.args(&mut call);
        call
    }

    /// The lifetimes argument of the scripts that may end a job:
    /// "<result ttl>/<dead ttl>/<dead max>" (see `lifetimes` in prelude.lua).
    /// Each partition holds its share of `dead_max` (divided by the
    /// partitions, rounded up).
    pub(in crate::queue) fn lifetimes(&self) -> String {
        let dead_max = self.config.dead_max.div_ceil(u64::from(self.partitions()));
        format!(
            "{}/{}/{}",
            self.config.result_ttl_secs, self.config.dead_ttl_secs, dead_max
        )
    }
}

/// The hash tag's inside for partition `p` of `prefix`.
pub(in crate::queue) fn tag_name(prefix: &str, p: u32) -> String {
    if p == 0 {
        prefix.to_string()
    } else {
        format!("{prefix}~{p}")
    }
}

/// The partition a routing key falls in: the cluster's own hash (CRC16)
/// modulo `partitions`.
pub(in crate::queue) fn bucket(key: &str, partitions: u32) -> u32 {
    u32::from(net::slot(key)) % partitions.max(1)
}

/// The nonce a claim in partition `p` sends: random, and naming the
/// partition, so every token it hands out (`<count>-<nonce>`) does too.
pub(in crate::queue) fn claim_nonce(p: u32) -> String {
    let random = fastrand::u64(..);
    if p == 0 {
        format!("{random:016x}")
    } else {
        format!("{random:016x}.{p}")
    }
}

/// The partition a lease token was handed out in (0 for a token without
/// a partition, as every token is when there is one partition).
pub(in crate::queue) fn token_partition(token: &str) -> u32 {
    token
        .rsplit_once('.')
        .and_then(|(_, p)| p.parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_tokens_and_buckets() {
        assert_eq!(tag_name("deckhand", 0), "deckhand");
        assert_eq!(tag_name("deckhand", 3), "deckhand~3");
        let nonce = claim_nonce(7);
        assert_eq!(token_partition(&format!("12-{nonce}")), 7);
        assert_eq!(token_partition(&format!("12-{}", claim_nonce(0))), 0);
        assert_eq!(token_partition("12"), 0);
        assert_eq!(token_partition("12-abc.x"), 0);
        for key in ["a", "job-1", "bulk.align.7"] {
            assert!(bucket(key, 4) < 4);
            assert_eq!(bucket(key, 1), 0);
        }
        // Ids spread: 1,000 ids over 4 partitions leave none empty.
        let mut seen = [0u32; 4];
        for i in 0..1000 {
            seen[bucket(&format!("job-{i}"), 4) as usize] += 1;
        }
        assert!(seen.iter().all(|&n| n > 150), "{seen:?}");
    }
}
