//! The plugin directory: every `*.wasm` in it, loaded, indexed by job type,
//! and kept in step with the files while the host runs.
//!
//! A rescan stats each file and recompiles only those whose size or
//! modification time changed (and whose bytes really differ). The result is a
//! new immutable [`Snapshot`] swapped in atomically; running jobs keep the
//! `Arc<Plugin>` they started with, so a replaced plugin's old version lives
//! exactly as long as its last job.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use crate::runtime::{JobTypeInfo, LoadError, Plugin, Runtime, plugin_version_id};

/// The loaded plugins at one moment.
#[derive(Default)]
pub struct Snapshot {
    /// Loaded plugins by file path.
    plugins: BTreeMap<PathBuf, Loaded>,
    /// Job type name → the plugin that handles it.
    by_type: HashMap<String, Arc<Plugin>>,
    /// Files that did not load, and why.
    failed: BTreeMap<PathBuf, Failed>,
}

#[derive(Clone)]
struct Failed {
    error: Arc<LoadError>,
    /// The file as it was when it failed; `None` for a conflict, which
    /// depends on other files too.
    stamp: Option<FileStamp>,
}

#[derive(Clone)]
struct Loaded {
    plugin: Arc<Plugin>,
    stamp: FileStamp,
}

/// What we compare to decide whether a file changed.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct FileStamp {
    len: u64,
    modified: Option<SystemTime>,
}

impl Snapshot {
    pub fn plugin_for(&self, job_type: &str) -> Option<&Arc<Plugin>> {
        self.by_type.get(job_type)
    }

    pub fn job_type(&self, job_type: &str) -> Option<(&Arc<Plugin>, &JobTypeInfo)> {
        let plugin = self.by_type.get(job_type)?;
        Some((plugin, plugin.job_type(job_type)?))
    }

    pub fn plugins(&self) -> impl Iterator<Item = &Arc<Plugin>> {
        self.plugins.values().map(|l| &l.plugin)
    }

    /// Files that did not load, and why, in path order.
    pub fn errors(&self) -> impl Iterator<Item = &LoadError> {
        self.failed.values().map(|f| f.error.as_ref())
    }

    pub fn job_types(&self) -> impl Iterator<Item = &str> {
        self.by_type.keys().map(String::as_str)
    }
}

/// Error reading the plugin directory itself.
#[derive(Debug, thiserror::Error)]
#[error("cannot read plugin directory {dir}: {source}")]
pub struct DirError {
    pub dir: PathBuf,
    pub source: std::io::Error,
}

/// The live set of plugins from one directory.
pub struct Registry {
    runtime: Arc<Runtime>,
    dir: PathBuf,
    current: RwLock<Arc<Snapshot>>,
    /// Serializes rescans, so two never race to swap in snapshots.
    scan_lock: tokio::sync::Mutex<()>,
}

/// What one rescan changed, for logging and tests.
#[derive(Debug, Default, PartialEq)]
pub struct ScanReport {
    pub loaded: Vec<PathBuf>,
    pub removed: Vec<PathBuf>,
    pub failed: Vec<PathBuf>,
}

impl ScanReport {
    pub fn is_empty(&self) -> bool {
        self.loaded.is_empty() && self.removed.is_empty() && self.failed.is_empty()
    }
}

impl Registry {
    /// Loads every plugin in `dir`. A missing directory is an error; bad
    /// files are not (they are reported in [`Snapshot::errors`]).
    pub async fn open(runtime: Arc<Runtime>, dir: impl Into<PathBuf>) -> Result<Self, DirError> {
        let registry = Registry {
            runtime,
            dir: dir.into(),
            current: RwLock::new(Arc::new(Snapshot::default())),
            scan_lock: tokio::sync::Mutex::new(()),
        };
        registry.rescan().await?;
        Ok(registry)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.runtime
    }

    /// The plugins as they are now. Hold the `Arc` for as long as you need a
    /// consistent view; it never changes under you.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        match self.current.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Re-reads the directory and swaps in the new set of plugins.
    pub async fn rescan(&self) -> Result<ScanReport, DirError> {
        let _guard = self.scan_lock.lock().await;
        let previous = self.snapshot();
        let mut files = list_wasm_files(&self.dir).map_err(|source| DirError {
            dir: self.dir.clone(),
            source,
        })?;
        // Plugins already loaded keep their job types: they claim first, so
        // a file dropped in later that declares one of them is refused
        // instead of taking it away. Within each group, path order (the
        // only order at start-up, when nothing is loaded yet).
        files.sort_by_key(|(path, _)| !previous.plugins.contains_key(path));

        let mut report = ScanReport::default();
        let mut next = Snapshot::default();
        for (path, stamp) in files {
            // A broken file is not recompiled until it changes.
            if let Some(failed) = previous
                .failed
                .get(&path)
                .filter(|f| f.stamp == Some(stamp))
            {
                next.failed.insert(path, failed.clone());
                continue;
            }
            let loaded = match previous.plugins.get(&path).filter(|l| l.stamp == stamp) {
                Some(unchanged) => Ok(unchanged.clone()),
                None => self.load(&path, stamp, &previous).await,
            };
            let failure = match loaded {
                Ok(loaded) => match claim_job_types(&mut next, &loaded.plugin) {
                    Ok(()) => {
                        let is_new = !previous
                            .plugins
                            .get(&path)
                            .is_some_and(|p| Arc::ptr_eq(&p.plugin, &loaded.plugin));
                        if is_new {
                            report.loaded.push(path.clone());
                        }
                        next.plugins.insert(path, loaded);
                        continue;
                    }
                    // A conflict depends on the other files, so it is
                    // re-checked on every scan (no stamp).
                    Err(conflict) => Failed {
                        error: Arc::new(conflict),
                        stamp: None,
                    },
                },
                Err(error) => Failed {
                    error: Arc::new(error),
                    stamp: Some(stamp),
                },
            };
            let repeated = previous
                .failed
                .get(&path)
                .is_some_and(|f| f.error.to_string() == failure.error.to_string());
            if !repeated {
                report.failed.push(path.clone());
            }
            next.failed.insert(path, failure);
        }
        for path in previous.plugins.keys() {
            if !next.plugins.contains_key(path) && !next.failed.contains_key(path) {
                report.removed.push(path.clone());
            }
        }
        let next = Arc::new(next);
        match self.current.write() {
            Ok(mut guard) => *guard = next,
            Err(poisoned) => *poisoned.into_inner() = next,
        }
        Ok(report)
    }

    async fn load(
        &self,
        path: &Path,
        stamp: FileStamp,
        previous: &Snapshot,
    ) -> Result<Loaded, LoadError> {
        let bytes = tokio::fs::read(path)
            .await
            .map_err(|source| LoadError::Read {
                path: path.to_path_buf(),
                source,
            })?;
        // Touched but identical bytes: keep the compiled plugin.
        let id = plugin_version_id(&bytes);
        if let Some(same) = previous
            .plugins
            .get(path)
            .filter(|l| l.plugin.version_id == id)
        {
            return Ok(Loaded {
                plugin: same.plugin.clone(),
                stamp,
            });
        }
        let plugin = Plugin::from_bytes(&self.runtime, path, bytes).await?;
        Ok(Loaded {
            plugin: Arc::new(plugin),
            stamp,
        })
    }

    /// Rescans every `interval` until the returned task is aborted, logging
    /// what changed. This is the hot reload.
    pub fn watch(self: &Arc<Self>, interval: Duration) -> tokio::task::JoinHandle<()> {
        let registry = Arc::clone(self);
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticker.tick().await;
            loop {
                ticker.tick().await;
                match registry.rescan().await {
                    Ok(report) => registry.log_report(&report),
                    Err(e) => tracing::warn!("{e}"),
                }
            }
        })
    }

    /// Logs one line per plugin loaded, removed or refused.
    pub fn log_report(&self, report: &ScanReport) {
        let snapshot = self.snapshot();
        for path in &report.loaded {
            if let Some(l) = snapshot.plugins.get(path) {
                let p = &l.plugin;
                let types: Vec<&str> = p.info.job_types.iter().map(|t| t.name.as_str()).collect();
                tracing::info!(
                    path = %path.display(),
                    plugin = %p.info.name,
                    version = %p.info.version,
                    version_id = %p.short_version(),
                    job_types = ?types,
                    compiled = ?p.compiled,
                    load_ms = p.load_time.as_secs_f64() * 1000.0,
                    "plugin loaded"
                );
            }
        }
        for path in &report.removed {
            tracing::info!(path = %path.display(), "plugin removed");
        }
        for path in &report.failed {
            if let Some(failed) = snapshot.failed.get(path) {
                tracing::warn!("plugin skipped: {}", failed.error);
            }
        }
    }
}

/// Records `plugin`'s job types in `snapshot`, or says which one is taken.
/// A plugin is all or nothing: if any of its types is taken, none is added.
fn claim_job_types(snapshot: &mut Snapshot, plugin: &Arc<Plugin>) -> Result<(), LoadError> {
    for t in &plugin.info.job_types {
        if let Some(other) = snapshot.by_type.get(&t.name) {
            return Err(LoadError::Conflict {
                path: plugin.path.clone(),
                job_type: t.name.clone(),
                other: other.path.clone(),
            });
        }
    }
    for t in &plugin.info.job_types {
        snapshot.by_type.insert(t.name.clone(), plugin.clone());
    }
    Ok(())
}

/// `*.wasm` regular files in `dir`, sorted by path so that, when two files
/// claim one job type, the same one wins every time.
fn list_wasm_files(dir: &Path) -> std::io::Result<Vec<(PathBuf, FileStamp)>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("wasm") {
            continue;
        }
        // Follow symlinks: operators often link a release into place.
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if !meta.is_file() {
            continue;
        }
        files.push((
            path,
            FileStamp {
                len: meta.len(),
                modified: meta.modified().ok(),
            },
        ));
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(files)
}
