//! JSON Schema validation for plugins (the WIT `schema` import).
//!
//! One native validator for every plugin language: a Python or JavaScript
//! job type validates exactly as the LLM client validates structured output,
//! and nobody ships a validator inside a component. Compiled schemas are kept
//! in a small process-wide cache keyed by the SHA-256 of the schema text, so a
//! job type that validates thousands of records against the HSDS schemas
//! compiles them once per host, not once per job.
//!
//! A schema comes from a job or a plugin, so it is untrusted: [`compile`]
//! resolves no external reference. A `$ref` to `file:`, `http:` or any
//! other document is a compile error naming the reference, never a read
//! of the host's files or network (which could also block a runtime
//! thread on a FIFO or fill memory from `/dev/zero`). References inside
//! the schema itself (`#/$defs/...`) and the bundled meta-schemas resolve.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use serde_json::Value;
use sha2::{Digest, Sha256};

/// Compiled schemas kept at most; past this the cache is cleared and refilled.
const CACHE_CAPACITY: usize = 64;

/// Errors reported per validation, at most; a document broken everywhere
/// does not produce an unbounded answer.
const MAX_ERRORS: usize = 200;

/// One way an instance breaks a schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaError {
    pub instance_path: String,
    pub schema_path: String,
    pub message: String,
}

static CACHE: LazyLock<Mutex<HashMap<[u8; 32], Arc<jsonschema::Validator>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// Validates `instance` (JSON text) against `schema` (JSON Schema text).
/// `Err` names what is wrong with the inputs themselves.
pub fn validate(schema: &str, instance: &str) -> Result<Vec<SchemaError>, String> {
    let validator = compiled(schema)?;
    let value: Value =
        serde_json::from_str(instance).map_err(|e| format!("the instance is not JSON: {e}"))?;
    Ok(validator
        .iter_errors(&value)
        .take(MAX_ERRORS)
        .map(|e| SchemaError {
            instance_path: e.instance_path().to_string(),
            schema_path: e.schema_path().to_string(),
            message: e.to_string(),
        })
        .collect())
}

fn compiled(schema: &str) -> Result<Arc<jsonschema::Validator>, String> {
    let key: [u8; 32] = Sha256::digest(schema.as_bytes()).into();
    if let Some(v) = cache().get(&key) {
        return Ok(v.clone());
    }
    let value: Value =
        serde_json::from_str(schema).map_err(|e| format!("the schema is not JSON: {e}"))?;
    let validator =
        Arc::new(compile(&value).map_err(|e| format!("the schema does not compile: {e}"))?);
    let mut cache = cache();
    if cache.len() >= CACHE_CAPACITY {
        cache.clear();
    }
    cache.insert(key, validator.clone());
    Ok(validator)
}

/// Compiles an untrusted schema (formats checked) without resolving any
/// external reference; see the module's documentation.
pub fn compile(schema: &Value) -> Result<jsonschema::Validator, String> {
    jsonschema::options()
        .should_validate_formats(true)
        .with_retriever(NoRetrieval)
        .build(schema)
        .map_err(|e| e.to_string())
}

/// Refuses every external document a `$ref` names.
struct NoRetrieval;

impl jsonschema::Retrieve for NoRetrieval {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let mut named = uri.as_str().to_string();
        // The reference as given, bounded: it is the submitter's own text.
        if named.len() > 200 {
            let cut = (0..=200).rev().find(|&i| named.is_char_boundary(i));
            named.truncate(cut.unwrap_or(0));
            named.push('…');
        }
        Err(
            format!("external references are not resolved ({named}): inline the referenced schema")
                .into(),
        )
    }
}

fn cache() -> std::sync::MutexGuard<'static, HashMap<[u8; 32], Arc<jsonschema::Validator>>> {
    CACHE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_paths_and_formats() {
        let schema = r#"{"type":"object","properties":{"id":{"type":"string","format":"uuid"}},"required":["id","name"]}"#;
        let errors = validate(schema, r#"{"id":"org_1"}"#).unwrap();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors.iter().any(|e| e.instance_path == "/id"));
        assert!(errors.iter().any(|e| e.message.contains("name")));
        assert!(
            validate(
                schema,
                r#"{"id":"d9d5e0f5-d3ce-4f73-9a2f-4dd0ecc6c610","name":"x"}"#
            )
            .unwrap()
            .is_empty()
        );
    }

    #[test]
    fn no_external_reference_is_resolved() {
        let dir = std::env::temp_dir().join(format!("deckhand-schema-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let secret = dir.join("secret.json");
        std::fs::write(&secret, r#"{"key": "the-secret-value"}"#).unwrap();
        for target in [
            format!("file://{}#/key", secret.display()),
            "file:///dev/zero".to_string(),
            "http://127.0.0.1:9/schema.json".to_string(),
            "other.json#/a".to_string(),
        ] {
            let schema = serde_json::json!({ "$ref": target }).to_string();
            let err = validate(&schema, "\"x\"").unwrap_err();
            let named = target.split('#').next().unwrap_or_default();
            assert!(err.contains(named), "{target}: {err}");
            assert!(!err.contains("the-secret-value"), "{err}");
            assert!(!err.contains("the-secret-value"), "{err}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
        // A reference inside the schema still resolves.
        let local = r##"{"$defs":{"n":{"type":"integer"}},"$ref":"#/$defs/n"}"##;
        assert_eq!(validate(local, "\"x\"").unwrap().len(), 1);
        assert!(validate(local, "3").unwrap().is_empty());
    }

    #[test]
    fn bad_inputs_are_errors_not_panics() {
        assert!(
            validate("{", "{}")
                .unwrap_err()
                .contains("schema is not JSON")
        );
        assert!(
            validate(r#"{"type":12}"#, "{}")
                .unwrap_err()
                .contains("compile")
        );
        assert!(
            validate("{}", "nope")
                .unwrap_err()
                .contains("instance is not JSON")
        );
    }
}
