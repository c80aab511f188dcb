//! A plugin's variables: literal text, an environment variable or a file,
//! read when the plugin asks (a rotated secret applies on the next job).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// `[plugins.NAME.variables] NAME = { value | env | file, secret }`.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Variable {
    #[serde(default)]
    pub value: Option<String>,
    #[serde(default)]
    pub env: Option<String>,
    #[serde(default)]
    pub file: Option<PathBuf>,
    /// Kept out of logs, errors, traces, metrics and job records.
    #[serde(default)]
    pub secret: bool,
}

/// Never prints a value: a secret's may be literal.
impl std::fmt::Debug for Variable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Variable")
            .field("source", &self.kind())
            .field("secret", &self.secret)
            .finish_non_exhaustive()
    }
}

/// Why a granted variable has no value now.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum VariableError {
    #[error("environment variable {0} is not set")]
    EnvMissing(String),
    #[error("cannot read {path}: {reason}")]
    File { path: String, reason: String },
}

/// The largest variable file read (64 KiB).
const MAX_FILE_BYTES: u64 = 64 * 1024;

impl Variable {
    pub(super) fn check(&self) -> Result<(), String> {
        let sources = usize::from(self.value.is_some())
            + usize::from(self.env.is_some())
            + usize::from(self.file.is_some());
        if sources != 1 {
            return Err("give exactly one of value, env, file".into());
        }
        Ok(())
    }

    /// Where the value comes from: `value`, `env` or `file`.
    pub fn kind(&self) -> &'static str {
        match (&self.value, &self.env) {
            (Some(_), _) => "value",
            (None, Some(_)) => "env",
            (None, None) => "file",
        }
    }

    /// The value now. A file's trailing newline is dropped.
    pub fn resolve(&self) -> Result<String, VariableError> {
        if let Some(v) = &self.value {
            return Ok(v.clone());
        }
        if let Some(name) = &self.env {
            return std::env::var(name).map_err(|_| VariableError::EnvMissing(name.clone()));
        }
        let Some(path) = &self.file else {
            return Err(VariableError::EnvMissing(String::new()));
        };
        let file_error = |reason: String| VariableError::File {
            path: path.display().to_string(),
            reason,
        };
        let len = std::fs::metadata(path)
            .map_err(|e| file_error(e.to_string()))?
            .len();
        if len > MAX_FILE_BYTES {
            return Err(file_error(format!("larger than {MAX_FILE_BYTES} bytes")));
        }
        let text = std::fs::read_to_string(path).map_err(|e| file_error(e.to_string()))?;
        Ok(text.strip_suffix('\n').unwrap_or(&text).to_string())
    }
}
