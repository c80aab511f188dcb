//! The one check of a configuration: every number and name from the file,
//! the environment or a flag is range-checked here before any subsystem
//! sees it, and a refusal names the key.

use super::*;

/// `Ok` when `ok`, else the key, the value and the bound it breaks.
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

impl Config {
    /// The bounds. Each error names the key and the bound.
    pub fn check(&self) -> Result<(), ConfigError> {
        self.check_host()?;
        self.check_queue()?;
        self.check_limits()?;
        self.check_job_types()?;
        self.check_schedules()?;
        self.check_otel()?;
        self.check_redis_url()?;
        crate::grants::check(&self.plugins).map_err(ConfigError::Invalid)?;
        self.check_llm()
    }

    /// A Redis URL that parses (one server, `redis+cluster://` seeds, or
    /// `redis+sentinel://` sentinels and a master name); the error names
    /// the key and leaves the password out.
    fn check_redis_url(&self) -> Result<(), ConfigError> {
        match &self.redis_url {
            Some(url) => crate::queue::net::Endpoint::parse(url)
                .map(|_| ())
                .map_err(|e| ConfigError::Invalid(e.to_string())),
            None => Ok(()),
        }
    }

    /// Traces: an http(s) address or nothing; a service name.
    fn check_otel(&self) -> Result<(), ConfigError> {
        let endpoint = &self.otel.endpoint;
        bound(
            endpoint.is_empty()
                || ((endpoint.starts_with("http://") || endpoint.starts_with("https://"))
                    && endpoint.len() <= 2048
                    && !endpoint.contains(char::is_whitespace)),
            "otel.endpoint",
            crate::redact::url(endpoint),
            "must be empty (no export) or an http:// or https:// address of at most 2048 characters",
        )?;
        let name = &self.otel.service_name;
        bound(
            !name.is_empty() && name.len() <= 256,
            "otel.service_name",
            name,
            "must be 1 to 256 characters",
        )
    }

    /// The host's own settings.
    fn check_host(&self) -> Result<(), ConfigError> {
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
            self.threads <= MAX_THREADS,
            "threads",
            self.threads,
            "must be 0 (one per core) to 1024",
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
        Ok(())
    }

    /// Retries and the queue's settings.
    fn check_queue(&self) -> Result<(), ConfigError> {
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
            self.queue.max_run_jobs >= 1,
            "queue.max_run_jobs",
            self.queue.max_run_jobs,
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
        self.check_scale_out()
    }

    /// Replica acknowledgements and partitions (`[queue]`).
    fn check_scale_out(&self) -> Result<(), ConfigError> {
        bound(
            self.queue.min_replica_acks <= crate::queue::MAX_REPLICA_ACKS,
            "queue.min_replica_acks",
            self.queue.min_replica_acks,
            "must be 0 to 16",
        )?;
        bound(
            (1..=crate::queue::MAX_REPLICA_ACK_TIMEOUT_MS)
                .contains(&self.queue.replica_ack_timeout_ms),
            "queue.replica_ack_timeout_ms",
            self.queue.replica_ack_timeout_ms,
            "must be 1 to 60000",
        )?;
        bound(
            (1..=crate::queue::MAX_PARTITIONS).contains(&self.queue.partitions),
            "queue.partitions",
            self.queue.partitions,
            "must be 1 to 256",
        )?;
        Ok(())
    }

    /// Plugin limits, the API, the log.
    fn check_limits(&self) -> Result<(), ConfigError> {
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
            (1..=100_000).contains(&self.api.max_connections),
            "api.max_connections",
            self.api.max_connections,
            "must be 1 to 100000",
        )?;
        bound(
            (1..=3600).contains(&self.api.header_timeout_secs),
            "api.header_timeout_secs",
            self.api.header_timeout_secs,
            "must be 1 to 3600",
        )?;
        bound(
            matches!(self.log.format.as_str(), "text" | "json"),
            "log.format",
            format!("{:?}", self.log.format),
            "must be \"text\" or \"json\"",
        )?;
        Ok(())
    }

    /// Each job type's limits.
    fn check_job_types(&self) -> Result<(), ConfigError> {
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
            let partitions = self.queue.partitions;
            if let Some(n) = limits.max_running {
                crate::queue::shareable(n, partitions).map_err(|e| {
                    ConfigError::Invalid(format!("[job_types.{name:?}]: max_running {e}"))
                })?;
            }
            if let Some(rate) = &limits.rate_limit {
                let rate = crate::queue::RateLimit::parse(rate).map_err(|e| {
                    ConfigError::Invalid(format!("[job_types.{name:?}]: rate_limit: {e}"))
                })?;
                crate::queue::shareable(rate.jobs, partitions).map_err(|e| {
                    ConfigError::Invalid(format!("[job_types.{name:?}]: rate_limit jobs {e}"))
                })?;
            }
        }
        Ok(())
    }

    /// Periodic jobs: each checks, and no name twice.
    fn check_schedules(&self) -> Result<(), ConfigError> {
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
        Ok(())
    }

    /// The LLM section, if there is one.
    fn check_llm(&self) -> Result<(), ConfigError> {
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
}
