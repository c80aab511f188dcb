//! Configuration: `deckhand.toml`, overridden by `DECKHAND_<KEY>` environment
//! variables, overridden by command-line flags.
//!
//! Top-level keys are the worker settings (the names and bounds of the
//! seed's `WorkerConfig`); the rest live in sections. An environment variable
//! names a top-level key as `DECKHAND_<KEY>` (`DECKHAND_WORKER_COUNT`) and a
//! section key as `DECKHAND_<SECTION>_<KEY>` (`DECKHAND_LLM_MODEL`). An unknown
//! key in the file, or a value out of bounds, stops the start-up with a message
//! naming the key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

mod check;
mod env;
mod sections;
#[cfg(test)]
mod tests;

pub use env::parse_job_type_limits;
pub use sections::*;

use crate::llm::LlmConfig;
use crate::queue::{MAX_PAYLOAD_BYTES, MAX_RUNNING_CAP, QueueConfig, RetryStrategy};
use crate::runtime::RuntimeConfig;
use crate::telemetry::OtelSettings;
use crate::worker::WorkerConfig;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// None: `redis://127.0.0.1:6379`, started by Deckhand if nothing answers.
    pub redis_url: Option<String>,
    pub plugin_dir: PathBuf,
    /// The embedded Redis' files and the default content directory.
    pub data_dir: PathBuf,
    /// Name in leases and error histories; empty: hostname-pid.
    pub host_id: String,
    /// Key prefix; every host and client of one queue must agree on it.
    pub prefix: String,
    /// Concurrent claim loops (≥ 1).
    pub worker_count: usize,
    /// Jobs each loop keeps running (≥ 1).
    pub batch_size: usize,
    /// Threads that run jobs, claims and the API (0: one per core; at most
    /// [`MAX_THREADS`]). A host that shares a small machine with its Redis
    /// drains more with fewer: README, "Past one Redis".
    pub threads: usize,
    /// Retries for jobs submitted without their own (≥ 0).
    pub max_retries: u32,
    /// Seconds running jobs may finish after SIGTERM (≥ 0).
    pub shutdown_timeout: f64,
    /// Seconds between heartbeats to Redis (≥ 10).
    pub health_check_interval: u64,
    /// Stop claiming while resident memory is above this (MiB); 0: no guard.
    pub max_memory_mb: u64,
    /// Keep compiled plugins in `<data_dir>/compiled` so restarts and hot
    /// reloads of large components take milliseconds.
    pub compile_cache: bool,
    pub retry: RetrySection,
    pub queue: QueueSection,
    pub limits: LimitsSection,
    /// Per job type limits, e.g. `[job_types."hsds.align"]`.
    pub job_types: BTreeMap<String, JobTypeLimits>,
    /// Periodic jobs (`[[schedules]]`), added to the queue (or replaced, by
    /// name) when the host starts; `deckhand schedule` manages them live.
    pub schedules: Vec<crate::schedule::Schedule>,
    /// Absent: no LLM (plugins get "no LLM configured").
    pub llm: Option<LlmConfig>,
    pub content: ContentSection,
    pub api: ApiSection,
    pub log: LogSection,
    /// Traces out over OTLP (`[otel]`; off while its endpoint is empty).
    pub otel: OtelSettings,
    /// What the operator grants each plugin (`[plugins.NAME]`), deny by
    /// default; re-read while the host runs (`grants_from_file`).
    pub plugins: crate::grants::Grants,
}

impl Default for Config {
    fn default() -> Self {
        let worker = WorkerConfig::default();
        let retry = RetryStrategy::default();
        Config {
            redis_url: None,
            plugin_dir: "plugins".into(),
            data_dir: ".deckhand".into(),
            host_id: String::new(),
            prefix: QueueConfig::default().prefix,
            worker_count: worker.worker_count,
            batch_size: worker.batch_size,
            threads: 0,
            max_retries: retry.max_retries,
            shutdown_timeout: worker.shutdown_timeout_ms as f64 / 1000.0,
            health_check_interval: 60,
            max_memory_mb: 0,
            compile_cache: true,
            retry: RetrySection::default(),
            queue: QueueSection::default(),
            limits: LimitsSection::default(),
            job_types: BTreeMap::new(),
            schedules: Vec::new(),
            llm: None,
            content: ContentSection::default(),
            api: ApiSection::default(),
            log: LogSection::default(),
            otel: OtelSettings::default(),
            plugins: Default::default(),
        }
    }
}

const MIB: u64 = 1024 * 1024;
/// The most runtime threads `threads` may ask for (its bound's message
/// says the number).
pub const MAX_THREADS: usize = 1024;
/// The furthest `queue.max_schedule_ahead_days` may reach (about 10 years).
const MAX_SCHEDULE_AHEAD_DAYS: u64 = 3660;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{origin}: {message}")]
    Parse { origin: String, message: String },
    #[error("environment variable {var}={value:?}: {reason}")]
    Env {
        var: String,
        value: String,
        reason: String,
    },
    #[error("{key} = {value} is out of bounds: {bound}")]
    Bounds {
        key: &'static str,
        value: String,
        bound: &'static str,
    },
    #[error("{0}")]
    Invalid(String),
}

impl Config {
    /// Reads `path` (if given; else `deckhand.toml` when it exists), then
    /// applies `DECKHAND_*` variables from `env`, then checks bounds.
    pub fn load(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let (text, origin) = match path {
            Some(p) => (
                std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                    path: p.to_path_buf(),
                    source,
                })?,
                p.display().to_string(),
            ),
            None if Path::new("deckhand.toml").is_file() => (
                std::fs::read_to_string("deckhand.toml").map_err(|source| ConfigError::Read {
                    path: "deckhand.toml".into(),
                    source,
                })?,
                "deckhand.toml".to_string(),
            ),
            None => (String::new(), "defaults".to_string()),
        };
        Config::from_toml(&text, &origin, env)
    }

    /// Like [`Config::load`] from TOML text.
    pub fn from_toml(
        text: &str,
        origin: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut table: toml::Table = toml::from_str(text).map_err(|e| ConfigError::Parse {
            origin: origin.to_string(),
            message: e.to_string(),
        })?;
        env::apply_env(&mut table, env)?;
        let config: Config =
            Config::deserialize(toml::Value::Table(table)).map_err(|e| ConfigError::Parse {
                origin: origin.to_string(),
                message: e.to_string(),
            })?;
        config.check()?;
        Ok(config)
    }

    pub fn queue_config(&self) -> QueueConfig {
        QueueConfig {
            prefix: self.prefix.clone(),
            max_payload_bytes: self.queue.max_payload_bytes,
            payload_limits: self
                .job_types
                .iter()
                .filter_map(|(name, l)| Some((name.clone(), l.max_payload_bytes?)))
                .collect(),
            result_ttl_secs: self.queue.result_ttl,
            dead_ttl_secs: self.queue.dead_ttl,
            dead_max: self.queue.dead_max,
            max_batch_jobs: self.queue.max_batch_jobs,
            max_children: self.queue.max_children,
            max_run_jobs: self.queue.max_run_jobs,
            max_schedule_ahead_ms: self
                .queue
                .max_schedule_ahead_days
                .saturating_mul(24 * 3600 * 1000),
            check_job_types: true,
            content_store: self.content.enabled,
            retry: RetryStrategy {
                max_retries: self.max_retries,
                backoff_factor_secs: self.retry.backoff_factor,
                jitter: self.retry.jitter,
                max_delay_secs: self.retry.max_delay,
            },
            min_replica_acks: self.queue.min_replica_acks,
            replica_ack_timeout_ms: self.queue.replica_ack_timeout_ms,
            partitions: self.queue.partitions,
            tls: crate::queue::TlsFiles {
                ca_file: self.queue.tls_ca_file.clone(),
                cert_file: self.queue.tls_cert_file.clone(),
                key_file: self.queue.tls_key_file.clone(),
            },
        }
    }

    pub fn worker_config(&self) -> WorkerConfig {
        WorkerConfig {
            worker_count: self.worker_count,
            batch_size: self.batch_size,
            lease_ms: self.queue.lease_ms,
            shutdown_timeout_ms: (self.shutdown_timeout * 1000.0) as u64,
            reap_interval_ms: self.queue.reap_interval_ms,
            reload_interval_ms: self.queue.reload_interval_ms,
            heartbeat_ms: self.health_check_interval.saturating_mul(1000),
            max_memory_mb: self.max_memory_mb,
            host_id: self.host_id.clone(),
            ..WorkerConfig::default()
        }
    }

    /// Jobs this host runs at once.
    fn jobs_in_flight(&self) -> usize {
        self.worker_count.saturating_mul(self.batch_size)
    }

    /// Instance slots for the runtime's pool; 0: pooling off.
    fn pool_slots(&self) -> u32 {
        match (self.limits.pooling, self.limits.pool_instances) {
            (false, _) => 0,
            (true, 0) => u32::try_from(self.jobs_in_flight().saturating_add(POOL_SPARE_SLOTS))
                .unwrap_or(u32::MAX),
            (true, n) => n,
        }
    }

    pub fn runtime_config(&self) -> RuntimeConfig {
        RuntimeConfig {
            default_timeout_ms: self.limits.default_timeout_ms,
            max_timeout_ms: self.limits.max_timeout_ms,
            default_memory_bytes: self.limits.default_memory_mb.saturating_mul(MIB),
            max_memory_bytes: self.limits.max_memory_mb.saturating_mul(MIB),
            pool_instances: self.pool_slots(),
            job_types: self
                .job_types
                .iter()
                .map(|(name, l)| {
                    (
                        name.clone(),
                        crate::runtime::LimitOverride {
                            timeout_ms: l.timeout_ms,
                            memory_bytes: l.memory_mb.map(|m| m.saturating_mul(MIB)),
                        },
                    )
                })
                .collect(),
            compile_cache: self.compile_cache.then(|| self.data_dir.join("compiled")),
            ..RuntimeConfig::default()
        }
    }

    /// The `[plugins]` grants of the file at `path` (or `deckhand.toml`),
    /// for a host that re-reads them while it runs; checked as at start-up.
    pub fn grants_from_file(path: Option<&Path>) -> Result<crate::grants::Grants, ConfigError> {
        let env = std::env::vars().filter(|(k, _)| k.starts_with("DECKHAND_"));
        Config::load(path, env).map(|c| c.plugins)
    }

    pub fn content_dir(&self) -> PathBuf {
        self.content
            .dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("content"))
    }
}
