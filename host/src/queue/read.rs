//! Reading jobs back: one, many (pipelined), their states, waiting for them to finish,
//! and the queue's figures.

use super::replication::Read;
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
        if self.spread() {
            return self
                .per_job(ids, |part, ids| async move {
                    Box::pin(part.records(&ids, read)).await
                })
                .await;
        }
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(1000) {
            let mut pipe = redis::pipe();
            for id in chunk {
                pipe.hgetall(self.key(&[key::JOB, id]))
                    .lrange(self.key(&[key::ERRORS, id]), 0, -1);
            }
            let mut flat = self.read(pipe, read).await?.into_iter();
            while let (Some(fields), Some(errors)) = (flat.next(), flat.next()) {
                let fields: HashMap<String, String> = redis::from_redis_value(&fields)?;
                let errors: Vec<String> = redis::from_redis_value(&errors)?;
                if fields.is_empty() {
                    out.push(None);
                } else {
                    out.push(Some(
                        JobRecord::from_redis(fields, errors).map_err(QueueError::Protocol)?,
                    ));
                }
            }
        }
        Ok(out)
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
        if self.spread() {
            return self
                .per_job(ids, |part, ids| async move {
                    Box::pin(part.statuses_read(&ids, read)).await
                })
                .await;
        }
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(5000) {
            let mut pipe = redis::pipe();
            for id in chunk {
                pipe.hget(self.key(&[key::JOB, id]), "status");
            }
            for reply in self.read(pipe, read).await? {
                let status: Option<String> = redis::from_redis_value(&reply)?;
                out.push(match status {
                    None => None,
                    Some(s) => Some(s.parse().map_err(QueueError::Protocol)?),
                });
            }
        }
        Ok(out)
    }

    /// How many jobs ended, in pipelined round trips (1,000 a trip), in the
    /// order of `ids`: status, result and last error only, which is all a
    /// report of outcomes needs and a fraction of each record to read;
    /// `None` for a job that does not exist.
    pub async fn outcomes(&self, ids: &[String]) -> Result<Vec<Option<Outcome>>, QueueError> {
        if self.spread() {
            return self
                .per_job(ids, |part, ids| async move {
                    Box::pin(part.outcomes(&ids)).await
                })
                .await;
        }
        let mut out = Vec::with_capacity(ids.len());
        let mut conn = self.conn.clone();
        for chunk in ids.chunks(1000) {
            let mut pipe = redis::pipe();
            for id in chunk {
                pipe.hget(
                    self.key(&[key::JOB, id]),
                    &[field::STATUS, field::RESULT, field::LAST_ERROR],
                );
            }
            let replies: Vec<(Option<String>, Option<String>, Option<String>)> =
                pipe.query_async(&mut conn).await?;
            for (status, result, last_error) in replies {
                let Some(status) = status else {
                    out.push(None);
                    continue;
                };
                out.push(Some(Outcome {
                    status: status.parse().map_err(QueueError::Protocol)?,
                    result,
                    last_error: last_error.and_then(|e| serde_json::from_str(&e).ok()),
                }));
            }
        }
        Ok(out)
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
            .on_every_spread(|part| async move {
                let stats: Counts = part.conn.clone().hgetall(part.key(&[key::STATS])).await?;
                Ok(stats)
            })
            .await?;
        Ok(partition::add_up(each))
    }

    /// Ready jobs per job type.
    pub async fn ready_counts(&self, job_types: &[&str]) -> Result<Vec<u64>, QueueError> {
        let each = self
            .on_every_spread(|part| async move {
                let mut pipe = redis::pipe();
                for t in job_types {
                    pipe.zcard(part.key(&[key::READY, t]));
                }
                let counts: Vec<u64> = pipe.query_async(&mut part.conn.clone()).await?;
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

    /// Queue sizes and counters for `/metrics`.
    pub async fn figures(&self) -> Result<QueueFigures, QueueError> {
        if self.spread() {
            let each = self
                .on_every(|part| async move { Box::pin(part.figures()).await })
                .await?;
            return Ok(QueueFigures::add_up(each));
        }
        let types: Vec<String> = self.conn.clone().hkeys(self.key(&[key::TYPES])).await?;
        // Per type: ready jobs, and ready jobs by fairness group.
        let mut per_type = redis::pipe();
        for t in &types {
            per_type
                .zcard(self.key(&[key::READY, t]))
                .hgetall(self.key(&[key::GROUPS, t]));
        }
        let counts: Vec<(u64, Counts)> = per_type.query_async(&mut self.conn.clone()).await?;
        let ready = counts.iter().map(|(n, _)| n).sum();
        let ready_groups = types
            .iter()
            .zip(counts)
            .filter(|(_, (_, groups))| !groups.is_empty())
            .map(|(t, (_, groups))| (t.clone(), super::presence::non_negative(groups)))
            .collect();
        let mut conn = self.conn.clone();
        type Reply = (u64, u64, u64, Names, Counts, Counts, BTreeMap<String, u64>);
        let (scheduled, suspended, running, paused, running_by_type, stats, caps): Reply =
            redis::pipe()
                .zcard(self.key(&[key::SCHEDULED]))
                .zcard(self.key(&[key::SUSPENDED]))
                .zcard(self.key(&[key::LEASES]))
                .smembers(self.key(&[key::PAUSED]))
                .hgetall(self.key(&[key::RUNNING]))
                .hgetall(self.key(&[key::STATS]))
                .hgetall(self.key(&[key::CAPS]))
                .query_async(&mut conn)
                .await?;
        let rates = self.rates().await?;
        let dead = self.dlq_trim().await?;
        let job_types = types
            .iter()
            .chain(&paused)
            .map(|t| (t.clone(), paused.contains(t)))
            .collect();
        Ok(QueueFigures {
            job_types,
            running_by_type: super::presence::non_negative(running_by_type),
            caps,
            rates,
            ready_groups,
            redis_up: true,
            ready,
            scheduled,
            suspended,
            running,
            dead,
            stats,
        })
    }

    /// Whether Redis answers now (the node holding this handle's partition).
    pub async fn ping(&self) -> Result<(), QueueError> {
        let _: String = self
            .conn
            .clone()
            .on_slot(&redis::cmd("PING"), self.slot)
            .await?;
        Ok(())
    }

    /// Whether each partition's node answers within `limit`, all asked at
    /// once: the answers in partition order (one, unless partitioned). On a
    /// cluster, a master that is down fails its own partitions only.
    pub async fn ping_each(&self, limit: Duration) -> Vec<Result<(), String>> {
        let pings = self.parts().into_iter().map(|part| async move {
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
        total.stats = partition::add_up(each.iter().map(|f| f.stats.clone()));
        total.running_by_type = partition::add_up(each.iter().map(|f| f.running_by_type.clone()));
        total.ready_groups = BTreeMap::new();
        for part in &each {
            for (job_type, groups) in &part.ready_groups {
                let sum = total.ready_groups.entry(job_type.clone()).or_default();
                *sum = partition::add_up([std::mem::take(sum), groups.clone()]);
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
