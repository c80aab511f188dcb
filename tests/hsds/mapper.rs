//! The mapper: sample records, other scrapers' shapes and the official examples placed without an
//! LLM call, misfiled fields and free text, and unreadable hours asked as a choice among the record's own pieces.

use super::*;

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
            let got = m.draft.value().pointer(pointer);
            match want {
                Value::Null => assert!(got.is_none(), "{shape}: {pointer} is {got:?}"),
                want => assert_eq!(got, Some(want), "{shape}: {pointer}\n{:#}", m.draft.value()),
            }
            checked += 1;
        }
        assert_valid_once_repaired(&validator, &m, &shape);
        // Every value the document holds says where it came from.
        for pointer in ["/organization/0/name", "/location/0/name"] {
            assert!(
                m.draft.provenance().contains_key(pointer),
                "{shape}: {pointer}"
            );
        }
    }
    assert!(checked >= 40, "{checked} expectations");
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
