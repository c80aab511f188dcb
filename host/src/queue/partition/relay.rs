//! One partition's side of the relay (dependencies on jobs in other
//! partitions): the jobs listed here as waiting on another partition, and
//! the outcomes handed to them.

use std::collections::BTreeMap;

use redis::AsyncCommands;

use super::super::keys::{field, key};
use super::super::{JobStatus, QueueError, calls};
use super::Partition;

/// Most listed jobs one pass looks at per partition. A longer list is read
/// a window at a time from a random place, so jobs listed behind a
/// thousand that wait on something slow are still reached.
const RELAY_BATCH: isize = 1000;
/// Outcomes per script call.
const APPLY_CHUNK: usize = 300;

/// A listed job: its id, when it was listed (Redis ms), its remote
/// dependencies (`None`: not waiting on any any more).
pub(in crate::queue) type Listed = (String, u64, Option<BTreeMap<String, u32>>);
/// Entries of `P:remote` with their scores.
type Window = Vec<(String, f64)>;

impl Partition {
    /// This partition's listed jobs and their remote dependencies.
    pub(in crate::queue) async fn listed(&self) -> Result<Vec<Listed>, QueueError> {
        let key = self.key(&[key::REMOTE]);
        let listed: isize = self.conn().zcard(&key).await?;
        let start = if listed > RELAY_BATCH {
            fastrand::isize(0..listed)
        } else {
            0
        };
        // The window, wrapping round to the head when it runs off the end
        // (`1 0` is an empty range: no wrap).
        let wrap = (start + RELAY_BATCH - listed).min(start);
        let (from, to) = if wrap > 0 { (0, wrap - 1) } else { (1, 0) };
        let (head, tail): (Window, Window) = redis::pipe()
            .zrange_withscores(&key, start, start + RELAY_BATCH - 1)
            .zrange_withscores(&key, from, to)
            .query_async(&mut self.conn())
            .await?;
        let entries: Window = head.into_iter().chain(tail).collect();
        if entries.is_empty() {
            return Ok(vec![]);
        }
        let mut pipe = redis::pipe();
        for (id, _) in &entries {
            pipe.cmd("HMGET")
                .arg(self.key(&[key::JOB, id]))
                .arg(&[field::STATUS, field::REMOTE_DEPS]);
        }
        let rows: Vec<(Option<String>, Option<String>)> =
            pipe.query_async(&mut self.conn()).await?;
        Ok(entries
            .into_iter()
            .zip(rows)
            .map(|((id, at), (status, remote))| {
                let deps = remote
                    .filter(|_| status.as_deref() == Some(JobStatus::Waiting.as_str()))
                    .and_then(|r| serde_json::from_str(&r).ok());
                (id, at as u64, deps)
            })
            .collect())
    }

    /// Hands outcomes to `relay.lua`, a chunk per call.
    pub(in crate::queue) async fn apply_outcomes(
        &self,
        outcomes: &[[String; 3]],
    ) -> Result<u64, QueueError> {
        let mut applied = 0;
        for chunk in outcomes.chunks(APPLY_CHUNK) {
            applied += self
                .run_write(&calls::RelayOutcomes {
                    lifetimes: self.lifetimes(),
                    outcomes: chunk,
                })
                .await?;
        }
        Ok(applied)
    }
}
