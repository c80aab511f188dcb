//! A new job, made one way (as Oban's `Job.new`): [`NewJob::new`] with a job
//! type and a [`Payload`], then any of the optional fields. The API's body,
//! the CLI, `deckhand bulk`, a running job's child and a schedule's tick all
//! make their jobs so; the queue checks the rest (limits, names, ids) in
//! `queue::submit` before anything reaches Redis.
//!
//! A payload is parsed once, where it enters, and carries its text and the
//! state of its content hash from then on: nothing downstream parses,
//! re-serialises or canonicalises it again.

use std::collections::BTreeMap;

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::valid_hash;

/// A job's input: JSON, checked where it entered. Its text is kept as
/// given (what the job's plugin reads); its content hash is over the
/// canonical form (keys sorted, no spaces), so two payloads that differ
/// only in key order or spacing share results in the content store.
#[derive(Debug, Clone)]
pub struct Payload {
    text: String,
    /// SHA-256 over the canonical JSON, not yet finalised: a version from
    /// the job's metadata may still follow.
    canonical: Sha256,
}

impl Payload {
    /// A payload given as text (a file, stdin, a plugin's child, a line of
    /// a bulk input), or why it is not JSON.
    pub fn parse(text: impl Into<String>) -> Result<Payload, String> {
        let text = text.into();
        let value: Value =
            serde_json::from_str(&text).map_err(|e| format!("not valid JSON: {e}"))?;
        Ok(Payload {
            canonical: canonical_hash(&value),
            text,
        })
    }

    /// A payload already parsed (the API's body, a schedule's stored one):
    /// serialised once, and that text is already the canonical form.
    pub fn from_value(value: &Value) -> Payload {
        let text = value.to_string();
        let mut canonical = Sha256::new();
        canonical.update(text.as_bytes());
        Payload { text, canonical }
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// The content hash: SHA-256 (hex) of the canonical JSON, or, with a
    /// `version` (the job's `content_hash` metadata: a plugin or prompt
    /// version), of the canonical JSON, a newline and the version. Canonical
    /// JSON holds no raw newline, so no payload alone hashes like a payload
    /// with a version. A version that is not a valid hash name is refused.
    pub fn content_hash(&self, version: Option<&str>) -> Result<String, String> {
        let mut hash = self.canonical.clone();
        if let Some(version) = version {
            valid_hash(version)?;
            hash.update(b"\n");
            hash.update(version.as_bytes());
        }
        Ok(hex::encode(hash.finalize()))
    }
}

impl From<Value> for Payload {
    fn from(value: Value) -> Payload {
        Payload::from_value(&value)
    }
}

/// serde_json's maps are ordered by key, so its serialisation is canonical.
fn canonical_hash(value: &Value) -> Sha256 {
    let mut hash = Sha256::new();
    // Writing into a hasher cannot fail; a Value always serialises.
    let _ = serde_json::to_writer(HashWriter(&mut hash), value);
    hash
}

/// Feeds serialised bytes straight into the hash, without a string between.
struct HashWriter<'a>(&'a mut Sha256);

impl std::io::Write for HashWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.update(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A job to submit. Made by [`NewJob::new`]; every other field is optional
/// and set by name (`NewJob { priority: 5, ..NewJob::new(t, p) }`).
#[derive(Debug, Clone)]
pub struct NewJob {
    pub job_type: String,
    pub payload: Payload,
    /// Higher runs first; FIFO within a priority.
    pub priority: i32,
    pub depends_on: Vec<String>,
    /// Caller-chosen id, doubling as idempotency key.
    pub id: Option<String>,
    pub max_retries: Option<u32>,
    pub metadata: BTreeMap<String, String>,
    /// The job that submitted this one, for fan-out.
    pub parent: Option<String>,
    /// Run even if the content store has a result (and store the new one).
    pub force: bool,
    /// Run once every dependency has finished, even if some died (an
    /// aggregate over them); by default a dead dependency kills this job.
    pub run_after_failure: bool,
    /// Run no earlier than this (Unix ms, Redis' clock); until then the job
    /// is `scheduled`. A time already past runs at once. Not with
    /// `depends_on` (such a job runs when its dependencies finish).
    pub run_at: Option<u64>,
    /// Or: run no earlier than this many milliseconds after Redis takes
    /// the submission.
    pub delay_ms: Option<u64>,
    /// Its fairness group within the job type (a source, a customer):
    /// claims take turns between the groups that have ready jobs, so one
    /// group's backlog does not hold back another's jobs.
    pub group: Option<String>,
    /// W3C `traceparent` of the trace the job belongs to (its attempts'
    /// spans are children of it; the jobs it submits join the trace).
    pub trace: Option<String>,
}

impl NewJob {
    /// A job of `job_type` with `payload` and every other field at its
    /// default: priority 0, no dependencies, a fresh id, the configured
    /// retries, no metadata, group or trace, runs at once.
    pub fn new(job_type: impl Into<String>, payload: Payload) -> NewJob {
        NewJob {
            job_type: job_type.into(),
            payload,
            priority: 0,
            depends_on: Vec::new(),
            id: None,
            max_retries: None,
            metadata: BTreeMap::new(),
            parent: None,
            force: false,
            run_after_failure: false,
            run_at: None,
            delay_ms: None,
            group: None,
            trace: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn key_order_and_spacing_do_not_change_the_hash_and_the_text_is_kept() {
        let a = Payload::parse(r#"{"a":1,"b":[1,2]}"#).unwrap();
        let b = Payload::parse(r#"{ "b": [1, 2], "a": 1 }"#).unwrap();
        assert_eq!(a.content_hash(None).unwrap(), b.content_hash(None).unwrap());
        assert_eq!(b.text(), r#"{ "b": [1, 2], "a": 1 }"#);
        let c = Payload::from_value(&json!({"b": [1, 2], "a": 1}));
        assert_eq!(c.content_hash(None).unwrap(), a.content_hash(None).unwrap());
        assert_ne!(
            Payload::parse(r#"{"a":2,"b":[1,2]}"#)
                .unwrap()
                .content_hash(None)
                .unwrap(),
            a.content_hash(None).unwrap()
        );
    }

    #[test]
    fn the_hash_is_sha256_of_the_canonical_json_and_a_version_changes_it() {
        let p = Payload::parse(r#"{ "x" : true }"#).unwrap();
        let canonical = hex::encode(Sha256::digest(br#"{"x":true}"#));
        assert_eq!(p.content_hash(None).unwrap(), canonical);
        let versioned = hex::encode(Sha256::digest(b"{\"x\":true}\nprompt-v2"));
        assert_eq!(p.content_hash(Some("prompt-v2")).unwrap(), versioned);
        // A version becomes part of key and file names: refused unless safe.
        assert!(p.content_hash(Some("../etc")).is_err());
    }

    #[test]
    fn text_that_is_not_json_is_refused_with_the_reason() {
        let e = Payload::parse("{not json").unwrap_err();
        assert!(e.starts_with("not valid JSON"), "{e}");
        assert!(Payload::parse("").is_err());
    }
}
