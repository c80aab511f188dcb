//! Reading jobs back: one, many (pipelined), their states, waiting for them to finish,
//! and the queue's figures.

use super::partition::replication::Read;
use super::*;

impl Queue {
    /// Reads a job by id, with its error history.
    pub async fn get(&self, id: &str) -> Result<Option<JobRecord>, QueueError> {
        Ok(self.get_many(&[id.to_string()]).await?.pop().flatten())
    }

    /// Reads many jobs in pipelined round trips (1,000 a trip), in the
    /// order of `ids`; `None` for a job that does not exist.
    pub async fn get_many(&self, ids: &[String]) -> Result<Vec<Option<JobRecord>>, QueueError> {
        self.records(ids, Read::AsIs).await
    }

    /// [`Queue::get_many`], answered as `read` says.
    async fn records(
        &self,
        ids: &[String],
        read: Read,
    ) -> Result<Vec<Option<JobRecord>>, QueueError> {
        if let Some(only) = self.single() {
            return only.records(ids, read).await;
        }
        self.per_job(
            ids,
            |part, ids| async move { part.records(&ids, read).await },
        )
        .await
    }

    /// The status of many jobs in pipelined round trips (5,000 a trip), in
    /// the order of `ids`; `None` for a job that does not exist.
    pub async fn statuses(&self, ids: &[String]) -> Result<Vec<Option<JobStatus>>, QueueError> {
        self.statuses_read(ids, Read::AsIs).await
    }

    /// [`Queue::statuses`], answered as `read` says.
    pub(super) async fn statuses_read(
        &self,
        ids: &[String],
        read: Read,
    ) -> Result<Vec<Option<JobStatus>>, QueueError> {
        if let Some(only) = self.single() {
            return only.statuses_read(ids, read).await;
        }
        self.per_job(ids, |part, ids| async move {
            part.statuses_read(&ids, read).await
        })
        .await
    }

    /// How many jobs ended, in pipelined round trips (1,000 a trip), in the
    /// order of `ids`: status, result and last error only, which is all a
    /// report of outcomes needs and a fraction of each record to read;
    /// `None` for a job that does not exist.
    pub async fn outcomes(&self, ids: &[String]) -> Result<Vec<Option<Outcome>>, QueueError> {
        if let Some(only) = self.single() {
            return only.outcomes(ids).await;
        }
        self.per_job(ids, |part, ids| async move { part.outcomes(&ids).await })
            .await
    }

    /// Waits until every job in `ids` has finished (completed, dead or
    /// cancelled), woken by pub/sub, and returns their final records; with
    /// `min_replica_acks`, only once the replicas hold them
    /// ([`QueueError::NotReplicated`] if they do not in time).
    pub async fn wait_for_jobs(
        &self,
        ids: &[String],
        timeout: Duration,
    ) -> Result<Vec<JobRecord>, QueueError> {
        let deadline = deadline_after(timeout);
        // An id named twice is waited for and answered once; only statuses
        // are read until every job has finished, then each record once.
        let ids = &unique(ids);
        // Listen first, then read: a job that ends in between is seen by one or the other.
        let mut finished = self.listen_for(ids).await?;
        let mut open = unfinished(ids, &self.statuses(ids).await?)?;
        loop {
            while !open.is_empty() {
                let next = tokio::time::timeout_at(deadline, finished.recv()).await;
                match next {
                    Err(_) => return Err(QueueError::WaitTimeout(timeout)),
                    Ok(Notice::Message(ended)) => {
                        for id in ended.ids() {
                            open.remove(id);
                        }
                    }
                    // Messages were missed (behind the feed, or the
                    // connection was made again): the states are read again.
                    Ok(Notice::Missed) => {
                        let still: Vec<String> = open.iter().cloned().collect();
                        open = unfinished(&still, &self.statuses(&still).await?)?;
                    }
                }
            }
            // With `min_replica_acks`, what is answered is on the replicas
            // too: a caller does not act on a result a failover could take
            // back. One the failover did take back is waited for again.
            open = unfinished(ids, &self.statuses_read(ids, Read::Replicated).await?)?;
            if open.is_empty() {
                let jobs = self.records(ids, Read::Replicated).await?;
                return Ok(jobs.into_iter().flatten().collect());
            }
        }
    }

    /// The queue's counters (submitted, claimed, completed, retried, dead, ...).
    pub async fn stats(&self) -> Result<BTreeMap<String, i64>, QueueError> {
        let each = self
            .on_every(|part| async move {
                let stats: Counts = part.conn().hgetall(part.key(&[key::STATS])).await?;
                Ok(stats)
            })
            .await?;
        Ok(router::add_up(each))
    }

    /// Ready jobs per job type.
    pub async fn ready_counts(&self, job_types: &[&str]) -> Result<Vec<u64>, QueueError> {
        let each = self
            .on_every(|part| async move {
                let mut pipe = redis::pipe();
                for t in job_types {
                    pipe.zcard(part.key(&[key::READY, t]));
                }
                let counts: Vec<u64> = pipe.query_async(&mut part.conn()).await?;
                Ok(counts)
            })
            .await?;
        let mut total = vec![0; job_types.len()];
        for counts in each {
            for (sum, n) in total.iter_mut().zip(counts) {
                *sum += n;
            }
        }
        Ok(total)
    }

    /// Queue sizes and counters for `/metrics`, every partition's added up.
    pub async fn figures(&self) -> Result<QueueFigures, QueueError> {
        if let Some(only) = self.single() {
            return only.figures().await;
        }
        let each = self
            .on_every(|part| async move { part.figures().await })
            .await?;
        Ok(QueueFigures::add_up(each))
    }

    /// Whether Redis answers now (the node holding partition 0).
    pub async fn ping(&self) -> Result<(), QueueError> {
        self.hub().ping().await
    }

    /// Whether each partition's node answers within `limit`, all asked at
    /// once: the answers in partition order (one, unless partitioned). On a
    /// cluster, a master that is down fails its own partitions only.
    pub async fn ping_each(&self, limit: Duration) -> Vec<Result<(), String>> {
        let pings = self.parts.iter().map(|part| async move {
            match tokio::time::timeout(limit, part.ping()).await {
                Ok(answer) => answer.map_err(|e| e.to_string()),
                Err(_) => Err(format!("no answer within {} s", limit.as_secs_f64())),
            }
        });
        futures::future::join_all(pings).await
    }
}

/// The queue-wide figures read from Redis for one scrape.
#[derive(Debug, Default, Clone)]
pub struct QueueFigures {
    pub redis_up: bool,
    pub ready: u64,
    pub scheduled: u64,
    /// Suspended on a wait token.
    pub suspended: u64,
    pub running: u64,
    pub dead: u64,
    pub stats: BTreeMap<String, i64>,
    /// Every registered job type, and whether it is paused.
    pub job_types: BTreeMap<String, bool>,
    /// Jobs running now by job type, across all hosts.
    pub running_by_type: BTreeMap<String, u64>,
    /// Caps on running jobs, by job type.
    pub caps: BTreeMap<String, u64>,
    /// Rate limits, by job type.
    pub rates: BTreeMap<String, super::RateLimit>,
    /// Ready jobs by job type and fairness group (types with groups only).
    pub ready_groups: BTreeMap<String, BTreeMap<String, u64>>,
}

impl QueueFigures {
    /// The figures of a partitioned queue from its partitions' (job types,
    /// pauses, caps and rates are the same in each: the first one's).
    fn add_up(each: Vec<QueueFigures>) -> QueueFigures {
        let mut total = each.first().cloned().unwrap_or_default();
        for part in each.iter().skip(1) {
            total.ready += part.ready;
            total.scheduled += part.scheduled;
            total.suspended += part.suspended;
            total.running += part.running;
            total.dead += part.dead;
        }
        total.stats = router::add_up(each.iter().map(|f| f.stats.clone()));
        total.running_by_type = router::add_up(each.iter().map(|f| f.running_by_type.clone()));
        total.ready_groups = BTreeMap::new();
        for part in &each {
            for (job_type, groups) in &part.ready_groups {
                let sum = total.ready_groups.entry(job_type.clone()).or_default();
                *sum = router::add_up([std::mem::take(sum), groups.clone()]);
            }
        }
        total
    }
}

/// What became of a job, as [`Queue::outcomes`] reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub status: JobStatus,
    /// JSON text, when completed.
    pub result: Option<String>,
    /// The last failed attempt's entry, if any.
    pub last_error: Option<ErrorEntry>,
}

/// The ids of `jobs` (read for `ids`, in order) that have not finished;
/// [`QueueError::NotFound`] for the first that does not exist.
fn unfinished(
    ids: &[String],
    statuses: &[Option<JobStatus>],
) -> Result<HashSet<String>, QueueError> {
    let mut open = HashSet::new();
    for (id, status) in ids.iter().zip(statuses) {
        match status {
            None => return Err(QueueError::NotFound(id.clone())),
            Some(status) if !status.is_finished() => {
                open.insert(id.clone());
            }
            Some(_) => {}
        }
    }
    Ok(open)
}

/// `ids` without repeats, in the order each first appears.
fn unique(ids: &[String]) -> Vec<String> {
    let mut seen = HashSet::with_capacity(ids.len());
    ids.iter()
        .filter(|id| seen.insert(id.as_str()))
        .cloned()
        .collect()
}
