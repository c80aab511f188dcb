//! The dashboard's overview: the whole queue at a glance, read in two
//! pipelined round trips from counters and index sizes, whatever the number
//! of jobs (nothing here scans keys or walks a list of jobs).

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
    /// Suspended on a wait token (a durable wait).
    pub suspended: u64,
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

impl Overview {
    /// A partitioned queue's overview from its partitions': counts added
    /// up; hosts, pauses, caps, rates and liveness from the first (they are
    /// the same in each, or kept in the first only).
    fn add_up(each: Vec<Overview>) -> Overview {
        let mut parts = each.into_iter();
        let mut total = parts.next().unwrap_or_default();
        for part in parts {
            total.scheduled += part.scheduled;
            total.suspended += part.suspended;
            total.running += part.running;
            total.dead_letter += part.dead_letter;
            total.stats = super::router::add_up([std::mem::take(&mut total.stats), part.stats]);
            for (sum, m) in total.throughput.iter_mut().zip(part.throughput) {
                sum.completed += m.completed;
                sum.dead += m.dead;
            }
            for figures in part.job_types {
                match total
                    .job_types
                    .iter_mut()
                    .find(|t| t.job_type == figures.job_type)
                {
                    Some(sum) => {
                        sum.ready += figures.ready;
                        sum.running += figures.running;
                        sum.completed += figures.completed;
                        sum.dead += figures.dead;
                    }
                    None => total.job_types.push(figures),
                }
            }
        }
        total
    }
}

impl Queue {
    /// Reads the overview: two pipelined round trips a partition, every
    /// partition at once.
    pub async fn overview(&self) -> Result<Overview, QueueError> {
        if let Some(only) = self.single() {
            return only.overview().await;
        }
        let each = self
            .on_every(|part| async move { part.overview().await })
            .await?;
        Ok(Overview::add_up(each))
    }
}
