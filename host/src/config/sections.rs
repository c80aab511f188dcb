//! The configuration's sections and their defaults: one type per table of
//! `deckhand.toml` (`[retry]`, `[queue]`, `[limits]`, `[job_types.*]`,
//! `[content]`, `[api]`, `[log]`).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::MIB;
use crate::queue::{QueueConfig, RetryStrategy};
use crate::runtime::RuntimeConfig;
use crate::worker::WorkerConfig;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetrySection {
    /// Seconds; delay = backoff_factor · 2^attempt (≥ 0).
    pub backoff_factor: f64,
    /// Multiply each delay by a uniform factor in [0.5, 1.5).
    pub jitter: bool,
    /// Seconds (≥ 0).
    pub max_delay: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueueSection {
    /// Seconds completed and cancelled jobs and results are kept (≥ 1).
    pub result_ttl: u64,
    /// Seconds dead jobs stay in the dead-letter queue unless replayed or
    /// purged (≥ 1); record and entry expire together.
    pub dead_ttl: u64,
    /// Most jobs the dead-letter queue holds; the oldest go first (≥ 1).
    pub dead_max: u64,
    /// Most jobs one batch submission may hold (1 to 100000).
    pub max_batch_jobs: usize,
    /// Most child jobs one job may submit (≥ 1).
    pub max_children: u64,
    /// Most jobs one run may make: the jobs a top-level job's children,
    /// their children and so on submit, at any depth (≥ 1).
    pub max_run_jobs: u64,
    pub max_payload_bytes: usize,
    /// Milliseconds a claim holds a job (≥ 100).
    pub lease_ms: u64,
    /// The furthest ahead a job may be scheduled, in days (1 to 3660).
    pub max_schedule_ahead_days: u64,
    pub reap_interval_ms: u64,
    pub reload_interval_ms: u64,
    /// Replicas that must hold a submission or an outcome before it is
    /// acknowledged (Redis `WAIT`; 0 to 16; 0: the master alone).
    pub min_replica_acks: u32,
    /// Milliseconds a write waits for those replicas (1 to 60000).
    pub replica_ack_timeout_ms: u64,
    /// Partitions the queue is split into, each under its own hash tag so
    /// a Redis Cluster spreads them over its masters (1 to 256; 1: one
    /// slot, the layout of every release before partitions). Fixed for the
    /// life of a queue.
    pub partitions: u32,
    /// PEM file of the CAs to trust for a `rediss://` Redis instead of the
    /// system's (a private or self-signed server certificate).
    pub tls_ca_file: Option<std::path::PathBuf>,
    /// PEM client certificate, for a Redis that asks for one; with
    /// `tls_key_file`.
    pub tls_cert_file: Option<std::path::PathBuf>,
    /// PEM private key of `tls_cert_file`.
    pub tls_key_file: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsSection {
    pub default_timeout_ms: u64,
    pub max_timeout_ms: u64,
    pub default_memory_mb: u64,
    pub max_memory_mb: u64,
    /// Run jobs in pre-reserved instance slots (wasmtime's pooling
    /// allocator): several times faster to start a job than mapping fresh
    /// memory for each, at the price of reserved address space.
    pub pooling: bool,
    /// Slots to reserve; 0: one per job this host can run at once
    /// (`worker_count × batch_size`) plus a few for loading plugins.
    pub pool_instances: u32,
}

/// Slots beyond the jobs in flight: plugin loads and reloads instantiate too.
pub(super) const POOL_SPARE_SLOTS: usize = 8;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JobTypeLimits {
    pub timeout_ms: Option<u64>,
    pub memory_mb: Option<u64>,
    /// Most jobs of the type running at once across all hosts (1 to
    /// 1000000); the host sets this cap in Redis when it starts.
    pub max_running: Option<u64>,
    /// Largest payload of the type, in bytes, in place of
    /// `queue.max_payload_bytes` (e.g. a bulk job carrying its records).
    pub max_payload_bytes: Option<usize>,
    /// Most claims of the type per interval across all hosts, as
    /// `"<jobs>/<interval>"` (`"100/1m"`, `"5/500ms"`); the host sets this
    /// limit in Redis when it starts.
    pub rate_limit: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ContentSection {
    pub enabled: bool,
    /// Default: `<data_dir>/content`.
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApiSection {
    /// `host:port`; empty: no HTTP API.
    pub listen: String,
    /// Bearer token; required when `listen` is not a loopback address.
    /// Prefer `DECKHAND_API_TOKEN` to writing it here.
    pub token: String,
    pub max_body_bytes: usize,
    /// Host names the API answers to without a token, besides `localhost`
    /// and loopback addresses (a `Host` naming anything else is refused:
    /// DNS rebinding).
    pub allowed_hosts: Vec<String>,
    /// Connections served at once; past it, new ones wait to be accepted.
    pub max_connections: usize,
    /// How long a connection may take to send a request's head, and may
    /// stay idle between requests, in seconds.
    pub header_timeout_secs: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSection {
    /// `text` or `json` (one JSON object a line).
    pub format: String,
}

impl Default for RetrySection {
    fn default() -> Self {
        let r = RetryStrategy::default();
        RetrySection {
            backoff_factor: r.backoff_factor_secs,
            jitter: r.jitter,
            max_delay: r.max_delay_secs,
        }
    }
}

const DAY_MS: u64 = 24 * 3600 * 1000;

impl Default for QueueSection {
    fn default() -> Self {
        let q = QueueConfig::default();
        let w = WorkerConfig::default();
        QueueSection {
            result_ttl: q.result_ttl_secs,
            dead_ttl: q.dead_ttl_secs,
            dead_max: q.dead_max,
            max_batch_jobs: q.max_batch_jobs,
            max_children: q.max_children,
            max_run_jobs: q.max_run_jobs,
            max_payload_bytes: q.max_payload_bytes,
            lease_ms: w.lease_ms,
            max_schedule_ahead_days: q.max_schedule_ahead_ms / DAY_MS,
            reap_interval_ms: w.reap_interval_ms,
            reload_interval_ms: w.reload_interval_ms,
            min_replica_acks: q.min_replica_acks,
            replica_ack_timeout_ms: q.replica_ack_timeout_ms,
            partitions: q.partitions,
            tls_ca_file: q.tls.ca_file,
            tls_cert_file: q.tls.cert_file,
            tls_key_file: q.tls.key_file,
        }
    }
}

impl Default for LimitsSection {
    fn default() -> Self {
        let r = RuntimeConfig::default();
        LimitsSection {
            default_timeout_ms: r.default_timeout_ms,
            max_timeout_ms: r.max_timeout_ms,
            default_memory_mb: r.default_memory_bytes / MIB,
            max_memory_mb: r.max_memory_bytes / MIB,
            pooling: true,
            pool_instances: 0,
        }
    }
}

impl Default for ContentSection {
    fn default() -> Self {
        ContentSection {
            enabled: true,
            dir: None,
        }
    }
}

impl Default for ApiSection {
    fn default() -> Self {
        ApiSection {
            listen: "127.0.0.1:8080".into(),
            token: String::new(),
            max_body_bytes: 16 * 1024 * 1024,
            allowed_hosts: Vec::new(),
            max_connections: 1024,
            header_timeout_secs: 10,
        }
    }
}

impl Default for LogSection {
    fn default() -> Self {
        LogSection {
            format: "text".into(),
        }
    }
}
