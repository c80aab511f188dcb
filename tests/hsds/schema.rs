//! The HSDS schema side: the SchemaConverter within provider limits, repair into valid HSDS,
//! the official examples verified, and the checks that name what is wrong in an answer or a record.

use super::*;

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
