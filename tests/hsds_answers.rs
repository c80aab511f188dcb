//! What `hsds_alignment` gives, through the real binary and components,
//! scored against the answers a person took by hand from each record
//! (`tests/fixtures/answers.jsonl`): recall and precision per field
//! (names, schedules, phones, address line, city, state, ZIP code), values the
//! record does not support, and LLM calls a record.

use deckhand::queue::{JobStatus, Queue};
use hsds::score::{Answer, Tally, score};
use serde_json::{Value, json};

use super::common::root;
use super::hsds::{
    Record, align_request, other_scrapers, result, run_bulk_on, sample, setup, wait,
};

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
/// say, and no question for the LLM.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_output_against_the_hand_made_answers() {
    let (s, q) = setup(None).await;
    for (input, records, precision) in
        [("sample", sample(), 0.99), ("other", other_records(), 0.99)]
    {
        let answers = answers(input);
        assert_eq!(answers.len(), records.len(), "{input}: an answer a record");
        let (_, report) = run_bulk_on(&q, &s, input, &records, Some(0), 600, "mapper").await;
        let t = score_report(&q, &report, &answers).await;
        eprintln!("{input}, through the binary:\n{}", t.report());
        for field in ["name", "schedules", "phones", "address_1", "postal_code"] {
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

/// `known_fields` steer the mapper path too: a value the caller gives that
/// the mapper did not place is placed (provenance `known:<key>`); a field
/// named without a value that nobody found is listed as unsettled, never
/// silently absent; one the document holds is not listed; no LLM is asked
/// unless asked for. With `ask_llm`, a known field the record's text offers
/// candidates for is a choice among them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_known_field_the_mapper_did_not_place_is_given_asked_or_unsettled() {
    let (s, q) = setup(None).await;
    let raw = json!({ "name": "Hillside Pantry", "address": "5 Hill Rd, Albany, NY 12203",
                      "notes": "Ask at the side door; dates at hillside.org/food" });
    let known = json!({ "name": "Hillside Pantry", "phone": "518-555-0100", "hours": true,
                        "website": true });
    let request = align_request(json!({ "raw_data": raw, "known_fields": known }));
    let sub = q.submit(request).await.unwrap();
    let job = &wait(&q, &s, std::slice::from_ref(&sub.id), 120).await[0];
    assert_eq!(job.status, JobStatus::Completed, "{job:#?}");
    let r = result(job);
    assert_eq!(
        r["unsettled"],
        json!([
            { "kind": "known_field", "field": "hours", "text": null },
            { "kind": "known_field", "field": "website", "text": null },
        ]),
        "{r:#}"
    );
    assert_eq!(
        r["hsds"]["location"][0]["phones"][0]["number"],
        "(518) 555-0100"
    );
    let p = &r["provenance"]["/location/0/phones/0/number"];
    assert_eq!(
        (p["source"].as_str(), p["how"].as_str()),
        (Some("known:phone"), Some("normalised"))
    );
    assert_eq!(s.fake.calls(), 0);

    // Asked: the website is a choice among the record's own web addresses
    // (the fake picks the first); the hours have nothing to choose from.
    s.fake
        .respond_with(super::common::fake_llm::Answer::first_choice);
    let request = align_request(json!({ "raw_data": raw, "known_fields": known, "ask_llm": true }));
    let sub = q.submit(request).await.unwrap();
    let r = result(&wait(&q, &s, std::slice::from_ref(&sub.id), 120).await[0]);
    assert_eq!(
        (s.fake.calls(), r["llm_questions"].as_u64()),
        (1, Some(1)),
        "{r:#}"
    );
    let body = &s.fake.seen()[0].body;
    assert_eq!(
        body["response_format"]["json_schema"]["schema"]["properties"]["choice"]["enum"],
        json!(["hillside.org/food", "none"]),
        "{body:#}"
    );
    assert_eq!(
        r["hsds"]["organization"][0]["website"], "https://hillside.org/food",
        "{r:#}"
    );
    let p = &r["provenance"]["/organization/0/website"];
    assert_eq!(
        (p["source"].as_str(), p["how"].as_str()),
        (Some("raw:"), Some("llm"))
    );
    assert_eq!(
        r["unsettled"],
        json!([{ "kind": "known_field", "field": "hours", "text": null }]),
        "{r:#}"
    );
}

/// A record with no name code can tell goes, with `ask_llm`, to the model
/// as a choice among its own short texts (one small question, not a whole
/// document to write); the chosen name lands with provenance `llm` and the
/// mapper reads the rest. Unasked, it takes the whole-record path.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nameless_record_asks_a_choice_among_its_own_texts() {
    let (s, q) = setup(None).await;
    s.fake
        .respond_with(super::common::fake_llm::Answer::first_choice);
    let raw = json!({ "Address": "12 Oak St, Camden, NJ 08102", "Hours": "Tue 10-12",
                      "Phone": "856-555-0142", "Line 1": "Hope Pantry" });
    let request = align_request(json!({ "raw_data": raw, "ask_llm": true }));
    let sub = q.submit(request).await.unwrap();
    let job = &wait(&q, &s, std::slice::from_ref(&sub.id), 120).await[0];
    assert_eq!(job.status, JobStatus::Completed, "{job:#?}");
    let r = result(job);
    assert_eq!(
        (r["path"].as_str(), r["llm_questions"].as_u64()),
        (Some("mapper"), Some(1)),
        "{r:#}"
    );
    let body = &s.fake.seen()[0].body;
    assert_eq!(
        body["response_format"]["json_schema"]["schema"]["properties"]["choice"]["enum"],
        json!(["Hope Pantry", "none"]),
        "{body:#}"
    );
    assert_eq!(r["hsds"]["organization"][0]["name"], "Hope Pantry");
    let p = &r["provenance"]["/organization/0/name"];
    assert_eq!(
        (p["source"].as_str(), p["how"].as_str()),
        (Some("raw:"), Some("llm"))
    );
    // The rest is code's reading.
    assert_eq!(
        r["hsds"]["location"][0]["phones"][0]["number"],
        "(856) 555-0142"
    );
    assert_eq!(r["hsds"]["location"][0]["schedules"][0]["byday"], "TU");
    assert_eq!(s.fake.calls(), 1);
}

/// A record no code can name, with `review`: a person is asked for the
/// name (its short texts offered), the job waits holding nothing, and the
/// answer completes the record through the mapper (`how: reviewed`); no
/// LLM is asked at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_no_code_can_name_is_named_by_a_person() {
    let (s, q) = setup(None).await;
    let raw = json!({ "Address": "12 Oak St, Camden, NJ 08102", "Hours": "Tue 10-12",
                      "Line 1": "Hope Pantry" });
    let request = align_request(json!({ "raw_data": raw, "review": true }));
    let id = q.submit(request).await.unwrap().id;
    let wait = suspended(&q, &id).await;
    let question: Value = serde_json::from_str(&wait.question).unwrap();
    let asked = &question["questions"][0];
    assert_eq!(
        (asked["key"].as_str(), &asked["candidates"]),
        (Some("name:0:"), &json!(["Hope Pantry"])),
        "{question}"
    );
    let value = json!({ "answers": { "name:0:": "Hope Pantry" } }).to_string();
    q.resume_wait(&wait.token, &value).await.unwrap();
    let job = &wait_done(&q, &s, &id).await;
    assert_eq!(job.status, JobStatus::Completed, "{job:#?}");
    let r = result(job);
    assert_eq!(r["path"], "mapper", "{r:#}");
    assert_eq!(r["hsds"]["organization"][0]["name"], "Hope Pantry");
    let p = &r["provenance"]["/organization/0/name"];
    assert_eq!(
        (p["source"].as_str(), p["how"].as_str()),
        (Some("raw:"), Some("reviewed"))
    );
    assert_eq!(r["hsds"]["location"][0]["schedules"][0]["byday"], "TU");
    // Nobody answers in time: no document without a name, a dead letter.
    let late = json!({ "raw_data": raw, "review": true, "review_timeout_ms": 300 });
    let id = q.submit(align_request(late)).await.unwrap().id;
    let job = wait_done(&q, &s, &id).await;
    assert_eq!(job.status, JobStatus::Dead, "{job:#?}");
    assert_eq!(
        job.errors.last().map(|e| e.kind.as_str()),
        Some("wait_timeout")
    );
    assert_eq!(s.fake.calls(), 0, "no LLM was asked");
}

/// Free text whose address, phone and hours code reads but that names no
/// pantry (a social post) is asked for its name as a JSON record is, not
/// handed to the LLM whole: a person's answer completes it through the
/// mapper, every value's source the whole text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn free_text_that_names_no_pantry_is_named_by_a_person() {
    let (s, q) = setup(None).await;
    let raw = "Our food pantry is open every Saturday 9-11am at 14 Main St, Medina, OH 44256. \
               Questions? Call 330-555-0162";
    let request = align_request(json!({ "raw_data": raw, "review": true }));
    let id = q.submit(request).await.unwrap().id;
    let wait = suspended(&q, &id).await;
    let question: Value = serde_json::from_str(&wait.question).unwrap();
    assert_eq!(question["questions"][0]["key"], "name:0:", "{question}");
    let value = json!({ "answers": { "name:0:": "Medina Food Pantry" } }).to_string();
    q.resume_wait(&wait.token, &value).await.unwrap();
    let job = &wait_done(&q, &s, &id).await;
    assert_eq!(job.status, JobStatus::Completed, "{job:#?}");
    let r = result(job);
    assert_eq!(r["path"], "mapper", "{r:#}");
    assert_eq!(r["hsds"]["organization"][0]["name"], "Medina Food Pantry");
    let location = &r["hsds"]["location"][0];
    assert_eq!(location["addresses"][0]["address_1"], "14 Main St");
    assert_eq!(location["phones"][0]["number"], "(330) 555-0162");
    assert_eq!(location["schedules"][0]["byday"], "SA");
    let p = &r["provenance"]["/location/0/addresses/0/address_1"];
    assert_eq!(p["source"], "raw:", "{r:#}");
    assert_eq!(s.fake.calls(), 0, "no LLM was asked");
}

/// The job's wait once it has suspended (a minute at most).
async fn suspended(q: &Queue, id: &str) -> deckhand::queue::WaitState {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let job = q.get(id).await.unwrap().expect("the job");
        if job.status == JobStatus::Suspended
            && let Some(w) = job.wait
        {
            return w;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never suspended: {:?}",
            job.status
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

async fn wait_done(q: &Queue, s: &super::hsds::Setup, id: &str) -> deckhand::queue::JobRecord {
    wait(q, s, &[id.to_string()], 120).await.remove(0)
}

/// Opening hours code cannot settle, each with the schedule a person takes
/// from it (`byday opens-closes`): the day in one labelled part, two time
/// ranges in another (one of them not the pantry's), and words around them
/// the parser does not know.
const SPLIT_HOURS: &[(&str, &str)] = &[
    (
        "Pantry 10am - noon, office 1pm - 4pm | Days: Tuesday and Thursday when school is in session",
        "TU,TH 10:00-12:00",
    ),
    (
        "Food distribution 1pm-3pm; volunteers arrive 11am-1pm | Distribution day: every Friday unless it snows",
        "FR 13:00-15:00",
    ),
    (
        "Office 9am-12pm; pantry open 4:30-6:30 pm | Open on Wednesday evenings during the school year",
        "WE 16:30-18:30",
    ),
    (
        "Pantry hours: 8-10 am. Clothing closet 10-11 am | Day: Saturday mornings, weather permitting",
        "SA 08:00-10:00",
    ),
    (
        "Groceries 5pm - 7pm, hot meal 7pm - 8pm | Days: Mon and Wed, while supplies last",
        "MO,WE 17:00-19:00",
    ),
    (
        "Pantry: 9:00 am - 11:30 am; office: 1:00 pm - 3:00 pm | Day: Monday (except holidays)",
        "MO 09:00-11:30",
    ),
    (
        "Food pantry 2-4pm, senior lunch 11am-1pm | Thursdays when the truck comes",
        "TH 14:00-16:00",
    ),
    (
        "Serving 11am-1pm, choir practice 2pm-3pm | Serving on Sundays after the service",
        "SU 11:00-13:00",
    ),
];

/// With `ask_llm`, a real model (`DECKHAND_TEST_LLM_URL`, e.g. SmolLM2
/// from `../shared/tools/local-llm.sh`) is asked to choose among the
/// pieces of the record's own text the parser reads: the server enforces
/// the choice (every asked record completes, no schedule outside the
/// candidates), and the share of answers kept and right is printed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_llm_chooses_among_the_records_own_pieces() {
    let Ok(url) = std::env::var("DECKHAND_TEST_LLM_URL") else {
        eprintln!("DECKHAND_TEST_LLM_URL is not set: the real-LLM choice run is skipped");
        return;
    };
    let (s, q) = setup(Some(&url)).await;
    let mut ids = Vec::new();
    for (i, (hours, _)) in SPLIT_HOURS.iter().enumerate() {
        let raw = json!({ "name": format!("Pantry {i}"), "address": "1 Main St, Camden, NJ 08102",
                          "hours": hours });
        let request = align_request(json!({ "raw_data": raw, "ask_llm": true }));
        let sub = q.submit(request).await.unwrap();
        ids.push(sub.id);
    }
    let jobs = wait(&q, &s, &ids, 1200).await;
    let (mut asked, mut kept, mut right) = (0, 0, 0);
    for (job, (hours, expected)) in jobs.iter().zip(SPLIT_HOURS) {
        assert_eq!(job.status, JobStatus::Completed, "{job:#?}");
        let r = result(job);
        asked += r["llm_questions"].as_u64().unwrap_or(0);
        let answer = Answer {
            schedules: vec![expected.to_string()],
            ..Answer::default()
        };
        let got = score(&r["hsds"], &answer).field("schedules");
        if got.found > 0 {
            kept += 1;
            right += usize::from(got.recalled == got.expected && got.right == got.found);
        }
        eprintln!("{hours:?}: {got:?} (expected {expected})");
    }
    eprintln!(
        "choices: {asked} asked over {} records, {kept} kept, {right} kept and right",
        SPLIT_HOURS.len()
    );
    assert_eq!(
        asked as usize,
        SPLIT_HOURS.len(),
        "each record asks one choice"
    );
}

/// Records no code can name, each with the name a person takes from it,
/// beside texts that are not names.
const NAMELESS: &[(&str, &str)] = &[
    (
        r#"{"Address": "12 Oak St, Camden, NJ 08102", "Hours": "Tue 10-12", "Line 1": "Hope Pantry", "Line 2": "Enter by the side door"}"#,
        "Hope Pantry",
    ),
    (
        r#"{"Street": "5 Elm Ave, Trenton, NJ 08608", "Phone": "609-555-0100", "Heading": "St. Mary Food Closet", "Remarks": "Bring your own bags"}"#,
        "St. Mary Food Closet",
    ),
    (
        r#"{"addr": "77 Pine Rd, Newark, NJ 07102", "caption": "Pine Road Community Pantry", "extra": "Serving Essex County"}"#,
        "Pine Road Community Pantry",
    ),
    (
        r#"{"where": "9 Main St, Dover, DE 19901", "sponsor_text": "Dover Rescue Mission", "what": "Hot meals and groceries"}"#,
        "Dover Rescue Mission",
    ),
];

/// With `ask_llm`, a real model names records no code can name by
/// choosing among their own short texts: every answer is a candidate or
/// "none" (the server's grammar), and the share kept and right is printed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_llm_names_records_among_their_own_texts() {
    let Ok(url) = std::env::var("DECKHAND_TEST_LLM_URL") else {
        eprintln!("DECKHAND_TEST_LLM_URL is not set: the real-LLM naming run is skipped");
        return;
    };
    let (s, q) = setup(Some(&url)).await;
    let mut ids = Vec::new();
    for (raw, _) in NAMELESS {
        let raw: Value = serde_json::from_str(raw).unwrap();
        let request = align_request(json!({ "raw_data": raw, "ask_llm": true }));
        ids.push(q.submit(request).await.unwrap().id);
    }
    let jobs = wait(&q, &s, &ids, 1200).await;
    let (mut kept, mut right) = (0, 0);
    for (job, (raw, expected)) in jobs.iter().zip(NAMELESS) {
        // "none" sends the record to the LLM whole, where a small model
        // may fail it: not kept either way.
        let r = if job.status == JobStatus::Completed {
            result(job)
        } else {
            Value::Null
        };
        let named = r["path"] == "mapper";
        let name = r["hsds"]["organization"][0]["name"].as_str().unwrap_or("");
        kept += usize::from(named);
        right += usize::from(named && name == *expected);
        eprintln!(
            "{raw}: path {}, name {name:?} (expected {expected:?})",
            r["path"]
        );
        if named {
            assert!(
                raw.contains(name),
                "a name the record does not hold: {name:?}"
            );
        }
    }
    eprintln!(
        "names: {} asked, {kept} kept, {right} kept and right",
        NAMELESS.len()
    );
}
