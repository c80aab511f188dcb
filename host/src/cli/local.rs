//! Commands that need no Redis: `exec` and `plugins`.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};

use deckhand::config::Config;
use deckhand::registry::Registry;
use deckhand::runtime::{JobInput, Plugin, Runtime, RuntimeConfig, Standalone};

use super::{EXIT_ERROR, EXIT_JOB_FAILED, EXIT_OK};

/// A runtime for the local commands, set up as `serve` sets up its own from
/// the same `deckhand.toml` (or `DECKHAND_CONFIG`) and `DECKHAND_*`
/// environment: limits, per job type limits and the compile cache
/// (`compile_cache`, on by default, in `<data_dir>/compiled`). No instance
/// pool: these commands run one job.
fn new_runtime() -> anyhow::Result<Arc<Runtime>> {
    let path = std::env::var_os("DECKHAND_CONFIG").map(std::path::PathBuf::from);
    let config = Config::load(path.as_deref(), std::env::vars())
        .map_err(|e| anyhow::anyhow!("configuration: {e}"))?;
    let runtime = RuntimeConfig {
        pool_instances: 0,
        ..config.runtime_config()
    };
    Ok(Arc::new(Runtime::new(runtime)?))
}

/// Reads a payload from a file or stdin and checks that it is JSON.
pub fn read_payload(source: &str) -> anyhow::Result<String> {
    let text = if source == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read the payload from stdin")?;
        text
    } else {
        std::fs::read_to_string(source)
            .with_context(|| format!("cannot read payload file {source}"))?
    };
    if let Err(e) = serde_json::from_str::<serde_json::Value>(&text) {
        let from = if source == "-" { "stdin" } else { source };
        bail!("the payload from {from} is not valid JSON: {e}");
    }
    Ok(text)
}

#[derive(clap::Args, Debug)]
pub struct ExecArgs {
    /// A job type (looked up in the plugin directory) or a `.wasm` file.
    target: String,
    /// The payload: a JSON file, or `-` for stdin.
    payload: String,
    /// With a `.wasm` that handles several job types, which one to run.
    #[arg(long = "type")]
    job_type: Option<String>,
    #[arg(long, env = "DECKHAND_PLUGIN_DIR", default_value = "plugins")]
    plugin_dir: std::path::PathBuf,
    /// Attempt number to pass to the plugin.
    #[arg(long, default_value_t = 1)]
    attempt: u32,
    /// Feedback to pass to the plugin, as if from a previous attempt.
    #[arg(long)]
    feedback: Option<String>,
    /// Print the outcome as one JSON object on stdout.
    #[arg(long)]
    json: bool,
}

pub async fn exec(args: ExecArgs) -> anyhow::Result<u8> {
    let ExecArgs {
        target,
        payload,
        job_type,
        plugin_dir,
        attempt,
        feedback,
        json,
    } = args;
    let (target, plugin_dir) = (target.as_str(), plugin_dir.as_path());
    let payload = read_payload(&payload)?;
    let runtime = new_runtime()?;
    let (plugin, job_type) = find_plugin(&runtime, target, job_type, plugin_dir).await?;
    if plugin.job_type(&job_type).is_none() {
        bail!(
            "plugin {} does not handle job type {job_type:?}",
            plugin.info.name
        );
    }
    let job = JobInput {
        id: format!("exec-{}", uuid::Uuid::now_v7()),
        job_type,
        payload,
        attempt,
        feedback,
        metadata: vec![],
    };
    let outcome = runtime.run(&plugin, job, Arc::new(Standalone)).await;
    match outcome {
        Ok(result) => {
            if json {
                let out = serde_json::json!({
                    "ok": serde_json::from_str::<serde_json::Value>(&result)?,
                    "plugin_version_id": plugin.version_id,
                });
                println!("{out}");
            } else {
                println!("{result}");
            }
            Ok(EXIT_OK)
        }
        Err(failure) => {
            if json {
                let out = serde_json::json!({
                    "error": failure,
                    "plugin_version_id": plugin.version_id,
                });
                println!("{out}");
            } else {
                eprintln!("error[{}]: {failure}", failure.kind());
            }
            Ok(EXIT_JOB_FAILED)
        }
    }
}

/// The plugin `exec` runs: a `.wasm` file (its one job type unless
/// `--type` names one), or the plugin in `plugin_dir` handling the job type
/// named; with the job type to run.
async fn find_plugin(
    runtime: &Arc<Runtime>,
    target: &str,
    job_type: Option<String>,
    plugin_dir: &Path,
) -> anyhow::Result<(Arc<Plugin>, String)> {
    Ok(if target.ends_with(".wasm") {
        let plugin = Arc::new(Plugin::load(runtime, Path::new(target)).await?);
        let job_type = match job_type {
            Some(t) => t,
            None => match plugin.info.job_types.as_slice() {
                [only] => only.name.clone(),
                types => {
                    let names: Vec<&str> = types.iter().map(|t| t.name.as_str()).collect();
                    bail!(
                        "{target} handles several job types ({}); pick one with --type",
                        names.join(", ")
                    );
                }
            },
        };
        (plugin, job_type)
    } else {
        let registry = Registry::open(Arc::clone(runtime), plugin_dir).await?;
        let snapshot = registry.snapshot();
        let Some(plugin) = snapshot.plugin_for(target) else {
            let mut known: Vec<&str> = snapshot.job_types().collect();
            known.sort_unstable();
            bail!(
                "no plugin in {} handles job type {target:?} (known: {})",
                plugin_dir.display(),
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            );
        };
        (plugin.clone(), target.to_string())
    })
}

pub async fn plugins_list(dir: &Path, config: Option<&Path>, json: bool) -> anyhow::Result<u8> {
    let runtime = new_runtime()?;
    runtime
        .grants()
        .replace(deckhand::config::Config::grants_from_file(config)?);
    let registry = Registry::open(runtime, dir).await?;
    let snapshot = registry.snapshot();
    if json {
        let plugins: Vec<_> = snapshot
            .plugins()
            .map(|p| {
                serde_json::json!({
                    "path": p.path,
                    "version_id": p.version_id,
                    "info": p.info,
                    "grants": registry.runtime().asked_granted(p),
                })
            })
            .collect();
        let errors: Vec<_> = snapshot
            .errors()
            .map(|e| serde_json::json!({ "path": e.path(), "error": e.to_string() }))
            .collect();
        println!(
            "{}",
            serde_json::json!({ "plugins": plugins, "errors": errors })
        );
    } else {
        let mut any = false;
        for p in snapshot.plugins() {
            any = true;
            println!(
                "{} {} ({}) version-id {}",
                p.info.name,
                p.info.version,
                p.path.display(),
                p.short_version()
            );
            for t in &p.info.job_types {
                let limits = registry.runtime().limits_for(t);
                println!(
                    "  {:<24} timeout {} ms, memory {} MiB{}  {}",
                    t.name,
                    limits.timeout.as_millis(),
                    limits.memory_bytes / (1024 * 1024),
                    if t.needs_llm { ", needs LLM" } else { "" },
                    t.description
                );
            }
            super::grants::print(&registry.runtime().asked_granted(p));
        }
        if !any {
            println!("no plugins loaded from {}", dir.display());
        }
        for e in snapshot.errors() {
            eprintln!("skipped: {e}");
        }
    }
    Ok(EXIT_OK)
}

pub async fn plugins_check(file: &Path, json: bool) -> anyhow::Result<u8> {
    let runtime = new_runtime()?;
    match Plugin::load(&runtime, file).await {
        Ok(p) => {
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "ok": true, "version_id": p.version_id, "info": p.info })
                );
            } else {
                println!(
                    "ok: {} {} version-id {} handles {}",
                    p.info.name,
                    p.info.version,
                    p.short_version(),
                    p.info
                        .job_types
                        .iter()
                        .map(|t| t.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
            Ok(EXIT_OK)
        }
        Err(e) => {
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "ok": false, "error": e.to_string() })
                );
            } else {
                eprintln!("error: {e}");
            }
            Ok(EXIT_ERROR)
        }
    }
}
