//! `DECKHAND_*` environment variables over the file's table, and job type
//! limits as flags and the environment spell them.

use super::{Config, ConfigError, JobTypeLimits};
use crate::llm::LlmConfig;

/// Reads one job type's limits as flags and the environment give them:
/// `NAME:timeout_ms=N,memory_mb=M,max_running=K,max_payload_bytes=B,rate_limit=J/T`
/// (any key may be left out).
pub fn parse_job_type_limits(spec: &str) -> Result<(String, JobTypeLimits), ConfigError> {
    let bad = |reason: String| {
        ConfigError::Invalid(format!(
            "job type limits {spec:?}: {reason} (expected NAME:timeout_ms=N,memory_mb=M,max_running=K,max_payload_bytes=B,rate_limit=J/T)"
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
        if key.trim() == "rate_limit" {
            crate::queue::RateLimit::parse(value).map_err(bad)?;
            limits.rate_limit = Some(value.trim().to_string());
            continue;
        }
        let n: u64 = value
            .trim()
            .parse()
            .map_err(|_| bad(format!("{key} = {value:?} is not a whole number")))?;
        match key.trim() {
            "timeout_ms" => limits.timeout_ms = Some(n),
            "memory_mb" => limits.memory_mb = Some(n),
            "max_running" => limits.max_running = Some(n),
            "max_payload_bytes" => {
                limits.max_payload_bytes =
                    Some(usize::try_from(n).map_err(|_| bad(format!("{key} = {n} is too large")))?)
            }
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
pub(super) fn apply_env(
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
        ("llm", "max_in_flight"),
        ("llm", "requests_per_minute"),
        ("llm", "tokens_per_minute"),
        ("llm", "dialect"),
        ("content", "dir"),
        ("queue", "tls_ca_file"),
        ("queue", "tls_cert_file"),
        ("queue", "tls_key_file"),
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
