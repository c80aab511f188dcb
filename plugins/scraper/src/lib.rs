//! `scrape`: a food bank's store-locator API and pages in, one HSDS
//! pipeline per record it has not seen before out. The first half of the
//! pipeline, run by the host with its retries, limits, dead letters and
//! schedules (a cron schedule runs it).
//!
//! Payload: `{"source": "name", "api_url": "...", "page_url": "..."}` (either
//! URL or both), optional `known_fields` for every record and `max_retries`.
//! - `api_url` answers JSON: an array of records, or an object holding one
//!   (`locations`, `data`, `results`, `items`, `records`, `features` or the
//!   first array it has);
//! - `page_url` answers HTML: each `application/ld+json` block is a record
//!   (an array of them, or `@graph`, gives several); a page with none is
//!   one record, its text and address.
//!
//! What it asks the operator for: outbound HTTP(S) to the locators, a
//! key-value store (what it has seen, by content hash), and the variable
//! `api_token`, sent as a bearer token when granted. A record already in
//! the store is skipped, so a second run over the same answers submits
//! nothing; a new one gets `scrape.<hash>.align` (`hsds_alignment`) and
//! `scrape.<hash>.validate` (`hsds_validation` of it), ids from the content,
//! so a retried run submits nothing twice either.

mod records;

use deckhand_guest::http::{self, HttpError};
use deckhand_guest::jobs::{self, ChildJob};
use deckhand_guest::{
    Asks, Guest, Job, JobError, JobTypeInfo, PluginInfo, Wants, keyvalue, payload, variables,
};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// How long the store remembers a record it has seen (30 days).
const SEEN_TTL_MS: u64 = 30 * 24 * 3600 * 1000;

struct Scraper;

#[derive(Deserialize)]
struct Settings {
    #[serde(default)]
    source: String,
    api_url: Option<String>,
    page_url: Option<String>,
    #[serde(default)]
    known_fields: Value,
    max_retries: Option<u32>,
}

impl Guest for Scraper {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "scraper".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            job_types: vec![JobTypeInfo {
                name: "scrape".into(),
                description: "Fetches a store-locator API and pages; submits each new record for alignment and validation.".into(),
                needs_llm: false,
                timeout_ms: Some(120_000),
                memory_limit_bytes: None,
            }],
        }
    }

    fn process(job: Job) -> Result<String, JobError> {
        let settings: Settings = payload(&job)?;
        if settings.api_url.is_none() && settings.page_url.is_none() {
            return Err(JobError::Fail(
                "payload: give api_url, page_url or both".into(),
            ));
        }
        let auth = bearer()?;
        let headers: Vec<(&str, &str)> = auth
            .as_deref()
            .map(|a| vec![("authorization", a)])
            .unwrap_or_default();
        let mut found = Vec::new();
        if let Some(url) = &settings.api_url {
            let body = fetch(url, &headers, "application/json")?;
            found.extend(
                records::from_json(&body).map_err(|e| JobError::Fail(format!("{url}: {e}")))?,
            );
        }
        if let Some(url) = &settings.page_url {
            let body = fetch(url, &headers, "text/html")?;
            found.extend(records::from_html(&body, url));
        }
        let fetched = found.len();
        let submitted = submit_new(&settings, found)?;
        Ok(json!({
            "source": settings.source,
            "fetched": fetched,
            "new": submitted.len(),
            "already_seen": fetched - submitted.len(),
            "submitted": submitted,
        })
        .to_string())
    }
}

impl Wants for Scraper {
    fn wants() -> Asks {
        Asks {
            outbound_hosts: vec!["https://*:*".into(), "http://*:*".into()],
            key_value: true,
            variables: vec!["api_token".into()],
            llm_models: vec![],
        }
    }
}

deckhand_guest::export_asking!(Scraper);

/// `Bearer <api_token>` when the operator gave the variable; none when not.
fn bearer() -> Result<Option<String>, JobError> {
    match variables::get("api_token") {
        Ok(token) => Ok(Some(format!("Bearer {token}"))),
        Err(variables::VariableError::NotGranted(_)) => Ok(None),
        Err(variables::VariableError::Unavailable(m)) => Err(JobError::Retry(m)),
    }
}

/// A page's body as text; a refusal by the host fails the job for good
/// (the grant will not change by retrying), a slow or failing server is
/// retried.
fn fetch(url: &str, headers: &[(&str, &str)], accept: &str) -> Result<String, JobError> {
    let mut all = headers.to_vec();
    all.push(("accept", accept));
    match http::get(url, &all) {
        Ok(r) if (200..300).contains(&r.status) => Ok(r.text()),
        Ok(r) if r.status == 429 || r.status >= 500 => {
            Err(JobError::Retry(format!("{url}: HTTP {}", r.status)))
        }
        Ok(r) => Err(JobError::Fail(format!("{url}: HTTP {}", r.status))),
        Err(e @ (HttpError::Timeout(_) | HttpError::RateLimited(_) | HttpError::Failed(_))) => {
            Err(JobError::Retry(e.to_string()))
        }
        Err(e) => Err(JobError::Fail(e.to_string())),
    }
}

/// A record's identity: the SHA-256 of its JSON (keys in order), 16 hex.
fn content_id(record: &Value) -> String {
    let digest = Sha256::digest(record.to_string().as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

fn kv_error(e: keyvalue::KvError) -> JobError {
    match e {
        keyvalue::KvError::Unavailable(m) => JobError::Retry(format!("key-value store: {m}")),
        keyvalue::KvError::NotGranted(m)
        | keyvalue::KvError::QuotaExceeded(m)
        | keyvalue::KvError::Invalid(m) => JobError::Fail(format!("key-value store: {m}")),
    }
}

/// Submits alignment and validation for each record not seen before, then
/// remembers them; the ids of the alignments.
fn submit_new(settings: &Settings, found: Vec<Value>) -> Result<Vec<String>, JobError> {
    let mut fresh = Vec::new();
    for record in found {
        let id = content_id(&record);
        let key = format!("seen:{}:{id}", settings.source);
        if keyvalue::get(&key).map_err(kv_error)?.is_none()
            && !fresh.iter().any(|(i, _, _)| *i == id)
        {
            fresh.push((id, key, record));
        }
    }
    let mut children = Vec::new();
    for (id, _, record) in &fresh {
        let align = format!("scrape.{id}.align");
        let known = &settings.known_fields;
        children.push(child(
            "hsds_alignment",
            &align,
            json!({ "raw_data": record, "known_fields": known }),
            vec![],
            settings.max_retries,
        ));
        children.push(child(
            "hsds_validation",
            &format!("scrape.{id}.validate"),
            json!({ "alignment_job": align, "raw_data": record, "known_fields": known }),
            vec![align.clone()],
            None,
        ));
    }
    if !children.is_empty() {
        jobs::submit_many(&children)
            .map_err(|(i, e)| JobError::Retry(format!("cannot submit child {i}: {e}")))?;
    }
    for (_, key, _) in &fresh {
        keyvalue::set(key, "1", Some(SEEN_TTL_MS)).map_err(kv_error)?;
    }
    Ok(fresh
        .into_iter()
        .map(|(id, _, _)| format!("scrape.{id}.align"))
        .collect())
}

fn child(
    job_type: &str,
    id: &str,
    payload: Value,
    depends_on: Vec<String>,
    max_retries: Option<u32>,
) -> ChildJob {
    ChildJob {
        job_type: job_type.into(),
        payload: payload.to_string(),
        priority: None,
        id: Some(id.into()),
        metadata: vec![],
        depends_on,
        max_retries,
        run_after_failure: false,
    }
}
