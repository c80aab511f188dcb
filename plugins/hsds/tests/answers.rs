//! The mapper (with repair, no LLM) against the answers a person took by
//! hand from every shared record and every other-scraper record
//! (`tests/fixtures/answers.jsonl`): recall and precision per field.

use std::path::PathBuf;

use hsds::score::{Answer, Tally, score};
use serde_json::{Value, json};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

fn lines(name: &str) -> Vec<Value> {
    let path = fixtures().join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The raw record as `hsds_alignment` reads it: a JSON object, or free
/// text as `{"text": ...}`.
fn raw(input: &str, i: usize) -> Value {
    let line = match input {
        "sample" => lines("haarrrvest-sample.jsonl")[i]["raw_input"].clone(),
        _ => lines("other-scrapers.jsonl")[i]["record"].clone(),
    };
    match line {
        Value::String(s) => {
            serde_json::from_str::<Value>(&s).unwrap_or_else(|_| json!({ "text": s }))
        }
        v => v,
    }
}

/// What the mapper path makes of `record` without an LLM.
fn document(record: &Value) -> Value {
    let Some(mapping) = hsds::mapper::map_record(record) else {
        return json!({});
    };
    hsds::repair::repair(mapping.draft.value(), "seed")
        .map(|r| r.document)
        .unwrap_or_else(|e| panic!("repair failed: {e}"))
}

fn run(input: &str) -> Tally {
    let path = fixtures().join("answers.jsonl");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let rows = hsds::score::answers(&text, input).expect("the answers fixture");
    let mut total = Tally::default();
    for (record, answer) in rows {
        let doc = document(&raw(input, record));
        let t = score(&doc, &answer);
        for (field, c) in &t.0 {
            if c.recalled < c.expected || c.right < c.found {
                eprintln!(
                    "{input} {} {field}: expected {:?} found {}",
                    record,
                    expected(&answer, field),
                    found(&doc, field)
                );
            }
        }
        total.add(&t);
    }
    eprintln!("{input}:\n{}", total.report());
    total
}

fn expected(a: &Answer, field: &str) -> String {
    match field {
        "schedules" => format!("{:?}", a.schedules),
        "phones" => format!("{:?}", a.phones),
        "name" => format!("{:?}", a.name),
        _ => format!("{:?}", a.addresses),
    }
}

fn found(doc: &Value, field: &str) -> String {
    let locations = doc["location"].as_array().cloned().unwrap_or_default();
    let pick = |k: &str| -> Vec<Value> {
        locations
            .iter()
            .flat_map(|l| l[k].as_array().cloned().unwrap_or_default())
            .collect()
    };
    match field {
        "schedules" => pick("schedules")
            .iter()
            .map(|s| {
                format!(
                    "{} {}-{}",
                    s["byday"].as_str().unwrap_or("?"),
                    s["opens_at"].as_str().unwrap_or(""),
                    s["closes_at"].as_str().unwrap_or("")
                )
            })
            .collect::<Vec<_>>()
            .join(" | "),
        "phones" => json!(pick("phones")).to_string(),
        "name" => doc["organization"][0]["name"].to_string(),
        _ => json!(pick("addresses")).to_string(),
    }
}

/// The floors the mapper holds on the records it was measured on (per
/// field: names where the answer gives one, schedules, phones, address
/// lines, cities, ZIP codes); a change that reads less falls below them.
fn holds(t: &Tally, recall: f64, precision: f64) {
    for field in [
        "name",
        "schedules",
        "phones",
        "address_1",
        "city",
        "postal_code",
    ] {
        let c = t.field(field);
        assert!(
            c.recall() >= recall && c.precision() >= precision,
            "{field}: recall {:.3} precision {:.3}\n{}",
            c.recall(),
            c.precision(),
            t.report()
        );
    }
}

#[test]
fn the_shared_records_against_the_hand_made_answers() {
    let t = run("sample");
    holds(&t, 0.97, 0.99);
    // All but record 12's ZIP code (no street or city to hold it) are read:
    // schedules, phones, lines and cities in full (record 19's hours, with
    // "Please call for an appointment." after them, fell to 97.7% unseen
    // under a floor of 97%).
    for field in ["schedules", "phones", "address_1", "city"] {
        let c = t.field(field);
        assert!(
            c.recall() >= 1.0 && c.precision() >= 1.0,
            "{field}\n{}",
            t.report()
        );
    }
}

#[test]
fn other_scrapers_records_against_the_hand_made_answers() {
    let t = run("other");
    // Every other-scraper record reads as the person read it.
    holds(&t, 1.0, 1.0);
}
