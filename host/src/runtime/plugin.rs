//! One loaded plugin: a component compiled once, pre-linked, and described.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use wasmtime::component::{Component, ComponentType, Lift};

use super::bindings::JobPluginPre;
use super::{DESCRIBE_TIMEOUT, JobState, Runtime};
use crate::grants::Wants;
use crate::job::valid_job_type_name;

/// The optional export a plugin declares its asks in (`granted-plugin`).
const CAPABILITIES: &str = "deckhand:plugin/capabilities@0.1.0";

/// What a plugin says about itself in `describe()`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PluginInfo {
    pub name: String,
    pub version: String,
    pub job_types: Vec<JobTypeInfo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobTypeInfo {
    pub name: String,
    pub description: String,
    pub needs_llm: bool,
    pub timeout_ms: Option<u64>,
    pub memory_limit_bytes: Option<u64>,
}

/// Why a `.wasm` file was not loaded. Each names the file.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a valid component: {reason}")]
    Compile { path: PathBuf, reason: String },
    #[error("{path}: imports something this host does not provide: {reason}")]
    Link { path: PathBuf, reason: String },
    #[error("{path}: describe() failed: {reason}")]
    Describe { path: PathBuf, reason: String },
    #[error("{path}: invalid description: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error("{path}: job type {job_type:?} is already handled by {other}")]
    Conflict {
        path: PathBuf,
        job_type: String,
        other: PathBuf,
    },
}

impl LoadError {
    pub fn path(&self) -> &Path {
        match self {
            LoadError::Read { path, .. }
            | LoadError::Compile { path, .. }
            | LoadError::Link { path, .. }
            | LoadError::Describe { path, .. }
            | LoadError::Invalid { path, .. }
            | LoadError::Conflict { path, .. } => path,
        }
    }
}

/// A compiled, described plugin. Jobs hold an `Arc<Plugin>` while they run,
/// so a hot reload never pulls a version out from under a running job.
pub struct Plugin {
    pub path: PathBuf,
    /// SHA-256 of the component bytes, hex: identifies exactly what ran.
    pub version_id: String,
    pub info: PluginInfo,
    /// What it asks the operator for (`capabilities.wants`; nothing when it
    /// does not export it).
    pub wants: Wants,
    /// Whether the compiled code came from the compile cache.
    pub compiled: super::CacheOutcome,
    /// How long compiling (or loading from the cache) took.
    pub load_time: std::time::Duration,
    pub(super) pre: JobPluginPre<JobState>,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("path", &self.path)
            .field("version_id", &self.version_id)
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

/// The content hash used as a plugin's version id.
pub fn version_id(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl Plugin {
    /// Reads, compiles, links and describes the component at `path`.
    pub async fn load(runtime: &Runtime, path: &Path) -> Result<Plugin, LoadError> {
        let bytes = tokio::fs::read(path)
            .await
            .map_err(|source| LoadError::Read {
                path: path.to_path_buf(),
                source,
            })?;
        Plugin::from_bytes(runtime, path, bytes).await
    }

    /// Like [`Plugin::load`], for bytes already read.
    pub async fn from_bytes(
        runtime: &Runtime,
        path: &Path,
        bytes: Vec<u8>,
    ) -> Result<Plugin, LoadError> {
        let version_id = version_id(&bytes);
        let engine = runtime.engine().clone();
        let cache = runtime
            .config()
            .compile_cache
            .clone()
            .map(super::CompileCache::new);
        let sha = version_id.clone();
        let started = std::time::Instant::now();
        // Compilation is CPU-bound (tens of ms to seconds): keep it off the
        // async workers.
        let (component, compiled) = tokio::task::spawn_blocking(move || match cache {
            Some(cache) => cache.load_or_compile(&engine, &sha, &bytes),
            None => Component::new(&engine, &bytes).map(|c| (c, super::CacheOutcome::Compiled)),
        })
        .await
        .map_err(|e| LoadError::Compile {
            path: path.to_path_buf(),
            reason: format!("compiler task failed: {e}"),
        })?
        .map_err(|e| LoadError::Compile {
            path: path.to_path_buf(),
            reason: format!("{e:#}"),
        })?;
        let load_time = started.elapsed();
        let instance_pre =
            runtime
                .linker()
                .instantiate_pre(&component)
                .map_err(|e| LoadError::Link {
                    path: path.to_path_buf(),
                    reason: format!("{e:#}"),
                })?;
        let pre = JobPluginPre::new(instance_pre).map_err(|e| LoadError::Link {
            path: path.to_path_buf(),
            reason: format!("{e:#}"),
        })?;
        let (info, wants) = describe(runtime, &pre, path).await?;
        validate(&info).map_err(|reason| LoadError::Invalid {
            path: path.to_path_buf(),
            reason,
        })?;
        Ok(Plugin {
            path: path.to_path_buf(),
            version_id,
            info,
            wants,
            compiled,
            load_time,
            pre,
        })
    }

    pub fn job_type(&self, name: &str) -> Option<&JobTypeInfo> {
        self.info.job_types.iter().find(|t| t.name == name)
    }

    /// The first 12 hex digits of the version id, for humans.
    pub fn short_version(&self) -> &str {
        &self.version_id[..12.min(self.version_id.len())]
    }
}

/// `capabilities.wants` as the component returns it.
#[derive(ComponentType, Lift)]
#[component(record)]
struct WitWants {
    #[component(name = "outbound-hosts")]
    outbound_hosts: Vec<String>,
    #[component(name = "key-value")]
    key_value: bool,
    variables: Vec<String>,
    #[component(name = "llm-models")]
    llm_models: Vec<String>,
}

/// Calls `capabilities.wants` when the component exports it.
async fn wants(
    pre: &JobPluginPre<JobState>,
    store: &mut wasmtime::Store<JobState>,
    instance: &wasmtime::component::Instance,
) -> wasmtime::Result<Wants> {
    let component = pre.instance_pre().component();
    let Some(interface) = component.get_export_index(None, CAPABILITIES) else {
        return Ok(Wants::default());
    };
    let Some(func) = component.get_export_index(Some(&interface), "wants") else {
        return Ok(Wants::default());
    };
    let func = instance.get_typed_func::<(), (WitWants,)>(&mut *store, &func)?;
    let (w,) = func.call_async(&mut *store, ()).await?;
    Ok(Wants {
        outbound_hosts: w.outbound_hosts,
        key_value: w.key_value,
        variables: w.variables,
        llm_models: w.llm_models,
    })
}

async fn describe(
    runtime: &Runtime,
    pre: &JobPluginPre<JobState>,
    path: &Path,
) -> Result<(PluginInfo, Wants), LoadError> {
    let name_hint = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let mut store = runtime.describe_store(&name_hint);
    let call = async {
        let instance = pre.instance_pre().instantiate_async(&mut store).await?;
        let plugin = super::bindings::JobPlugin::new(&mut store, &instance)?;
        let info = plugin
            .deckhand_plugin_handler()
            .call_describe(&mut store)
            .await?;
        let asked = wants(pre, &mut store, &instance).await?;
        wasmtime::Result::<_>::Ok((info, asked))
    };
    let describe_error = |reason: String| LoadError::Describe {
        path: path.to_path_buf(),
        reason,
    };
    let info = match tokio::time::timeout(DESCRIBE_TIMEOUT, call).await {
        Err(_) => {
            return Err(describe_error(format!(
                "did not return within {} s",
                DESCRIBE_TIMEOUT.as_secs()
            )));
        }
        Ok(Err(e)) => {
            let limits = super::JobLimits {
                timeout: DESCRIBE_TIMEOUT,
                memory_bytes: runtime.config().default_memory_bytes,
            };
            let failure = store
                .data()
                .classify(e, &limits, runtime.config().max_stack_bytes);
            return Err(describe_error(failure.to_string()));
        }
        Ok(Ok(found)) => found,
    };
    let (info, wants) = info;
    let info = PluginInfo {
        name: info.name,
        version: info.version,
        job_types: info
            .job_types
            .into_iter()
            .map(|t| JobTypeInfo {
                name: t.name,
                description: t.description,
                needs_llm: t.needs_llm,
                timeout_ms: t.timeout_ms,
                memory_limit_bytes: t.memory_limit_bytes,
            })
            .collect(),
    };
    Ok((info, wants))
}

/// Checks what a plugin declared: at least one job type, each a safe,
/// unique name.
fn validate(info: &PluginInfo) -> Result<(), String> {
    if info.name.trim().is_empty() {
        return Err("plugin name is empty".into());
    }
    if info.job_types.is_empty() {
        return Err("declares no job types".into());
    }
    let mut seen = std::collections::HashSet::new();
    for t in &info.job_types {
        valid_job_type_name(&t.name)?;
        if !seen.insert(t.name.as_str()) {
            return Err(format!("declares job type {:?} twice", t.name));
        }
        if t.timeout_ms == Some(0) {
            return Err(format!("job type {:?} asks for a zero timeout", t.name));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_id_is_sha256() {
        assert_eq!(
            version_id(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
