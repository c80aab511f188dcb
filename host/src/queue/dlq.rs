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
        let ids: Vec<String> = self
            .conn
            .clone()
            .zrange(self.key(&[key::DEAD]), start, stop)
            .await?;
        Ok(self.get_many(&ids).await?.into_iter().flatten().collect())
    }

    /// Jobs in the dead-letter queue.
    pub async fn dlq_len(&self) -> Result<u64, QueueError> {
        self.dlq_trim().await
    }

    /// Drops dead-letter entries past their lifetime or the cap, and stale
    /// entries among the oldest; returns how many are left.
    pub async fn dlq_trim(&self) -> Result<u64, QueueError> {
        Ok(self
            .invocation(&scripts().dlq_trim)
            .arg(self.lifetimes())
            .arg(DLQ_CHECK)
            .invoke_async(&mut self.conn.clone())
            .await?)
    }

    /// Replays the given dead jobs (none: all of them). Returns the ids replayed.
    pub async fn dlq_replay(&self, ids: &[String]) -> Result<Vec<String>, QueueError> {
        let mut invocation = self.invocation(&scripts().replay);
        for id in ids {
            invocation.arg(id);
        }
        Ok(invocation.invoke_async(&mut self.conn.clone()).await?)
    }

    /// Deletes the given dead jobs (none: all of them). Returns how many.
    pub async fn dlq_purge(&self, ids: &[String]) -> Result<u64, QueueError> {
        let mut invocation = self.invocation(&scripts().purge);
        for id in ids {
            invocation.arg(id);
        }
        Ok(invocation.invoke_async(&mut self.conn.clone()).await?)
    }
}
