//! What the operator grants each plugin beyond computing, from
//! `[plugins.NAME]` in `deckhand.toml`: outbound HTTP, a key-value store,
//! variables and secrets, LLM models and tokens. Deny by default: a plugin
//! with no section gets none of them (the LLM stays as the host's `[llm]`
//! gives it to job types that declare `needs-llm`; an LLM grant narrows a
//! plugin to its models and tokens), and a plugin asking for something not
//! granted still loads; the ungranted call fails naming the missing grant.
//!
//! No IO but reading a variable's source. The runtime enforces the grants
//! (`runtime/outbound.rs`, `runtime/host_api.rs`); the book is swapped whole
//! when the file changes, so a changed grant applies on the next job.
//!
//! - `http.rs`: host patterns, methods, addresses and the limits of a fetch;
//! - `variables.rs`: where a variable's value comes from, and secrets.

mod http;
mod variables;

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};

pub use http::{AddressClass, HostPattern, HttpGrant, classify_address};
pub use variables::{Variable, VariableError};

/// One plugin's grants (`[plugins.NAME]`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PluginGrant {
    /// Outbound HTTP through `wasi:http` (`[plugins.NAME.http]`).
    pub http: Option<HttpGrant>,
    /// A key-value store of the plugin's own (`[plugins.NAME.key_value]`).
    pub key_value: Option<KvGrant>,
    /// Named values (`[plugins.NAME.variables]`).
    pub variables: BTreeMap<String, Variable>,
    /// LLM models and tokens (`[plugins.NAME.llm]`); absent: what the
    /// host's `[llm]` allows (its default and `allowed_models`).
    pub llm: Option<LlmGrant>,
}

/// A key-value store's limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KvGrant {
    /// Bytes of keys and values the plugin may hold at once.
    pub quota_bytes: u64,
    /// The longest a value lives (ms); 0: values live until deleted.
    pub max_ttl_ms: u64,
}

impl Default for KvGrant {
    fn default() -> Self {
        KvGrant {
            quota_bytes: 1024 * 1024,
            max_ttl_ms: 0,
        }
    }
}

/// The most a key-value quota may be (1 GiB).
pub const MAX_KV_QUOTA_BYTES: u64 = 1 << 30;

/// LLM use beyond the host's default model.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LlmGrant {
    /// Models the plugin may name (its requests that name none get the
    /// host's default model); each must also be in the host's
    /// `allowed_models`.
    pub models: Vec<String>,
    /// Prompt plus completion tokens one job may spend (0: no cap).
    pub tokens_per_job: u64,
    /// Tokens the plugin may spend per minute on this host (0: no cap).
    pub tokens_per_minute: u64,
}

/// What a plugin asked for in `capabilities.wants` (nothing, when it does
/// not export it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wants {
    pub outbound_hosts: Vec<String>,
    pub key_value: bool,
    pub variables: Vec<String>,
    pub llm_models: Vec<String>,
}

/// Every plugin's grants, by plugin name.
pub type Grants = BTreeMap<String, PluginGrant>;

/// Checks every plugin's grants (config load): patterns parse, limits in
/// bounds, each variable names one source. The error names the plugin.
pub fn check(grants: &Grants) -> Result<(), String> {
    for (name, grant) in grants {
        let at = |what: String| format!("plugins.{name}.{what}");
        if let Some(http) = &grant.http {
            http.check().map_err(|e| at(format!("http: {e}")))?;
        }
        if let Some(kv) = &grant.key_value
            && !(1..=MAX_KV_QUOTA_BYTES).contains(&kv.quota_bytes)
        {
            return Err(at(format!(
                "key_value.quota_bytes = {} is out of bounds: 1..={MAX_KV_QUOTA_BYTES}",
                kv.quota_bytes
            )));
        }
        for (var, source) in &grant.variables {
            source
                .check()
                .map_err(|e| at(format!("variables.{var}: {e}")))?;
        }
    }
    Ok(())
}

/// The grants in force, swapped whole when the file changes; a job takes
/// its plugin's grant when it starts and keeps it to the end.
#[derive(Debug, Default)]
pub struct GrantBook {
    current: RwLock<Arc<Book>>,
}

/// The grants as read, and each shared, so a job takes its own in one
/// pointer copy.
#[derive(Debug, Default)]
struct Book {
    grants: Grants,
    shared: BTreeMap<String, Arc<PluginGrant>>,
}

impl GrantBook {
    pub fn new(grants: Grants) -> Self {
        let book = GrantBook::default();
        book.replace(grants);
        book
    }

    fn book(&self) -> Arc<Book> {
        match self.current.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The grant of `plugin` now (the empty grant when it has none).
    pub fn of(&self, plugin: &str) -> Arc<PluginGrant> {
        static NONE: std::sync::OnceLock<Arc<PluginGrant>> = std::sync::OnceLock::new();
        match self.book().shared.get(plugin) {
            Some(g) => g.clone(),
            None => NONE.get_or_init(Default::default).clone(),
        }
    }

    /// Replaces the grants; true when they changed.
    pub fn replace(&self, grants: Grants) -> bool {
        let mut current = match self.current.write() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        if current.grants == grants {
            return false;
        }
        let shared = grants
            .iter()
            .map(|(name, g)| (name.clone(), Arc::new(g.clone())))
            .collect();
        *current = Arc::new(Book { grants, shared });
        true
    }
}

/// What a plugin asked for against what it was granted, for `deckhand
/// plugins list`, `GET /v1/plugins` and the dashboard. Values of variables
/// never appear: only their names and whether they are secret.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AskedGranted {
    pub asked: Wants,
    pub granted: GrantSummary,
}

/// A grant as shown to people.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct GrantSummary {
    pub outbound_hosts: Vec<String>,
    pub methods: Vec<String>,
    pub addresses: Vec<String>,
    pub key_value: Option<KvGrant>,
    pub variables: Vec<VariableSummary>,
    pub llm_models: Vec<String>,
    pub llm_tokens_per_job: u64,
    pub llm_tokens_per_minute: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VariableSummary {
    pub name: String,
    /// `value`, `env` or `file`.
    pub source: &'static str,
    pub secret: bool,
}

impl AskedGranted {
    pub fn new(asked: &Wants, grant: &PluginGrant) -> Self {
        let http = grant.http.clone().unwrap_or_default();
        let llm = grant.llm.clone().unwrap_or_default();
        AskedGranted {
            asked: asked.clone(),
            granted: GrantSummary {
                outbound_hosts: http.allowed_hosts.clone(),
                methods: http.methods(),
                addresses: http.allowed_addresses.clone(),
                key_value: grant.key_value.clone(),
                variables: grant
                    .variables
                    .iter()
                    .map(|(name, v)| VariableSummary {
                        name: name.clone(),
                        source: v.kind(),
                        secret: v.secret,
                    })
                    .collect(),
                llm_models: llm.models,
                llm_tokens_per_job: llm.tokens_per_job,
                llm_tokens_per_minute: llm.tokens_per_minute,
            },
        }
    }
}

#[cfg(test)]
mod tests;
