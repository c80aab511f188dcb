//! Opening hours whose days and times sit in different parts of one field,
//! among words the parser does not know: one pairing is code's reading;
//! more than one is a question.

use serde_json::json;

fn map(hours: &str) -> hsds::mapper::Mapping {
    let record = json!({ "name": "P", "address": "1 Main St, Camden, NJ 08102", "hours": hours });
    hsds::mapper::map_record(&record).expect("a mapping")
}

#[test]
fn the_only_pairing_of_days_and_times_is_read_by_code() {
    let hours = "Hours: 10am - noon | Days: Tuesday and Thursday when school is in session";
    let m = map(hours);
    assert!(m.questions.is_empty(), "{:?}", m.questions);
    let s = &m.draft.value()["location"][0]["schedules"][0];
    assert_eq!(
        (s["byday"].as_str(), s["opens_at"].as_str()),
        (Some("TU,TH"), Some("10:00"))
    );
    assert_eq!(s["description"], hours);
    let how = &m.draft.provenance()["/location/0/schedules/0/opens_at"];
    assert_eq!(
        (how.source.as_str(), how.how),
        ("raw:/hours", hsds::mapper::How::Inferred)
    );
}

#[test]
fn two_pairings_are_a_question_offering_both() {
    let hours = "Hours: 10am - noon, office 1pm - 4pm | Days: Tuesday when school is in session";
    let m = map(hours);
    assert_eq!(m.questions.len(), 1, "{:?}", m.draft.value());
    assert_eq!(
        hsds::hours::pairs(hours),
        ["tuesday 10am - noon", "tuesday 1pm - 4pm"]
    );
}
