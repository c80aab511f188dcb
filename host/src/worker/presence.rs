//! This host's presence in the queue: the plugin directory rescan (hot
//! reload), job type registration and heartbeats, and the watch on the
//! queue's identity marker that notices when Redis has lost its data.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{Worker, lock};
use crate::metrics::resident_bytes;
use crate::queue::{Durability, RegisteredType, now_ms};

/// How long `/health` stays degraded after the queue's data was lost.
pub const DATA_LOSS_DEGRADED: Duration = Duration::from_secs(3600);

/// What this host knows about the queue it joined.
#[derive(Default)]
pub struct Presence {
    /// The identity marker as this host last saw it.
    identity: std::sync::Mutex<Option<String>>,
    /// Unix ms of the last time (0: never).
    pub data_lost_at: AtomicU64,
    /// Redis' persistence settings, read at start.
    durability: std::sync::Mutex<Durability>,
}

impl Presence {
    /// Redis' persistence settings as read at start.
    pub fn durability(&self) -> Durability {
        lock(&self.durability).clone()
    }

    /// Whether the queue lost its data within [`DATA_LOSS_DEGRADED`].
    pub fn recently_lost(&self) -> bool {
        let at = self.data_lost_at.load(Ordering::Relaxed);
        at > 0 && now_ms().saturating_sub(at) < DATA_LOSS_DEGRADED.as_millis() as u64
    }
}

impl Worker {
    /// Reads Redis' persistence settings and warns when they allow loss.
    async fn check_durability(&self) {
        let durability = self.queue.durability().await;
        match (&durability.appendonly, &durability.maxmemory_policy) {
            (None, None) => tracing::info!(
                "cannot read Redis' appendonly and maxmemory-policy (CONFIG is refused); make sure it persists and never evicts"
            ),
            _ => {
                for risk in durability.risks() {
                    tracing::warn!("Redis may lose jobs: {risk}");
                }
            }
        }
        *lock(&self.presence.durability) = durability;
    }

    /// Compares the identity marker with what this host saw last. Returns
    /// true when the queue's data is gone (the marker vanished or changed);
    /// a new marker is then claimed.
    async fn identity_lost(&self) -> bool {
        let now = match self.queue.identity().await {
            Ok(now) => now,
            Err(_) => return false, // unreachable: nothing to compare
        };
        let seen = lock(&self.presence.identity).clone();
        let lost = match (&seen, &now) {
            (Some(seen), Some(now)) => seen != now,
            (Some(_), None) => true,
            (None, _) => false,
        };
        if lost || now.is_none() {
            match self.queue.claim_identity().await {
                Ok(id) => *lock(&self.presence.identity) = Some(id),
                Err(e) => tracing::warn!("cannot write the queue's identity marker: {e}"),
            }
        } else if seen.is_none() {
            // A host that starts after another claimed the marker keeps it
            // too: else it would never notice the marker vanish.
            *lock(&self.presence.identity) = now;
        }
        if lost {
            self.metrics.queue_data_lost.fetch_add(1, Ordering::Relaxed);
            self.presence
                .data_lost_at
                .store(now_ms(), Ordering::Relaxed);
            tracing::error!(
                "the queue's data is gone: Redis restarted empty, was flushed or failed over \
                 to a replica without it (its identity marker vanished). Jobs queued or \
                 running before are lost; re-registering this host's job types now. \
                 Run Redis with appendonly yes to keep jobs across restarts."
            );
        }
        lost
    }

    /// Rescans the plugin directory, registers this host's job types and
    /// beats; watches the identity marker every rescan, re-registering at
    /// once when the data is gone.
    pub(super) async fn presence_loop(self: Arc<Self>, stop: CancellationToken) {
        self.check_durability().await;
        let every = Duration::from_millis(self.config.reload_interval_ms.max(50));
        let heartbeat = Duration::from_millis(self.config.heartbeat_ms.max(50));
        let mut registered: Option<(Vec<RegisteredType>, tokio::time::Instant)> = None;
        loop {
            if self.identity_lost().await {
                registered = None;
            }
            let types = self.job_types();
            let due = match &registered {
                Some((last, at)) => *last != types || at.elapsed() >= heartbeat,
                None => true,
            };
            if due {
                let beat = self.heartbeat();
                let sent = async {
                    let model = self
                        .services
                        .llm
                        .as_ref()
                        .map(|l| l.config().model.clone())
                        .unwrap_or_default();
                    self.queue
                        .register_job_types_every(&self.host_id, &types, heartbeat, &model)
                        .await?;
                    self.queue.heartbeat(&self.host_id, &beat).await
                };
                match sent.await {
                    Ok(()) => registered = Some((types, tokio::time::Instant::now())),
                    Err(e) => tracing::warn!("cannot register job types: {e}"),
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = stop.cancelled() => return,
            }
            match self.registry.rescan().await {
                Ok(report) => {
                    if !report.is_empty() {
                        self.registry.log_report(&report);
                        self.wake.notify_waiters();
                    }
                }
                Err(e) => tracing::warn!("{e}"),
            }
        }
    }

    /// What this host tells the cluster about itself (`deckhand hosts`).
    pub fn heartbeat(&self) -> serde_json::Value {
        let snapshot = self.registry.snapshot();
        serde_json::json!({
            "host": self.host_id,
            "at": now_ms(),
            "interval_ms": self.config.heartbeat_ms,
            "processed_jobs": self.metrics.processed("completed"),
            "failed_jobs": self.metrics.processed("retried") + self.metrics.processed("dead"),
            "running": self.running(),
            "current_memory_mb": resident_bytes() / (1024 * 1024),
            "uptime_secs": self.metrics.uptime().as_secs(),
            "plugins": snapshot.plugins().map(|p| p.info.name.clone()).collect::<Vec<_>>(),
        })
    }

    fn job_types(&self) -> Vec<RegisteredType> {
        let snapshot = self.registry.snapshot();
        let mut types: Vec<RegisteredType> = snapshot
            .plugins()
            .flat_map(|p| {
                p.info.job_types.iter().filter_map(|t| {
                    // Only the plugin that won the type (conflicts are refused).
                    snapshot
                        .plugin_for(&t.name)
                        .filter(|w| Arc::ptr_eq(w, p))
                        .map(|_| RegisteredType {
                            job_type: t.name.clone(),
                            plugin: p.info.name.clone(),
                            version_id: p.version_id.clone(),
                            cache: t.needs_llm,
                        })
                })
            })
            .collect();
        types.sort();
        types
    }
}
