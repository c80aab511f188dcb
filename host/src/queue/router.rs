//! The router: the queue split into `P` partitions (see `partition/`),
//! each a full copy of its layout under its own hash tag, so each
//! partition's scripts stay atomic in one Redis Cluster slot while the
//! partitions spread over the masters. [`Queue`] holds every partition and
//! picks the one an operation runs on, or runs it on each and gathers the
//! answers; it never calls itself.
//!
//! - Where a job lives (see `route.rs`): with its parent, else with its
//!   first dependency, else by content (job types that use the content
//!   store), else by id. A lease's token names its partition, so the hot
//!   path (complete, fail, renew) needs no lookup; other calls by id find
//!   the job with one pipelined `EXISTS` per partition, sent concurrently.
//!   With one partition every call goes straight to it ([`Queue::single`]).
//! - Queue-wide state lives in partition 0 only ([`Queue::hub`]): hosts,
//!   schedules, provider slots and budgets. Job types, pauses, caps, rates
//!   and the identity marker are written to every partition, since claims
//!   and submissions read them in their own slot (and any master may come
//!   back empty).
//! - `P` is fixed for the life of a queue: `{prefix}:partitions` records it
//!   on first connect, and a handle with another `P` is refused.

use futures::future::try_join_all;

use super::partition::{Partition, bucket, token_partition};
use super::*;

impl Queue {
    /// How many partitions the queue has.
    pub fn partitions(&self) -> u32 {
        self.parts.len() as u32
    }

    /// The partition that holds job `id` (`None`: no such job).
    pub async fn partition_of(&self, id: &str) -> Result<Option<u32>, QueueError> {
        Ok(self.locate(&[id.to_string()]).await?.pop().flatten())
    }

    /// Partition 0, which holds the queue-wide state (hosts, schedules,
    /// provider slots and budgets, the LLM ledger and batch lane, the
    /// key-value store).
    pub(super) fn hub(&self) -> &Partition {
        &self.parts[0]
    }

    /// The only partition, when the queue has one: every operation goes
    /// straight to it, with no lookup and nothing to add up.
    pub(super) fn single(&self) -> Option<&Partition> {
        match &self.parts[..] {
            [only] => Some(only),
            _ => None,
        }
    }

    /// Partition `p` (partition 0 for a number past the last).
    pub(super) fn part(&self, p: u32) -> &Partition {
        self.parts.get(p as usize).unwrap_or(&self.parts[0])
    }

    /// Runs `f` on every partition at once; the answers in partition order.
    pub(super) async fn on_every<T, F, Fut>(&self, f: F) -> Result<Vec<T>, QueueError>
    where
        F: Fn(Partition) -> Fut,
        Fut: std::future::Future<Output = Result<T, QueueError>>,
    {
        try_join_all(self.parts.iter().cloned().map(f)).await
    }

    /// The partition a lease's token names (0 on a queue of one, or for a
    /// token naming no partition of this queue).
    pub fn lease_partition(&self, token: &str) -> u32 {
        let p = token_partition(token);
        if p < self.partitions() { p } else { 0 }
    }

    /// The partition a lease token was handed out in.
    pub(super) fn of_token(&self, token: &str) -> &Partition {
        self.part(self.lease_partition(token))
    }

    /// Where each of `ids` lives (`None`: in no partition): one pipelined
    /// `EXISTS` per partition, all partitions at once.
    pub(super) async fn locate(&self, ids: &[String]) -> Result<Vec<Option<u32>>, QueueError> {
        if self.single().is_some() {
            return Ok(vec![Some(0); ids.len()]);
        }
        let found = self
            .on_every(|part| async move {
                let mut found = Vec::with_capacity(ids.len());
                for chunk in ids.chunks(5000) {
                    let mut pipe = redis::pipe();
                    for id in chunk {
                        pipe.exists(part.key(&[key::JOB, id]));
                    }
                    let replies: Vec<bool> = pipe.query_async(&mut part.conn()).await?;
                    found.extend(replies);
                }
                Ok(found)
            })
            .await?;
        Ok((0..ids.len())
            .map(|i| (0..found.len()).find(|&p| found[p][i]).map(|p| p as u32))
            .collect())
    }

    /// The partition that holds job `id`; when none does, the partition its
    /// id falls in (whose answer is then "no such job").
    pub(super) async fn holder(&self, id: &str) -> Result<&Partition, QueueError> {
        if let Some(only) = self.single() {
            return Ok(only);
        }
        let located = self.locate(&[id.to_string()]).await?;
        let p = located
            .first()
            .copied()
            .flatten()
            .unwrap_or_else(|| bucket(id, self.partitions()));
        Ok(self.part(p))
    }

    /// Runs a per-job read on each partition with the ids it holds, and
    /// puts the answers back in the order of `ids` (`None` for an id no
    /// partition holds).
    pub(super) async fn per_job<T, F, Fut>(
        &self,
        ids: &[String],
        read: F,
    ) -> Result<Vec<Option<T>>, QueueError>
    where
        F: Fn(Partition, Vec<String>) -> Fut,
        Fut: std::future::Future<Output = Result<Vec<Option<T>>, QueueError>>,
    {
        // Every id keeps its place; ids no partition holds stay unanswered.
        let located = self.locate(ids).await?;
        let found = ids.iter().zip(located).enumerate();
        let groups = group(found.filter_map(|(i, (id, p))| Some((p?, (i, id.clone())))));
        let reads = groups.into_iter().map(|(p, (_, group))| {
            let (places, ids): (Vec<usize>, Vec<String>) = group.into_iter().unzip();
            let read = read(self.part(p).clone(), ids);
            async move { Ok::<_, QueueError>((places, read.await?)) }
        });
        let answered = try_join_all(reads).await?;
        Ok(scatter(ids.len(), answered)
            .into_iter()
            .map(Option::flatten)
            .collect())
    }

    /// Runs an operation over named jobs on each partition with the ids it
    /// holds (ids no partition holds are dropped); with no ids, on every
    /// partition with none (the operation's "all of them").
    pub(super) async fn per_partition<T, F, Fut>(
        &self,
        ids: &[String],
        run: F,
    ) -> Result<Vec<T>, QueueError>
    where
        F: Fn(Partition, Vec<String>) -> Fut,
        Fut: std::future::Future<Output = Result<T, QueueError>>,
    {
        if ids.is_empty() {
            return self.on_every(|part| run(part, vec![])).await;
        }
        let located = self.locate(ids).await?;
        let groups = group(
            ids.iter()
                .zip(located)
                .filter_map(|(id, p)| Some((p?, id.clone()))),
        );
        try_join_all(
            groups
                .into_iter()
                .map(|(p, (_, ids))| run(self.part(p).clone(), ids)),
        )
        .await
    }

    /// Records the queue's partition count on first connect; refuses a
    /// handle whose count differs from the recorded one (moving jobs
    /// between partitions is not supported: drain the queue, or use
    /// another prefix).
    pub(super) async fn check_partitions(&self) -> Result<(), QueueError> {
        let hub = self.hub();
        let key = hub.key(&[key::PARTITIONS]);
        let wanted = self.partitions();
        let (_, recorded): (bool, Option<u32>) = redis::pipe()
            .set_nx(&key, wanted)
            .get(&key)
            .query_async(&mut hub.conn())
            .await?;
        match recorded {
            Some(n) if n != wanted => Err(invalid(
                "partitions",
                format!(
                    "the queue {:?} has {n} partitions and this host is set to {wanted}; the count is fixed for the life of a queue (drain it and use a new prefix to change it)",
                    self.config.prefix
                ),
            )),
            _ => Ok(()),
        }
    }
}

/// Items grouped by partition, in their order within each group, with each
/// item's place among the items (to put answers back in order).
pub(super) type Groups<T> = BTreeMap<u32, (Vec<usize>, Vec<T>)>;

/// Groups `(partition, item)` pairs by partition.
pub(super) fn group<T>(items: impl IntoIterator<Item = (u32, T)>) -> Groups<T> {
    let mut groups: Groups<T> = BTreeMap::new();
    for (i, (p, item)) in items.into_iter().enumerate() {
        let group = groups.entry(p).or_default();
        group.0.push(i);
        group.1.push(item);
    }
    groups
}

/// Puts each group's answers back at their items' places among `len`
/// (`None` where no group answered).
pub(super) fn scatter<T>(
    len: usize,
    answered: impl IntoIterator<Item = (Vec<usize>, Vec<T>)>,
) -> Vec<Option<T>> {
    let mut out: Vec<Option<T>> = (0..len).map(|_| None).collect();
    for (places, answers) in answered {
        for (i, answer) in places.into_iter().zip(answers) {
            out[i] = Some(answer);
        }
    }
    out
}

/// Counters from every partition added up by name.
pub(super) fn add_up<N: Copy + Default + std::ops::AddAssign>(
    each: impl IntoIterator<Item = BTreeMap<String, N>>,
) -> BTreeMap<String, N> {
    let mut total = BTreeMap::new();
    for counts in each {
        for (name, n) in counts {
            *total.entry(name).or_default() += n;
        }
    }
    total
}
