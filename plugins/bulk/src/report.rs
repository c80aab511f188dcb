//! `bulk.report`: a run's counts by status (alignment, validation, review)
//! and where each record's results are; for a split run, the parts'
//! reports added up.

use std::collections::BTreeMap;

use deckhand_guest::JobError;
use deckhand_guest::jobs;
use serde_json::{Value, json};

/// The report over part reports: their counts added, their rows joined.
/// A part that did not report (it died before its records were all
/// submitted) is listed in `missing_parts` with its state.
fn merge_parts(p: &Value, parts: &[Value]) -> Result<String, JobError> {
    let ids: Vec<String> = parts
        .iter()
        .filter_map(|v| v.as_str().map(String::from))
        .collect();
    let mut alignment: BTreeMap<String, u64> = BTreeMap::new();
    let mut validation: BTreeMap<String, u64> = BTreeMap::new();
    let mut review: BTreeMap<String, u64> = BTreeMap::new();
    let mut results = Vec::new();
    let mut missing = Vec::new();
    let mut records = 0;
    for (id, state) in ids.iter().zip(jobs::get_many(&ids)) {
        let report: Option<Value> = state
            .as_ref()
            .and_then(|s| s.result.as_deref())
            .and_then(|r| serde_json::from_str(r).ok());
        let Some(r) = report else {
            let status = state.map_or("missing".to_string(), |s| s.status);
            missing.push(json!({ "report": id, "status": status }));
            continue;
        };
        records += r["records"].as_u64().unwrap_or(0);
        for (counts, key) in [
            (&mut alignment, "alignment"),
            (&mut validation, "validation"),
            (&mut review, "review"),
        ] {
            for (k, n) in r[key].as_object().into_iter().flatten() {
                *counts.entry(k.clone()).or_default() += n.as_u64().unwrap_or(0);
            }
        }
        results.extend(r["results"].as_array().cloned().unwrap_or_default());
    }
    let mut out = json!({
        "bulk": p["bulk"],
        "records": records,
        "parts": parts,
        "alignment": alignment,
        "validation": validation,
        "review": review,
        "results": results,
    });
    if !missing.is_empty() {
        out["missing_parts"] = json!(missing);
    }
    Ok(out.to_string())
}

pub(crate) fn report(p: &Value) -> Result<String, JobError> {
    if let Some(parts) = p["parts"].as_array() {
        return merge_parts(p, parts);
    }
    let rows = p["records"]
        .as_array()
        .ok_or_else(|| JobError::Fail("the payload needs `records`".into()))?;
    let mut ids = Vec::with_capacity(rows.len() * 2);
    for row in rows {
        let (Some(a), Some(v)) = (row["alignment"].as_str(), row["validation"].as_str()) else {
            return Err(JobError::Fail(format!("record without job ids: {row}")));
        };
        ids.push(a.to_string());
        ids.push(v.to_string());
    }
    // Every alignment and validation in one trip.
    let mut states = jobs::get_many(&ids).into_iter();
    let mut alignment: BTreeMap<String, usize> = BTreeMap::new();
    let mut validation: BTreeMap<String, usize> = BTreeMap::new();
    let mut review: BTreeMap<&str, usize> = BTreeMap::new();
    let mut results = Vec::with_capacity(rows.len());
    for (row, pair) in rows.iter().zip(ids.chunks(2)) {
        let (align, check) = (states.next().flatten(), states.next().flatten());
        let a_status = align
            .as_ref()
            .map_or("missing".to_string(), |s| s.status.clone());
        *alignment.entry(a_status.clone()).or_default() += 1;
        let reviewed = align.as_ref().and_then(|s| review_of(s.result.as_deref()));
        if let Some(r) = reviewed {
            *review.entry(r).or_default() += 1;
        }
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
            "alignment_job": pair[0],
            "alignment_status": a_status,
            "alignment_error": align.and_then(|s| s.error),
            "validation_job": pair[1],
            "validation_status": v_status,
            "score": verdict.as_ref().map(|r| r["score"].clone()),
            "review": reviewed,
        }));
    }
    Ok(json!({
        "bulk": p["bulk"],
        "records": rows.len(),
        "alignment": alignment,
        "validation": validation,
        "review": review,
        "results": results,
    })
    .to_string())
}

/// What a person's review did for an alignment, from its result:
/// `answered` (answers applied), `timed_out` (it waited and nobody
/// answered: the record completed as it stood); none when it asked nobody.
fn review_of(result: Option<&str>) -> Option<&'static str> {
    let r: Value = serde_json::from_str(result?).ok()?;
    if r["awaiting_review"] == true {
        Some("timed_out")
    } else if r["reviewed"].as_array().is_some_and(|a| !a.is_empty()) {
        Some("answered")
    } else {
        None
    }
}
