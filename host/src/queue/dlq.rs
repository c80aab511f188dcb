//! The dead-letter queue: list, count, trim (lifetime and cap), replay, purge.

use super::*;

impl Queue {
    /// The dead-letter queue, oldest death first.
    pub async fn dlq_list(
        &self,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<JobRecord>, QueueError> {
        let start = isize::try_from(offset).unwrap_or(isize::MAX);
        let stop = if limit == 0 {
            -1
        } else {
            isize::try_from(offset.saturating_add(limit) - 1).unwrap_or(isize::MAX)
        };
        self.dlq_trim().await?;
        let ids = if self.spread() {
            self.dead_across(offset, limit).await?
        } else {
            self.conn
                .clone()
                .zrange(self.key(&[key::DEAD]), start, stop)
                .await?
        };
        Ok(self.get_many(&ids).await?.into_iter().flatten().collect())
    }

    /// A window of the dead-letter queues of every partition merged by time
    /// of death: each partition's first `offset + limit` entries, merged.
    async fn dead_across(&self, offset: usize, limit: usize) -> Result<Vec<String>, QueueError> {
        let stop = if limit == 0 {
            -1
        } else {
            isize::try_from(offset.saturating_add(limit) - 1).unwrap_or(isize::MAX)
        };
        let each = self
            .on_every(|part| async move {
                let entries: Vec<(String, f64)> = part
                    .conn
                    .clone()
                    .zrange_withscores(part.key(&[key::DEAD]), 0, stop)
                    .await?;
                Ok(entries)
            })
            .await?;
        let mut all: Vec<(String, f64)> = each.into_iter().flatten().collect();
        all.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
        let window = all.into_iter().skip(offset).map(|(id, _)| id);
        Ok(if limit == 0 {
            window.collect()
        } else {
            window.take(limit).collect()
        })
    }

    /// Jobs in the dead-letter queue.
    pub async fn dlq_len(&self) -> Result<u64, QueueError> {
        self.dlq_trim().await
    }

    /// Drops dead-letter entries past their lifetime or the cap, and stale
    /// entries among the oldest; returns how many are left.
    pub async fn dlq_trim(&self) -> Result<u64, QueueError> {
        if self.spread() {
            let left = self
                .on_every(|part| async move { Box::pin(part.dlq_trim()).await })
                .await?;
            return Ok(left.into_iter().sum());
        }
        self.run(&calls::TrimDead {
            lifetimes: self.lifetimes(),
            check: DLQ_CHECK,
        })
        .await
    }

    /// Replays the given dead jobs (none: all of them). Returns the ids replayed.
    pub async fn dlq_replay(&self, ids: &[String]) -> Result<Vec<String>, QueueError> {
        if self.spread() {
            let each = self
                .per_partition(ids, |part, ids| async move {
                    Box::pin(part.dlq_replay(&ids)).await
                })
                .await?;
            return Ok(each.into_iter().flatten().collect());
        }
        let mut replayed = Vec::new();
        for chunk in self.dead_or(ids).await?.chunks(DLQ_CHUNK) {
            replayed.extend(self.run(&calls::ReplayDead { ids: chunk }).await?);
        }
        Ok(replayed)
    }

    /// Deletes the given dead jobs (none: all of them). Returns how many.
    pub async fn dlq_purge(&self, ids: &[String]) -> Result<u64, QueueError> {
        if self.spread() {
            let each = self
                .per_partition(ids, |part, ids| async move {
                    Box::pin(part.dlq_purge(&ids)).await
                })
                .await?;
            return Ok(each.into_iter().sum());
        }
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
        let dead = self.key(&[key::DEAD]);
        let mut all = Vec::new();
        loop {
            let start = all.len() as isize;
            let page: Vec<String> = self
                .conn
                .clone()
                .zrange(&dead, start, start + DEAD_PAGE - 1)
                .await?;
            let last = page.len() < DEAD_PAGE as usize;
            all.extend(page);
            if last {
                return Ok(all);
            }
        }
    }
}

/// Dead jobs one replay or purge call handles: a replay of the whole queue
/// is many short calls, and other clients are answered between them.
pub const DLQ_CHUNK: usize = 500;
/// Dead ids read per round trip when every one is replayed or purged.
const DEAD_PAGE: isize = 10_000;
