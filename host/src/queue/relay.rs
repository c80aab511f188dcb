//! The relay: cross-partition dependencies, the sending side. A job that
//! waits on jobs in other partitions is listed in its partition's
//! `P:remote`. Every host runs the relay (`Worker::relay_loop`): it reads
//! the listed jobs' remote dependencies, reads those dependencies' states in
//! their own partitions, and hands what finished to `relay.lua` in the
//! waiting job's partition.
//!
//! What is atomic where, and what a crash leaves:
//! - The listing is written with the job, in one script (submit).
//! - Reading the states is a read; nothing to mend. With
//!   `min_replica_acks`, a partition's states are used only once its
//!   replicas are known to hold them: read again as [`Read::Replicated`],
//!   whose acknowledgement is counted on the node that served the read. A
//!   dependency whose completion a dying master had not passed on runs
//!   again on the promoted replica, and its dependents must not have gone
//!   ahead of it.
//! - Applying an outcome is one script in the waiting job's partition. It
//!   remembers each applied (job, dependency) in `P:satisfied:<id>`, so an
//!   outcome sent twice (by two hosts, or again after a crash before the
//!   reply) counts once. A crash before the script runs leaves the listing,
//!   and the next pass (any host's) sends the outcome again.
//! - The listing goes once nothing remote is left, or once the job is no
//!   longer waiting (cancelled, or failed by a local dependency).
//!
//! A dependency the relay cannot find is taken as failed once the waiting
//! job was listed [`GRACE`] ago: a batch's jobs in other partitions are
//! written beside it, not before it, and a purged dependency never comes.

use super::keys::word;
use super::replication::Read;
use super::*;

/// Most listed jobs one pass looks at per partition. A longer list is read
/// a window at a time from a random place, so jobs listed behind a
/// thousand that wait on something slow are still reached.
const RELAY_BATCH: isize = 1000;
/// Outcomes per script call.
const APPLY_CHUNK: usize = 300;
/// How long a missing remote dependency is waited for.
pub const GRACE: Duration = Duration::from_secs(60);

/// A listed job: its id, when it was listed (Redis ms), its remote
/// dependencies (`None`: not waiting on any any more).
type Listed = (String, u64, Option<BTreeMap<String, u32>>);
/// Entries of `P:remote` with their scores.
type Window = Vec<(String, f64)>;

impl Queue {
    /// One relay pass over every partition; returns the outcomes applied.
    /// Nothing to do with one partition.
    pub async fn relay(&self) -> Result<u64, QueueError> {
        if !self.spread() {
            return Ok(0);
        }
        let applied = self
            .on_every(|part| async move { self.relay_into(&part).await })
            .await?;
        Ok(applied.into_iter().sum())
    }

    /// Relays into partition `part` the outcomes its listed jobs wait for.
    async fn relay_into(&self, part: &Queue) -> Result<u64, QueueError> {
        let listed = part.listed().await?;
        if listed.is_empty() {
            return Ok(0);
        }
        let wanted = partition::group(
            listed
                .iter()
                .flat_map(|(_, _, deps)| deps.iter().flatten())
                .map(|(dep, p)| (*p, dep.clone())),
        );
        let reads = wanted.into_iter().map(|(p, (_, mut ids))| async move {
            ids.sort();
            ids.dedup();
            let source = self.part(p);
            let mut statuses = Box::pin(source.statuses(&ids)).await?;
            // Only what the source's replicas hold too is passed on: read
            // again, answered once they do (the rest waits for a later
            // pass). Nothing to pass on (every dependency still to
            // finish): no need to ask.
            let news = statuses.iter().any(|s| s.is_none_or(|s| s.is_finished()));
            if news && self.config.min_replica_acks > 0 {
                match Box::pin(source.statuses_read(&ids, Read::Replicated)).await {
                    Ok(replicated) => statuses = replicated,
                    Err(QueueError::NotReplicated { .. }) => return Ok((p, None)),
                    Err(e) => return Err(e),
                }
            }
            Ok::<_, QueueError>((p, Some(ids.into_iter().zip(statuses).collect::<Vec<_>>())))
        });
        let mut states: HashMap<(u32, String), Option<JobStatus>> = HashMap::new();
        let mut unsure: HashSet<u32> = HashSet::new();
        for (p, read) in futures::future::try_join_all(reads).await? {
            let Some(read) = read else {
                unsure.insert(p);
                continue;
            };
            for (id, status) in read {
                states.insert((p, id), status);
            }
        }
        let now = now_ms();
        let grace = millis(GRACE);
        let mut outcomes: Vec<[String; 3]> = Vec::new();
        for (id, listed_at, deps) in listed {
            let Some(deps) = deps else {
                outcomes.push([id, String::new(), String::new()]);
                continue;
            };
            for (dep, p) in deps.into_iter().filter(|(_, p)| !unsure.contains(p)) {
                let outcome = match states.get(&(p, dep.clone())).copied().flatten() {
                    Some(JobStatus::Completed) => word::COMPLETED,
                    Some(JobStatus::Dead | JobStatus::Cancelled) => word::FAILED,
                    None if now.saturating_sub(listed_at) > grace => word::FAILED,
                    _ => continue,
                };
                outcomes.push([id.clone(), dep, outcome.to_string()]);
            }
        }
        part.apply_outcomes(&outcomes).await
    }

    /// This partition's listed jobs and their remote dependencies.
    async fn listed(&self) -> Result<Vec<Listed>, QueueError> {
        let key = self.key(&[key::REMOTE]);
        let listed: isize = self.conn.clone().zcard(&key).await?;
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
            .query_async(&mut self.conn.clone())
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
            pipe.query_async(&mut self.conn.clone()).await?;
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
    async fn apply_outcomes(&self, outcomes: &[[String; 3]]) -> Result<u64, QueueError> {
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
