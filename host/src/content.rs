//! The content store: results keyed by (job type, content hash), so the same
//! LLM work is never paid for twice.
//!
//! Redis holds the index every host shares (`{prefix}:content:<type>:<hash>`,
//! written by the submit and complete scripts). This module adds the durable
//! copy: one JSON file per result under a content-addressed directory,
//! `<dir>/<job type>/<hash[..2]>/<hash>.json`, friendly to git and backups,
//! and the export/import that move results between the two.

use std::path::{Path, PathBuf};

use crate::queue::{Queue, QueueError};

pub use crate::job::{StoredResult, content_hash, valid_hash};

#[derive(Debug, thiserror::Error)]
pub enum ContentError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a stored result: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    #[error(transparent)]
    Queue(#[from] QueueError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ContentError + '_ {
    move |source| ContentError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The content-addressed directory.
#[derive(Debug, Clone)]
pub struct ContentDir {
    root: PathBuf,
}

impl ContentDir {
    pub fn new(root: impl Into<PathBuf>) -> ContentDir {
        ContentDir { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, job_type: &str, hash: &str) -> PathBuf {
        let shard = &hash[..2.min(hash.len())];
        self.root
            .join(job_type)
            .join(shard)
            .join(format!("{hash}.json"))
    }

    /// Writes one result (write aside, then rename: never half a file).
    pub fn write(&self, stored: &StoredResult) -> Result<PathBuf, ContentError> {
        let path = self.path(&stored.job_type, &stored.content_hash);
        let dir = path.parent().unwrap_or(&self.root);
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let tmp = path.with_extension(format!("json.{}.tmp", std::process::id()));
        let mut text = serde_json::to_string_pretty(stored).map_err(|e| ContentError::Corrupt {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        text.push('\n');
        std::fs::write(&tmp, text).map_err(io(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(io(&path))?;
        Ok(path)
    }

    /// Reads the stored result for (job type, hash), if there is one.
    pub fn read(&self, job_type: &str, hash: &str) -> Result<Option<StoredResult>, ContentError> {
        let path = self.path(job_type, hash);
        match std::fs::read_to_string(&path) {
            Ok(text) => parse(&path, &text).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&path)(e)),
        }
    }

    /// Every stored result in the directory.
    pub fn all(&self) -> Result<Vec<StoredResult>, ContentError> {
        let mut out = Vec::new();
        if !self.root.exists() {
            return Ok(out);
        }
        let mut stack = vec![self.root.clone()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).map_err(io(&dir))? {
                let path = entry.map_err(io(&dir))?.path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().and_then(|e| e.to_str()) == Some("json") {
                    let text = std::fs::read_to_string(&path).map_err(io(&path))?;
                    out.push(parse(&path, &text)?);
                }
            }
        }
        out.sort_by(|a, b| (&a.job_type, &a.content_hash).cmp(&(&b.job_type, &b.content_hash)));
        Ok(out)
    }
}

fn parse(path: &Path, text: &str) -> Result<StoredResult, ContentError> {
    let stored: StoredResult = serde_json::from_str(text).map_err(|e| ContentError::Corrupt {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    valid_hash(&stored.content_hash).map_err(|reason| ContentError::Corrupt {
        path: path.to_path_buf(),
        reason,
    })?;
    serde_json::from_str::<serde::de::IgnoredAny>(&stored.result).map_err(|e| {
        ContentError::Corrupt {
            path: path.to_path_buf(),
            reason: format!("result is not JSON: {e}"),
        }
    })?;
    Ok(stored)
}

/// Writes every result in the Redis index to `dir`. Returns how many.
pub async fn export(queue: &Queue, dir: &ContentDir) -> Result<usize, ContentError> {
    let stored = queue.content_results().await?;
    for s in &stored {
        dir.write(s)?;
    }
    Ok(stored.len())
}

/// Loads every result in `dir` into the Redis index. Returns how many.
pub async fn import(queue: &Queue, dir: &ContentDir) -> Result<usize, ContentError> {
    let stored = dir.all()?;
    queue.store_content(&stored).await?;
    Ok(stored.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_ignores_key_order_and_whitespace() {
        let a = content_hash(r#"{"a":1,"b":[1,2]}"#, None).unwrap();
        let b = content_hash(r#"{ "b": [1, 2], "a": 1 }"#, None).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, content_hash(r#"{"a":2,"b":[1,2]}"#, None).unwrap());
        // A submitter's hash is a version mixed in, never the key: two
        // payloads under one given hash stay apart.
        let versioned = content_hash("{}", Some("abcdef0123")).unwrap();
        assert_ne!(versioned, "abcdef0123");
        assert_ne!(versioned, content_hash("{}", None).unwrap());
        assert_ne!(
            versioned,
            content_hash(r#"{"other":1}"#, Some("abcdef0123")).unwrap()
        );
        assert!(content_hash("{}", Some("../etc")).is_err());
    }

    #[test]
    fn files_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let store = ContentDir::new(dir.path());
        let s = StoredResult {
            job_type: "hsds.align".into(),
            content_hash: "0123456789abcdef".into(),
            result: r#"{"ok":true}"#.into(),
            job_id: "j1".into(),
            plugin_version: "v".into(),
            stored_at: 1,
        };
        let path = store.write(&s).unwrap();
        assert!(path.ends_with("hsds.align/01/0123456789abcdef.json"));
        assert_eq!(
            store.read("hsds.align", "0123456789abcdef").unwrap(),
            Some(s.clone())
        );
        assert_eq!(store.all().unwrap(), vec![s]);
        assert_eq!(store.read("hsds.align", "ffffffffffff").unwrap(), None);
    }
}
