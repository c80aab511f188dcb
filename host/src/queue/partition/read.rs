//! Reading one partition's jobs back (records, states, outcomes, many in
//! pipelined round trips), its figures, and whether its node answers.

use std::collections::{BTreeMap, HashMap};

use redis::AsyncCommands;

use super::super::figures::{RateLimit, non_negative};
use super::super::keys::{field, key};
use super::super::{Counts, JobRecord, JobStatus, Names, Outcome, QueueError, QueueFigures};
use super::Partition;
use super::replication::Read;

impl Partition {
    /// The records of `ids` in this partition (`None`: not here), in
    /// pipelined round trips (1,000 a trip), answered as `read` says.
    pub(in crate::queue) async fn records(
        &self,
        ids: &[String],
        read: Read,
    ) -> Result<Vec<Option<JobRecord>>, QueueError> {
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

    /// The status of `ids` in this partition (`None`: not here), in
    /// pipelined round trips (5,000 a trip), answered as `read` says.
    pub(in crate::queue) async fn statuses_read(
        &self,
        ids: &[String],
        read: Read,
    ) -> Result<Vec<Option<JobStatus>>, QueueError> {
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
    pub(in crate::queue) async fn outcomes(
        &self,
        ids: &[String],
    ) -> Result<Vec<Option<Outcome>>, QueueError> {
        let mut out = Vec::with_capacity(ids.len());
        let mut conn = self.conn();
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

    /// This partition's sizes and counters for `/metrics`.
    pub(in crate::queue) async fn figures(&self) -> Result<QueueFigures, QueueError> {
        let types: Vec<String> = self.conn().hkeys(self.key(&[key::TYPES])).await?;
        // Per type: ready jobs, and ready jobs by fairness group.
        let mut per_type = redis::pipe();
        for t in &types {
            per_type
                .zcard(self.key(&[key::READY, t]))
                .hgetall(self.key(&[key::GROUPS, t]));
        }
        let counts: Vec<(u64, Counts)> = per_type.query_async(&mut self.conn()).await?;
        let ready = counts.iter().map(|(n, _)| n).sum();
        let ready_groups = types
            .iter()
            .zip(counts)
            .filter(|(_, (_, groups))| !groups.is_empty())
            .map(|(t, (_, groups))| (t.clone(), non_negative(groups)))
            .collect();
        let mut conn = self.conn();
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
            running_by_type: non_negative(running_by_type),
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

    /// Whether Redis answers now (the node holding this partition).
    pub(in crate::queue) async fn ping(&self) -> Result<(), QueueError> {
        let _: String = self
            .conn
            .clone()
            .on_slot(&redis::cmd("PING"), self.slot())
            .await?;
        Ok(())
    }

    /// The rate limits stored in this partition, by job type.
    pub(in crate::queue) async fn rates(&self) -> Result<BTreeMap<String, RateLimit>, QueueError> {
        let raw: BTreeMap<String, String> = self.conn().hgetall(self.key(&[key::RATES])).await?;
        Ok(raw
            .into_iter()
            .filter_map(|(t, v)| RateLimit::from_stored(&v).map(|r| (t, r)))
            .collect())
    }
}
