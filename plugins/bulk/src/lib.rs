//! `bulk`: many raw records in, one HSDS pipeline per record out.
//!
//! Payload: `{"records": [...]}` (a JSON array) or `{"jsonl": "..."}` (one
//! JSON value a line), with optional `known_fields` for every record and
//! optional `max_retries` for every alignment (the host's default if absent). A
//! record is taken as `{"raw_data", "known_fields"}` when it has `raw_data`,
//! as `{"raw_input": ...}` (the HAARRRvest export) when it has that, and as
//! the raw data itself otherwise.
//!
//! For record `i` of bulk job `B` it submits, through the host's
//! `jobs.submit`:
//! - `B.align.i`: `hsds_alignment`;
//! - `B.validate.i`: `hsds_validation` of that alignment's result, depending
//!   on it (it dies with it when the alignment dies);
//!
//! and then `B.report`, a `bulk.report` that depends on every validation
//! with `run-after-failure`, so it runs once all have finished however they
//! ended, and reports counts by status and where each result is. Past 1,000
//! records (the host's cap on one job's dependencies) the reports form a
//! tree: `B.report.k` over records 1000k.., and `B.report` over those parts,
//! with the same counts and rows. The ids
//! are derived from `B`, so a retried bulk job submits nothing twice. The
//! host counts the children on `B`'s record as they finish: that is the
//! progress of the run (`deckhand status B`).

wit_bindgen::generate!({ world: "job-plugin", path: "../../wit" });

use std::collections::BTreeMap;

use deckhand::plugin::jobs::{self, ChildJob};
use deckhand::plugin::types::{Job, JobError, JobTypeInfo, PluginInfo};
use exports::deckhand::plugin::handler::Guest;
use serde_json::{Value, json};

/// Validations one report depends on at most (the host caps a job's
/// dependencies at 1,000). Past it, reports form a tree: one part report per
/// 1,000 records, and `B.report` over the parts.
const REPORT_FAN_IN: usize = 1_000;
/// Records one bulk job fans out at most (a tree of two levels).
const MAX_RECORDS: usize = REPORT_FAN_IN * REPORT_FAN_IN;

struct Bulk;

impl Guest for Bulk {
    fn describe() -> PluginInfo {
        let info = |name: &str, description: &str| JobTypeInfo {
            name: name.into(),
            description: description.into(),
            needs_llm: false,
            timeout_ms: Some(120_000),
            memory_limit_bytes: None,
        };
        PluginInfo {
            name: "bulk".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            job_types: vec![
                info(
                    "bulk",
                    "Fans out hsds_alignment and hsds_validation per raw record, then a report.",
                ),
                info(
                    "bulk.report",
                    "Counts a bulk run's results by status and says where each one is.",
                ),
            ],
        }
    }

    fn process(job: Job) -> Result<String, JobError> {
        let p: Value = serde_json::from_str(&job.payload)
            .map_err(|e| JobError::Fail(format!("payload is not JSON: {e}")))?;
        match job.job_type.as_str() {
            "bulk" => fan_out(&job, &p),
            "bulk.report" => report(&p),
            other => Err(JobError::Fail(format!("bulk does not run {other:?}"))),
        }
    }
}

fn fan_out(job: &Job, p: &Value) -> Result<String, JobError> {
    let records = records(p).map_err(JobError::Fail)?;
    if records.is_empty() {
        return Err(JobError::Fail(
            "no records: give `records` (an array) or `jsonl` (text)".into(),
        ));
    }
    if records.len() > MAX_RECORDS {
        return Err(JobError::Fail(format!(
            "{} records; one bulk job takes at most {MAX_RECORDS}: split the input",
            records.len()
        )));
    }
    let shared_known = p.get("known_fields").cloned().unwrap_or(Value::Null);
    // "mapper" (the default) or "llm": which alignment path every record takes.
    let path = p.get("path").cloned().unwrap_or(Value::Null);
    let max_retries = match p.get("max_retries") {
        None | Some(Value::Null) => None,
        Some(n) => Some(
            n.as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| JobError::Fail("`max_retries` must be a whole number".into()))?,
        ),
    };
    let submit = |job_type: &str,
                  id: String,
                  payload: Value,
                  depends_on: Vec<String>,
                  after_failure: bool| {
        jobs::submit(&ChildJob {
            job_type: job_type.into(),
            payload: payload.to_string(),
            priority: None,
            id: Some(id),
            metadata: vec![],
            depends_on,
            max_retries: if job_type == "hsds_alignment" {
                max_retries
            } else {
                None
            },
            run_after_failure: after_failure,
        })
        .map_err(|e| JobError::Retry(format!("cannot submit a {job_type} job: {e}")))
    };
    let mut rows = Vec::with_capacity(records.len());
    for (i, (raw, known)) in records.into_iter().enumerate() {
        let known = if known.is_null() {
            shared_known.clone()
        } else {
            known
        };
        let align = submit(
            "hsds_alignment",
            format!("{}.align.{i}", job.id),
            json!({ "raw_data": raw, "known_fields": known, "path": path }),
            vec![],
            false,
        )?;
        let validate = submit(
            "hsds_validation",
            format!("{}.validate.{i}", job.id),
            json!({ "alignment_job": align, "raw_data": raw, "known_fields": known }),
            vec![align.clone()],
            false,
        )?;
        rows.push(json!({ "index": i, "alignment": align, "validation": validate }));
        if i % 50 == 0 {
            jobs::progress(
                i as f32 / rows.capacity() as f32,
                &format!("submitted {i} records"),
            );
        }
    }
    let validations = |rows: &[Value]| -> Vec<String> {
        rows.iter()
            .filter_map(|r| r["validation"].as_str().map(String::from))
            .collect()
    };
    let report = if rows.len() <= REPORT_FAN_IN {
        submit(
            "bulk.report",
            format!("{}.report", job.id),
            json!({ "bulk": job.id, "records": rows }),
            validations(&rows),
            true,
        )?
    } else {
        let mut parts = Vec::new();
        for (k, chunk) in rows.chunks(REPORT_FAN_IN).enumerate() {
            parts.push(submit(
                "bulk.report",
                format!("{}.report.{k}", job.id),
                json!({ "bulk": job.id, "records": chunk }),
                validations(chunk),
                true,
            )?);
        }
        submit(
            "bulk.report",
            format!("{}.report", job.id),
            json!({ "bulk": job.id, "parts": parts }),
            parts.clone(),
            true,
        )?
    };
    jobs::progress(1.0, &format!("submitted {} records", rows.len()));
    Ok(json!({ "records": rows.len(), "report": report }).to_string())
}

/// (raw data, known fields) per record.
fn records(p: &Value) -> Result<Vec<(Value, Value)>, String> {
    let list: Vec<Value> = match (p.get("records"), p.get("jsonl")) {
        (Some(Value::Array(items)), None) => items.clone(),
        (Some(_), None) => return Err("`records` must be an array".into()),
        (None, Some(Value::String(text))) => text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(n, l)| serde_json::from_str(l).map_err(|e| format!("jsonl line {}: {e}", n + 1)))
            .collect::<Result<_, _>>()?,
        (None, Some(_)) => return Err("`jsonl` must be a string".into()),
        (Some(_), Some(_)) => return Err("give `records` or `jsonl`, not both".into()),
        (None, None) => vec![],
    };
    Ok(list
        .into_iter()
        .map(|r| match r {
            Value::Object(mut m) if m.contains_key("raw_data") => {
                let known = m.remove("known_fields").unwrap_or(Value::Null);
                (m.remove("raw_data").unwrap_or(Value::Null), known)
            }
            Value::Object(mut m) if m.contains_key("raw_input") => {
                (m.remove("raw_input").unwrap_or(Value::Null), Value::Null)
            }
            other => (other, Value::Null),
        })
        .collect())
}

/// The report over part reports: their counts added, their rows joined.
fn merge_parts(p: &Value, parts: &[Value]) -> Result<String, JobError> {
    let mut alignment: BTreeMap<String, u64> = BTreeMap::new();
    let mut validation: BTreeMap<String, u64> = BTreeMap::new();
    let mut results = Vec::new();
    let mut records = 0;
    for part in parts {
        let id = part.as_str().unwrap_or_default();
        let state = jobs::get(id).ok_or_else(|| JobError::Fail(format!("no part report {id}")))?;
        let r: Value = state
            .result
            .as_deref()
            .and_then(|r| serde_json::from_str(r).ok())
            .ok_or_else(|| JobError::Fail(format!("part report {id} is {}", state.status)))?;
        records += r["records"].as_u64().unwrap_or(0);
        for (counts, key) in [
            (&mut alignment, "alignment"),
            (&mut validation, "validation"),
        ] {
            for (k, n) in r[key].as_object().into_iter().flatten() {
                *counts.entry(k.clone()).or_default() += n.as_u64().unwrap_or(0);
            }
        }
        results.extend(r["results"].as_array().cloned().unwrap_or_default());
    }
    Ok(json!({
        "bulk": p["bulk"],
        "records": records,
        "parts": parts,
        "alignment": alignment,
        "validation": validation,
        "results": results,
    })
    .to_string())
}

fn report(p: &Value) -> Result<String, JobError> {
    if let Some(parts) = p["parts"].as_array() {
        return merge_parts(p, parts);
    }
    let rows = p["records"]
        .as_array()
        .ok_or_else(|| JobError::Fail("the payload needs `records`".into()))?;
    let mut alignment: BTreeMap<String, usize> = BTreeMap::new();
    let mut validation: BTreeMap<String, usize> = BTreeMap::new();
    let mut results = Vec::with_capacity(rows.len());
    for row in rows {
        let (Some(a), Some(v)) = (row["alignment"].as_str(), row["validation"].as_str()) else {
            return Err(JobError::Fail(format!("record without job ids: {row}")));
        };
        let align = jobs::get(a);
        let check = jobs::get(v);
        let a_status = align
            .as_ref()
            .map_or("missing".to_string(), |s| s.status.clone());
        *alignment.entry(a_status.clone()).or_default() += 1;
        let verdict: Option<Value> = check
            .as_ref()
            .and_then(|s| s.result.as_deref())
            .and_then(|r| serde_json::from_str(r).ok());
        let v_status = match (&verdict, &check) {
            (Some(r), _) => r["status"].as_str().unwrap_or("unknown").to_string(),
            (None, Some(s)) => format!("not_run ({})", s.status),
            (None, None) => "missing".into(),
        };
        *validation.entry(v_status.clone()).or_default() += 1;
        results.push(json!({
            "index": row["index"],
            "alignment_job": a,
            "alignment_status": a_status,
            "alignment_error": align.and_then(|s| s.error),
            "validation_job": v,
            "validation_status": v_status,
            "score": verdict.as_ref().map(|r| r["score"].clone()),
        }));
    }
    Ok(json!({
        "bulk": p["bulk"],
        "records": rows.len(),
        "alignment": alignment,
        "validation": validation,
        "results": results,
    })
    .to_string())
}

export!(Bulk);
