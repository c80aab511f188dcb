//! `hsds_validation`: an HSDS document checked, itemised and scored.
//!
//! Payload: `{"hsds_data": <document>, "raw_data": ..., "known_fields": {...}}`,
//! or `{"alignment_job": "<id>", ...}` to check the result of a finished
//! `hsds_alignment` job the validation depends on (how `bulk` chains them;
//! the host lets a job read only its own family's jobs). `raw_data` and
//! `known_fields` are optional.
//!
//! Checks, each finding with a severity, a code, a JSON Pointer and a message:
//! - the HSDS 3.x schemas with formats on and `additionalProperties: false`
//!   everywhere (as the specification's own CI runs them), through the
//!   host's `schema.validate`; documents shaped as one object, as a list
//!   envelope (`contents`) or as top-level arrays by kind are all read;
//! - pantry sanity: coordinates in range (Web-Mercator metres detected and
//!   converted), US state codes and ZIP codes, phone numbers, emails, URL
//!   schemes, schedules (times, order, RFC 5545 days);
//! - with `raw_data`: names, phones, emails and addresses that do not occur
//!   in the raw input (normalised first), a cheap deterministic
//!   hallucination check, weighted up for `known_fields`.
//!
//! Score: 100 minus a deduction per distinct problem (schema rule 20, error
//! 10, warning 3, unsupported value 10, or 20 for a known field); any schema
//! error caps the score at 79. Status: `verified` ≥ 80, `needs_review` ≥ 10,
//! `rejected` below.

mod checks;
mod shape;

use std::collections::BTreeMap;

use deckhand_guest::{Guest, Job, JobError, JobTypeInfo, PluginInfo, jobs, payload, schema};
use serde_json::{Value, json};

/// One thing found.
#[derive(Debug, Clone)]
pub struct Finding {
    pub severity: Severity,
    pub code: String,
    pub path: String,
    pub message: String,
    /// Deducted once per distinct key (a rule, or a value), at the highest weight.
    pub dedupe: String,
    pub weight: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl Finding {
    pub fn new(severity: Severity, code: &str, path: &str, message: String) -> Finding {
        let weight = match severity {
            Severity::Error => 10,
            Severity::Warning => 3,
            Severity::Info => 0,
        };
        Finding {
            severity,
            code: code.into(),
            path: path.into(),
            message,
            dedupe: code.into(),
            weight,
        }
    }
}

struct Validation;

impl Guest for Validation {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "hsds_validation".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            job_types: vec![JobTypeInfo {
                name: "hsds_validation".into(),
                description: "Checks an HSDS document against the schemas and pantry sanity rules; itemised findings, a 0-100 score and a status.".into(),
                needs_llm: false,
                timeout_ms: Some(60_000),
                memory_limit_bytes: None,
            }],
        }
    }

    fn process(job: Job) -> Result<String, JobError> {
        let p: Value = payload(&job)?;
        // Pointers whose values the alignment took from the raw record.
        let mut from_raw = std::collections::BTreeSet::new();
        let document = match (p.get("hsds_data"), p.get("alignment_job")) {
            (Some(Value::String(text)), _) => serde_json::from_str(text)
                .map_err(|e| JobError::Fail(format!("`hsds_data` is a string but not JSON: {e}")))?,
            (Some(doc @ Value::Object(_)), _) => doc.clone(),
            (Some(_), _) => return Err(JobError::Fail("`hsds_data` must be a JSON object (or JSON text of one)".into())),
            (None, Some(Value::String(id))) => {
                let (doc, provenance) = aligned(id)?;
                from_raw = provenance;
                doc
            }
            (None, _) => return Err(JobError::Fail("the payload needs `hsds_data` (the document) or `alignment_job` (an hsds_alignment job id)".into())),
        };
        let raw = match p.get("raw_data") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => Some(other.to_string()),
        };
        let known = p
            .get("known_fields")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();

        let (collection, mut findings) = shape::to_collection(&document);
        let strict = hsds::schemas::collection(true).to_string();
        let errors = schema::validate(&strict, &collection.to_string())
            .map_err(|m| JobError::Fail(format!("cannot validate: {m}")))?;
        let schema_valid = errors.is_empty();
        for e in &errors {
            let mut f = Finding::new(
                Severity::Error,
                "schema",
                &e.instance_path,
                e.message.clone(),
            );
            f.dedupe = format!("schema:{}", e.schema_path);
            f.weight = 20;
            findings.push(f);
        }
        checks::pantry(&collection, &mut findings);
        if let Some(raw) = &raw {
            checks::against_raw(&collection, raw, &known, &from_raw, &mut findings);
        }

        let score = score(&findings, schema_valid);
        let status = match score {
            80.. => "verified",
            10.. => "needs_review",
            _ => "rejected",
        };
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for f in &findings {
            *counts.entry(f.severity.as_str()).or_default() += 1;
        }
        findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
        Ok(json!({
            "status": status,
            "score": score,
            "schema_valid": schema_valid,
            "counts": counts,
            "findings": findings.iter().map(|f| json!({
                "severity": f.severity.as_str(),
                "code": f.code,
                "path": f.path,
                "message": f.message,
            })).collect::<Vec<_>>(),
            "document": collection,
        })
        .to_string())
    }
}

fn score(findings: &[Finding], schema_valid: bool) -> u32 {
    let mut by_key: BTreeMap<&str, u32> = BTreeMap::new();
    for f in findings {
        let w = by_key.entry(&f.dedupe).or_default();
        *w = (*w).max(f.weight);
    }
    let deducted: u32 = by_key.values().sum();
    let score = 100u32.saturating_sub(deducted);
    if schema_valid { score } else { score.min(79) }
}

/// The HSDS document an `hsds_alignment` job produced.
/// The alignment job's document, and the pointers of the values its
/// provenance says came from the raw record (not from an LLM).
fn aligned(id: &str) -> Result<(Value, std::collections::BTreeSet<String>), JobError> {
    let state = jobs::get(id).ok_or_else(|| JobError::Fail(format!("no job {id:?}")))?;
    if state.status != "completed" {
        return Err(JobError::Fail(format!(
            "alignment job {id} is {}{}",
            state.status,
            state.error.map(|e| format!(": {e}")).unwrap_or_default()
        )));
    }
    let result: Value = state
        .result
        .as_deref()
        .and_then(|r| serde_json::from_str(r).ok())
        .ok_or_else(|| JobError::Fail(format!("alignment job {id} has no JSON result")))?;
    let from_raw = result["provenance"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(_, source)| {
            source["how"] != "llm"
                && source["source"]
                    .as_str()
                    .is_some_and(|s| s.starts_with("raw:"))
        })
        .map(|(pointer, _)| pointer.clone())
        .collect();
    match result.get("hsds") {
        Some(doc @ Value::Object(_)) => Ok((doc.clone(), from_raw)),
        _ => Err(JobError::Fail(format!(
            "alignment job {id}'s result has no `hsds` document"
        ))),
    }
}

deckhand_guest::export!(Validation);
