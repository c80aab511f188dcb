//! The content store across partitions. A submission checks the content
//! index of its own partition, atomically with writing the job, so two
//! submissions of the same content in one partition never both run. Across
//! partitions, results are shared through each content's *home* partition
//! (by job type and content hash):
//! - a completion in another partition also writes its result to the home
//!   partition (after the completion; a crash in between loses only that
//!   copy, and the content is paid for once more at worst);
//! - a host that claims a job whose result its partition lacks looks in
//!   the home partition before running it, and completes it from there as
//!   a cache hit.
//!
//! So a result is paid for once however the work is spread; the same
//! content queued in two partitions at the same moment may run twice.
//! Root jobs of content-store types are routed by content (see route.rs),
//! so for them even that cannot happen.

use super::partition::{self, Partition};
use super::*;

impl Queue {
    /// The partition that holds the shared copy of a content's result.
    fn content_home(&self, job_type: &str, content_hash: &str) -> &Partition {
        self.part(partition::bucket(
            &format!("{job_type}:{content_hash}"),
            self.partitions(),
        ))
    }

    /// Copies the results just recorded to their contents' home partitions
    /// (those recorded elsewhere). Best effort: a failure is logged, and
    /// costs at most one more run of that content.
    pub(super) async fn share_content(&self, completions: &[Completion<'_>], acks: &[Ack]) {
        let mut pipe = redis::pipe();
        let mut any = false;
        let stored_at = now_ms().to_string();
        for (c, ack) in completions.iter().zip(acks) {
            let Some(hash) = &c.job.content_hash else {
                continue;
            };
            let home = self.content_home(&c.job.job_type, hash);
            if *ack == Ack::Stale || home.index() == partition::token_partition(&c.job.token) {
                continue;
            }
            any = true;
            pipe.hset_multiple(
                home.key(&[key::CONTENT, &c.job.job_type, hash]),
                &[
                    (field::RESULT, c.result),
                    (field::JOB_ID, c.job.id.as_str()),
                    (field::PLUGIN_VERSION, c.plugin_version),
                    (field::STORED_AT, stored_at.as_str()),
                ],
            )
            .ignore();
        }
        if !any {
            return;
        }
        if let Err(e) = pipe.query_async::<()>(&mut self.hub().conn()).await {
            tracing::warn!("cannot share results with their content's home partition: {e}");
        }
    }

    /// The result shared for a claimed job's content by a job of another
    /// partition, as (result, plugin version): `None` when the queue has one
    /// partition, the job is forced or has no content hash, or no result is
    /// shared.
    pub async fn shared_result(
        &self,
        job: &ClaimedJob,
    ) -> Result<Option<(String, String)>, QueueError> {
        let Some(hash) = &job.content_hash else {
            return Ok(None);
        };
        if self.single().is_some() || job.forced {
            return Ok(None);
        }
        // Its own partition may be the home too: the result of the same
        // content run elsewhere arrives there after this job was queued.
        let home = self.content_home(&job.job_type, hash);
        let (result, version): (Option<String>, Option<String>) = home
            .conn()
            .hget(
                home.key(&[key::CONTENT, &job.job_type, hash]),
                &[field::RESULT, field::PLUGIN_VERSION],
            )
            .await?;
        Ok(result.map(|r| (r, version.unwrap_or_default())))
    }

    /// Every result in the content index of every partition, each content
    /// once (its home partition's copy is as good as any).
    pub(super) async fn content_results_across(
        &self,
    ) -> Result<Vec<crate::job::StoredResult>, QueueError> {
        let each = self
            .on_every(|part| async move { part.content_results().await })
            .await?;
        let mut all: Vec<_> = each.into_iter().flatten().collect();
        all.sort_by(|a, b| (&a.job_type, &a.content_hash).cmp(&(&b.job_type, &b.content_hash)));
        all.dedup_by(|a, b| a.job_type == b.job_type && a.content_hash == b.content_hash);
        Ok(all)
    }

    /// Stores imported results in their contents' home partitions.
    pub(super) async fn store_content_across(
        &self,
        results: &[crate::job::StoredResult],
    ) -> Result<(), QueueError> {
        let groups = router::group(results.iter().map(|s| {
            let home = self.content_home(&s.job_type, &s.content_hash).index();
            (home, s.clone())
        }));
        let stores = groups
            .into_iter()
            .map(|(p, (_, results))| async move { self.part(p).store_content(&results).await });
        futures::future::try_join_all(stores).await?;
        Ok(())
    }
}
