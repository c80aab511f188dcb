//! One partition's part of the dashboard's overview, from its counters
//! in two pipelined round trips.

use std::collections::BTreeMap;

use super::super::figures::{
    Minute, OVERVIEW_MINUTES, Overview, RateLimit, TypeFigures, type_info,
};
use super::super::keys::{key, minute};
use super::super::{Counts, Names, QueueError};
use super::Partition;

/// The first round trip: the queue's clock, counters and tables.
struct Tables {
    now_ms: u64,
    types: BTreeMap<String, String>,
    scheduled: u64,
    suspended: u64,
    leases: u64,
    dead_letter: u64,
    running: Counts,
    done: Counts,
    died: Counts,
    paused: Names,
    caps: BTreeMap<String, u64>,
    stats: Counts,
    hosts: BTreeMap<String, String>,
    rates: BTreeMap<String, String>,
}

impl Tables {
    /// One job type's figures; `ready` from the second round trip.
    fn figures(&self, t: &str, ready: u64) -> TypeFigures {
        let count = |m: &Counts| m.get(t).map_or(0, |n| u64::try_from(*n).unwrap_or(0));
        TypeFigures {
            job_type: t.to_string(),
            ready,
            running: count(&self.running),
            completed: count(&self.done),
            dead: count(&self.died),
            paused: self.paused.contains(t),
            cap: self.caps.get(t).copied(),
            rate_limit: self.rates.get(t).and_then(|r| RateLimit::from_stored(r)),
            live: self
                .types
                .get(t)
                .is_some_and(|reg| type_info(t.to_string(), reg, self.now_ms).live),
        }
    }
}

impl Partition {
    /// This partition's overview: two pipelined round trips.
    pub(in crate::queue) async fn overview(&self) -> Result<Overview, QueueError> {
        let tables = self.overview_tables().await?;
        let names: Names = tables.types.keys().chain(&tables.paused).cloned().collect();
        let this_minute = tables.now_ms / 60_000;
        let minutes: Vec<u64> = (this_minute + 1 - OVERVIEW_MINUTES..=this_minute).collect();
        let (ready, counted) = self.ready_and_minutes(&names, &minutes).await?;
        let job_types = names
            .iter()
            .zip(ready)
            .map(|(t, ready)| tables.figures(t, ready))
            .collect();
        let throughput = minutes
            .iter()
            .enumerate()
            .map(|(i, m)| Minute {
                at_ms: m * 60_000,
                completed: counted.get(2 * i).copied().flatten().unwrap_or(0),
                dead: counted.get(2 * i + 1).copied().flatten().unwrap_or(0),
            })
            .collect();
        Ok(Overview {
            now_ms: tables.now_ms,
            job_types,
            scheduled: tables.scheduled,
            suspended: tables.suspended,
            running: tables.leases,
            dead_letter: tables.dead_letter,
            throughput,
            stats: tables.stats,
            hosts: tables
                .hosts
                .into_iter()
                .filter_map(|(k, v)| serde_json::from_str(&v).ok().map(|v| (k, v)))
                .collect(),
        })
    }

    async fn overview_tables(&self) -> Result<Tables, QueueError> {
        let replies: Vec<redis::Value> = redis::pipe()
            .cmd("TIME")
            .hgetall(self.key(&[key::TYPES]))
            .zcard(self.key(&[key::SCHEDULED]))
            .zcard(self.key(&[key::SUSPENDED]))
            .zcard(self.key(&[key::LEASES]))
            .zcard(self.key(&[key::DEAD]))
            .hgetall(self.key(&[key::RUNNING]))
            .hgetall(self.key(&[key::DONE]))
            .hgetall(self.key(&[key::DIED]))
            .smembers(self.key(&[key::PAUSED]))
            .hgetall(self.key(&[key::CAPS]))
            .hgetall(self.key(&[key::STATS]))
            .hgetall(self.key(&[key::HOSTS]))
            .hgetall(self.key(&[key::RATES]))
            .query_async(&mut self.conn())
            .await?;
        let mut it = replies.iter();
        let mut next = || it.next().unwrap_or(&redis::Value::Nil);
        let time: (u64, u64) = redis::from_redis_value(next())?;
        Ok(Tables {
            now_ms: time.0 * 1000 + time.1 / 1000,
            types: redis::from_redis_value(next())?,
            scheduled: redis::from_redis_value(next())?,
            suspended: redis::from_redis_value(next())?,
            leases: redis::from_redis_value(next())?,
            dead_letter: redis::from_redis_value(next())?,
            running: redis::from_redis_value(next())?,
            done: redis::from_redis_value(next())?,
            died: redis::from_redis_value(next())?,
            paused: redis::from_redis_value(next())?,
            caps: redis::from_redis_value(next())?,
            stats: redis::from_redis_value(next())?,
            hosts: redis::from_redis_value(next())?,
            rates: redis::from_redis_value(next())?,
        })
    }

    /// Ready jobs of each type, and the jobs completed and dead in each
    /// minute (two fields a minute, in `minutes`' order).
    async fn ready_and_minutes(
        &self,
        names: &Names,
        minutes: &[u64],
    ) -> Result<(Vec<u64>, Vec<Option<u64>>), QueueError> {
        let mut pipe = redis::pipe();
        for t in names {
            pipe.zcard(self.key(&[key::READY, t]));
        }
        let fields: Vec<String> = minutes
            .iter()
            .flat_map(|m| {
                [
                    format!("{}{m}", minute::COMPLETED),
                    format!("{}{m}", minute::DEAD),
                ]
            })
            .collect();
        pipe.cmd("HMGET")
            .arg(self.key(&[key::MINUTES]))
            .arg(&fields);
        let mut replies: Vec<redis::Value> = pipe.query_async(&mut self.conn()).await?;
        let counted: Vec<Option<u64>> = match replies.pop() {
            Some(v) => redis::from_redis_value(&v)?,
            None => vec![],
        };
        let ready = replies
            .iter()
            .map(redis::from_redis_value)
            .collect::<Result<_, _>>()?;
        Ok((ready, counted))
    }
}
