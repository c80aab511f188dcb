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

use crate::llm::LlmConfig;
use crate::queue::{QueueConfig, RetryStrategy};
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
    /// Absent: no LLM (plugins get "no LLM configured").
    pub llm: Option<LlmConfig>,
    pub content: ContentSection,
    pub api: ApiSection,
    pub log: LogSection,
}

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
    pub max_payload_bytes: usize,
    /// Milliseconds a claim holds a job (≥ 100).
    pub lease_ms: u64,
    pub reap_interval_ms: u64,
    pub reload_interval_ms: u64,
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
const POOL_SPARE_SLOTS: usize = 8;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JobTypeLimits {
    pub timeout_ms: Option<u64>,
    pub memory_mb: Option<u64>,
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
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSection {
    /// `text` or `json` (one JSON object a line).
    pub format: String,
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
            llm: None,
            content: ContentSection::default(),
            api: ApiSection::default(),
            log: LogSection::default(),
        }
    }
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
            max_payload_bytes: q.max_payload_bytes,
            lease_ms: w.lease_ms,
            reap_interval_ms: w.reap_interval_ms,
            reload_interval_ms: w.reload_interval_ms,
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

const MIB: u64 = 1024 * 1024;

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
        apply_env(&mut table, env)?;
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
            self.queue.max_payload_bytes >= 1,
            "queue.max_payload_bytes",
            self.queue.max_payload_bytes,
            "must be ≥ 1",
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
            result_ttl_secs: self.queue.result_ttl,
            dead_ttl_secs: self.queue.dead_ttl,
            dead_max: self.queue.dead_max,
            max_batch_jobs: self.queue.max_batch_jobs,
            max_children: self.queue.max_children,
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

/// Reads one job type's limits as flags and the environment give them:
/// `NAME:timeout_ms=N,memory_mb=M` (either key may be left out).
pub fn parse_job_type_limits(spec: &str) -> Result<(String, JobTypeLimits), ConfigError> {
    let bad = |reason: String| {
        ConfigError::Invalid(format!(
            "job type limits {spec:?}: {reason} (expected NAME:timeout_ms=N,memory_mb=M)"
        ))
    };
    let (name, settings) = spec
        .trim()
        .split_once(':')
        .ok_or_else(|| bad("no ':' after the job type".into()))?;
    crate::runtime::valid_job_type_name(name).map_err(bad)?;
    let mut limits = JobTypeLimits::default();
    for pair in settings.split(',').filter(|p| !p.trim().is_empty()) {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| bad(format!("{pair:?} is not key=value")))?;
        let n: u64 = value
            .trim()
            .parse()
            .map_err(|_| bad(format!("{key} = {value:?} is not a whole number")))?;
        match key.trim() {
            "timeout_ms" => limits.timeout_ms = Some(n),
            "memory_mb" => limits.memory_mb = Some(n),
            other => return Err(bad(format!("unknown key {other:?}"))),
        }
    }
    Ok((name.to_string(), limits))
}

/// `DECKHAND_JOB_TYPES`: job type limits, `;`-separated, each as
/// [`parse_job_type_limits`] reads it, into the table's `[job_types]`.
fn apply_job_types_env(table: &mut toml::Table, value: &str) -> Result<(), ConfigError> {
    let section = table
        .entry("job_types")
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    let toml::Value::Table(section) = section else {
        return Err(ConfigError::Invalid(
            "DECKHAND_JOB_TYPES: the file's job_types is not a table".into(),
        ));
    };
    for spec in value.split(';').filter(|s| !s.trim().is_empty()) {
        let (name, limits) = parse_job_type_limits(spec)?;
        let entry = toml::Value::try_from(limits)
            .map_err(|e| ConfigError::Invalid(format!("DECKHAND_JOB_TYPES: {e}")))?;
        section.insert(name, entry);
    }
    Ok(())
}

/// Applies `DECKHAND_<KEY>` and `DECKHAND_<SECTION>_<KEY>` variables whose
/// names match a known key. Values are typed like the key's default.
fn apply_env(
    table: &mut toml::Table,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<(), ConfigError> {
    let defaults = match toml::Value::try_from(Config {
        llm: Some(LlmConfig::default()),
        ..Config::default()
    }) {
        Ok(toml::Value::Table(t)) => t,
        _ => return Ok(()),
    };
    // Keys whose default is None are absent from the serialized defaults.
    let optional: &[(&str, &str)] = &[
        ("", "redis_url"),
        ("llm", "temperature"),
        ("llm", "max_tokens"),
        ("llm", "dialect"),
        ("content", "dir"),
    ];
    let mut env: Vec<(String, String)> = env.into_iter().collect();
    env.sort();
    for (var, value) in env {
        let Some(rest) = var.strip_prefix("DECKHAND_") else {
            continue;
        };
        if rest == "JOB_TYPES" {
            apply_job_types_env(table, &value)?;
            continue;
        }
        let name = rest.to_ascii_lowercase();
        let target = if defaults.get(&name).is_some_and(|v| !v.is_table())
            || optional.contains(&("", name.as_str()))
        {
            Some((None, name.clone()))
        } else {
            defaults.iter().find_map(|(section, v)| {
                let keys = v.as_table()?;
                let key = name.strip_prefix(&format!("{section}_"))?;
                (keys.contains_key(key) || optional.contains(&(section.as_str(), key)))
                    .then(|| (Some(section.clone()), key.to_string()))
            })
        };
        let Some((section, key)) = target else {
            continue;
        };
        let template = match &section {
            None => defaults.get(&key),
            Some(s) => defaults.get(s).and_then(|t| t.get(&key)),
        };
        let typed = typed_value(template, &value).map_err(|reason| ConfigError::Env {
            var: var.clone(),
            value: value.clone(),
            reason,
        })?;
        let slot = match section {
            None => &mut *table,
            Some(s) => match table
                .entry(s)
                .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            {
                toml::Value::Table(t) => t,
                _ => {
                    return Err(ConfigError::Invalid(format!(
                        "{var}: the file has a non-table value where a section belongs"
                    )));
                }
            },
        };
        slot.insert(key, typed);
    }
    Ok(())
}

fn typed_value(template: Option<&toml::Value>, raw: &str) -> Result<toml::Value, String> {
    Ok(match template {
        Some(toml::Value::Integer(_)) => toml::Value::Integer(
            raw.trim()
                .parse()
                .map_err(|_| "expected an integer".to_string())?,
        ),
        Some(toml::Value::Float(_)) => toml::Value::Float(
            raw.trim()
                .parse()
                .map_err(|_| "expected a number".to_string())?,
        ),
        Some(toml::Value::Boolean(_)) => toml::Value::Boolean(match raw.trim() {
            "true" | "1" | "yes" => true,
            "false" | "0" | "no" => false,
            _ => return Err("expected true or false".into()),
        }),
        Some(toml::Value::String(_)) => toml::Value::String(raw.to_string()),
        _ => {
            // Untyped (optional) keys: a number if it reads as one.
            if let Ok(i) = raw.trim().parse::<i64>() {
                toml::Value::Integer(i)
            } else if let Ok(f) = raw.trim().parse::<f64>() {
                toml::Value::Float(f)
            } else {
                toml::Value::String(raw.to_string())
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_match_the_seed() {
        let c = Config::from_toml("", "test", env(&[])).unwrap();
        assert_eq!(c.worker_count, 1);
        assert_eq!(c.batch_size, 10);
        assert_eq!(c.max_retries, 3);
        assert_eq!(c.shutdown_timeout, 30.0);
        assert_eq!(c.health_check_interval, 60);
    }

    #[test]
    fn every_bound_names_its_key() {
        let cases = [
            ("worker_count = 0", "worker_count"),
            ("batch_size = 0", "batch_size"),
            ("shutdown_timeout = -1.0", "shutdown_timeout"),
            ("health_check_interval = 9", "health_check_interval"),
            ("[retry]\nbackoff_factor = -1.0", "retry.backoff_factor"),
            ("[queue]\nlease_ms = 10", "queue.lease_ms"),
            ("[log]\nformat = \"xml\"", "log.format"),
            ("[limits]\npool_instances = 9", "limits.pool_instances"),
        ];
        for (text, key) in cases {
            let err = Config::from_toml(text, "test", env(&[])).unwrap_err();
            let msg = err.to_string();
            assert!(
                msg.starts_with(key) && msg.contains("out of bounds"),
                "{text}: {msg}"
            );
        }
        // max_retries ≥ 0 is the type's bound: a negative value cannot parse.
        let err = Config::from_toml("max_retries = -1", "test", env(&[])).unwrap_err();
        assert!(err.to_string().contains("max_retries"), "{err}");
    }

    #[test]
    fn the_instance_pool_covers_every_job_in_flight() {
        let slots = |text: &str| {
            Config::from_toml(text, "test", env(&[]))
                .unwrap()
                .runtime_config()
                .pool_instances
        };
        assert_eq!(slots(""), 10 + 8);
        assert_eq!(slots("worker_count = 2\nbatch_size = 64"), 128 + 8);
        assert_eq!(slots("[limits]\npool_instances = 500"), 500);
        assert_eq!(slots("[limits]\npooling = false"), 0);
    }

    #[test]
    fn unknown_keys_are_named() {
        let err = Config::from_toml("worker_cuont = 2", "deckhand.toml", env(&[])).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("worker_cuont") && msg.contains("deckhand.toml"),
            "{msg}"
        );
        let err = Config::from_toml("[llm]\nmodle = \"x\"", "f", env(&[])).unwrap_err();
        assert!(err.to_string().contains("modle"), "{err}");
    }

    #[test]
    fn environment_overrides_the_file() {
        let text = "worker_count = 2\nredis_url = \"redis://file\"\n[llm]\nprovider = \"ollama\"\nmodel = \"a\"";
        let c = Config::from_toml(
            text,
            "test",
            env(&[
                ("DECKHAND_WORKER_COUNT", "4"),
                ("DECKHAND_REDIS_URL", "redis://env"),
                ("DECKHAND_LLM_MODEL", "b"),
                ("DECKHAND_API_TOKEN", "secret"),
                ("DECKHAND_RETRY_JITTER", "false"),
                ("DECKHAND_TEST_LLM_URL", "ignored: not a key"),
            ]),
        )
        .unwrap();
        assert_eq!(c.worker_count, 4);
        assert_eq!(c.redis_url.as_deref(), Some("redis://env"));
        let llm = c.llm.unwrap();
        assert_eq!(llm.model, "b");
        assert_eq!(llm.provider, crate::llm::Provider::Ollama);
        assert_eq!(c.api.token, "secret");
        assert!(!c.retry.jitter);

        let err = Config::from_toml("", "t", env(&[("DECKHAND_BATCH_SIZE", "many")])).unwrap_err();
        assert!(err.to_string().contains("DECKHAND_BATCH_SIZE"), "{err}");
        let err = Config::from_toml("", "t", env(&[("DECKHAND_BATCH_SIZE", "0")])).unwrap_err();
        assert!(err.to_string().contains("batch_size"), "{err}");
    }

    #[test]
    fn the_example_config_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/deckhand.toml");
        let c = Config::load(Some(&path), env(&[])).unwrap();
        assert!(c.llm.is_some());
        assert!(!c.job_types.is_empty());
    }
}
