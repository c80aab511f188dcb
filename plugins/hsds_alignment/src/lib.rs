//! `hsds_alignment`: one raw scraped record into valid HSDS.
//!
//! Payload: `{"raw_data": <string or any JSON>, "known_fields": {...}?,
//! "path": "mapper" | "llm"?, "ask_llm": bool?}`.
//!
//! A record that is a JSON object (what scrapers give) goes through the
//! deterministic mapper first ([`mapped`]): every field placed by its key's
//! meaning and its content, with provenance, and no LLM call. Opening
//! hours code cannot read stay as text (a schedule's `description`) and
//! are listed in the result's `unsettled`. With `"ask_llm": true` each is
//! put to the LLM as a choice among the pieces of the record's own text
//! that the hours parser reads (an `enum` the server enforces, plus
//! "none"): the model picks, never writes. With `"review": true` what is
//! still open goes to a person (the job suspends until answered,
//! [`review`]).
//!
//! Free text is mapped too when it holds a whole US address with a name
//! before it ("St. Anne Pantry, 88 Oak Ave, Dayton OH 45402. Call ..."),
//! or is a vCard or an iCalendar event: provenance then names the whole
//! text (`raw:`). Free text whose address, phone or hours code reads but
//! whose name it cannot tell is named as a JSON record is (the LLM's
//! choice among its short texts, a person's answer). Free text with
//! nothing code reads (a page without structure), and any record nobody
//! named, takes the full-schema path:
//! 1. The SchemaConverter ([`hsds::convert`]) gives the strict structured
//!    output schema; the prompt (`prompt.md`) and the record (plus the known
//!    fields, and the previous attempt's feedback) go to `llm.generate`.
//! 2. Repair ([`hsds::repair`]) gives every object a UUIDv5 id derived from
//!    the SHA-256 of the raw input and its path, fills the links, drops empty
//!    values and converts Web-Mercator metres.
//! 3. The result is validated against the real HSDS schemas (closed with
//!    `additionalProperties: false`) by the host's `schema.validate`. What
//!    still fails goes back as `retry-with-feedback`, so the next attempt's
//!    prompt carries the exact errors; when retries run out the job dies
//!    with them.
//!
//! Result: `{"hsds": {organization, service, location, service_at_location},
//! "provenance": {<JSON pointer>: {source, how}}, "path": "mapper" | "llm",
//! "llm_questions": n, "unsettled": [{kind, location, from, text}],
//! "reviewed": [{key, answer, settled}], "awaiting_review": bool,
//! "repairs": [...], "model": ..., "usage": {...}}`.
//! Provenance is given for every value the mapper placed (`raw:/phone`,
//! copied / normalised / inferred / derived / llm); the full-schema path
//! marks the whole document as the LLM's.

mod mapped;
mod review;

use deckhand_guest::llm::{self, Message, Request};
use deckhand_guest::{
    Guest, Job, JobError, JobTypeInfo, PluginInfo, RetryFeedback, llm_error, payload, schema,
};
use hsds::mapper::How;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const PROMPT: &str = include_str!("../prompt.md");

/// Validation errors quoted back to the model, at most.
const FEEDBACK_ERRORS: usize = 15;

struct Alignment;

impl Guest for Alignment {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "hsds_alignment".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            job_types: vec![JobTypeInfo {
                name: "hsds_alignment".into(),
                description:
                    "A raw scraped pantry record into valid Open Referral HSDS, through the LLM."
                        .into(),
                needs_llm: true,
                timeout_ms: Some(600_000),
                memory_limit_bytes: None,
            }],
        }
    }

    fn process(job: Job) -> Result<String, JobError> {
        let p: Value = payload(&job)?;
        let (raw, record) = raw_data(&p)?;
        let known = match p.get("known_fields") {
            None | Some(Value::Null) => None,
            Some(Value::Object(k)) => Some(k),
            Some(_) => return Err(JobError::Fail("`known_fields` must be an object".into())),
        };
        let seed = hex(&Sha256::digest(raw.as_bytes()));
        if !full_schema(&p)? {
            let asks = mapped::Asks {
                // `ask_llm`: what code cannot settle goes to the LLM as a
                // choice among the record's own pieces (off by default).
                ask: flag(&p, "ask_llm")?,
                // `review`: ... and then to a person (the job suspends until
                // answered; see `review.rs`).
                review: review::Review::read(&p, &raw, job.feedback.as_deref())?,
                known,
                text: String::new(),
                spent: (0, 0, 0),
            };
            if let Some(result) = by_mapper(&raw, record.as_ref(), &seed, asks) {
                return result;
            }
        }
        // A resume's answers are no validation errors to quote to the model.
        let feedback = job.feedback.as_deref().filter(|f| !review::is_resume(f));
        whole_record(&raw, known, feedback, &seed)
    }
}

/// `raw_data` as text, and as JSON when it is an object or a list (given
/// as one, or as text that parses to one).
fn raw_data(p: &Value) -> Result<(String, Option<Value>), JobError> {
    let raw = match p.get("raw_data") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        Some(Value::String(_)) | Some(Value::Null) | None => {
            return Err(JobError::Fail(
                "the payload needs `raw_data`: the scraped record, as text or JSON".into(),
            ));
        }
        Some(other) => other.to_string(),
    };
    let record = match p.get("raw_data") {
        Some(v @ (Value::Object(_) | Value::Array(_))) => Some(v.clone()),
        // A JSON object, or a list of them (a locator's answer).
        _ => serde_json::from_str::<Value>(&raw)
            .ok()
            .filter(|v| v.is_object() || v.is_array()),
    };
    Ok((raw, record))
}

/// The mapper path, for a record the mapper reads (or names, with the
/// LLM's choice or a person's answer); `None` hands the record to the LLM
/// whole. Free text is read by the mapper too, as a record of one field
/// (`{"text": ...}`): a whole address in it (with the name before it),
/// phones and hours are placed by code, every source the whole text.
fn by_mapper(
    raw: &str,
    record: Option<&Value>,
    seed: &str,
    mut asks: mapped::Asks,
) -> Option<Result<String, JobError>> {
    let free_text = record.is_none();
    let record = record.cloned().unwrap_or_else(|| json!({ "text": raw }));
    asks.text = if free_text {
        raw.to_string()
    } else {
        hsds::mapper::record_text(&record)
    };
    let finish = |mut mapping: hsds::mapper::Mapping, asks| {
        if free_text {
            mapping.whole_text();
        }
        Some(mapped::align(mapping, seed, asks))
    };
    if let Some(mapping) = hsds::mapper::map_record(&record) {
        return finish(mapping, asks);
    }
    if !hsds::mapper::has_content(&record) {
        // Text with nothing code reads (a page without structure) is the
        // LLM's to read whole.
        return (!free_text).then(|| {
            Err(JobError::Fail(
                "nothing to align: the record has no name, address, phone, email, website or opening hours"
                    .into(),
            ))
        });
    }
    // No name code can tell: a person's answer to an earlier attempt's
    // question, else (asked) the LLM picks one of the record's own short
    // texts, else a person is asked; the mapper reads the rest.
    let given = asks.review.as_ref().and_then(review::Review::given_name);
    if let Some(mapping) = given.and_then(|n| mapped::map_named(&record, &n, How::Reviewed)) {
        return finish(mapping, asks);
    }
    let resumed = asks.review.as_ref().is_some_and(|r| r.answers.is_some());
    if asks.ask && !resumed {
        match mapped::named_by_choice(&record) {
            Ok(Some((mapping, spent))) => {
                asks.spent = spent;
                return finish(mapping, asks);
            }
            Ok(None) => {}
            Err(e) => return Some(Err(e)),
        }
    }
    match &asks.review {
        Some(review) if !resumed => Some(review::suspend_for_name(review, &asks.text)),
        _ => None,
    }
}

/// The whole record to the LLM with the full HSDS output schema (`path:
/// "llm"`, or a record the mapper cannot read); what is not valid HSDS
/// goes back with the errors as the next attempt's feedback.
fn whole_record(
    raw: &str,
    known: Option<&serde_json::Map<String, Value>>,
    feedback: Option<&str>,
    seed: &str,
) -> Result<String, JobError> {
    let output_schema = hsds::convert::alignment_schema(&hsds::convert::Limits::default())
        .map_err(|e| JobError::Fail(e.to_string()))?;

    let mut user = format!("The record:\n```\n{raw}\n```\n");
    if let Some(known) = known {
        let known = Value::Object(known.clone());
        user.push_str(&format!(
            "\nFields already known to be in this record (use them exactly):\n{known}\n"
        ));
    }
    if let Some(feedback) = feedback {
        user.push_str(&format!(
            "\nA previous answer for this record was not valid HSDS. Fix these problems:\n{feedback}\n"
        ));
    }
    let answer = llm::generate(&Request {
        messages: vec![
            Message {
                role: "system".into(),
                content: PROMPT.into(),
            },
            Message {
                role: "user".into(),
                content: user,
            },
        ],
        model: None,
        temperature: Some(0.0),
        max_tokens: None,
        response_schema: Some(output_schema.to_string()),
    })
    .map_err(|e| match e {
        // The schema broken is named for what it is here.
        llm::LlmError::InvalidResponse(m) => JobError::RetryWithFeedback(RetryFeedback {
            message: format!("the LLM's answer did not fit the HSDS output schema: {m}"),
            feedback: m,
        }),
        other => llm_error(other),
    })?;
    let value: Value = serde_json::from_str(&answer.content)
        .map_err(|e| JobError::Retry(format!("structured output is not JSON: {e}")))?;
    let repaired = hsds::repair::repair(&value, seed).map_err(|m| {
        JobError::RetryWithFeedback(RetryFeedback {
            message: format!("the answer cannot become HSDS: {m}"),
            feedback: m,
        })
    })?;
    if let Some((count, feedback)) = hsds_errors(&repaired.document)? {
        return Err(JobError::RetryWithFeedback(RetryFeedback {
            message: format!("the answer is not valid HSDS ({count} problems):\n{feedback}"),
            feedback,
        }));
    }
    Ok(json!({
        "hsds": repaired.document,
        "provenance": { "": { "source": "llm:raw", "how": "llm" } },
        "path": "llm",
        "llm_questions": 1,
        "repairs": repaired.repairs,
        "model": answer.model,
        "usage": {
            "prompt_tokens": answer.usage.prompt_tokens,
            "completion_tokens": answer.usage.completion_tokens,
        },
    })
    .to_string())
}

/// What the strict HSDS schemas say of `document`: `None` when it is
/// valid, else the number of problems and a list of the first ones.
fn hsds_errors(document: &Value) -> Result<Option<(usize, String)>, JobError> {
    let strict = hsds::schemas::collection(true).to_string();
    let errors = schema::validate(&strict, &document.to_string())
        .map_err(|m| JobError::Fail(format!("cannot validate against HSDS: {m}")))?;
    if errors.is_empty() {
        return Ok(None);
    }
    let lines: Vec<String> = errors
        .iter()
        .take(FEEDBACK_ERRORS)
        .map(|e| {
            let at = if e.instance_path.is_empty() {
                "/"
            } else {
                &e.instance_path
            };
            format!("- at {at}: {}", e.message)
        })
        .collect();
    let more = errors.len().saturating_sub(FEEDBACK_ERRORS);
    let mut feedback = lines.join("\n");
    if more > 0 {
        feedback.push_str(&format!("\n- and {more} more"));
    }
    Ok(Some((errors.len(), feedback)))
}

/// `path`: "mapper" (the default: mapper first, small questions) or "llm"
/// (the whole record to the LLM with the full schema): whether it is "llm".
fn full_schema(p: &Value) -> Result<bool, JobError> {
    match p.get("path") {
        None | Some(Value::Null) => Ok(false),
        Some(Value::String(s)) if s == "mapper" => Ok(false),
        Some(Value::String(s)) if s == "llm" => Ok(true),
        Some(other) => Err(JobError::Fail(format!(
            "`path` must be \"mapper\" or \"llm\", not {other}"
        ))),
    }
}

/// A true-or-false payload field; absent or null is false.
pub(crate) fn flag(p: &Value, key: &str) -> Result<bool, JobError> {
    match p.get(key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(JobError::Fail(format!(
            "`{key}` must be true or false, not {other}"
        ))),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

deckhand_guest::export!(Alignment);
