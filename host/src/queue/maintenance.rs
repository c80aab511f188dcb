//! Work on the whole keyspace of every partition: the layout migration and
//! the content index (export and import); each partition's own steps are
//! in `partition/upkeep.rs`.

use super::*;

impl Queue {
    /// Brings a queue written by older hosts to this layout, once per queue
    /// and partition (`P:layout` records how far it got; `serve` runs this
    /// at start): see [`Partition::migrate`]. Returns how many jobs were
    /// flagged as waited on.
    pub async fn migrate(&self) -> Result<u64, QueueError> {
        let flagged = self
            .on_every(|part| async move { part.migrate().await })
            .await?;
        Ok(flagged.into_iter().sum())
    }

    /// Every result in the content index.
    pub async fn content_results(&self) -> Result<Vec<crate::job::StoredResult>, QueueError> {
        match self.single() {
            Some(only) => only.content_results().await,
            None => self.content_results_across().await,
        }
    }

    /// Puts results into the content index (import): one pipelined round
    /// trip per 500.
    pub async fn store_content(
        &self,
        results: &[crate::job::StoredResult],
    ) -> Result<(), QueueError> {
        match self.single() {
            Some(only) => only.store_content(results).await,
            None => self.store_content_across(results).await,
        }
    }
}
