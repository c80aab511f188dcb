//! How a host works the queue: loops, batch sizes, leases and intervals.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How a host works the queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkerConfig {
    /// Concurrent claim loops on this host.
    pub worker_count: usize,
    /// Jobs one loop keeps running at once; it claims them in atomic steps
    /// of a quarter this many, kept within 16 to 50. A host runs at most
    /// `worker_count × batch_size` jobs.
    pub batch_size: usize,
    /// How long a claim holds a job before other hosts may take it back.
    /// Renewed every third of this while the job runs.
    pub lease_ms: u64,
    /// How long running jobs may finish after SIGTERM before their leases
    /// are handed back.
    pub shutdown_timeout_ms: u64,
    /// Longest an idle loop waits before looking again (jobs becoming ready
    /// wake it at once through pub/sub; this covers retries coming due).
    pub idle_poll_ms: u64,
    /// How often this host looks for expired leases.
    pub reap_interval_ms: u64,
    /// How often the plugin directory is rescanned (hot reload).
    pub reload_interval_ms: u64,
    /// How often this host re-registers its job types even when nothing
    /// changed (so a wiped or replaced Redis learns them again).
    pub heartbeat_ms: u64,
    /// Stop claiming while this process' resident memory is above this
    /// many MiB (the seed's MemoryManager); 0: no guard.
    pub max_memory_mb: u64,
    /// Name of this host in leases and error histories. Empty: hostname-pid.
    pub host_id: String,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            worker_count: 1,
            batch_size: 10,
            lease_ms: 30_000,
            shutdown_timeout_ms: 30_000,
            idle_poll_ms: 1_000,
            reap_interval_ms: 5_000,
            reload_interval_ms: 1_000,
            heartbeat_ms: 10_000,
            max_memory_mb: 0,
            host_id: String::new(),
        }
    }
}

impl WorkerConfig {
    pub(super) fn lease(&self) -> Duration {
        Duration::from_millis(self.lease_ms.max(100))
    }
}

/// A name for this host: `hostname-pid`.
pub fn default_host_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".into());
    format!("{host}-{}", std::process::id())
}
