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

#[test]
fn the_converter_gives_a_strict_valid_schema_within_limits() {
    let limits = Limits::default();
    let schema = alignment_schema(&limits).unwrap();
    jsonschema::meta::validate(&schema).expect("a valid JSON Schema");
    jsonschema::validator_for(&schema).expect("compiles");
    check_strict(&schema, "");
    let m = Measure::of(&schema);
    eprintln!("converted schema: {m:?} (limits {limits:?})");
    assert_eq!(m.exceeds(&limits), None);
    assert!(m.depth <= limits.max_depth && m.properties <= limits.max_properties);

    let org = &schema["properties"]["organization"]["items"]["properties"];
    assert_eq!(
        org["name"]["type"], "string",
        "required in HSDS: not nullable"
    );
    assert_eq!(
        org["email"]["type"],
        json!(["string", "null"]),
        "optional: nullable"
    );
    assert!(org.get("id").is_none(), "ids are the host's job");
    let service = &schema["properties"]["service"]["items"]["properties"];
    let status: Vec<&str> = service["status"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        status,
        ["active", "inactive", "defunct", "temporarily closed"]
    );
    let address = &schema["properties"]["location"]["items"]["properties"]["addresses"]["items"];
    for key in [
        "address_1",
        "city",
        "state_province",
        "postal_code",
        "country",
        "address_type",
    ] {
        assert!(
            address["properties"].get(key).is_some(),
            "address keeps {key}"
        );
    }
}

#[test]
fn the_converter_drops_descriptions_or_refuses_when_limits_are_tight() {
    let full = Measure::of(&alignment_schema(&Limits::default()).unwrap());
    let tight = Limits {
        max_chars: full.chars - 1,
        ..Limits::default()
    };
    let smaller = alignment_schema(&tight).unwrap();
    assert!(
        !smaller.to_string().contains("description\":\"The"),
        "descriptions dropped"
    );
    assert_eq!(Measure::of(&smaller).exceeds(&tight), None);
    let err = alignment_schema(&Limits {
        max_depth: 2,
        ..Limits::default()
    })
    .unwrap_err();
    assert!(err.to_string().contains("nesting depth"), "{err}");
    let err = alignment_schema(&Limits {
        max_properties: 10,
        ..Limits::default()
    })
    .unwrap_err();
    assert!(err.to_string().contains("properties"), "{err}");
}

/// Repair turns a realistic answer for every one of the 64 records into
/// HSDS that passes the strict schemas, with the same ids every time.
#[test]
fn repair_makes_every_realistic_answer_valid_hsds() {
    let validator = strict_validator();
    for (i, r) in sample().iter().enumerate() {
        let answer = realistic_answer(&r.raw_input);
        let a = hsds::repair::repair(&answer, &format!("seed-{i}")).unwrap();
        let problems = errors(&validator, &a.document);
        assert!(
            problems.is_empty(),
            "record {i}: {problems:#?}\n{}",
            a.document
        );
        let b = hsds::repair::repair(&answer, &format!("seed-{i}")).unwrap();
        assert_eq!(a, b);
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

#[tokio::test]
async fn every_official_hsds_example_is_verified() {
    let (runtime, plugin) = validation_plugin().await;
    let dir = root().join("tests/fixtures/hsds-examples");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .filter(|p| !p.ends_with("base.json") && !p.ends_with("tabular.json"))
        .collect();
    names.sort();
    assert!(names.len() >= 11, "{names:?}");
    for path in names {
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let report = validate(&runtime, &plugin, json!({ "hsds_data": doc })).await;
        eprintln!(
            "{}: {} {} {:?}",
            path.display(),
            report["status"],
            report["score"],
            codes(&report)
        );
        assert_eq!(
            report["schema_valid"],
            true,
            "{}: {report:#}",
            path.display()
        );
        assert_eq!(
            report["status"],
            "verified",
            "{}: {report:#}",
            path.display()
        );
    }
}

/// The production outputs are all invalid, and the findings say why in
/// terms of the record: the non-UUID ids by value, the misspelt keys by name.
#[tokio::test]
async fn production_llm_outputs_get_findings_that_name_the_problems() {
    let (runtime, plugin) = validation_plugin().await;
    let mut statuses = std::collections::BTreeMap::new();
    for (i, r) in sample().iter().enumerate() {
        let doc: Value = serde_json::from_str(&r.production).unwrap();
        let report = validate(
            &runtime,
            &plugin,
            json!({ "hsds_data": doc, "raw_data": r.raw_input }),
        )
        .await;
        *statuses
            .entry(report["status"].as_str().unwrap().to_string())
            .or_insert(0) += 1;
        assert_ne!(report["status"], "verified", "record {i}");
        assert_eq!(report["schema_valid"], false, "record {i}");
        let messages: Vec<String> = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| format!("{} {}", f["path"], f["message"]))
            .collect();
        if let Some(id) = doc["id"]
            .as_str()
            .filter(|id| uuid::Uuid::parse_str(id).is_err())
        {
            assert!(
                messages
                    .iter()
                    .any(|m| m.contains(id) && m.contains("uuid")),
                "record {i}: id {id:?} not named: {messages:#?}"
            );
        }
        if r.production.contains("\"addresss\"") {
            assert!(
                messages.iter().any(|m| m.contains("addresss")),
                "record {i}: the misspelt key is not named"
            );
        }
    }
    eprintln!("production outputs by status: {statuses:?}");
}

#[tokio::test]
async fn pantry_checks_and_the_raw_input_check_find_what_is_wrong() {
    let (runtime, plugin) = validation_plugin().await;
    let org = "d9d5e0f5-d3ce-4f73-9a2f-4dd0ecc6c610";
    let doc = json!({
        "organization": [{ "id": org, "name": "Avondale Pantry", "description": "Food." }],
        "location": [{
            "id": "3a19ff88-4620-4d17-9830-ac1d859eb5d5", "location_type": "physical",
            "name": "St. Rocco Center", "latitude": 4_869_967.66, "longitude": -8_427_312.0,
            "addresses": [{ "id": "0dd34cd6-2c0b-4bda-8bb6-bbfd9bbd0b1f", "address_1": "9016 Gap Newport Pike",
                            "city": "Avondale", "state_province": "Pennsylvania", "postal_code": "1931",
                            "country": "US", "address_type": "physical" }],
            "phones": [{ "id": "6f9f4ad5-4a6e-4ba0-8d15-3d5c3e3a3d1b", "number": "(610) 555-0199" }],
            "schedules": [{ "id": "3e2f1a4b-5c6d-4e7f-8a9b-0c1d2e3f4a5b", "freq": "WEEKLY", "byday": "TU,XX",
                            "opens_at": "14:00", "closes_at": "10:00" }],
        }],
    });
    let raw =
        "Avondale — St. Rocco Center, 9016 Gap Newport Pike, Avondale PA 19311, (610) 268-3365";
    let report = validate(
        &runtime,
        &plugin,
        json!({ "hsds_data": doc, "raw_data": raw }),
    )
    .await;
    let found = codes(&report);
    for code in [
        "coordinates.web_mercator",
        "address.state_name",
        "address.postal_code",
        "schedule.byday",
        "schedule.order",
        "unsupported.phone",
        "unsupported.name",
    ] {
        assert!(
            found.contains(&code.to_string()),
            "{code} missing: {report:#}"
        );
    }
    let mercator = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "coordinates.web_mercator")
        .unwrap();
    assert!(
        mercator["message"]
            .as_str()
            .unwrap()
            .contains("latitude 40."),
        "{mercator}"
    );
    assert_eq!(report["schema_valid"], true);
    assert_ne!(report["status"], "verified");

    // The same phone, named a known field, weighs more.
    let known = validate(
        &runtime,
        &plugin,
        json!({ "hsds_data": doc, "raw_data": raw, "known_fields": { "phone": "(610) 268-3365" } }),
    )
    .await;
    assert!(
        known["score"].as_u64() < report["score"].as_u64(),
        "{known:#}"
    );
    assert!(codes(&known).contains(&"known_field.missing".to_string()));

    // Bad input is a clear failure, not a report.
    let job = JobInput {
        id: "bad".into(),
        job_type: "hsds_validation".into(),
        payload: json!({ "hsds": {} }).to_string(),
        attempt: 1,
        feedback: None,
        metadata: vec![],
    };
    let err = runtime
        .run(&plugin, job, Arc::new(Standalone))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("hsds_data"), "{err}");
}

/// Every sample record through the mapper and repair, natively: valid HSDS
/// for each, and few questions left for an LLM.
#[test]
fn the_mapper_covers_the_sample_records() {
    let validator = strict_validator();
    let records = sample();
    let (mut questions, mut mapped) = (0, 0);
    let mut how = std::collections::BTreeMap::<String, usize>::new();
    for (i, r) in records.iter().enumerate() {
        let raw: Value = serde_json::from_str(&r.raw_input).unwrap();
        let Some(m) = hsds::mapper::map_record(&raw) else {
            eprintln!("record {i}: not mapped (no name): {}", r.raw_input);
            continue;
        };
        mapped += 1;
        questions += m.questions.len();
        tally(&mut how, &m);
        assert_valid_once_repaired(&validator, &m, &format!("record {i}"));
    }
    eprintln!(
        "{mapped} of {} records mapped; {questions} questions for an LLM; values by provenance: {how:?}",
        records.len()
    );
    assert!(
        mapped + 1 >= records.len(),
        "only a record without a name may stay unmapped"
    );
    assert!(
        (questions as f64) / (records.len() as f64) <= 0.3,
        "{questions} questions"
    );
}

/// Counts a mapping's values by how they were obtained.
fn tally(how: &mut std::collections::BTreeMap<String, usize>, m: &hsds::mapper::Mapping) {
    for source in m.provenance.values() {
        *how.entry(format!("{:?}", source.how)).or_default() += 1;
    }
}

/// The mapping, repaired, is valid HSDS (`label` names it when it is not).
fn assert_valid_once_repaired(
    validator: &jsonschema::Validator,
    m: &hsds::mapper::Mapping,
    label: &str,
) {
    let repaired = hsds::repair::repair(&m.draft, "seed").unwrap();
    let e = errors(validator, &repaired.document);
    assert!(e.is_empty(), "{label}: {e:?}\n{:#}", repaired.document);
}

/// Records shaped as other scrapers give them (store locators, GeoJSON and
/// ArcGIS features, free text, WordPress HTML, a food bank with sites,
/// Spanish and camelCase keys; `tests/fixtures/other-scrapers.jsonl`):
/// each maps to valid HSDS with the values its line expects (a `null`
/// expects the pointer absent).
#[test]
fn the_mapper_reads_other_scrapers_shapes() {
    let validator = strict_validator();
    let mut checked = 0;
    for (shape, record, expect) in other_scrapers() {
        let m = hsds::mapper::map_record(&record).unwrap_or_else(|| panic!("{shape}: not mapped"));
        for (pointer, want) in expect.as_object().unwrap() {
            let got = m.draft.pointer(pointer);
            match want {
                Value::Null => assert!(got.is_none(), "{shape}: {pointer} is {got:?}"),
                want => assert_eq!(got, Some(want), "{shape}: {pointer}\n{:#}", m.draft),
            }
            checked += 1;
        }
        assert_valid_once_repaired(&validator, &m, &shape);
        // Every value the document holds says where it came from.
        for pointer in ["/organization/0/name", "/location/0/name"] {
            assert!(m.provenance.contains_key(pointer), "{shape}: {pointer}");
        }
    }
    assert!(checked >= 40, "{checked} expectations");
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

/// The official HSDS examples as raw records (another directory's export):
/// each maps, natively, to valid HSDS without a question for an LLM.
#[test]
fn the_mapper_reads_the_official_examples() {
    let validator = strict_validator();
    let mut how = std::collections::BTreeMap::<String, usize>::new();
    let examples = official_examples();
    for (i, r) in examples.iter().enumerate() {
        let raw: Value = serde_json::from_str(&r.raw_input).unwrap();
        let m = hsds::mapper::map_record(&raw).unwrap_or_else(|| panic!("example {i}"));
        assert!(m.questions.is_empty(), "example {i}: {:?}", m.questions);
        tally(&mut how, &m);
        assert_valid_once_repaired(&validator, &m, &format!("example {i}"));
    }
    eprintln!(
        "{} examples mapped; values by provenance: {how:?}",
        examples.len()
    );
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alignment_gives_valid_hsds_with_the_same_ids_for_the_same_input() {
    let (s, q) = setup(None).await;
    answer_records(&s.fake, &[]);
    let raw = &sample()[3].raw_input;
    let first = q.submit(align(raw, false, 2)).await.unwrap();
    let again = q.submit(align(raw, true, 2)).await.unwrap();
    assert_ne!(first.id, again.id, "force runs it again");
    let done = wait(&q, &s, &[first.id, again.id], 120).await;
    for job in &done {
        assert_eq!(job.status, JobStatus::Completed, "{job:#?}");
    }
    let (a, b) = (result(&done[0]), result(&done[1]));
    assert_eq!(a["hsds"], b["hsds"], "identical input, identical ids");
    assert!(errors(&strict_validator(), &a["hsds"]).is_empty(), "{a:#}");
    let org_id = a["hsds"]["organization"][0]["id"].as_str().unwrap();
    assert!(uuid::Uuid::parse_str(org_id).is_ok());
    assert_eq!(a["hsds"]["location"][0]["organization_id"], org_id);
    assert_eq!(s.fake.calls(), 2);

    // The request asked for the converter's schema, with the prompt file.
    let body = &s.fake.seen()[0].body;
    assert_eq!(
        body["response_format"]["json_schema"]["schema"],
        alignment_schema(&Limits::default()).unwrap()
    );
    assert!(
        body["messages"][0]["content"]
            .as_str()
            .unwrap()
            .contains("Open Referral HSDS")
    );
}

/// An answer that fits the output schema but not HSDS (a website without a
/// scheme) goes back with the exact problem; the next attempt fixes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alignment_feeds_the_validation_errors_back() {
    let (s, q) = setup(None).await;
    let raw = sample()[5].raw_input.clone();
    let mut bad = realistic_answer(&raw);
    bad["organization"][0]["website"] = json!("www.pantry-without-scheme.org");
    s.fake.script([Answer::content(&bad.to_string())]);
    answer_records(&s.fake, &[]);
    let sub = q.submit(align(&raw, false, 2)).await.unwrap();
    let job = &wait(&q, &s, std::slice::from_ref(&sub.id), 120).await[0];
    assert_eq!(job.status, JobStatus::Completed, "{job:#?}");
    assert_eq!(job.attempts, 2);
    assert_eq!(job.errors[0].kind, "retry_with_feedback");
    assert!(
        job.errors[0].message.contains("/organization/0/website"),
        "{:?}",
        job.errors
    );
    let seen = s.fake.seen();
    let second_prompt = seen[1].body["messages"][1]["content"].as_str().unwrap();
    assert!(
        second_prompt.contains("Fix these problems"),
        "{second_prompt}"
    );
    assert!(
        second_prompt.contains("/organization/0/website"),
        "{second_prompt}"
    );
}

/// Production answers (org-centric, invented ids, misspelt keys) never fit:
/// the job dies with the reasons, and the same input does not pay again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_answers_die_with_their_reasons() {
    let (s, q) = setup(None).await;
    answer_records(&s.fake, &[0]);
    let raw = &sample()[0].raw_input;
    let sub = q.submit(align(raw, false, 1)).await.unwrap();
    let job = &wait(&q, &s, std::slice::from_ref(&sub.id), 120).await[0];
    assert_eq!(job.status, JobStatus::Dead, "{job:#?}");
    assert_eq!(job.attempts, 2);
    let last = &job.errors.last().unwrap().message;
    assert!(
        last.contains("did not fit the HSDS output schema"),
        "{last}"
    );
    assert!(
        last.contains("organization"),
        "the reason names the problem: {last}"
    );
    let calls = s.fake.calls();
    assert_eq!(calls, 6, "2 attempts, each asked 3 times by the host");

    let again = q.submit(align(raw, false, 1)).await.unwrap();
    assert_eq!(again.id, sub.id, "a known failure answers for its content");
    assert_eq!(again.status, JobStatus::Dead);
    assert_eq!(s.fake.calls(), calls);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_llm_job_type_answers_prompts_and_structured_requests() {
    let (s, q) = setup(None).await;
    s.fake.script([
        Answer::content("Hello."),
        Answer::content(r#"{"pantries": 3}"#),
    ]);
    let prompt = q
        .submit(NewJob::new("llm", json!({ "prompt": "Say hello." }).into()))
        .await
        .unwrap();
    let done = wait(&q, &s, std::slice::from_ref(&prompt.id), 60).await;
    assert_eq!(result(&done[0])["content"], "Hello.");
    let structured = q
        .submit(NewJob::new("llm", json!({
                "messages": [{ "role": "user", "content": "How many?" }],
                "schema": { "type": "object", "properties": { "pantries": { "type": "integer" } }, "required": ["pantries"] },
            }).into()))
        .await
        .unwrap();
    let done = wait(&q, &s, std::slice::from_ref(&structured.id), 60).await;
    let r = result(&done[0]);
    assert_eq!(r["content"]["pantries"], 3, "{r}");
    assert_eq!(r["usage"]["prompt_tokens"], 11);
    let bad = q
        .submit(NewJob::new(
            "llm",
            json!({ "messages": [{ "role": "robot", "content": "x" }] }).into(),
        ))
        .await
        .unwrap();
    let done = wait(&q, &s, std::slice::from_ref(&bad.id), 60).await;
    assert_eq!(done[0].status, JobStatus::Dead);
    assert!(
        done[0].errors[0].message.contains("messages[0].role"),
        "{:?}",
        done[0].errors
    );
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

/// Six records, three answered well and three with production output: the
/// report counts them, the bulk job's record counts its children as they
/// finish, and a second run of the same records makes no LLM call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_fans_out_validates_reports_and_reruns_for_free() {
    let (s, q) = setup(None).await;
    answer_records(&s.fake, &[1, 3, 5]);
    let records: Vec<Record> = sample().into_iter().take(6).collect();
    let (bulk, report) = run_bulk(&q, &s, "run-1", &records, Some(1), 300).await;
    eprintln!("report: {report:#}");
    assert_eq!(report["records"], 6);
    assert_eq!(report["alignment"]["completed"], 3, "{report:#}");
    assert_eq!(report["alignment"]["dead"], 3, "{report:#}");
    let verdicts: u64 = ["verified", "needs_review", "rejected"]
        .iter()
        .filter_map(|k| report["validation"][*k].as_u64())
        .sum();
    assert_eq!(
        verdicts, 3,
        "each completed alignment was validated: {report:#}"
    );
    for row in report["results"].as_array().unwrap() {
        let i = row["index"].as_u64().unwrap();
        let dead = [1, 3, 5].contains(&i);
        assert_eq!(
            row["alignment_status"],
            if dead { "dead" } else { "completed" },
            "{row}"
        );
        if dead {
            assert!(
                row["alignment_error"]
                    .as_str()
                    .unwrap()
                    .contains("output schema"),
                "{row}"
            );
        } else {
            assert!(row["score"].as_u64().is_some(), "{row}");
        }
        let v = q
            .get(row["validation_job"].as_str().unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            v.status,
            if dead {
                JobStatus::Dead
            } else {
                JobStatus::Completed
            }
        );
    }
    // 6 alignments + 6 validations + the report.
    assert_eq!(bulk.children.total, 13, "{:?}", bulk.children);
    assert_eq!(bulk.children.finished, 13, "{:?}", bulk.children);
    assert_eq!(
        bulk.children.failed,
        3 + 3,
        "dead alignments and their validations"
    );

    let calls = s.fake.calls();
    let (_, second) = run_bulk(&q, &s, "run-2", &records, Some(1), 120).await;
    assert_eq!(
        s.fake.calls(),
        calls,
        "the second run is answered by the content store"
    );
    assert_eq!(second["alignment"], report["alignment"]);
    assert_eq!(second["validation"], report["validation"]);
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

/// A record with misfiled fields (the address in `phone`, the phone in
/// `hours`) is mapped without an LLM call, every value with its source,
/// and validation verifies it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mapper_places_misfiled_fields_without_an_llm_call() {
    let (s, q) = setup(None).await;
    let raw = json!({
        "name": "Avondale", "address": "", "city": "", "state": "PA", "zip": "",
        "phone": "St. Rocco Center \u{2014} 9016 Gap Newport Pike Avondale, PA",
        "hours": "(610) 268-3365", "services": ["Pantry"],
        "latitude": 40.00663129991825, "longitude": -75.70758629317586,
        "source": "chester_county_food_bank_pa", "food_bank": "Chester County Food Bank"
    });
    let sub = q.submit(map_first(&raw)).await.unwrap();
    let job = &wait(&q, &s, std::slice::from_ref(&sub.id), 120).await[0];
    assert_eq!(job.status, JobStatus::Completed, "{job:#?}");
    assert_eq!(s.fake.calls(), 0, "a fully mapped record asks nothing");
    assert_eq!(job.llm_calls, 0);
    let r = result(job);
    assert_eq!(r["path"], "mapper");
    assert!(errors(&strict_validator(), &r["hsds"]).is_empty(), "{r:#}");
    let loc = &r["hsds"]["location"][0];
    assert_eq!(loc["name"], "St. Rocco Center");
    assert_eq!(loc["phones"][0]["number"], "(610) 268-3365");
    let phone = &r["provenance"]["/location/0/phones/0/number"];
    assert_eq!(phone["source"], "raw:/hours", "{r:#}");
    assert_eq!(phone["how"], "inferred");
    assert_eq!(
        r["provenance"]["/location/0/latitude"]["source"],
        "raw:/latitude"
    );
    assert_eq!(r["provenance"]["/location/0/latitude"]["how"], "copied");
    // Every value of the document has a source (ids and links are repair's).
    let all = hsds::mapper::leaf_pointers(&r["hsds"]);
    for p in all {
        let structural =
            p.ends_with("/id") || p.ends_with("_id") || p.starts_with("/service_at_location");
        assert!(
            structural || r["provenance"].get(&p).is_some(),
            "no provenance for {p}: {r:#}"
        );
    }

    // Validation reads the provenance: copied values need no raw search.
    let v = q
        .submit(NewJob {
            // A job reads the jobs it depends on (and its own family only).
            depends_on: vec![sub.id.clone()],
            ..NewJob::new(
                "hsds_validation",
                json!({ "alignment_job": sub.id, "raw_data": raw }).into(),
            )
        })
        .await
        .unwrap();
    let v = &wait(&q, &s, std::slice::from_ref(&v.id), 60).await[0];
    let report = result(v);
    assert_eq!(report["status"], "verified", "{report:#}");
}

/// Free text that holds a whole address is mapped too, through the real
/// plugin: no LLM call, every value's source the whole text (`raw:`), two
/// sites of a list two locations; text without one goes to the LLM.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn free_text_and_lists_of_sites_are_mapped_without_an_llm_call() {
    let (s, q) = setup(None).await;
    let text = json!(
        "St. Anne Pantry, 88 Oak Ave, Dayton OH 45402. Call (937) 555-0177. Open Tuesdays 10-2."
    );
    let sites = json!({ "org": "Helping Hands", "sites": [
        { "site_name": "North", "addr": "1 First St, Austin, TX 78701", "hours": "Wed 1-3pm" },
        { "site_name": "South", "addr": "2 Second St, Austin, TX 78704", "hours": "Fri 9am-noon" }
    ]});
    let ids: Vec<String> = [
        q.submit(map_first(&text)).await.unwrap().id,
        q.submit(map_first(&sites)).await.unwrap().id,
    ]
    .into();
    let jobs = wait(&q, &s, &ids, 120).await;
    assert_eq!(s.fake.calls(), 0, "both are mapped by code");
    let r = result(&jobs[0]);
    assert_eq!(r["path"], "mapper", "{r:#}");
    assert!(errors(&strict_validator(), &r["hsds"]).is_empty(), "{r:#}");
    let loc = &r["hsds"]["location"][0];
    assert_eq!(loc["name"], "St. Anne Pantry");
    assert_eq!(loc["addresses"][0]["postal_code"], "45402");
    assert_eq!(loc["schedules"][0]["byday"], "TU");
    assert_eq!(
        r["provenance"]["/location/0/phones/0/number"]["source"],
        "raw:"
    );
    let r = result(&jobs[1]);
    assert!(errors(&strict_validator(), &r["hsds"]).is_empty(), "{r:#}");
    let locations = r["hsds"]["location"].as_array().unwrap();
    assert_eq!(locations.len(), 2, "{r:#}");
    assert_eq!(locations[1]["schedules"][0]["byday"], "FR");
    // The one service is offered at both.
    assert_eq!(
        r["hsds"]["service_at_location"].as_array().unwrap().len(),
        2
    );

    // Text without a whole address still goes to the LLM.
    let sub = q
        .submit(map_first(&json!("Pantry open Tuesdays, call the church.")))
        .await
        .unwrap();
    wait(&q, &s, std::slice::from_ref(&sub.id), 120).await;
    assert!(
        s.fake.calls() > 0,
        "free text without an address is the LLM's"
    );
}

/// Hours the parser cannot read go to the LLM as a choice among the pieces
/// of the record's own text the parser reads (an enum, plus "none"), never
/// as a schedule to write; with nothing to choose from, nothing is asked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_hours_ask_a_choice_among_the_records_own_pieces() {
    let (s, q) = setup(None).await;
    // The fake picks the first candidate it is offered.
    s.fake.respond_with(Answer::first_choice);
    let notes = "Hours: 10am - noon, office 1pm - 4pm | Days: Tuesday and Thursday when school is in session";
    let raw = json!({
        "name": "Seventh Day Adventist Church", "address": "162 Kapiolani St",
        "city": "Hilo", "state": "HI", "zip": "96720", "notes": notes
    });
    // Unasked (the default), the text stays, listed as unsettled.
    let sub = q.submit(map_first(&raw)).await.unwrap();
    let job = &wait(&q, &s, std::slice::from_ref(&sub.id), 120).await[0];
    let r = result(job);
    assert_eq!((s.fake.calls(), r["llm_questions"].as_u64()), (0, Some(0)));
    assert_eq!(r["unsettled"][0]["from"], "/notes", "{r:#}");
    let kept = &r["hsds"]["location"][0]["schedules"][0];
    assert_eq!(kept["description"], notes);
    assert!(kept.get("byday").is_none() && kept.get("opens_at").is_none());
    let asking = |raw: &Value| align_request(json!({ "raw_data": raw, "ask_llm": true }));
    let sub = q.submit(asking(&raw)).await.unwrap();
    let job = &wait(&q, &s, std::slice::from_ref(&sub.id), 120).await[0];
    assert_eq!(job.status, JobStatus::Completed, "{job:#?}");
    assert_eq!(s.fake.calls(), 1, "one question");
    let body = &s.fake.seen()[0].body;
    let schema = &body["response_format"]["json_schema"]["schema"];
    assert_eq!(
        schema["properties"]["choice"]["enum"],
        json!([
            "tuesday and thursday 10am - noon",
            "tuesday and thursday 1pm - 4pm",
            "none"
        ]),
        "{body:#}"
    );
    assert_eq!(body["max_tokens"], 60);
    let r = result(job);
    assert_eq!(
        (r["llm_questions"].as_u64(), &r["unsettled"]),
        (Some(1), &json!([])),
        "{r:#}"
    );
    let chosen = &r["hsds"]["location"][0]["schedules"][0];
    assert_eq!(
        (chosen["byday"].as_str(), chosen["closes_at"].as_str()),
        (Some("TU,TH"), Some("12:00"))
    );
    assert_eq!(chosen["description"], notes);
    let p = &r["provenance"]["/location/0/schedules/0/byday"];
    assert_eq!(
        (p["source"].as_str(), p["how"].as_str()),
        (Some("raw:/notes"), Some("llm"))
    );

    // "none" keeps nothing: the text stays unsettled.
    s.fake
        .respond_with(|_| Answer::content(r#"{"choice": "none"}"#));
    let mut other = raw.clone();
    other["name"] = json!("Another Church");
    let sub = q.submit(asking(&other)).await.unwrap();
    let r = result(&wait(&q, &s, std::slice::from_ref(&sub.id), 120).await[0]);
    assert_eq!((s.fake.calls(), r["llm_questions"].as_u64()), (2, Some(1)));
    assert_eq!(r["unsettled"][0]["from"], "/notes", "{r:#}");
    // Nothing in the text the parser reads: nothing to choose, no call.
    let vague = json!({ "name": "B", "address": "1 Main St, Hilo, HI 96720",
        "notes": "Monday: 3rd Monday of the Month, 10am or 11am (except holidays)" });
    let sub = q.submit(asking(&vague)).await.unwrap();
    let r = result(&wait(&q, &s, std::slice::from_ref(&sub.id), 120).await[0]);
    assert_eq!((s.fake.calls(), r["llm_questions"].as_u64()), (2, Some(0)));
    assert_eq!(r["unsettled"][0]["from"], "/notes", "{r:#}");
}

/// The content store's key covers the plugin's version: a new build of the
/// alignment plugin recomputes; an unchanged one answers from the store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_upgrade_invalidates_stored_results() {
    let (s, q) = setup(None).await;
    let raw = json!({ "name": "P", "phone": "(413) 592-9528", "notes": "Tuesdays 9am-11am" });
    let first = q.submit(map_first(&raw)).await.unwrap();
    wait(&q, &s, std::slice::from_ref(&first.id), 60).await;
    let again = q.submit(map_first(&raw)).await.unwrap();
    assert!(again.cache_hit, "unchanged plugin: from the store");

    let bytes = std::fs::read(plugin_wasm("hsds_alignment")).unwrap();
    let new = with_custom_section(&bytes, "build", b"2");
    install(&s._plugins.path().join("hsds_alignment.wasm"), &new);
    let new_version = sha256_hex(&new);
    common::registered(&q, &["hsds_alignment"], Some(&new_version)).await;
    // Both hosts must run the new build before the key is stable.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = q.submit(map_first(&raw)).await.unwrap();
    assert!(!after.cache_hit, "a new plugin version computes afresh");
    let job = &wait(&q, &s, std::slice::from_ref(&after.id), 60).await[0];
    assert_eq!(job.status, JobStatus::Completed);
}

/// Past 1,000 records (the cap on one job's dependencies) a run is split
/// into parts, each a bulk job of its own, and still ends in one report
/// with every record: 10,000 records, one bulk job, one report.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_of_ten_thousand_records_ends_in_one_report() {
    let (s, q) = setup(None).await;
    let n = 10_000;
    let records: Vec<Record> = (0..n)
        .map(|i| Record {
            raw_input:
                json!({ "name": format!("Pantry {i}"), "phone": format!("(413) 592-{:04}", i % 10_000) })
                    .to_string(),
            production: String::new(),
        })
        .collect();
    let started = std::time::Instant::now();
    let (bulk, report) = run_bulk_on(&q, &s, "big", &records, Some(0), 1200, "mapper").await;
    eprintln!("10,000 records through bulk: {:?}", started.elapsed());
    assert_eq!(report["records"], n, "{}", report["alignment"]);
    assert_eq!(
        report["alignment"]["completed"], n,
        "{}",
        report["alignment"]
    );
    assert_eq!(
        report["validation"]["verified"], n,
        "{}",
        report["validation"]
    );
    assert!(
        report.get("missing_parts").is_none(),
        "{}",
        report["missing_parts"]
    );
    let rows = report["results"].as_array().unwrap();
    let indexes: std::collections::BTreeSet<u64> =
        rows.iter().map(|r| r["index"].as_u64().unwrap()).collect();
    assert_eq!(indexes.len(), n, "every record once");
    assert_eq!(indexes.last(), Some(&(n as u64 - 1)));
    assert_eq!(rows[n - 1]["alignment_job"], format!("big.align.{}", n - 1));
    assert_eq!(report["parts"].as_array().unwrap().len(), 10);
    // The run submitted its parts and its report, not 20,000 children of
    // its own (queue.max_children is 10,000 by default).
    assert_eq!(bulk.children.total, 10 + 1, "{:?}", bulk.children);
    let part = q.get("big.part.3").await.unwrap().unwrap();
    assert_eq!(part.children.total, 2_000 + 1, "{:?}", part.children);
    assert_eq!(s.fake.calls(), 0);
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

/// The acceptance run against a real LLM; skipped (and says so) without one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_over_the_sample_with_a_real_llm() {
    let Ok(url) = std::env::var("DECKHAND_TEST_LLM_URL") else {
        eprintln!("DECKHAND_TEST_LLM_URL is not set: the real-LLM bulk run is skipped");
        return;
    };
    let (s, q) = setup(Some(&url)).await;
    // DECKHAND_TEST_LLM_RECORDS=n runs the first n records only (a quick look).
    let limit = std::env::var("DECKHAND_TEST_LLM_RECORDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(usize::MAX);
    // DECKHAND_TEST_LLM_INPUT=examples: the official HSDS example documents
    // as raw records (another directory's export), instead of the sample;
    // =other: the records shaped as other scrapers give them.
    let input = std::env::var("DECKHAND_TEST_LLM_INPUT").unwrap_or_else(|_| "sample".into());
    let records: Vec<Record> = match input.as_str() {
        "examples" => official_examples(),
        "other" => other_scrapers()
            .into_iter()
            .map(|(_, record, _)| Record {
                raw_input: record.to_string(),
                production: String::new(),
            })
            .collect(),
        _ => sample(),
    };
    let records: Vec<Record> = records.into_iter().take(limit).collect();
    // DECKHAND_TEST_LLM_RETRIES=n: retries per alignment (default: the host's).
    let retries: Option<u32> = std::env::var("DECKHAND_TEST_LLM_RETRIES")
        .ok()
        .and_then(|n| n.parse().ok());
    let started = std::time::Instant::now();
    // DECKHAND_TEST_LLM_PATH=llm: the full-schema path (default: mapper first).
    let path = std::env::var("DECKHAND_TEST_LLM_PATH").unwrap_or_else(|_| "mapper".into());
    let (_, report) = run_bulk_on(&q, &s, "real-1", &records, retries, 7200, &path).await;
    let first_secs = started.elapsed().as_secs();
    let answers = match input.as_str() {
        "sample" | "other" => super::hsds_answers::answers(&input),
        _ => Vec::new(),
    };
    if !answers.is_empty() {
        let t = super::hsds_answers::score_report(&q, &report, &answers).await;
        eprintln!("against the hand-made answers ({input}):\n{}", t.report());
    }
    // Calls and tokens as the LLM client counts them: every request,
    // answered or not (a job's own counters keep only answered ones).
    let stat =
        |s: &std::collections::BTreeMap<String, i64>, k: &str| s.get(k).copied().unwrap_or(0);
    let stats = q.stats().await.unwrap();
    let calls = stat(&stats, "llm_calls");
    let validator = strict_validator();
    let mut reasons = std::collections::BTreeMap::<String, usize>::new();
    let mut provenance = std::collections::BTreeMap::<String, usize>::new();
    let rows = report["results"].as_array().unwrap();
    let ids: Vec<String> = rows
        .iter()
        .map(|r| r["alignment_job"].as_str().unwrap().to_string())
        .collect();
    let jobs = q.get_many(&ids).await.unwrap();
    for (row, job) in rows.iter().zip(jobs) {
        let job = job.unwrap();
        match job.status {
            JobStatus::Completed => {
                let r = result(&job);
                assert!(errors(&validator, &r["hsds"]).is_empty(), "{r:#}");
                for source in r["provenance"].as_object().into_iter().flatten() {
                    let how = source.1["how"].as_str().unwrap_or("?").to_string();
                    *provenance.entry(how).or_default() += 1;
                }
            }
            JobStatus::Dead => {
                let last = &job.errors[job.errors.len() - 1];
                let reason: String = last.message.chars().take(110).collect();
                *reasons.entry(reason).or_default() += 1;
            }
            other => panic!("record {} ended {other}", row["index"]),
        }
    }
    eprintln!(
        "real LLM, {} records in {first_secs} s: alignment {} validation {} llm calls {calls} tokens {}+{}",
        records.len(),
        report["alignment"],
        report["validation"],
        stat(&stats, "llm_prompt_tokens"),
        stat(&stats, "llm_completion_tokens"),
    );
    eprintln!(
        "path {path}: {:.2} LLM calls and {:.0} tokens a record, {:.1} s a record; values by provenance: {provenance:?}",
        calls as f64 / records.len() as f64,
        (stat(&stats, "llm_prompt_tokens") + stat(&stats, "llm_completion_tokens")) as f64
            / records.len() as f64,
        first_secs as f64 / records.len() as f64,
    );
    eprintln!("why alignments died: {reasons:#?}");
    let (_, second) = run_bulk_on(&q, &s, "real-2", &records, retries, 600, &path).await;
    let after = stat(&q.stats().await.unwrap(), "llm_calls");
    eprintln!(
        "second run: {} llm calls (first run: {calls})",
        after - calls
    );
    assert_eq!(after, calls, "the second run makes no LLM call");
    assert_eq!(second["alignment"], report["alignment"]);
}
