//! Where a new job lives on a partitioned queue, and batches split by
//! partition. A job goes, in this order of preference:
//! 1. with its parent: a fan-out's children, their counts on the parent,
//!    and a staged fan-in (`wait_also`) stay in one atomic slot;
//! 2. with its first dependency: a chain stays together;
//! 3. by content, for job types that use the content store (registered
//!    with `cache`): the same content submitted twice lands in the same
//!    partition, whose index attaches the second to the first atomically;
//! 4. by its id.
//!
//! Dependencies in another partition are *remote*: the job records them
//! (`remote_deps`), counts them among its pending dependencies, and is
//! listed in `P:remote`; the relay (relay.rs) tells it when they finish.
//!
//! A batch is written as one script call per partition its jobs route
//! to, each all or nothing. Before any of them, the host checks what
//! could refuse a job in one partition and not another (a job type no
//! host registered), so a refused batch writes nothing unless the queue
//! changes between the check and the write.

use super::calls::Spec;
use super::*;

impl Queue {
    /// The partition of each job in `specs` (in batch order; a job may
    /// depend on an earlier one of the batch), filling in each spec's
    /// remote dependencies.
    pub(super) async fn route(
        &self,
        reqs: &[&NewJob],
        specs: &mut [Spec],
    ) -> Result<Vec<u32>, QueueError> {
        let n = self.partitions();
        let ids: Vec<String> = specs.iter().map(|s| s.id.clone()).collect();
        let in_batch: HashMap<&str, usize> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.as_str(), i))
            .collect();
        let mut wanted: Vec<String> = reqs
            .iter()
            .flat_map(|r| r.parent.iter().chain(&r.depends_on))
            .filter(|name| !in_batch.contains_key(name.as_str()))
            .cloned()
            .collect();
        wanted.sort();
        wanted.dedup();
        // Only jobs that would route by content need their type's
        // registration: none, and no round trip, for children, dependents,
        // or with the content store off.
        let types: Vec<String> = reqs
            .iter()
            .zip(specs.iter())
            .filter(|(r, s)| {
                r.parent.is_none()
                    && r.depends_on.is_empty()
                    && s.use_store == "1"
                    && !s.content_hash.is_empty()
            })
            .map(|(_, s)| s.job_type.clone())
            .collect();
        let types: Vec<&str> = types.iter().map(String::as_str).collect();
        let (located, cached) =
            futures::future::try_join(self.locate(&wanted), self.cache_types(&types)).await?;
        let found: HashMap<&str, u32> = wanted
            .iter()
            .zip(located)
            .filter_map(|(name, p)| Some((name.as_str(), p?)))
            .collect();
        let mut parts: Vec<u32> = Vec::with_capacity(specs.len());
        for (i, (req, spec)) in reqs.iter().zip(specs.iter_mut()).enumerate() {
            let place = |name: &str, parts: &[u32]| {
                match in_batch.get(name) {
                    Some(&j) if j < i => parts.get(j).copied(),
                    _ => None,
                }
                .or_else(|| found.get(name).copied())
            };
            let p = if let Some(parent) = &req.parent {
                place(parent, &parts).unwrap_or_else(|| partition::bucket(parent, n))
            } else if let Some(first) = req.depends_on.first() {
                place(first, &parts).unwrap_or_else(|| partition::bucket(&spec.id, n))
            } else if spec.use_store == "1"
                && !spec.content_hash.is_empty()
                && cached.contains(spec.job_type.as_str())
            {
                partition::bucket(&format!("{}:{}", spec.job_type, spec.content_hash), n)
            } else {
                partition::bucket(&spec.id, n)
            };
            let remote: BTreeMap<&str, u32> = req
                .depends_on
                .iter()
                .filter_map(|dep| Some((dep.as_str(), place(dep, &parts).filter(|&q| q != p)?)))
                .collect();
            if !remote.is_empty() {
                spec.remote = serde_json::to_string(&remote)
                    .map_err(|e| QueueError::Protocol(e.to_string()))?;
            }
            parts.push(p);
        }
        Ok(parts)
    }

    /// Which of `types` are registered with `cache` (use the content
    /// store): one `HMGET` in partition 0 (registrations are the same in
    /// every partition).
    async fn cache_types<'a>(&self, types: &[&'a str]) -> Result<HashSet<&'a str>, QueueError> {
        let registered = self.registrations(types).await?;
        Ok(types
            .iter()
            .zip(registered)
            .filter(|(_, reg)| {
                reg.as_deref()
                    .and_then(|r| serde_json::from_str::<serde_json::Value>(r).ok())
                    .is_some_and(|v| v.get("cache") == Some(&serde_json::Value::Bool(true)))
            })
            .map(|(t, _)| *t)
            .collect())
    }

    /// The registration of each of `types` (`None`: no host registered it).
    async fn registrations(&self, types: &[&str]) -> Result<Vec<Option<String>>, QueueError> {
        let hub = self.hub();
        if types.is_empty() {
            return Ok(vec![]);
        }
        Ok(redis::cmd("HMGET")
            .arg(hub.key(&[key::TYPES]))
            .arg(types)
            .query_async(&mut hub.conn())
            .await?)
    }

    /// Writes a checked batch on a partitioned queue: routed, then one
    /// all-or-nothing call per partition, all at once; the answers in batch
    /// order.
    pub(super) async fn submit_across(
        &self,
        requests: &[NewJob],
        mut specs: Vec<Spec>,
    ) -> Result<Vec<Submitted>, BatchError> {
        let at = |index: usize| move |error| BatchError { index, error };
        let reqs: Vec<&NewJob> = requests.iter().collect();
        let parts = self.route(&reqs, &mut specs).await.map_err(at(0))?;
        let groups = router::group(parts.iter().copied().zip(specs.iter().cloned()));
        if groups.len() > 1 && self.config.check_job_types {
            let types: Vec<&str> = specs.iter().map(|s| s.job_type.as_str()).collect();
            let registered = self.registrations(&types).await.map_err(at(0))?;
            if let Some(i) = registered.iter().position(Option::is_none) {
                return Err(at(i)(QueueError::UnknownJobType(specs[i].job_type.clone())));
            }
        }
        let writes = groups.into_iter().map(|(p, (at, group))| async move {
            let written = self.part(p).write_batch(&group).await;
            (at, written)
        });
        let mut out: Vec<Option<Submitted>> = vec![None; specs.len()];
        let mut refused: Option<BatchError> = None;
        for (at, written) in futures::future::join_all(writes).await {
            match written {
                Ok(answers) => {
                    for (i, answer) in at.into_iter().zip(answers) {
                        out[i] = Some(answer);
                    }
                }
                Err(mut e) => {
                    e.index = at.get(e.index).copied().unwrap_or(0);
                    if refused.as_ref().is_none_or(|r| e.index < r.index) {
                        refused = Some(e);
                    }
                }
            }
        }
        if let Some(e) = refused {
            return Err(e);
        }
        out.into_iter()
            .map(|s| s.ok_or_else(|| QueueError::Protocol("a batch job had no answer".into())))
            .collect::<Result<_, _>>()
            .map_err(at(0))
    }
}
