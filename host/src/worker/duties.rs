//! A host's background duties beside its claim loops: renewing the leases
//! of its running jobs, reaping the leases of dead hosts, and waking idle
//! claim loops when a job becomes ready anywhere.

use super::*;

impl Worker {
    /// Renews the leases of running jobs every third of the lease, and stops
    /// any job whose lease this host has lost.
    pub(super) async fn renew_loop(self: Arc<Self>, stop: CancellationToken) {
        let every = self.config.lease() / 3;
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
        }
    }

    /// Returns jobs whose lease expired (their host died) to the queue.
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
        }
    }

    /// Wakes idle claim loops when a job becomes ready anywhere.
    pub(super) async fn wake_loop(self: Arc<Self>, stop: CancellationToken) {
        loop {
            let subscribed = async {
                let mut pubsub = self.queue.pubsub().await?;
                pubsub.subscribe(self.queue.wake_channel()).await?;
                Ok::<_, QueueError>(pubsub)
            }
            .await;
            match subscribed {
                Ok(mut pubsub) => {
                    // Anything may have become ready while we were away.
                    self.wake.notify_waiters();
                    let mut messages = pubsub.on_message();
                    loop {
                        tokio::select! {
                            msg = messages.next() => match msg {
                                Some(_) => self.wake.notify_waiters(),
                                None => break,
                            },
                            _ = stop.cancelled() => return,
                        }
                    }
                    tracing::debug!("wake-up subscription dropped; resubscribing");
                }
                Err(e) => tracing::debug!("cannot subscribe for wake-ups: {e}"),
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                _ = stop.cancelled() => return,
            }
        }
    }
}
