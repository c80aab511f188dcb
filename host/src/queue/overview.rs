//! The dashboard's overview: the whole queue at a glance, read in two
//! pipelined round trips from counters and index sizes, whatever the number
//! of jobs (nothing here scans keys or walks a list of jobs).

use super::keys::minute;
use super::*;

/// Minutes of throughput the overview reports.
pub const OVERVIEW_MINUTES: u64 = 60;

/// One job type's figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TypeFigures {
    pub job_type: String,
    /// Ready to run now.
    pub ready: u64,
    /// Running now, across all hosts.
    pub running: u64,
    /// Completed by a host, ever (since the queue began counting).
    pub completed: u64,
    /// Dead, ever.
    pub dead: u64,
    pub paused: bool,
    /// Most jobs of the type running at once, when capped.
    pub cap: Option<u64>,
    /// The rate limit, when one is set.
    pub rate_limit: Option<RateLimit>,
    /// Whether a live host serves the type now.
    pub live: bool,
}

/// Jobs ended in one minute.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Minute {
    /// Unix time of the minute's start, in ms.
    pub at_ms: u64,
    pub completed: u64,
    pub dead: u64,
}

/// The queue at a glance.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Overview {
    /// Redis' clock, Unix ms, when this was read.
    pub now_ms: u64,
    pub job_types: Vec<TypeFigures>,
    /// Queue-wide: waiting for their time, running, in the dead-letter queue.
    pub scheduled: u64,
    pub running: u64,
    pub dead_letter: u64,
    /// The last hour, oldest minute first (the current minute last).
    pub throughput: Vec<Minute>,
    /// The queue's counters (`submitted`, `completed`, `cache_hits`,
    /// `llm_calls`, `llm_prompt_tokens`, ...).
    pub stats: BTreeMap<String, i64>,
    /// Every host's last heartbeat, by host id.
    pub hosts: BTreeMap<String, serde_json::Value>,
}

impl Queue {
    /// Reads the overview: two pipelined round trips.
    pub async fn overview(&self) -> Result<Overview, QueueError> {
        let mut conn = self.conn.clone();
        let replies: Vec<redis::Value> = redis::pipe()
            .cmd("TIME")
            .hgetall(self.key(&[key::TYPES]))
            .zcard(self.key(&[key::SCHEDULED]))
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
            .query_async(&mut conn)
            .await?;
        let mut it = replies.iter();
        let mut next = || it.next().unwrap_or(&redis::Value::Nil);
        let time: (u64, u64) = redis::from_redis_value(next())?;
        let types: BTreeMap<String, String> = redis::from_redis_value(next())?;
        let (scheduled, leases, dead_letter): (u64, u64, u64) = (
            redis::from_redis_value(next())?,
            redis::from_redis_value(next())?,
            redis::from_redis_value(next())?,
        );
        let running: Counts = redis::from_redis_value(next())?;
        let done: Counts = redis::from_redis_value(next())?;
        let died: Counts = redis::from_redis_value(next())?;
        let paused: Names = redis::from_redis_value(next())?;
        let caps: BTreeMap<String, u64> = redis::from_redis_value(next())?;
        let stats: Counts = redis::from_redis_value(next())?;
        let hosts: BTreeMap<String, String> = redis::from_redis_value(next())?;
        let rates: BTreeMap<String, String> = redis::from_redis_value(next())?;
        let now_ms = time.0 * 1000 + time.1 / 1000;
        let names: Names = types.keys().chain(&paused).cloned().collect();
        let this_minute = now_ms / 60_000;
        let minutes: Vec<u64> = (this_minute + 1 - OVERVIEW_MINUTES..=this_minute).collect();
        let mut pipe = redis::pipe();
        for t in &names {
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
        let mut replies: Vec<redis::Value> = pipe.query_async(&mut conn).await?;
        let counted: Vec<Option<u64>> = match replies.pop() {
            Some(v) => redis::from_redis_value(&v)?,
            None => vec![],
        };
        let ready: Vec<u64> = replies
            .iter()
            .map(redis::from_redis_value)
            .collect::<Result<_, _>>()?;
        let count = |m: &Counts, t: &str| m.get(t).map_or(0, |n| u64::try_from(*n).unwrap_or(0));
        let job_types = names
            .iter()
            .zip(ready)
            .map(|(t, ready)| TypeFigures {
                job_type: t.clone(),
                ready,
                running: count(&running, t),
                completed: count(&done, t),
                dead: count(&died, t),
                paused: paused.contains(t),
                cap: caps.get(t).copied(),
                rate_limit: rates.get(t).and_then(|r| RateLimit::from_stored(r)),
                live: types
                    .get(t)
                    .is_some_and(|reg| super::presence::type_info(t.clone(), reg, now_ms).live),
            })
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
            now_ms,
            job_types,
            scheduled,
            running: leases,
            dead_letter,
            throughput,
            stats,
            hosts: hosts
                .into_iter()
                .filter_map(|(k, v)| serde_json::from_str(&v).ok().map(|v| (k, v)))
                .collect(),
        })
    }
}
