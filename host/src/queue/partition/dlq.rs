//! One partition's dead-letter queue: its entries read, trimmed, replayed
//! and purged.

use redis::AsyncCommands;

use super::super::keys::key;
use super::super::{DLQ_CHECK, QueueError, calls};
use super::Partition;

/// Dead jobs one replay or purge call handles: a replay of the whole queue
/// is many short calls, and other clients are answered between them.
pub const DLQ_CHUNK: usize = 500;

/// Dead ids read per round trip when every one is replayed or purged.
const DEAD_PAGE: isize = 10_000;

impl Partition {
    /// The dead ids from `start` to `stop` (inclusive; -1: the end), oldest
    /// death first.
    pub(in crate::queue) async fn dead_ids(
        &self,
        start: isize,
        stop: isize,
    ) -> Result<Vec<String>, QueueError> {
        Ok(self
            .conn
            .clone()
            .zrange(self.key(&[key::DEAD]), start, stop)
            .await?)
    }

    /// The first dead ids up to `stop`, each with its time of death.
    pub(in crate::queue) async fn dead_scored(
        &self,
        stop: isize,
    ) -> Result<Vec<(String, f64)>, QueueError> {
        Ok(self
            .conn
            .clone()
            .zrange_withscores(self.key(&[key::DEAD]), 0, stop)
            .await?)
    }

    /// Drops dead-letter entries past their lifetime or the cap, and stale
    /// entries among the oldest; returns how many are left.
    pub(in crate::queue) async fn dlq_trim(&self) -> Result<u64, QueueError> {
        self.run(&calls::TrimDead {
            lifetimes: self.lifetimes(),
            check: DLQ_CHECK,
        })
        .await
    }

    /// Replays the given dead jobs (none: all of them), a chunk a call.
    pub(in crate::queue) async fn dlq_replay(
        &self,
        ids: &[String],
    ) -> Result<Vec<String>, QueueError> {
        let mut replayed = Vec::new();
        for chunk in self.dead_or(ids).await?.chunks(DLQ_CHUNK) {
            replayed.extend(self.run(&calls::ReplayDead { ids: chunk }).await?);
        }
        Ok(replayed)
    }

    /// Deletes the given dead jobs (none: all of them), a chunk a call.
    pub(in crate::queue) async fn dlq_purge(&self, ids: &[String]) -> Result<u64, QueueError> {
        let mut purged = 0;
        for chunk in self.dead_or(ids).await?.chunks(DLQ_CHUNK) {
            purged += self.run(&calls::PurgeDead { ids: chunk }).await?;
        }
        Ok(purged)
    }

    /// `ids`, or when none are given every id in the dead-letter queue,
    /// read a page at a time.
    async fn dead_or(&self, ids: &[String]) -> Result<Vec<String>, QueueError> {
        if !ids.is_empty() {
            return Ok(ids.to_vec());
        }
        let mut all = Vec::new();
        loop {
            let start = all.len() as isize;
            let page = self.dead_ids(start, start + DEAD_PAGE - 1).await?;
            let last = page.len() < DEAD_PAGE as usize;
            all.extend(page);
            if last {
                return Ok(all);
            }
        }
    }
}
