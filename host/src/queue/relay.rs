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
use super::partition::Partition;
use super::partition::replication::Read;
use super::*;

/// How long a missing remote dependency is waited for.
pub const GRACE: Duration = Duration::from_secs(60);

impl Queue {
    /// One relay pass over every partition; returns the outcomes applied.
    /// Nothing to do with one partition.
    pub async fn relay(&self) -> Result<u64, QueueError> {
        if self.single().is_some() {
            return Ok(0);
        }
        let applied = self
            .on_every(|part| async move { self.relay_into(&part).await })
            .await?;
        Ok(applied.into_iter().sum())
    }

    /// Relays into partition `part` the outcomes its listed jobs wait for.
    async fn relay_into(&self, part: &Partition) -> Result<u64, QueueError> {
        let listed = part.listed().await?;
        if listed.is_empty() {
            return Ok(0);
        }
        let wanted = router::group(
            listed
                .iter()
                .flat_map(|(_, _, deps)| deps.iter().flatten())
                .map(|(dep, p)| (*p, dep.clone())),
        );
        let reads = wanted.into_iter().map(|(p, (_, mut ids))| async move {
            ids.sort();
            ids.dedup();
            let source = self.part(p);
            let mut statuses = source.statuses_read(&ids, Read::AsIs).await?;
            // Only what the source's replicas hold too is passed on: read
            // again, answered once they do (the rest waits for a later
            // pass). Nothing to pass on (every dependency still to
            // finish): no need to ask.
            let news = statuses.iter().any(|s| s.is_none_or(|s| s.is_finished()));
            if news && self.config.min_replica_acks > 0 {
                match source.statuses_read(&ids, Read::Replicated).await {
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
}
