//! Jobs as the dashboard lists them: by state (from the index each state
//! already has: a type's ready set, the scheduled set, the leases, the
//! dead-letter queue, the latest ended jobs) and a job's children. Every page reads a bounded window of an index and the
//! jobs in it in pipelined round trips; filters (type, group) look at most
//! [`MAX_SCAN`] entries per page and say where to go on.

use super::*;

impl Queue {
    /// A page of jobs in `filter.status`, from `offset` in its index
    /// (partitions' indexes one after another).
    pub async fn list_jobs(
        &self,
        filter: &JobFilter,
        offset: usize,
        limit: usize,
    ) -> Result<JobPage, QueueError> {
        match self.single() {
            Some(only) => only.list_jobs(filter, offset, limit).await,
            None => self.list_across(filter, offset, limit).await,
        }
    }

    /// Summaries of `ids` (None: no such job), one pipelined round trip a
    /// partition.
    pub async fn summaries(&self, ids: &[String]) -> Result<Vec<Option<JobSummary>>, QueueError> {
        if let Some(only) = self.single() {
            return only.summaries(ids).await;
        }
        self.per_job(ids, |part, ids| async move { part.summaries(&ids).await })
            .await
    }

    /// Lists a partitioned queue: its partitions' indexes one after
    /// another, so `offset` counts across them.
    async fn list_across(
        &self,
        filter: &JobFilter,
        offset: usize,
        limit: usize,
    ) -> Result<JobPage, QueueError> {
        let sizes = self
            .on_every(|part| async move {
                let index = part.index_for(filter).await?;
                part.index_len(&index).await
            })
            .await?;
        let total: u64 = sizes.iter().sum();
        let mut page = JobPage {
            total,
            ..JobPage::default()
        };
        let mut before = 0usize;
        for (p, size) in (0..).zip(sizes) {
            let size = usize::try_from(size).unwrap_or(usize::MAX);
            let start = before;
            before = before.saturating_add(size);
            if offset >= before || page.jobs.len() >= limit {
                continue;
            }
            let wanted = limit - page.jobs.len();
            let local = offset.saturating_sub(start);
            let part = self.part(p).list_jobs(filter, local, wanted).await?;
            page.jobs.extend(part.jobs);
            if let Some(next) = part.next_offset {
                page.next_offset = Some(start + next);
                return Ok(page);
            }
        }
        if page.jobs.len() >= limit && (before as u64) < total {
            page.next_offset = Some(before);
        }
        Ok(page)
    }

    /// A page of `id`'s children, in the order it submitted them, and how
    /// many it has.
    pub async fn children(
        &self,
        id: &str,
        offset: usize,
        limit: usize,
    ) -> Result<(u64, Vec<JobSummary>), QueueError> {
        // A job's children live in its partition (see route.rs).
        let home = self.holder(id).await?;
        let key = home.key(&[key::CHILDREN, id]);
        let (total, ids): (u64, Vec<String>) = redis::pipe()
            .llen(&key)
            .lrange(&key, offset as isize, (offset + limit) as isize - 1)
            .query_async(&mut home.conn())
            .await?;
        let jobs = ids
            .iter()
            .zip(home.summaries(&ids).await?)
            .map(|(id, s)| {
                s.unwrap_or_else(|| JobSummary {
                    id: id.clone(),
                    status: "expired".into(),
                    ..JobSummary::default()
                })
            })
            .collect();
        Ok((total, jobs))
    }
}
