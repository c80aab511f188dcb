//! What `hsds_alignment` gives, through the real binary and components,
//! scored against the answers a person took by hand from each record
//! (`tests/fixtures/answers.jsonl`): recall and precision per field
//! (schedules, phones, address line, city, state, ZIP code), values the
//! record does not support, and LLM calls a record.

use deckhand::queue::{JobStatus, Queue, SubmitRequest};
use hsds::score::{Answer, Tally, score};
use serde_json::{Value, json};

use super::common::root;
use super::hsds::{Record, other_scrapers, result, run_bulk_on, sample, setup, wait};

/// The hand-made answers for one input (`sample` or `other`), by record.
pub(crate) fn answers(input: &str) -> Vec<Answer> {
    let text = std::fs::read_to_string(root().join("tests/fixtures/answers.jsonl"))
        .expect("the answers fixture");
    hsds::score::answers(&text, input)
        .expect("the answers fixture")
        .into_iter()
        .map(|(_, answer)| answer)
        .collect()
}

/// The other scrapers' records as bulk input lines.
pub(crate) fn other_records() -> Vec<Record> {
    other_scrapers()
        .into_iter()
        .map(|(_, record, _)| Record {
            raw_input: record.to_string(),
            production: String::new(),
        })
        .collect()
}

/// Scores a bulk report's documents against `answers` (in record order);
/// a record that did not complete scores as an empty document.
pub(crate) async fn score_report(q: &Queue, report: &Value, answers: &[Answer]) -> Tally {
    let rows = report["results"].as_array().cloned().unwrap_or_default();
    let ids: Vec<String> = rows
        .iter()
        .filter_map(|r| r["alignment_job"].as_str().map(str::to_string))
        .collect();
    let jobs = q.get_many(&ids).await.expect("the alignment jobs");
    let mut total = Tally::default();
    for (row, job) in rows.iter().zip(jobs) {
        let index = row["index"].as_u64().unwrap_or(u64::MAX) as usize;
        let Some(answer) = answers.get(index) else {
            continue;
        };
        let doc = match job {
            Some(job) if job.status == JobStatus::Completed => result(&job)["hsds"].clone(),
            Some(job) => {
                let last = job.errors.last().map(|e| e.message.as_str()).unwrap_or("");
                eprintln!("record {index}: {} {last}", job.status);
                Value::Null
            }
            None => Value::Null,
        };
        total.add(&score(&doc, answer));
    }
    total
}

/// Every shared record and every other-scraper record through `bulk` on
/// the mapper path: as complete and as right as the hand-made answers
/// say, no value the record does not support beyond the one known miss,
/// and no question for the LLM.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_output_against_the_hand_made_answers() {
    let (s, q) = setup(None).await;
    for (input, records, precision) in
        [("sample", sample(), 0.98), ("other", other_records(), 0.99)]
    {
        let answers = answers(input);
        assert_eq!(answers.len(), records.len(), "{input}: an answer a record");
        let (_, report) = run_bulk_on(&q, &s, input, &records, Some(0), 600, "mapper").await;
        let t = score_report(&q, &report, &answers).await;
        eprintln!("{input}, through the binary:\n{}", t.report());
        for field in ["schedules", "phones", "address_1", "postal_code"] {
            let c = t.field(field);
            assert!(
                c.recall() >= 0.97 && c.precision() >= precision,
                "{input} {field}\n{}",
                t.report()
            );
        }
    }
    // Everything was read by code: the LLM was never asked.
    assert_eq!(s.fake.calls(), 0);
}

/// `known_fields` steer the mapper path too: a field the caller says the
/// record holds that the document lacks is listed as unsettled, with the
/// value it must have, never silently absent; one the document holds is
/// not listed; no LLM is asked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_known_field_the_mapper_did_not_place_is_unsettled() {
    let (s, q) = setup(None).await;
    let raw = json!({ "name": "Hillside Pantry", "address": "5 Hill Rd, Albany, NY 12203",
                      "notes": "Ask at the side door" });
    let known = json!({ "name": "Hillside Pantry", "phone": "518-555-0100", "hours": true });
    let sub = q
        .submit(SubmitRequest {
            job_type: "hsds_alignment".into(),
            payload: json!({ "raw_data": raw, "known_fields": known }).to_string(),
            max_retries: Some(0),
            ..SubmitRequest::default()
        })
        .await
        .unwrap();
    let job = &wait(&q, &s, std::slice::from_ref(&sub.id), 120).await[0];
    assert_eq!(job.status, JobStatus::Completed, "{job:#?}");
    let r = result(job);
    assert_eq!(
        r["unsettled"],
        json!([
            { "kind": "known_field", "field": "hours", "text": null },
            { "kind": "known_field", "field": "phone", "text": "518-555-0100" },
        ]),
        "{r:#}"
    );
    assert_eq!(s.fake.calls(), 0);
}
