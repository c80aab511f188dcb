//! The HSDS job types: the SchemaConverter and repair natively, the
//! `hsds_validation` component through the runtime, and `hsds_alignment`,
//! `llm` and `bulk` end to end through real hosts, a real Redis and a fake
//! LLM that answers each record with a realistic answer or with what a
//! production LLM really returned for it.
//!
//! With `DECKHAND_TEST_LLM_URL` set (e.g. `http://127.0.0.1:8089/v1` from
//! `../shared/tools/local-llm.sh`), `bulk_over_the_sample_with_a_real_llm`
//! also runs the 64 sample records through a real local model.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use ::hsds::convert::{Limits, Measure, alignment_schema};
use common::fake_llm::{Answer, FakeLlm};
use common::host::Host;
use common::redis::TestRedis;
use common::*;
use deckhand::job::{NewJob, Payload};
use deckhand::queue::{JobRecord, JobStatus, Queue, QueueConfig};
use deckhand::runtime::{JobInput, Plugin, Runtime, RuntimeConfig, Standalone};
use serde_json::{Map, Value, json};

mod mapper;
mod pipeline;
mod schema;

// ---------------------------------------------------------------- fixtures

pub(crate) struct Record {
    pub(crate) raw_input: String,
    pub(crate) production: String,
}

pub(crate) fn sample() -> Vec<Record> {
    let text = std::fs::read_to_string(root().join("tests/fixtures/haarrrvest-sample.jsonl"))
        .expect("the sample fixture");
    text.lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            Record {
                raw_input: v["raw_input"].as_str().unwrap().to_string(),
                production: v["llm_output_unverified"].as_str().unwrap().to_string(),
            }
        })
        .collect()
}

fn strict_validator() -> jsonschema::Validator {
    jsonschema::options()
        .should_validate_formats(true)
        .build(&hsds::schemas::collection(true))
        .unwrap()
}

fn errors(validator: &jsonschema::Validator, doc: &Value) -> Vec<String> {
    validator
        .iter_errors(doc)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

/// Fills `partial` out to exactly the keys `schema` requires: missing
/// nullable fields become null, missing lists empty, missing strings empty
/// (what a model that found nothing writes). Arrays of objects conform item
/// by item.
fn conform(schema: &Value, partial: &Value) -> Value {
    match schema["type"].as_str() {
        Some("object") => {
            let mut out = Map::new();
            for (key, sub) in schema["properties"].as_object().unwrap() {
                let given = partial.get(key).cloned().unwrap_or(Value::Null);
                out.insert(key.clone(), conform(sub, &given));
            }
            Value::Object(out)
        }
        Some("array") => Value::Array(
            partial
                .as_array()
                .map(|items| items.iter().map(|i| conform(&schema["items"], i)).collect())
                .unwrap_or_default(),
        ),
        Some("string") if partial.is_null() => {
            let first = schema["enum"].get(0).cloned();
            first.unwrap_or(json!(""))
        }
        _ => partial.clone(),
    }
}

/// What a careful model answers for a raw sample record: only what the
/// record says, in the converter's shape.
fn realistic_answer(raw: &str) -> Value {
    let r: Value = serde_json::from_str(raw).unwrap_or(json!({ "name": raw }));
    let s = |k: &str| {
        r.get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .trim()
            .to_string()
    };
    let name = if s("name").is_empty() {
        "Food Pantry".to_string()
    } else {
        s("name")
    };
    let phones = if s("phone").chars().filter(char::is_ascii_digit).count() >= 10 {
        json!([{ "number": s("phone") }])
    } else {
        json!([])
    };
    let partial = json!({
        "organization": [{ "name": name, "description": format!("{name} gives out food."), "website": Value::Null }],
        "service": [{ "name": "Food Pantry", "status": "active", "description": s("description"),
                      "organization_name": name, "location_names": [name],
                      "schedules": [{ "description": s("hours") }] }],
        "location": [{ "name": name, "location_type": "physical",
                       "latitude": r.get("latitude").cloned().unwrap_or(Value::Null),
                       "longitude": r.get("longitude").cloned().unwrap_or(Value::Null),
                       "organization_name": name,
                       "addresses": [{ "address_1": s("address"), "city": s("city"), "state_province": s("state"),
                                       "postal_code": s("zip"), "country": "US", "address_type": "physical" }],
                       "phones": phones }],
    });
    let schema = alignment_schema(&Limits::default()).unwrap();
    conform(&schema, &partial)
}

/// The raw sample record a request's user message carries.
fn record_in(body: &Value, records: &[Record]) -> Option<usize> {
    // The first user message: re-asks append the answer and the problems.
    let messages = body["messages"].as_array()?;
    let user = messages.iter().find(|m| m["role"] == "user")?;
    let text = user["content"].as_str()?;
    records.iter().position(|r| text.contains(&r.raw_input))
}

// ---------------------------------------------------------------- converter

/// Walks every object schema: all keys required, required keys real
/// properties, nothing else allowed.
fn check_strict(schema: &Value, path: &str) {
    if let Some(props) = schema["properties"].as_object() {
        let required: Vec<&str> = schema["required"]
            .as_array()
            .unwrap_or_else(|| panic!("{path}: no required"))
            .iter()
            .map(|r| r.as_str().unwrap())
            .collect();
        for r in &required {
            assert!(
                props.contains_key(*r),
                "{path}: required {r} is not a property"
            );
        }
        assert_eq!(
            required.len(),
            props.len(),
            "{path}: every property is required"
        );
        assert_eq!(schema["additionalProperties"], json!(false), "{path}");
        for (k, v) in props {
            check_strict(v, &format!("{path}/{k}"));
        }
    }
    if let Some(items) = schema.get("items") {
        check_strict(items, &format!("{path}[]"));
    }
}

// ---------------------------------------------------------------- validation

async fn validation_plugin() -> (Runtime, Plugin) {
    let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
    let plugin = Plugin::load(&runtime, &plugin_wasm("hsds_validation"))
        .await
        .unwrap();
    (runtime, plugin)
}

async fn validate(runtime: &Runtime, plugin: &Plugin, payload: Value) -> Value {
    let job = JobInput {
        id: "validate".into(),
        job_type: "hsds_validation".into(),
        payload: payload.to_string(),
        attempt: 1,
        feedback: None,
        metadata: vec![],
    };
    let out = runtime
        .run(plugin, job, Arc::new(Standalone))
        .await
        .unwrap_or_else(|e| panic!("validation failed: {e}"));
    serde_json::from_str(&out).unwrap()
}

fn codes(report: &Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_string())
        .collect()
}

/// Counts a mapping's values by how they were obtained.
fn tally(how: &mut std::collections::BTreeMap<String, usize>, m: &hsds::mapper::Mapping) {
    for source in m.draft.provenance().values() {
        *how.entry(format!("{:?}", source.how)).or_default() += 1;
    }
}

/// The mapping, repaired, is valid HSDS (`label` names it when it is not).
fn assert_valid_once_repaired(
    validator: &jsonschema::Validator,
    m: &hsds::mapper::Mapping,
    label: &str,
) {
    let repaired = hsds::repair::repair(m.draft.value(), "seed").unwrap();
    let e = errors(validator, &repaired.document);
    assert!(e.is_empty(), "{label}: {e:?}\n{:#}", repaired.document);
}

/// `tests/fixtures/other-scrapers.jsonl`: (shape, record, expected values).
pub(crate) fn other_scrapers() -> Vec<(String, Value, Value)> {
    let text = std::fs::read_to_string(root().join("tests/fixtures/other-scrapers.jsonl"))
        .expect("the fixture");
    text.lines()
        .map(|line| {
            let case: Value = serde_json::from_str(line).unwrap();
            let shape = case["shape"].as_str().unwrap_or_default().to_string();
            (shape, case["record"].clone(), case["expect"].clone())
        })
        .collect()
}

// ---------------------------------------------------------------- through hosts

pub(crate) struct Setup {
    _redis: TestRedis,
    pub(crate) fake: FakeLlm,
    _plugins: tempfile::TempDir,
    hosts: Vec<Host>,
}

const TYPES: [&str; 5] = [
    "llm",
    "hsds_alignment",
    "hsds_validation",
    "bulk",
    "bulk.report",
];

pub(crate) async fn setup(llm_url: Option<&str>) -> (Setup, Queue) {
    let redis = TestRedis::start();
    let fake = FakeLlm::start().await;
    let plugins = plugin_dir(&["llm", "hsds_alignment", "hsds_validation", "bulk"]);
    let url = llm_url.map(String::from).unwrap_or_else(|| fake.url());
    let provider = if llm_url.is_some() {
        "llama-cpp"
    } else {
        "openai"
    };
    let mut args = vec![
        "--llm-provider",
        provider,
        "--llm-base-url",
        &url,
        "--llm-model",
        "fake",
    ];
    if llm_url.is_some() {
        // One small local model serves every request in turn: keep two in
        // flight, give each time, and cap runaway generations.
        args.extend([
            "--batch-size",
            "1",
            "--llm-timeout-secs",
            "600",
            "--llm-max-tokens",
            "1500",
        ]);
    } else {
        args.extend(["--batch-size", "4"]);
    }
    // DECKHAND_TEST_LLM_SCHEMA_ATTEMPTS=n: asks per LLM call (default 3).
    let attempts = std::env::var("DECKHAND_TEST_LLM_SCHEMA_ATTEMPTS").unwrap_or_default();
    let env: Vec<(&str, &str)> = if llm_url.is_some() && !attempts.is_empty() {
        vec![("DECKHAND_LLM_MAX_SCHEMA_ATTEMPTS", attempts.as_str())]
    } else {
        vec![]
    };
    let hosts = (0..2)
        .map(|i| Host::start_with_env(&format!("h{i}"), &redis.url(), plugins.path(), &args, &env))
        .collect();
    let q = Queue::connect(&redis.url(), QueueConfig::default())
        .await
        .unwrap();
    common::registered(&q, &TYPES, None).await;
    (
        Setup {
            _redis: redis,
            fake,
            _plugins: plugins,
            hosts,
        },
        q,
    )
}

pub(crate) async fn wait(q: &Queue, s: &Setup, ids: &[String], secs: u64) -> Vec<JobRecord> {
    match q.wait_for_jobs(ids, Duration::from_secs(secs)).await {
        Ok(r) => r,
        Err(e) => {
            let logs: Vec<String> = s.hosts.iter().map(|h| h.log()).collect();
            panic!("{e}\n{}", logs.join("\n----\n"));
        }
    }
}

/// An alignment on the full-schema path (the whole record to the LLM).
fn align(raw: &str, force: bool, max_retries: u32) -> NewJob {
    NewJob {
        force,
        max_retries: Some(max_retries),
        ..NewJob::new(
            "hsds_alignment",
            json!({ "raw_data": raw, "path": "llm" }).into(),
        )
    }
}

pub(crate) fn result(job: &JobRecord) -> Value {
    serde_json::from_str(job.result.as_deref().unwrap_or("null")).unwrap()
}

/// The fake answers each record realistically, or, for the records in
/// `production`, with what the production LLM returned for it.
fn answer_records(fake: &FakeLlm, production: &'static [usize]) {
    let records = sample();
    fake.respond_with(move |body| match record_in(body, &records) {
        Some(i) if production.contains(&i) => Answer::content(&records[i].production),
        Some(i) => Answer::content(&realistic_answer(&records[i].raw_input).to_string()),
        None => Answer::status(400, "the fake knows no such record"),
    });
}

async fn run_bulk(
    q: &Queue,
    s: &Setup,
    id: &str,
    records: &[Record],
    max_retries: Option<u32>,
    secs: u64,
) -> (JobRecord, Value) {
    run_bulk_on(q, s, id, records, max_retries, secs, "llm").await
}

/// [`run_bulk`] with the alignment path named ("mapper" or "llm").
pub(crate) async fn run_bulk_on(
    q: &Queue,
    s: &Setup,
    id: &str,
    records: &[Record],
    max_retries: Option<u32>,
    secs: u64,
    path: &str,
) -> (JobRecord, Value) {
    let lines: Vec<String> = records
        .iter()
        .map(|r| json!({ "raw_input": r.raw_input }).to_string())
        .collect();
    let sub = q
        .submit(NewJob {
            id: Some(id.into()),
            ..NewJob::new(
                "bulk",
                json!({ "jsonl": lines.join("\n"), "max_retries": max_retries, "path": path })
                    .into(),
            )
        })
        .await
        .unwrap();
    let bulk = &wait(q, s, std::slice::from_ref(&sub.id), 60).await[0];
    assert_eq!(bulk.status, JobStatus::Completed, "{bulk:#?}");
    let report_id = result(bulk)["report"].as_str().unwrap().to_string();
    let report = &wait(q, s, std::slice::from_ref(&report_id), secs).await[0];
    assert_eq!(report.status, JobStatus::Completed, "{report:#?}");
    let bulk = q.get(&sub.id).await.unwrap().unwrap();
    (bulk, result(report))
}

/// An alignment on the default path: the mapper first.
fn map_first(raw: &Value) -> NewJob {
    align_request(json!({ "raw_data": raw }))
}

/// An `hsds_alignment` job with `payload`, no retries.
pub(crate) fn align_request(payload: Value) -> NewJob {
    NewJob {
        max_retries: Some(0),
        ..NewJob::new(
            "hsds_alignment",
            Payload::parse(payload.to_string()).unwrap(),
        )
    }
}

/// The official HSDS example documents, each as a raw record: the full
/// organization, service, location and service-at-location, and the item of
/// each paged list.
fn official_examples() -> Vec<Record> {
    let dir = root().join("tests/fixtures/hsds-examples");
    let read = |name: &str| -> Value {
        serde_json::from_str(&std::fs::read_to_string(dir.join(name)).unwrap()).unwrap()
    };
    let mut docs: Vec<Value> = [
        "organization_full.json",
        "service_full.json",
        "location.json",
        "service_at_location_full.json",
    ]
    .iter()
    .map(|n| read(n))
    .collect();
    for list in [
        "organization_list.json",
        "service_list.json",
        "service_at_location_list.json",
    ] {
        docs.extend(
            read(list)["contents"]
                .as_array()
                .cloned()
                .unwrap_or_default(),
        );
    }
    docs.into_iter()
        .map(|d| Record {
            raw_input: d.to_string(),
            production: String::new(),
        })
        .collect()
}
