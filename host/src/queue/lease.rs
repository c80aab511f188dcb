//! A job's life under a lease: claim, complete, fail and retry, renew, reap
//! expired leases, hand back, cancel; progress and token usage of a running job.

use super::*;

impl Queue {
    /// Claims up to `count` ready jobs of the given types for `host`.
    pub async fn claim(
        &self,
        host: &str,
        job_types: &[&str],
        count: usize,
        lease: Duration,
    ) -> Result<Vec<ClaimedJob>, QueueError> {
        Ok(self.claim_next(host, job_types, count, lease).await?.jobs)
    }

    /// Like [`Queue::claim`], also saying when the next scheduled job comes
    /// due, so an idle host sleeps until then and not longer.
    pub async fn claim_next(
        &self,
        host: &str,
        job_types: &[&str],
        count: usize,
        lease: Duration,
    ) -> Result<Claim, QueueError> {
        if job_types.is_empty() || count == 0 {
            return Ok(Claim::default());
        }
        match self.single() {
            Some(only) => only.claim(host, job_types, count, lease).await,
            None => self.claim_across(host, job_types, count, lease).await,
        }
    }

    /// Claims across partitions: from a random one first (over many calls
    /// every partition is first as often), then the next, until `count`
    /// jobs are taken or every partition was asked. The next due time is
    /// the soonest of those asked. A partition that cannot answer (its
    /// master failing over) is passed over, so the jobs already leased in
    /// others are run, not left to expire; the error is returned only when
    /// no partition answered.
    async fn claim_across(
        &self,
        host: &str,
        job_types: &[&str],
        count: usize,
        lease: Duration,
    ) -> Result<Claim, QueueError> {
        let n = self.partitions();
        let first = fastrand::u32(..n);
        let mut claim = Claim::default();
        let (mut answered, mut failed) = (false, None);
        for step in 0..n {
            let wanted = count.min(MAX_CLAIM) - claim.jobs.len();
            if wanted == 0 {
                break;
            }
            let part = self.part((first + step) % n);
            let taken = match part.claim(host, job_types, wanted, lease).await {
                Ok(taken) => taken,
                Err(e) => {
                    tracing::debug!(partition = part.index(), "claim failed: {e}");
                    failed.get_or_insert(e);
                    continue;
                }
            };
            answered = true;
            claim.jobs.extend(taken.jobs);
            claim.next_due = match (claim.next_due, taken.next_due) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        match failed {
            Some(e) if !answered => Err(e),
            _ => Ok(claim),
        }
    }

    /// Records a result, if `job`'s lease is still held.
    pub async fn complete(
        &self,
        job: &ClaimedJob,
        result: &str,
        plugin_version: &str,
    ) -> Result<Ack, QueueError> {
        self.complete_as(job, result, plugin_version, false).await
    }

    /// Like [`Queue::complete`]; `cache_hit` marks a result taken from the
    /// content directory instead of a run.
    pub async fn complete_as(
        &self,
        job: &ClaimedJob,
        result: &str,
        plugin_version: &str,
        cache_hit: bool,
    ) -> Result<Ack, QueueError> {
        let acks = self
            .complete_many(&[Completion {
                job,
                result,
                plugin_version,
                cache_hit,
            }])
            .await?;
        acks.into_iter()
            .next()
            .ok_or_else(|| QueueError::Protocol("complete returned no reply".into()))
    }

    /// Records several results in one atomic step and one round trip; each
    /// is checked against its own lease. Returns one ack per completion, in
    /// order. At most [`MAX_COMPLETE_BATCH`] at once.
    pub async fn complete_many(
        &self,
        completions: &[Completion<'_>],
    ) -> Result<Vec<Ack>, QueueError> {
        if completions.len() > MAX_COMPLETE_BATCH {
            return Err(invalid(
                "completions",
                format!(
                    "{} in one call; at most {MAX_COMPLETE_BATCH}",
                    completions.len()
                ),
            ));
        }
        if completions.is_empty() {
            return Ok(vec![]);
        }
        match self.single() {
            Some(only) => only.complete(completions).await,
            None => self.complete_across(completions).await,
        }
    }

    /// Records results in the partitions their leases name, one call per
    /// partition, all at once; the acks in the order of `completions`.
    async fn complete_across(
        &self,
        completions: &[Completion<'_>],
    ) -> Result<Vec<Ack>, QueueError> {
        let groups = router::group(
            completions
                .iter()
                .map(|c| (self.lease_partition(&c.job.token), *c)),
        );
        let calls = groups.into_iter().map(|(p, (at, group))| async move {
            let acks = self.part(p).complete(&group).await?;
            Ok::<_, QueueError>((at, acks))
        });
        let answered = futures::future::try_join_all(calls).await?;
        let out: Vec<Ack> = router::scatter(completions.len(), answered)
            .into_iter()
            .map(|ack| ack.unwrap_or(Ack::Stale))
            .collect();
        self.share_content(completions, &out).await;
        Ok(out)
    }

    /// Records a failed attempt, if `job`'s lease is still held: a retry
    /// after the strategy's backoff while retries remain and the failure is
    /// retryable, otherwise the dead-letter queue.
    pub async fn fail(
        &self,
        job: &ClaimedJob,
        failure: &JobFailure,
        host: &str,
        plugin_version: &str,
    ) -> Result<Ack, QueueError> {
        let entry = ErrorEntry {
            attempt: job.attempt,
            kind: failure.kind().to_string(),
            message: failure.to_string(),
            host: Some(host.to_string()),
            at: now_ms(),
        };
        let entry =
            serde_json::to_string(&entry).map_err(|e| QueueError::Protocol(e.to_string()))?;
        let part = self.of_token(&job.token);
        part.run_write(&calls::FailJob {
            id: &job.id,
            token: &job.token,
            entry,
            retryable: failure.retryable(),
            feedback: failure.feedback().unwrap_or(""),
            delay: self.config.retry.delay(job.attempt),
            plugin_version,
            lifetimes: part.lifetimes(),
        })
        .await
    }

    /// Extends leases; returns the ids whose lease was lost.
    pub async fn renew(
        &self,
        leases: &[(String, String)],
        lease: Duration,
    ) -> Result<Vec<String>, QueueError> {
        if leases.is_empty() {
            return Ok(vec![]);
        }
        if let Some(only) = self.single() {
            return only.run(&calls::RenewLeases { lease, leases }).await;
        }
        let groups = router::group(
            leases
                .iter()
                .map(|pair| (self.lease_partition(&pair.1), pair.clone())),
        );
        let calls = groups.into_iter().map(|(p, (_, group))| async move {
            let leases = &group;
            self.part(p)
                .run(&calls::RenewLeases { lease, leases })
                .await
        });
        let lost = futures::future::try_join_all(calls).await?;
        Ok(lost.into_iter().flatten().collect())
    }

    /// Returns jobs with expired leases to the queue (or the dead-letter
    /// queue, when out of retries). Returns (id, new status) pairs.
    /// A job whose claiming host never renewed its lease but pulsed after
    /// it ran out never started (the claim's reply was lost): it goes back
    /// without spending an attempt (see `reap.lua`).
    pub async fn reap(&self) -> Result<Vec<(String, JobStatus)>, QueueError> {
        let live = serde_json::to_string(&self.pulses().await?)
            .map_err(|e| QueueError::Protocol(e.to_string()))?;
        let live = &live;
        let reaped = self
            .on_every(|part| async move {
                let lifetimes = part.lifetimes();
                part.run(&calls::ReapLeases {
                    max: 1000,
                    lifetimes,
                    pulses: live,
                })
                .await
            })
            .await?;
        Ok(reaped.into_iter().flatten().collect())
    }

    /// Hands a running job back to the queue at once; the attempt does not count.
    pub async fn release(&self, job: &ClaimedJob) -> Result<Ack, QueueError> {
        self.of_token(&job.token)
            .run(&calls::ReleaseJob {
                id: &job.id,
                token: &job.token,
            })
            .await
    }

    /// Cancels a job that has not finished; its dependents end dead.
    pub async fn cancel(&self, id: &str) -> Result<Cancel, QueueError> {
        let part = self.holder(id).await?;
        part.run(&calls::CancelJob {
            id,
            lifetimes: part.lifetimes(),
        })
        .await
    }

    /// Records progress reported by a running job, in the partition its
    /// lease `token` names (no lookup).
    pub async fn set_progress(
        &self,
        id: &str,
        token: &str,
        fraction: f32,
        message: &str,
    ) -> Result<(), QueueError> {
        let home = self.of_token(token);
        let _: () = home
            .conn()
            .hset_multiple(
                home.key(&[key::JOB, id]),
                &[
                    ("progress", fraction.to_string()),
                    ("progress_message", message.to_string()),
                ],
            )
            .await?;
        Ok(())
    }

    /// Adds what an attempt's LLM calls spent to a running job's record, in
    /// the partition its lease `token` names (no lookup); false when the
    /// job is gone (nothing written then).
    pub async fn add_usage(
        &self,
        id: &str,
        token: &str,
        usage: &LlmUsage,
    ) -> Result<bool, QueueError> {
        self.of_token(token)
            .run(&calls::AddLlmUsage { id, usage })
            .await
    }

    /// Adds an attempt's outbound HTTP (requests, body bytes both ways) to
    /// job `id`'s record.
    pub async fn add_outbound(
        &self,
        id: &str,
        token: &str,
        requests: u64,
        bytes: u64,
    ) -> Result<(), QueueError> {
        let home = self.of_token(token);
        let key = home.key(&[key::JOB, id]);
        let _: () = redis::pipe()
            .hincr(&key, field::HTTP_REQUESTS, requests)
            .hincr(&key, field::HTTP_BYTES, bytes)
            .query_async(&mut home.conn())
            .await?;
        Ok(())
    }
}
