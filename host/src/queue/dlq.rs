//! The dead-letter queue: list, count, trim (lifetime and cap), replay,
//! purge, over every partition (each partition's own steps are in
//! `partition/dlq.rs`).

use super::*;

impl Queue {
    /// The dead-letter queue, oldest death first.
    pub async fn dlq_list(
        &self,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<JobRecord>, QueueError> {
        let start = isize::try_from(offset).unwrap_or(isize::MAX);
        let stop = window_stop(offset, limit);
        self.dlq_trim().await?;
        let ids = match self.single() {
            Some(only) => only.dead_ids(start, stop).await?,
            None => self.dead_across(offset, limit).await?,
        };
        Ok(self.get_many(&ids).await?.into_iter().flatten().collect())
    }

    /// A window of the dead-letter queues of every partition merged by time
    /// of death: each partition's first `offset + limit` entries, merged.
    async fn dead_across(&self, offset: usize, limit: usize) -> Result<Vec<String>, QueueError> {
        let stop = window_stop(offset, limit);
        let each = self
            .on_every(|part| async move { part.dead_scored(stop).await })
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
        let left = self
            .on_every(|part| async move { part.dlq_trim().await })
            .await?;
        Ok(left.into_iter().sum())
    }

    /// Replays the given dead jobs (none: all of them). Returns the ids replayed.
    pub async fn dlq_replay(&self, ids: &[String]) -> Result<Vec<String>, QueueError> {
        if let Some(only) = self.single() {
            return only.dlq_replay(ids).await;
        }
        let each = self
            .per_partition(ids, |part, ids| async move { part.dlq_replay(&ids).await })
            .await?;
        Ok(each.into_iter().flatten().collect())
    }

    /// Deletes the given dead jobs (none: all of them). Returns how many.
    pub async fn dlq_purge(&self, ids: &[String]) -> Result<u64, QueueError> {
        if let Some(only) = self.single() {
            return only.dlq_purge(ids).await;
        }
        let each = self
            .per_partition(ids, |part, ids| async move { part.dlq_purge(&ids).await })
            .await?;
        Ok(each.into_iter().sum())
    }
}

/// The last index of a window of `limit` entries from `offset` (0: to the
/// end, -1).
fn window_stop(offset: usize, limit: usize) -> isize {
    if limit == 0 {
        -1
    } else {
        isize::try_from(offset.saturating_add(limit) - 1).unwrap_or(isize::MAX)
    }
}
