//! `bulk`: many raw records in, one HSDS pipeline per record out.
//!
//! Payload: `{"records": [...]}` (a JSON array) or `{"jsonl": "..."}` (one
//! JSON value a line), with optional `known_fields` for every record and
//! optional `max_retries`, `path`, `ask_llm`, `review`,
//! `review_timeout_ms` and `llm_batch` (its LLM calls through the
//! provider's batch API) for every alignment. A record is taken as
//! `{"raw_data", "known_fields"}` when it has `raw_data`, as
//! `{"raw_input": ...}` (the HAARRRvest export) when it has that, and as the
//! raw data itself otherwise.
//!
//! For record `i` of bulk job `B` it submits, through the host's
//! `jobs.submit-many` (a hundred children a trip):
//! - `B.align.i`: `hsds_alignment`;
//! - `B.validate.i`: `hsds_validation` of that alignment's result, depending
//!   on it (it dies with it when the alignment dies);
//!
//! and `B.report`, a `bulk.report` that runs once every validation has
//! finished however it ended (`run-after-failure`), and reports counts by
//! status and where each result is (read in one `get-many`). With
//! `review`, a record whose alignment waits for a person holds the report
//! back until it is answered or its wait runs out; the report counts both
//! (`review: {answered, timed_out}`).
//!
//! A job waits on at most 1,000 others and submits at most
//! `queue.max_children`, so a run of more than 1,000 records is split: `B`
//! submits `B.report` waiting on itself, then parts `B.part.k` (`bulk` jobs
//! of up to 1,000 records and 512 KiB each), and makes `B.report` wait on
//! them (`jobs.wait-also`). Part `k` submits its records' jobs (the same ids
//! as above, `i` counting across the run) and `B.report.k` over them, and
//! makes `B.report` wait on that too. `B.report` then adds the parts' counts
//! and rows: one report, for any number of records up to 1,000 parts.
//!
//! The ids are derived from `B`, so a retried bulk job submits nothing
//! twice. Its result says so in `rows` (count, offset, the id of each job
//! of record `i`, which gives the verdict): what the host's bulk pages
//! read. The host counts the children on `B`'s record as they finish: that
//! is the progress of the run (`deckhand status B`; of a part for a split
//! run).

mod report;

use deckhand_guest::jobs::{self, ChildJob};
use deckhand_guest::{Guest, Job, JobError, JobTypeInfo, PluginInfo, payload};
use serde_json::{Value, json};

/// Records one report waits on at most (the host caps a job's dependencies
/// at 1,000): a run of more is split into parts of this many records.
const PART_RECORDS: usize = 1_000;
/// A part's records at most, in bytes of JSON, so that its payload stays
/// under the host's default payload limit (1 MiB) whatever the run's is.
const PART_BYTES: usize = 512 * 1024;
/// Parts one run has at most (the run's report waits on each part's report).
const MAX_PARTS: usize = 1_000;

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
        let p: Value = payload(&job)?;
        match job.job_type.as_str() {
            "bulk" => fan_out(&job, &p),
            "bulk.report" => report::report(&p),
            other => Err(JobError::Fail(format!("bulk does not run {other:?}"))),
        }
    }
}

/// What every record of a run is aligned with.
struct Settings {
    /// `known_fields` for records that bring none of their own.
    known: Value,
    /// "mapper" (the default) or "llm": which alignment path every record takes.
    path: Value,
    /// Whether alignments ask the LLM about hours code cannot read, or a
    /// person (`review`: the alignment waits for an answer, and so does
    /// the run's report).
    ask_llm: Value,
    review: Value,
    /// How long each record waits for its review (the alignment checks it).
    review_timeout_ms: Value,
    max_retries: Option<u32>,
    /// The alignments' LLM calls go through the provider's batch API.
    llm_batch: bool,
}

impl Settings {
    fn read(p: &Value) -> Result<Settings, JobError> {
        let max_retries =
            match p.get("max_retries") {
                None | Some(Value::Null) => None,
                Some(n) => Some(n.as_u64().and_then(|n| u32::try_from(n).ok()).ok_or_else(
                    || JobError::Fail("`max_retries` must be a whole number".into()),
                )?),
            };
        Ok(Settings {
            known: p.get("known_fields").cloned().unwrap_or(Value::Null),
            path: p.get("path").cloned().unwrap_or(Value::Null),
            ask_llm: p.get("ask_llm").cloned().unwrap_or(Value::Null),
            review: p.get("review").cloned().unwrap_or(Value::Null),
            review_timeout_ms: p.get("review_timeout_ms").cloned().unwrap_or(Value::Null),
            max_retries,
            llm_batch: p.get("llm_batch").and_then(Value::as_bool).unwrap_or(false),
        })
    }
}

/// A child job, as `submit-many` takes it.
fn child(job_type: &str, id: String, payload: Value, depends_on: Vec<String>) -> ChildJob {
    ChildJob {
        job_type: job_type.into(),
        payload: payload.to_string(),
        priority: None,
        id: Some(id),
        metadata: vec![],
        depends_on,
        max_retries: None,
        // Reports run once everything they wait on has finished, however it ended.
        run_after_failure: job_type == "bulk.report",
    }
}

fn submit_all(children: Vec<ChildJob>) -> Result<Vec<String>, JobError> {
    jobs::submit_many(&children).map_err(|(i, e)| {
        let job_type = children.get(i as usize).map_or("", |c| c.job_type.as_str());
        JobError::Retry(format!("cannot submit a {job_type} job: {e}"))
    })
}

fn fan_out(job: &Job, p: &Value) -> Result<String, JobError> {
    let records = records(p).map_err(JobError::Fail)?;
    if records.is_empty() {
        return Err(JobError::Fail(
            "no records: give `records` (an array) or `jsonl` (text)".into(),
        ));
    }
    let settings = Settings::read(p)?;
    if let Some(part) = p.get("part") {
        return run_part(part, records, &settings);
    }
    if records.len() <= PART_RECORDS {
        let n = records.len();
        let report = report_id(&job.id, None);
        submit_and_report(&job.id, 0, records, &settings, &report)?;
        jobs::progress(1.0, &format!("submitted {n} records"));
        let rows = rows(&job.id, n, 0);
        return Ok(json!({ "records": n, "report": report, "rows": rows }).to_string());
    }
    split(job, records, &settings)
}

/// What the run's result says of its rows, for the host's bulk pages: `n`
/// records from `offset`, record `i` an alignment and its validation (the
/// verdict: its result's status and score are the row's).
fn rows(bulk: &str, n: usize, offset: usize) -> Value {
    json!({
        "count": n,
        "offset": offset,
        "jobs": [
            { "name": "alignment", "id": format!("{bulk}.align.{{i}}") },
            { "name": "validation", "id": format!("{bulk}.validate.{{i}}") },
        ],
        "verdict": "validation",
    })
}

/// The id of run `bulk`'s report, or of its part `k`'s.
fn report_id(bulk: &str, part: Option<usize>) -> String {
    match part {
        None => format!("{bulk}.report"),
        Some(k) => format!("{bulk}.report.{k}"),
    }
}

/// Submits the records' jobs (the `offset`th of run `bulk` first) and
/// `report`, a `bulk.report` over them.
fn submit_and_report(
    bulk: &str,
    offset: usize,
    records: Vec<(Value, Value)>,
    settings: &Settings,
    report: &str,
) -> Result<(), JobError> {
    let rows = submit_records(bulk, offset, records, settings)?;
    let validations = rows
        .iter()
        .filter_map(|r| r["validation"].as_str().map(String::from))
        .collect();
    submit_all(vec![child(
        "bulk.report",
        report.to_string(),
        json!({ "bulk": bulk, "records": rows }),
        validations,
    )])?;
    Ok(())
}

/// Submits the alignment and validation of each record (the `offset`th of
/// the run first) in as few trips as the host takes; one row per record.
/// The alignments go first: an alignment may be answered by another job
/// with the same content (the content store attaches it), and its
/// validation waits on the job that answers.
fn submit_records(
    bulk: &str,
    offset: usize,
    records: Vec<(Value, Value)>,
    settings: &Settings,
) -> Result<Vec<Value>, JobError> {
    let records: Vec<(Value, Value)> = records
        .into_iter()
        .map(|(raw, known)| {
            let known = if known.is_null() {
                settings.known.clone()
            } else {
                known
            };
            (raw, known)
        })
        .collect();
    let aligns = records
        .iter()
        .enumerate()
        .map(|(i, (raw, known))| {
            let mut a = child(
                "hsds_alignment",
                format!("{bulk}.align.{}", offset + i),
                json!({ "raw_data": raw, "known_fields": known, "path": settings.path,
                        "ask_llm": settings.ask_llm, "review": settings.review,
                        "review_timeout_ms": settings.review_timeout_ms }),
                vec![],
            );
            a.max_retries = settings.max_retries;
            // What the alignments' LLM calls cost is summed by run; with
            // `llm_batch`, they go through the provider's batch API.
            a.metadata = vec![("run".into(), bulk.to_string())];
            if settings.llm_batch {
                a.metadata.push(("llm".into(), "batch".into()));
            }
            a
        })
        .collect();
    let aligns = submit_all(aligns)?;
    let validates = records
        .iter()
        .zip(&aligns)
        .enumerate()
        .map(|(i, ((raw, known), align))| {
            child(
                "hsds_validation",
                format!("{bulk}.validate.{}", offset + i),
                json!({ "alignment_job": align, "raw_data": raw, "known_fields": known }),
                vec![align.clone()],
            )
        })
        .collect();
    let validates = submit_all(validates)?;
    Ok(aligns
        .into_iter()
        .zip(validates)
        .enumerate()
        .map(|(i, (align, validate))| {
            json!({ "index": offset + i, "alignment": align, "validation": validate })
        })
        .collect())
}

/// A run of more records than one report waits on: parts of at most 1,000
/// records (and `PART_BYTES`), each a `bulk` job of its own that fans out
/// its records and reports on them, and `B.report` over the part reports.
/// `B.report` is submitted first, waiting on this job; this job then makes
/// it wait on the parts, and each part on its part report (`wait-also`), so
/// it runs once every record has been validated.
fn split(job: &Job, records: Vec<(Value, Value)>, settings: &Settings) -> Result<String, JobError> {
    let n = records.len();
    let mut parts: Vec<Vec<Value>> = vec![];
    let mut bytes = 0;
    for (raw, known) in records {
        let record = json!({ "raw_data": raw, "known_fields": known });
        let size = record.to_string().len();
        match parts.last_mut() {
            Some(part) if part.len() < PART_RECORDS && bytes + size <= PART_BYTES => {
                part.push(record);
                bytes += size;
            }
            _ => {
                parts.push(vec![record]);
                bytes = size;
            }
        }
    }
    if parts.len() > MAX_PARTS {
        return Err(JobError::Fail(format!(
            "{n} records make {} parts; one bulk job takes at most {MAX_PARTS}: split the input",
            parts.len()
        )));
    }
    let report = report_id(&job.id, None);
    let part_reports: Vec<String> = (0..parts.len())
        .map(|k| report_id(&job.id, Some(k)))
        .collect();
    submit_all(vec![child(
        "bulk.report",
        report.clone(),
        json!({ "bulk": job.id, "parts": part_reports }),
        vec![job.id.clone()],
    )])?;
    let mut offset = 0;
    let mut children = Vec::with_capacity(parts.len());
    for (k, records) in parts.into_iter().enumerate() {
        let count = records.len();
        let payload = json!({
            "records": records,
            "known_fields": settings.known,
            "path": settings.path,
            "ask_llm": settings.ask_llm,
            "review": settings.review,
            "review_timeout_ms": settings.review_timeout_ms,
            "max_retries": settings.max_retries,
            "llm_batch": settings.llm_batch,
            "part": { "bulk": job.id, "index": k, "offset": offset },
        });
        children.push(child(
            "bulk",
            format!("{}.part.{k}", job.id),
            payload,
            vec![],
        ));
        offset += count;
    }
    let part_ids = submit_all(children)?;
    jobs::wait_also(&report, &part_ids)
        .map_err(|e| JobError::Retry(format!("cannot make {report} wait on the parts: {e}")))?;
    jobs::progress(
        1.0,
        &format!("submitted {n} records in {} parts", part_ids.len()),
    );
    Ok(json!({ "records": n, "parts": part_ids, "report": report,
               "rows": rows(&job.id, n, 0) })
    .to_string())
}

/// One part of a split run: its records fanned out as the run's (ids count
/// from the part's offset), its part report, and the run's report made to
/// wait on that.
fn run_part(
    part: &Value,
    records: Vec<(Value, Value)>,
    settings: &Settings,
) -> Result<String, JobError> {
    let whole = |v: &Value| v.as_u64().and_then(|n| usize::try_from(n).ok());
    let (Some(bulk), Some(k), Some(offset)) = (
        part["bulk"].as_str(),
        whole(&part["index"]),
        whole(&part["offset"]),
    ) else {
        return Err(JobError::Fail(
            "`part` needs `bulk`, `index` and `offset`".into(),
        ));
    };
    let n = records.len();
    let part_report = report_id(bulk, Some(k));
    submit_and_report(bulk, offset, records, settings, &part_report)?;
    let report = report_id(bulk, None);
    jobs::wait_also(&report, std::slice::from_ref(&part_report))
        .map_err(|e| JobError::Retry(format!("cannot make {report} wait on {part_report}: {e}")))?;
    Ok(json!({ "records": n, "report": part_report, "rows": rows(bulk, n, offset) }).to_string())
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

deckhand_guest::export!(Bulk);
