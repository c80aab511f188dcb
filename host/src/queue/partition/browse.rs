//! One partition's jobs as the dashboard lists them: a bounded window of
//! the index a state has, and the jobs in it, in pipelined round trips;
//! the listing's types ([`JobFilter`], [`JobPage`], [`JobSummary`]) too,
//! which the router's pages gather.

use redis::AsyncCommands;
use serde::Serialize;

use super::super::keys::{field, key};
use super::super::{ErrorEntry, JobStatus, Names, QueueError};
use super::Partition;

/// Most index entries one page looks at while filtering.
pub const MAX_SCAN: usize = 5_000;
/// Jobs waiting for dependencies are not indexed by state.
const UNINDEXED: &str = "waiting jobs are not listed by state (no index holds them); open one by id or through the job it waits on";

/// What to list.
#[derive(Debug, Clone, PartialEq)]
pub struct JobFilter {
    pub status: JobStatus,
    pub job_type: Option<String>,
    pub group: Option<String>,
}

/// A job as a list shows it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct JobSummary {
    pub id: String,
    pub job_type: String,
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    pub priority: i64,
    pub attempts: u64,
    pub created_at: u64,
    pub updated_at: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress: Option<f64>,
    /// "[kind] message" of the last failed attempt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// One page of a listing.
#[derive(Debug, Clone, Default, Serialize)]
pub struct JobPage {
    pub jobs: Vec<JobSummary>,
    /// Entries in the index listed (before filters).
    pub total: u64,
    /// Where the next page starts, if there is more to look at.
    pub next_offset: Option<usize>,
}

/// Index entries read per round trip.
const CHUNK: usize = 250;

const SUMMARY_FIELDS: [&str; 10] = [
    field::TYPE,
    field::STATUS,
    field::GROUP,
    field::PRIORITY,
    field::ATTEMPTS,
    field::CREATED_AT,
    field::UPDATED_AT,
    field::PARENT,
    field::PROGRESS,
    field::LAST_ERROR,
];

/// An index of job ids, read a window at a time.
pub(in crate::queue) enum Index {
    /// A sorted set, in score order or reversed.
    Zset { key: String, newest_first: bool },
    /// A list, head first.
    List(String),
    /// Several sorted sets one after another, with their sizes.
    Chain(Vec<(String, u64)>),
}

impl Partition {
    /// A page of this partition's jobs in `filter.status`, from `offset`
    /// in its index.
    pub(in crate::queue) async fn list_jobs(
        &self,
        filter: &JobFilter,
        offset: usize,
        limit: usize,
    ) -> Result<JobPage, QueueError> {
        let index = self.index_for(filter).await?;
        let total = self.index_len(&index).await?;
        let mut page = JobPage {
            total,
            ..JobPage::default()
        };
        let mut cursor = offset;
        let mut scanned = 0;
        while page.jobs.len() < limit && scanned < MAX_SCAN {
            let ids = self.index_window(&index, cursor, CHUNK).await?;
            if ids.is_empty() {
                return Ok(page);
            }
            for (i, job) in ids.iter().zip(self.summaries(&ids).await?).enumerate() {
                let Some(job) = job.1 else { continue };
                if job.status == filter.status.as_str()
                    && filter.job_type.as_ref().is_none_or(|t| *t == job.job_type)
                    && filter
                        .group
                        .as_ref()
                        .is_none_or(|g| Some(g) == job.group.as_ref())
                {
                    page.jobs.push(job);
                    if page.jobs.len() == limit {
                        page.next_offset = Some(cursor + i + 1);
                        return Ok(page);
                    }
                }
            }
            cursor += ids.len();
            scanned += ids.len();
        }
        if (cursor as u64) < total {
            page.next_offset = Some(cursor);
        }
        Ok(page)
    }

    pub(in crate::queue) async fn index_for(
        &self,
        filter: &JobFilter,
    ) -> Result<Index, QueueError> {
        let zset = |kind: &str, newest_first| Index::Zset {
            key: self.key(&[kind]),
            newest_first,
        };
        Ok(match filter.status {
            JobStatus::Pending => match &filter.job_type {
                Some(t) => Index::Chain(vec![(self.key(&[key::READY, t]), u64::MAX)]),
                None => {
                    let types: Names = self.conn().hkeys(self.key(&[key::TYPES])).await?;
                    let keys: Vec<String> =
                        types.iter().map(|t| self.key(&[key::READY, t])).collect();
                    let mut pipe = redis::pipe();
                    for k in &keys {
                        pipe.zcard(k);
                    }
                    let sizes: Vec<u64> = pipe.query_async(&mut self.conn()).await?;
                    Index::Chain(keys.into_iter().zip(sizes).collect())
                }
            },
            JobStatus::Scheduled => zset(key::SCHEDULED, false),
            JobStatus::Suspended => zset(key::SUSPENDED, false),
            JobStatus::Running => zset(key::LEASES, false),
            JobStatus::Dead => zset(key::DEAD, true),
            JobStatus::Completed | JobStatus::Cancelled => Index::List(self.key(&[key::RECENT])),
            JobStatus::Waiting => {
                return Err(QueueError::Invalid {
                    field: "status",
                    reason: UNINDEXED.into(),
                });
            }
        })
    }

    pub(in crate::queue) async fn index_len(&self, index: &Index) -> Result<u64, QueueError> {
        let mut conn = self.conn();
        Ok(match index {
            Index::Zset { key, .. } => conn.zcard(key).await?,
            Index::List(key) => conn.llen(key).await?,
            Index::Chain(sets) if sets.len() == 1 && sets[0].1 == u64::MAX => {
                conn.zcard(&sets[0].0).await?
            }
            Index::Chain(sets) => sets.iter().map(|(_, n)| n).sum(),
        })
    }

    /// Up to `count` ids from position `start`.
    async fn index_window(
        &self,
        index: &Index,
        start: usize,
        count: usize,
    ) -> Result<Vec<String>, QueueError> {
        let mut conn = self.conn();
        let (from, to) = (start as isize, (start + count - 1) as isize);
        Ok(match index {
            Index::Zset { key, newest_first } if *newest_first => {
                conn.zrevrange(key, from, to).await?
            }
            Index::Zset { key, .. } => conn.zrange(key, from, to).await?,
            Index::List(key) => conn.lrange(key, from, to).await?,
            Index::Chain(sets) => {
                // The window's part in each set, in one pipeline.
                let mut pipe = redis::pipe();
                let mut before = 0u64;
                let (start, end) = (start as u64, (start + count) as u64);
                for (key, size) in sets {
                    let after = before.saturating_add(*size);
                    if after > start && before < end {
                        let lo = start.saturating_sub(before) as isize;
                        let hi = (end - before).min(*size).saturating_sub(1) as isize;
                        pipe.zrange(key, lo, hi);
                    }
                    before = after;
                }
                let parts: Vec<Vec<String>> = pipe.query_async(&mut conn).await?;
                parts.into_iter().flatten().take(count).collect()
            }
        })
    }

    /// Summaries of `ids` (None: no such job), one pipelined round trip
    /// to this partition.
    pub(in crate::queue) async fn summaries(
        &self,
        ids: &[String],
    ) -> Result<Vec<Option<JobSummary>>, QueueError> {
        let mut pipe = redis::pipe();
        for id in ids {
            pipe.cmd("HMGET")
                .arg(self.key(&[key::JOB, id]))
                .arg(&SUMMARY_FIELDS[..]);
        }
        let rows: Vec<Vec<Option<String>>> = pipe.query_async(&mut self.conn()).await?;
        Ok(ids
            .iter()
            .zip(rows)
            .map(|(id, row)| summary(id, row))
            .collect())
    }
}

fn summary(id: &str, row: Vec<Option<String>>) -> Option<JobSummary> {
    let mut it = row.into_iter();
    let mut next = || it.next().flatten();
    let job_type = next()?;
    let status = next()?;
    let num = |v: Option<String>| v.and_then(|v| v.parse::<f64>().ok());
    let (group, priority, attempts) = (next(), num(next()), num(next()));
    let (created_at, updated_at, parent) = (num(next()), num(next()), next());
    let progress = num(next());
    let last_error = next().map(|raw| match serde_json::from_str::<ErrorEntry>(&raw) {
        Ok(e) => format!("[{}] {}", e.kind, e.message),
        Err(_) => raw,
    });
    Some(JobSummary {
        id: id.to_string(),
        job_type,
        status,
        group: group.filter(|g| !g.is_empty()),
        priority: priority.unwrap_or(0.0) as i64,
        attempts: attempts.unwrap_or(0.0) as u64,
        created_at: created_at.unwrap_or(0.0) as u64,
        updated_at: updated_at.unwrap_or(0.0) as u64,
        parent: parent.filter(|p| !p.is_empty()),
        progress,
        last_error,
    })
}
