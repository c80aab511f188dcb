//! Partitions: the queue split into `P` full copies of its layout, each
//! under its own hash tag, so each partition's scripts stay atomic in one
//! Redis Cluster slot while the partitions spread over the masters.
//!
//! - Partition 0 is `{prefix}`, the others `{prefix~p}`: with `P = 1` the
//!   keys are those of every release before partitions.
//! - A handle made by [`Queue::connect`] is the *root*: it spreads each
//!   operation over the partitions (routes a submission, claims across
//!   partitions, finds a job by id, adds up figures). [`Queue::part`] gives
//!   a handle on one partition, which runs the single-slot code unchanged.
//! - Where a job lives (see `route.rs`): with its parent, else with its
//!   first dependency, else by content (job types that use the content
//!   store), else by id. A lease's token names its partition, so the hot
//!   path (complete, fail, renew) needs no lookup; other calls by id find
//!   the job with one pipelined `EXISTS` per partition, sent concurrently.
//! - Queue-wide state lives in partition 0 only: hosts, schedules,
//!   provider slots and budgets. Job types, pauses, caps, rates and the
//!   identity marker are written to every partition, since claims and
//!   submissions read them in their own slot (and any master may come back
//!   empty).
//! - `P` is fixed for the life of a queue: `{prefix}:partitions` records it
//!   on first connect, and a handle with another `P` is refused.

use futures::future::try_join_all;

use super::*;

/// The most partitions a queue may have.
pub const MAX_PARTITIONS: u32 = 256;

/// The hash tag's inside for partition `p` of `prefix`.
pub(super) fn tag_name(prefix: &str, p: u32) -> String {
    if p == 0 {
        prefix.to_string()
    } else {
        format!("{prefix}~{p}")
    }
}

/// The partition a routing key falls in: the cluster's own hash (CRC16)
/// modulo `partitions`.
pub(super) fn bucket(key: &str, partitions: u32) -> u32 {
    u32::from(net::slot(key)) % partitions.max(1)
}

/// The nonce a claim in partition `p` sends: random, and naming the
/// partition, so every token it hands out (`<count>-<nonce>`) does too.
pub(super) fn claim_nonce(p: u32) -> String {
    let random = fastrand::u64(..);
    if p == 0 {
        format!("{random:016x}")
    } else {
        format!("{random:016x}.{p}")
    }
}

/// The partition a lease token was handed out in (0 for a token without
/// a partition, as every token is when there is one partition).
pub(super) fn token_partition(token: &str) -> u32 {
    token
        .rsplit_once('.')
        .and_then(|(_, p)| p.parse().ok())
        .unwrap_or(0)
}

impl Queue {
    /// How many partitions the queue has.
    pub fn partitions(&self) -> u32 {
        self.config.partitions.max(1)
    }

    /// The partition that holds job `id` (`None`: no such job).
    pub async fn partition_of(&self, id: &str) -> Result<Option<u32>, QueueError> {
        Ok(self.locate(&[id.to_string()]).await?.pop().flatten())
    }

    /// Whether this handle spreads its operations over several partitions
    /// (the root handle of a partitioned queue).
    pub(super) fn spread(&self) -> bool {
        self.root && self.partitions() > 1
    }

    /// A handle on partition `p` alone.
    pub(super) fn part(&self, p: u32) -> Queue {
        let name = tag_name(&self.config.prefix, p);
        let slot = net::slot(&name);
        Queue {
            connector: self.connector.clone(),
            conn: self.conn.on(slot),
            config: self.config.clone(),
            tag: format!("{{{name}}}"),
            slot,
            index: p,
            root: false,
            notifier: self.notifier.clone(),
        }
    }

    /// Handles on every partition, in order.
    pub(super) fn parts(&self) -> Vec<Queue> {
        (0..self.partitions()).map(|p| self.part(p)).collect()
    }

    /// The partition this handle is on (0 for the root).
    pub(super) fn index(&self) -> u32 {
        self.index
    }

    /// Runs `f` on every partition at once; the answers in partition order.
    pub(super) async fn on_every<T, F, Fut>(&self, f: F) -> Result<Vec<T>, QueueError>
    where
        F: Fn(Queue) -> Fut,
        Fut: std::future::Future<Output = Result<T, QueueError>>,
    {
        try_join_all(self.parts().into_iter().map(f)).await
    }

    /// The handle for the partition a lease token was handed out in.
    pub(super) fn of_token(&self, token: &str) -> Queue {
        let p = token_partition(token);
        if p == 0 || p >= self.partitions() {
            self.part(0)
        } else {
            self.part(p)
        }
    }

    /// Runs `f` on every partition when spread, else on this handle alone.
    pub(super) async fn on_every_spread<T, F, Fut>(&self, f: F) -> Result<Vec<T>, QueueError>
    where
        F: Fn(Queue) -> Fut,
        Fut: std::future::Future<Output = Result<T, QueueError>>,
    {
        if self.spread() {
            self.on_every(f).await
        } else {
            Ok(vec![f(self.clone()).await?])
        }
    }

    /// The partition a lease's token names, as [`Queue::of_token`] reads
    /// it (0 on a queue of one).
    pub fn lease_partition(&self, token: &str) -> u32 {
        let p = token_partition(token);
        if self.spread() && p < self.partitions() {
            p
        } else {
            0
        }
    }

    /// The handle for the partition of a lease (this one, unless spread).
    pub(super) fn leased(&self, token: &str) -> Queue {
        if self.spread() {
            self.of_token(token)
        } else {
            self.clone()
        }
    }

    /// Where each of `ids` lives (`None`: in no partition): one pipelined
    /// `EXISTS` per partition, all partitions at once.
    pub(super) async fn locate(&self, ids: &[String]) -> Result<Vec<Option<u32>>, QueueError> {
        if !self.spread() {
            return Ok(vec![Some(self.index); ids.len()]);
        }
        let found = self
            .on_every(|part| async move {
                let mut found = Vec::with_capacity(ids.len());
                for chunk in ids.chunks(5000) {
                    let mut pipe = redis::pipe();
                    for id in chunk {
                        pipe.exists(part.key(&[key::JOB, id]));
                    }
                    let replies: Vec<bool> = pipe.query_async(&mut part.conn.clone()).await?;
                    found.extend(replies);
                }
                Ok(found)
            })
            .await?;
        Ok((0..ids.len())
            .map(|i| (0..found.len()).find(|&p| found[p][i]).map(|p| p as u32))
            .collect())
    }

    /// The handle for the partition that holds job `id`; when none does,
    /// the partition its id falls in (whose answer is then "no such job").
    pub(super) async fn home(&self, id: &str) -> Result<Queue, QueueError> {
        if !self.spread() {
            return Ok(self.clone());
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
        F: Fn(Queue, Vec<String>) -> Fut,
        Fut: std::future::Future<Output = Result<Vec<Option<T>>, QueueError>>,
    {
        // Every id keeps its place; ids no partition holds stay unanswered.
        let located = self.locate(ids).await?;
        let found = ids.iter().zip(located).enumerate();
        let groups = group(found.filter_map(|(i, (id, p))| Some((p?, (i, id.clone())))));
        let reads = groups.into_iter().map(|(p, (_, group))| {
            let (places, ids): (Vec<usize>, Vec<String>) = group.into_iter().unzip();
            let read = read(self.part(p), ids);
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
        F: Fn(Queue, Vec<String>) -> Fut,
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
                .map(|(p, (_, ids))| run(self.part(p), ids)),
        )
        .await
    }

    /// Records the queue's partition count on first connect; refuses a
    /// handle whose count differs from the recorded one (moving jobs
    /// between partitions is not supported: drain the queue, or use
    /// another prefix).
    pub(super) async fn check_partitions(&self) -> Result<(), QueueError> {
        let key = self.part(0).key(&[key::PARTITIONS]);
        let wanted = self.partitions();
        let (_, recorded): (bool, Option<u32>) = redis::pipe()
            .set_nx(&key, wanted)
            .get(&key)
            .query_async(&mut self.conn.clone())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_tokens_and_buckets() {
        assert_eq!(tag_name("deckhand", 0), "deckhand");
        assert_eq!(tag_name("deckhand", 3), "deckhand~3");
        let nonce = claim_nonce(7);
        assert_eq!(token_partition(&format!("12-{nonce}")), 7);
        assert_eq!(token_partition(&format!("12-{}", claim_nonce(0))), 0);
        assert_eq!(token_partition("12"), 0);
        assert_eq!(token_partition("12-abc.x"), 0);
        for key in ["a", "job-1", "bulk.align.7"] {
            assert!(bucket(key, 4) < 4);
            assert_eq!(bucket(key, 1), 0);
        }
        // Ids spread: 1,000 ids over 4 partitions leave none empty.
        let mut seen = [0u32; 4];
        for i in 0..1000 {
            seen[bucket(&format!("job-{i}"), 4) as usize] += 1;
        }
        assert!(seen.iter().all(|&n| n > 150), "{seen:?}");
    }
}
