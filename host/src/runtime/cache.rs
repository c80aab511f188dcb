//! The compile cache: the compiled form of each component on disk, so a
//! restart or a hot reload of a large component (Python and JavaScript ones
//! are 12–18 MB and take seconds to compile) takes milliseconds.
//!
//! An entry is named by the component's SHA-256 and a hash of everything in
//! the engine that changes generated code (wasmtime's version and settings),
//! and carries a SHA-256 of its own bytes. An entry whose checksum does not
//! match, or that wasmtime refuses, is deleted and rebuilt, never trusted.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Where compiled components are kept.
#[derive(Debug, Clone)]
pub struct CompileCache {
    dir: PathBuf,
}

/// How a component was obtained, for logs and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    /// Loaded from the cache.
    Hit,
    /// Compiled (and stored, if storing worked).
    Compiled,
    /// The entry was corrupt or incompatible: deleted, compiled again.
    Rebuilt,
}

impl CompileCache {
    pub fn new(dir: impl Into<PathBuf>) -> CompileCache {
        CompileCache { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn entry(&self, engine: &Engine, component_sha: &str) -> PathBuf {
        // DefaultHasher is stable within one build of the host, which is all
        // this needs: the wasmtime version is in the hash too.
        let mut h = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        env!("CARGO_PKG_VERSION").hash(&mut h);
        self.dir
            .join(format!("{component_sha}-{:016x}.cwasm", h.finish()))
    }

    /// The compiled component for `bytes`: from the cache when a sound
    /// entry exists, else compiled and stored.
    pub fn load_or_compile(
        &self,
        engine: &Engine,
        component_sha: &str,
        bytes: &[u8],
    ) -> wasmtime::Result<(Component, CacheOutcome)> {
        let path = self.entry(engine, component_sha);
        let mut outcome = CacheOutcome::Compiled;
        if let Ok(stored) = std::fs::read(&path) {
            match verified(&stored) {
                Some(artifact) => {
                    // SAFETY: the artifact was written by `Component::serialize`
                    // in `store` below and its checksum matches, so these are
                    // the bytes wasmtime produced; `deserialize` still checks
                    // that they fit this engine and refuses them otherwise.
                    match unsafe { Component::deserialize(engine, artifact) } {
                        Ok(component) => return Ok((component, CacheOutcome::Hit)),
                        Err(e) => {
                            tracing::warn!(path = %path.display(), "compile cache entry refused ({e}); rebuilding")
                        }
                    }
                }
                None => {
                    tracing::warn!(path = %path.display(), "compile cache entry is corrupt; rebuilding")
                }
            }
            let _ = std::fs::remove_file(&path);
            outcome = CacheOutcome::Rebuilt;
        }
        let component = Component::new(engine, bytes)?;
        if let Err(e) = self.store(&path, &component) {
            tracing::warn!(path = %path.display(), "cannot write the compile cache: {e}");
        }
        Ok((component, outcome))
    }

    fn store(&self, path: &Path, component: &Component) -> std::io::Result<()> {
        let artifact = component
            .serialize()
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        std::fs::create_dir_all(&self.dir)?;
        let mut file = Vec::with_capacity(artifact.len() + 32);
        file.extend_from_slice(&Sha256::digest(&artifact));
        file.extend_from_slice(&artifact);
        let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
        std::fs::write(&tmp, &file)?;
        std::fs::rename(&tmp, path)
    }
}

/// The artifact inside a cache file, if its checksum holds.
fn verified(file: &[u8]) -> Option<&[u8]> {
    if file.len() < 32 {
        return None;
    }
    let (sum, artifact) = file.split_at(32);
    (Sha256::digest(artifact).as_slice() == sum).then_some(artifact)
}
