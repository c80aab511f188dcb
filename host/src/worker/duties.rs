//! A host's background duties beside its claim loops: renewing the leases
//! of its running jobs, reaping the leases of dead hosts, relaying remote
//! dependencies on a partitioned queue, and listening for jobs made ready
//! (to wake idle claim loops) and running jobs cancelled (to stop them at
//! once).

use super::*;

/// How often the relay looks for jobs waiting on other partitions.
const RELAY_INTERVAL: Duration = Duration::from_millis(100);

impl Worker {
    /// Renews the leases of running jobs every third of the lease, and stops
    /// any job whose lease this host has lost.
    pub(super) async fn renew_loop(self: Arc<Self>, stop: CancellationToken) {
        let every = self.config.lease() / 3;
        self.pulse(every).await;
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = stop.cancelled() => return,
            }
            let leases: Vec<(String, String)> = lock(&self.in_flight)
                .values()
                .map(|f| (f.job.id.clone(), f.job.token.clone()))
                .collect();
            match self.queue.renew(&leases, self.config.lease()).await {
                Ok(lost) => {
                    if !lost.is_empty() {
                        let map = lock(&self.in_flight);
                        for id in &lost {
                            if let Some(f) = map.get(id) {
                                tracing::warn!(job_id = %id, "lease lost; stopping the job here");
                                f.cancel.cancel();
                            }
                        }
                    }
                }
                Err(e) => tracing::warn!("lease renewal failed: {e}"),
            }
            // After the renewal: a pulse newer than a lease's end says the
            // host let it go (or never got it), not that it was late.
            self.pulse(every).await;
        }
    }

    /// Alive and renewing: how the reaper tells a claim whose reply never
    /// came from a crashed host's job (`reap.lua`).
    async fn pulse(&self, every: Duration) {
        if let Err(e) = self.queue.pulse(&self.host_id, every).await {
            tracing::debug!("pulse failed: {e}");
        }
    }

    /// Returns jobs whose lease expired (their host died) to the queue,
    /// and ends the durable waits that ran out.
    pub(super) async fn reap_loop(self: Arc<Self>, stop: CancellationToken) {
        let every = Duration::from_millis(self.config.reap_interval_ms.max(50));
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = stop.cancelled() => return,
            }
            match self.queue.reap().await {
                Ok(reaped) => {
                    for (id, status) in reaped {
                        tracing::warn!(job_id = %id, %status, "reaped an expired lease");
                    }
                }
                Err(e) => tracing::debug!("reap failed: {e}"),
            }
            match self.queue.expire_waits().await {
                Ok(ended) => {
                    for (id, status) in ended {
                        tracing::info!(job_id = %id, %status, "a wait ran out");
                    }
                }
                Err(e) => tracing::debug!("ending waits that ran out failed: {e}"),
            }
        }
    }

    /// On a partitioned queue: tells jobs waiting on jobs in other
    /// partitions that those finished (see `queue/relay.rs`).
    pub(super) async fn relay_loop(self: Arc<Self>, stop: CancellationToken) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(RELAY_INTERVAL) => {}
                _ = stop.cancelled() => return,
            }
            match self.queue.relay().await {
                Ok(0) => {}
                Ok(n) => tracing::debug!("relayed {n} remote dependency outcomes"),
                Err(e) => tracing::debug!("relay failed: {e}"),
            }
        }
    }

    /// Runs the LLM batch lane (gathering deferred calls into batches,
    /// polling them, waking their jobs) while this host holds its lock;
    /// another host takes over when this one stops.
    pub(super) async fn batch_loop(self: Arc<Self>, llm: LlmClient, stop: CancellationToken) {
        let every = Duration::from_millis(llm.config().batch.poll_ms);
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = stop.cancelled() => return,
            }
            if let Err(e) = llm.batch_round(&self.host_id).await {
                tracing::warn!("LLM batch lane: {e}");
            }
        }
    }

    /// Listens through the queue's notifier: a job ready anywhere wakes idle
    /// claim loops; a running job of this host cancelled anywhere is
    /// stopped at once (its instance dropped, a host call such as an LLM
    /// request with it), not at the next lease renewal.
    pub(super) async fn listen_loop(self: Arc<Self>, stop: CancellationToken) {
        let (mut wake, mut cancelled) = loop {
            let listening = async {
                let wake = self.queue.listen(Topic::Wake).await?;
                Ok::<_, QueueError>((wake, self.queue.listen(Topic::Cancelled).await?))
            };
            match listening.await {
                Ok(listeners) => break listeners,
                Err(e) => tracing::debug!("cannot listen for wake-ups and cancels: {e}"),
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                _ = stop.cancelled() => return,
            }
        };
        // Anything may have become ready before we listened.
        self.wake.notify_waiters();
        loop {
            tokio::select! {
                // A wake-up, or a gap in which one may have been missed.
                _ = wake.recv() => self.wake.notify_waiters(),
                notice = cancelled.recv() => {
                    // A cancel missed in a gap is seen at the next renewal.
                    if let Notice::Message(id) = notice {
                        self.stop_cancelled(id.as_str());
                    }
                }
                _ = stop.cancelled() => return,
            }
        }
    }

    /// Stops job `id` if this host runs it: it was cancelled.
    fn stop_cancelled(&self, id: &str) {
        if let Some(f) = lock(&self.in_flight).get(id) {
            tracing::info!(job_id = %id, "cancelled while running; stopping it");
            f.cancel.cancel();
        }
    }
}
