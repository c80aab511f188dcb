//! The host side of the imports an operator grants (`keyvalue`,
//! `variables`): each checks the job's grant first, and a call without one
//! fails naming the `[plugins.NAME]` entry that would allow it.

use tracing::Instrument;

use super::JobState;
use super::bindings::{keyvalue, variables};
use super::services::{KvError, KvWrite};

/// The longest key (bytes) and the largest value (bytes).
const MAX_KEY_BYTES: usize = 512;
const MAX_VALUE_BYTES: usize = 1024 * 1024;

fn kv_span(call: &'static str) -> tracing::Span {
    tracing::info_span!("host_call", call)
}

impl JobState {
    /// The plugin's key-value grant, or the error naming it.
    fn kv_grant(&self, key: &str) -> Result<crate::grants::KvGrant, keyvalue::KvError> {
        let plugin = &self.context.plugin;
        let Some(grant) = self.context.grant.key_value.clone() else {
            return Err(keyvalue::KvError::NotGranted(format!(
                "plugin {plugin:?} has no key-value store (grant one with [plugins.{plugin}.key_value])"
            )));
        };
        if key.is_empty() || key.len() > MAX_KEY_BYTES {
            return Err(keyvalue::KvError::Invalid(format!(
                "a key is 1 to {MAX_KEY_BYTES} bytes; this one is {}",
                key.len()
            )));
        }
        Ok(grant)
    }
}

fn wit_error(e: KvError) -> keyvalue::KvError {
    match e {
        KvError::NotGranted(m) => keyvalue::KvError::NotGranted(m),
        KvError::QuotaExceeded(m) => keyvalue::KvError::QuotaExceeded(m),
        KvError::Invalid(m) => keyvalue::KvError::Invalid(m),
        KvError::Unavailable(m) => keyvalue::KvError::Unavailable(m),
    }
}

impl keyvalue::Host for JobState {
    async fn get(&mut self, key: String) -> Result<Option<String>, keyvalue::KvError> {
        self.kv_grant(&key)?;
        let services = self.context.services.clone();
        services
            .kv_get(&self.context.plugin, &key)
            .instrument(kv_span("keyvalue.get"))
            .await
            .map_err(wit_error)
    }

    async fn set(
        &mut self,
        key: String,
        value: String,
        ttl_ms: Option<u64>,
    ) -> Result<(), keyvalue::KvError> {
        let grant = self.kv_grant(&key)?;
        if value.len() > MAX_VALUE_BYTES {
            return Err(keyvalue::KvError::Invalid(format!(
                "a value is at most {MAX_VALUE_BYTES} bytes; this one is {}",
                value.len()
            )));
        }
        if ttl_ms == Some(0) {
            return Err(keyvalue::KvError::Invalid(
                "ttl-ms must be at least 1".into(),
            ));
        }
        let max = (grant.max_ttl_ms > 0).then_some(grant.max_ttl_ms);
        let ttl_ms = match (ttl_ms, max) {
            (Some(t), Some(m)) => Some(t.min(m)),
            (t, m) => t.or(m),
        };
        let services = self.context.services.clone();
        services
            .kv_set(KvWrite {
                plugin: &self.context.plugin,
                key: &key,
                value: &value,
                ttl_ms,
                quota_bytes: grant.quota_bytes,
            })
            .instrument(kv_span("keyvalue.set"))
            .await
            .map_err(wit_error)
    }

    async fn delete(&mut self, key: String) -> Result<bool, keyvalue::KvError> {
        self.kv_grant(&key)?;
        let services = self.context.services.clone();
        services
            .kv_delete(&self.context.plugin, &key)
            .instrument(kv_span("keyvalue.delete"))
            .await
            .map_err(wit_error)
    }
}

impl variables::Host for JobState {
    async fn get(&mut self, name: String) -> Result<String, variables::VariableError> {
        let plugin = &self.context.plugin;
        let Some(variable) = self.context.grant.variables.get(&name) else {
            return Err(variables::VariableError::NotGranted(format!(
                "plugin {plugin:?} has no variable {name:?} (give it in [plugins.{plugin}.variables])"
            )));
        };
        let secret = variable.secret;
        let value = variable.resolve().map_err(|e| {
            variables::VariableError::Unavailable(format!("variable {name:?}: {e}"))
        })?;
        if secret {
            self.secrets.add(&value);
        }
        Ok(value)
    }
}
