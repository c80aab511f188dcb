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

mod env;
mod sections;
#[cfg(test)]
mod tests;

pub use env::parse_job_type_limits;
pub use sections::*;

use crate::llm::LlmConfig;
use crate::queue::{MAX_PAYLOAD_BYTES, MAX_RUNNING_CAP, QueueConfig, RetryStrategy};
use crate::runtime::RuntimeConfig;
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
        }
    }
}

const MIB: u64 = 1024 * 1024;
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

    /// The bounds. Each error names the key and the bound.
    pub fn check(&self) -> Result<(), ConfigError> {
        fn bound(
            ok: bool,
            key: &'static str,
            value: impl ToString,
            bound: &'static str,
        ) -> Result<(), ConfigError> {
            if ok {
                Ok(())
            } else {
                Err(ConfigError::Bounds {
                    key,
                    value: value.to_string(),
                    bound,
                })
            }
        }
        bound(
            self.worker_count >= 1,
            "worker_count",
            self.worker_count,
            "must be ≥ 1",
        )?;
        bound(
            self.batch_size >= 1,
            "batch_size",
            self.batch_size,
            "must be ≥ 1",
        )?;
        bound(
            !self.limits.pooling
                || self.limits.pool_instances == 0
                || self.limits.pool_instances as usize >= self.jobs_in_flight(),
            "limits.pool_instances",
            self.limits.pool_instances,
            "must be 0 (automatic) or ≥ worker_count × batch_size, or jobs could not start",
        )?;
        bound(
            self.shutdown_timeout >= 0.0 && self.shutdown_timeout.is_finite(),
            "shutdown_timeout",
            self.shutdown_timeout,
            "must be ≥ 0",
        )?;
        bound(
            self.health_check_interval >= 10,
            "health_check_interval",
            self.health_check_interval,
            "must be ≥ 10",
        )?;
        bound(
            self.retry.backoff_factor >= 0.0 && self.retry.backoff_factor.is_finite(),
            "retry.backoff_factor",
            self.retry.backoff_factor,
            "must be ≥ 0",
        )?;
        bound(
            self.retry.max_delay >= 0.0 && self.retry.max_delay.is_finite(),
            "retry.max_delay",
            self.retry.max_delay,
            "must be ≥ 0",
        )?;
        bound(
            self.queue.result_ttl >= 1,
            "queue.result_ttl",
            self.queue.result_ttl,
            "must be ≥ 1",
        )?;
        bound(
            self.queue.dead_ttl >= 1,
            "queue.dead_ttl",
            self.queue.dead_ttl,
            "must be ≥ 1",
        )?;
        bound(
            self.queue.dead_max >= 1,
            "queue.dead_max",
            self.queue.dead_max,
            "must be ≥ 1",
        )?;
        bound(
            (1..=MAX_SCHEDULE_AHEAD_DAYS).contains(&self.queue.max_schedule_ahead_days),
            "queue.max_schedule_ahead_days",
            self.queue.max_schedule_ahead_days,
            "must be 1 to 3660",
        )?;
        bound(
            (1..=crate::queue::MAX_BATCH_JOBS).contains(&self.queue.max_batch_jobs),
            "queue.max_batch_jobs",
            self.queue.max_batch_jobs,
            "must be 1 to 100000",
        )?;
        bound(
            self.queue.max_children >= 1,
            "queue.max_children",
            self.queue.max_children,
            "must be ≥ 1",
        )?;
        bound(
            self.queue.lease_ms >= 100,
            "queue.lease_ms",
            self.queue.lease_ms,
            "must be ≥ 100",
        )?;
        bound(
            (1..=MAX_PAYLOAD_BYTES).contains(&self.queue.max_payload_bytes),
            "queue.max_payload_bytes",
            self.queue.max_payload_bytes,
            "must be 1 to 536870912 (512 MiB)",
        )?;
        bound(
            self.limits.default_timeout_ms >= 1,
            "limits.default_timeout_ms",
            self.limits.default_timeout_ms,
            "must be ≥ 1",
        )?;
        bound(
            self.limits.default_memory_mb >= 1,
            "limits.default_memory_mb",
            self.limits.default_memory_mb,
            "must be ≥ 1",
        )?;
        bound(
            self.api.max_body_bytes >= 1024,
            "api.max_body_bytes",
            self.api.max_body_bytes,
            "must be ≥ 1024",
        )?;
        bound(
            matches!(self.log.format.as_str(), "text" | "json"),
            "log.format",
            format!("{:?}", self.log.format),
            "must be \"text\" or \"json\"",
        )?;
        for (name, limits) in &self.job_types {
            crate::runtime::valid_job_type_name(name)
                .map_err(|e| ConfigError::Invalid(format!("[job_types.{name:?}]: {e}")))?;
            if limits.timeout_ms == Some(0) || limits.memory_mb == Some(0) {
                return Err(ConfigError::Invalid(format!(
                    "[job_types.{name:?}]: timeout_ms and memory_mb must be ≥ 1"
                )));
            }
            if limits
                .max_running
                .is_some_and(|n| !(1..=MAX_RUNNING_CAP).contains(&n))
            {
                return Err(ConfigError::Invalid(format!(
                    "[job_types.{name:?}]: max_running must be 1 to {MAX_RUNNING_CAP}"
                )));
            }
            if limits
                .max_payload_bytes
                .is_some_and(|n| !(1..=MAX_PAYLOAD_BYTES).contains(&n))
            {
                return Err(ConfigError::Invalid(format!(
                    "[job_types.{name:?}]: max_payload_bytes must be 1 to {MAX_PAYLOAD_BYTES} (512 MiB)"
                )));
            }
            if let Some(rate) = &limits.rate_limit {
                crate::queue::RateLimit::parse(rate).map_err(|e| {
                    ConfigError::Invalid(format!("[job_types.{name:?}]: rate_limit: {e}"))
                })?;
            }
        }
        let mut names = std::collections::BTreeSet::new();
        for schedule in &self.schedules {
            schedule.check().map_err(|e| {
                ConfigError::Invalid(format!("[[schedules]] {:?}: {e}", schedule.name))
            })?;
            if !names.insert(&schedule.name) {
                return Err(ConfigError::Invalid(format!(
                    "[[schedules]]: the name {:?} appears twice",
                    schedule.name
                )));
            }
        }
        if let Some(llm) = &self.llm {
            bound(
                llm.timeout_secs > 0.0 && llm.timeout_secs <= 86_400.0,
                "llm.timeout_secs",
                llm.timeout_secs,
                "must be > 0 and ≤ 86400",
            )?;
            bound(
                llm.max_tokens.is_none_or(|n| (1..=1_000_000).contains(&n)),
                "llm.max_tokens",
                format!("{:?}", llm.max_tokens),
                "must be 1 to 1000000",
            )?;
            bound(
                llm.max_in_flight.is_none_or(|n| n <= 10_000),
                "llm.max_in_flight",
                format!("{:?}", llm.max_in_flight),
                "must be 0 (no limit) to 10000",
            )?;
            for (value, name) in [
                (llm.requests_per_minute, "llm.requests_per_minute"),
                (llm.tokens_per_minute, "llm.tokens_per_minute"),
            ] {
                bound(
                    value.is_none_or(|n| (1..=1_000_000_000).contains(&n)),
                    name,
                    format!("{value:?}"),
                    "must be 1 to 1000000000 (leave it out for no limit)",
                )?;
            }
            bound(
                llm.temperature.is_none_or(|t| (0.0..=2.0).contains(&t)),
                "llm.temperature",
                format!("{:?}", llm.temperature),
                "must be 0 to 2",
            )?;
        }
        Ok(())
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

    pub fn content_dir(&self) -> PathBuf {
        self.content
            .dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("content"))
    }
}
