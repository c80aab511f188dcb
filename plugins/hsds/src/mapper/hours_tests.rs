//! The mapper on opening hours as the scrapers give them: in notes, as
//! objects in other spellings, keyed by day, as dated stops, as a list
//! under a key that says nothing, as a recurrence rule beside its times,
//! as a places API's periods, as a list of objects written as a string.

use super::*;
use serde_json::json;

#[test]
fn hours_in_notes_and_unreadable_hours() {
    let raw = json!({"name": "A", "notes": "Sundays from 4:00 pm until 6:00 pm"});
    let m = map_record(&raw).unwrap();
    assert_eq!(
        m.draft.value()["location"][0]["schedules"][0]["byday"],
        "SU"
    );
    assert_eq!(
        m.draft.provenance()["/location/0/schedules/0/opens_at"].source,
        "raw:/notes"
    );
    let raw = json!({"name": "B", "hours": "Monday: 3rd Monday of the Month, 10am or 11am (except holidays)"});
    let m = map_record(&raw).unwrap();
    assert_eq!(m.questions.len(), 1);
    assert_eq!(m.questions[0].from, "/hours");
    let raw = json!({"name": "C", "notes": "Monday: 3rd Monday of the Month, 10am or 11am (except holidays)"});
    let m = map_record(&raw).unwrap();
    assert_eq!(m.questions.len(), 1, "hours in notes ask too");
    let raw = json!({"name": "D", "notes": "Bring two forms of ID, once every 30 days."});
    assert!(map_record(&raw).unwrap().questions.is_empty());
    assert!(!has_content(&json!({"test": "data"})));
    assert!(has_content(&json!({"contact": "(610) 268-3365"})));
}

#[test]
fn hours_given_as_objects_with_other_spellings() {
    let raw = json!({
        "location_name": "Grace Church Food Pantry",
        "hours_of_operation": [
            { "day_of_week": "Monday", "start_time": "0900", "end_time": "1200" },
            { "day": "Thursday", "open": "5:00 PM", "close": "7:30 PM" }
        ],
        "website_url": "gracechurch.org/pantry",
        "phone_number": "+1 574-555-0142 ext. 12"
    });
    let m = map_record(&raw).unwrap();
    let loc = &m.draft.value()["location"][0];
    let s = &loc["schedules"];
    assert_eq!(
        (&s[0]["byday"], &s[0]["opens_at"]),
        (&json!("MO"), &json!("09:00"))
    );
    assert_eq!(
        (&s[1]["byday"], &s[1]["closes_at"]),
        (&json!("TH"), &json!("19:30"))
    );
    assert_eq!(
        m.draft.provenance()["/location/0/schedules/1/byday"].source,
        "raw:/hours_of_operation/1"
    );
    // The day went into the schedule, not into a description.
    assert!(m.draft.value()["service"][0].get("description").is_none());
    assert_eq!(
        m.draft.value()["organization"][0]["website"],
        "https://gracechurch.org/pantry"
    );
    assert_eq!(loc["phones"][0]["number"], "(574) 555-0142");
    assert_eq!(loc["phones"][0]["extension"], 12);
}

#[test]
fn day_keyed_hours_and_closed_days() {
    let raw = json!({ "name": "A", "hours": { "monday": "9-5", "Wed": "10am-noon", "friday": "closed" } });
    let mut days: Vec<Value> = map_record(&raw).unwrap().draft.value()["location"][0]["schedules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| json!([s["byday"], s["opens_at"], s["closes_at"]]))
        .collect();
    days.sort_by_key(|d| d[0].as_str().map(|d| d != "MO"));
    assert_eq!(
        days,
        vec![
            json!(["MO", "09:00", "17:00"]),
            json!(["WE", "10:00", "12:00"])
        ]
    );
}

/// A mobile pantry's dated stops: each one opening on its day, once.
#[test]
fn dated_stops_open_once_on_their_day() {
    let raw = json!({ "name": "B", "events": [
        { "date": "2024-06-01", "start_time": "10:00 AM", "end_time": "12:00 PM" },
        { "start": "2024-06-04T16:00:00-04:00", "end": "2024-06-04T18:00:00-04:00" }
    ] });
    let m = map_record(&raw).unwrap();
    let s = m.draft.value()["location"][0]["schedules"]
        .as_array()
        .unwrap();
    let once = |s: &Value| {
        json!([
            s["byday"],
            s["dtstart"],
            s["valid_from"],
            s["valid_to"],
            s["count"],
            s["opens_at"],
            s["closes_at"]
        ])
    };
    assert_eq!(
        s.iter().map(once).collect::<Vec<_>>(),
        vec![
            json!([
                "SA",
                "2024-06-01",
                "2024-06-01",
                "2024-06-01",
                1,
                "10:00",
                "12:00"
            ]),
            json!([
                "TU",
                "2024-06-04",
                "2024-06-04",
                "2024-06-04",
                1,
                "16:00",
                "18:00"
            ])
        ]
    );
    assert_eq!(
        m.draft.provenance()["/location/0/schedules/1/dtstart"].source,
        "raw:/events/1"
    );
    assert!(m.draft.value()["service"][0].get("description").is_none());
    assert!(m.questions.is_empty());
}

fn slots(raw: Value) -> Vec<String> {
    let m = map_record(&raw).expect("a mapping");
    let doc = m.draft.value();
    doc["location"][0]["schedules"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|s| format!("{} {}-{}", s["byday"], s["opens_at"], s["closes_at"]))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_list_of_hours_texts_under_a_key_that_says_nothing() {
    let raw = json!({"name": "A", "weekday_text": [
        "Monday: Closed", "Tuesday: 9:00\u{202f}AM\u{2009}\u{2013}\u{2009}11:00\u{202f}AM"]});
    assert_eq!(slots(raw), [r#""TU" "09:00"-"11:00""#]);
    // A list of tags is still no content.
    let raw = json!({"name": "B", "tags": ["Food Pantry", "Tuesday"]});
    assert!(slots(raw).is_empty());
}

#[test]
fn a_recurrence_rule_with_its_times_in_fields_of_their_own() {
    // `end_time` sorts before `start_time`: the opening is still first.
    let raw = json!({"name": "A", "recurrence": "RRULE:FREQ=WEEKLY;BYDAY=TU,TH",
                     "start_time": "10:00", "end_time": "12:00"});
    assert_eq!(slots(raw), [r#""TU,TH" "10:00"-"12:00""#]);
    let raw = json!({"name": "B", "rrule": "FREQ=MONTHLY;BYDAY=3SA",
                     "opens": "9:00 AM", "closes": "11:00 AM"});
    assert_eq!(slots(raw), [r#""3SA" "09:00"-"11:00""#]);
}

#[test]
fn french_keys_and_hours() {
    let raw = json!({"nom": "Banque Alimentaire", "adresse": "12 Lisbon St, Lewiston, ME 04240",
                     "heures": "Mardi et jeudi de 9h \u{e0} 11h30"});
    assert_eq!(slots(raw), [r#""TU,TH" "09:00"-"11:30""#]);
}

#[test]
fn a_places_apis_periods_and_a_list_written_as_a_string() {
    let raw = json!({"name": "A", "opening_hours": {"periods": [
        {"open": {"day": 2, "time": "0900"}, "close": {"day": 2, "time": "1100"}}]}});
    assert_eq!(slots(raw), [r#""TU" "09:00"-"11:00""#]);
    let raw = json!({"name": "B",
        "hours": "[{\"day\":\"Tuesday\",\"open\":\"9:00\",\"close\":\"11:00\"}]"});
    assert_eq!(slots(raw), [r#""TU" "09:00"-"11:00""#]);
    // A list of texts written as a string is still one text.
    let raw = json!({"name": "C", "hours": "[closed for repairs]"});
    assert!(slots(raw).is_empty());
}

#[test]
fn a_record_in_an_object_with_day_and_time_fields_is_no_opening_object() {
    // An ArcGIS feature's attributes: the name and address are read, and
    // the days and hours meet as fields of one record.
    let raw = json!({"attributes": {"Site_Name": "Desert Pantry", "Street_Address": "14 Cactus Rd",
        "City": "Tucson", "State": "AZ", "Days_Open": "Mon, Wed", "Hours_Open": "8:00am - 10:00am"}});
    assert_eq!(slots(raw.clone()), [r#""MO,WE" "08:00"-"10:00""#]);
    let m = map_record(&raw).unwrap();
    assert_eq!(m.draft.value()["location"][0]["name"], "Desert Pantry");
}

#[test]
fn rows_of_a_day_and_two_times() {
    let raw = json!({"title": "A", "open": [["Tuesday", "10:00", "12:00"], ["Friday", "3:00 PM", "5:00 PM"]]});
    assert_eq!(
        slots(raw),
        [r#""TU" "10:00"-"12:00""#, r#""FR" "15:00"-"17:00""#]
    );
    // Rows that speak of no time are no hours.
    let raw = json!({"title": "B", "tags": [["food", "pantry"], ["Tuesday"]]});
    assert!(slots(raw).is_empty());
}

#[test]
fn days_as_true_or_false_flags_beside_one_time() {
    let raw = json!({"name": "F", "address": "5 Depot St, Brattleboro, VT 05301",
        "days": {"monday": false, "tuesday": true, "wednesday": false, "thursday": true},
        "open_time": "10:00", "close_time": "12:00"});
    let m = map_record(&raw).unwrap();
    let s = &m.draft.value()["location"][0]["schedules"];
    assert_eq!(s.as_array().map(Vec::len), Some(1), "{s}");
    assert_eq!(s[0]["byday"], "TU,TH");
    assert_eq!(s[0]["opens_at"], "10:00");
    // No day true: no opening.
    let raw = json!({"name": "F", "days": {"monday": false}, "open_time": "10:00", "close_time": "12:00"});
    let m = map_record(&raw).unwrap();
    assert!(
        m.draft.value()["location"][0]["schedules"]
            .as_array()
            .is_none_or(Vec::is_empty)
    );
}

/// The `byday opens-closes` of each schedule the mapper gives `raw`.
fn openings(raw: Value) -> Vec<String> {
    let m = map_record(&raw).expect("a mapping");
    m.draft.value()["location"][0]["schedules"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            let day = s["dtstart"].as_str().or(s["byday"].as_str()).unwrap_or("");
            let t = |k: &str| s[k].as_str().unwrap_or("").to_string();
            format!("{day} {}-{}", t("opens_at"), t("closes_at"))
        })
        .collect()
}

#[test]
fn listing_platforms_hours_shapes() {
    // Open intervals per day, a closed day flagged.
    let yext = json!({"name": "Y", "hours": {"monday": {"isClosed": true},
        "saturday": {"openIntervals": [{"start": "09:00", "end": "11:00"}, {"start": "13:00", "end": "14:00"}]}}});
    assert_eq!(openings(yext), ["SA 09:00-11:00", "SA 13:00-14:00"]);
    // A business profile's periods: days and times as objects of hours and minutes.
    let profile = json!({"title": "P", "regularHours": {"periods": [{"openDay": "TUESDAY",
        "openTime": {"hours": 10}, "closeDay": "TUESDAY", "closeTime": {"hours": 12, "minutes": 30}}]}});
    assert_eq!(openings(profile), ["TU 10:00-12:30"]);
    // A social page's `tue_1_open` keys: day, slot, end.
    let social = json!({"name": "S", "hours": {"tue_1_open": "10:00", "tue_1_close": "12:00",
        "tue_2_open": "15:00", "tue_2_close": "16:00"}});
    assert_eq!(openings(social), ["TU 10:00-12:00", "TU 15:00-16:00"]);
    // The days in a recurrence text.
    let recurring = json!({"name": "R", "schedules": [{"recurrence": "Every week on Wednesday",
        "start": "16:00", "end": "18:00"}]});
    assert_eq!(openings(recurring), ["WE 16:00-18:00"]);
}

#[test]
fn a_calendar_event_and_a_name_that_holds_its_hours() {
    let event = json!({"summary": "Mobile Food Distribution", "location": "12 Oak St, Muncie, IN 47305",
        "start": {"dateTime": "2026-12-08T10:00:00-05:00"}, "end": {"dateTime": "2026-12-08T12:00:00-05:00"}});
    let m = map_record(&event).expect("the summary names it");
    assert_eq!(
        m.draft.value()["location"][0]["name"],
        "Mobile Food Distribution"
    );
    assert_eq!(openings(event), ["2026-12-08 10:00-12:00"]);
    // An event over two days is no one opening.
    let long = json!({"name": "L", "start": "2026-12-08T10:00:00", "end": "2026-12-09T12:00:00"});
    assert!(openings(long).is_empty());
    // A description that is prose names nothing.
    assert!(
        map_record(&json!({"summary": "We serve families in need.", "location": "12 Oak St"}))
            .is_none()
    );
    let named = json!({"name": "Trinity Pantry (Tues 10-12)", "address": "70 Church St, Schererville, IN 46375"});
    let m = map_record(&named).unwrap();
    assert_eq!(m.draft.value()["location"][0]["name"], "Trinity Pantry");
    assert_eq!(openings(named), ["TU 10:00-12:00"]);
    // Brackets that hold no hours stay in the name.
    let m = map_record(&json!({"name": "Hope Pantry (Drive-Thru)"})).unwrap();
    assert_eq!(
        m.draft.value()["location"][0]["name"],
        "Hope Pantry (Drive-Thru)"
    );
}

#[test]
fn hours_keyed_by_the_week_of_the_month() {
    let raw = json!({"name": "W", "monthly": {"2nd": "Saturday 9-11", "last": "Tuesday 1-3pm"}});
    assert_eq!(openings(raw), ["2SA 09:00-11:00", "-1TU 13:00-15:00"]);
}

#[test]
fn a_recurring_calendar_event_opens_on_its_rules_days_at_its_times() {
    let event = json!({"summary": "Food Distribution", "location": "77 Pine St, Utica, NY 13501",
        "start": "2024-01-06T09:00:00", "end": "2024-01-06T11:00:00",
        "recurrence": "RRULE:FREQ=MONTHLY;BYDAY=1SA"});
    assert_eq!(openings(event), ["1SA 09:00-11:00"]);
}

#[test]
fn a_vcard_and_an_icalendar_event_as_free_text() {
    let card = json!({"text": "BEGIN:VCARD\nVERSION:3.0\nFN:Bread of Life Pantry\n\
        ADR;TYPE=WORK:;;215 Maple Ave;Ithaca;NY;14850;USA\nTEL;TYPE=VOICE:+1-607-555-0133\n\
        NOTE:Open Thursdays 4-6pm\nEND:VCARD"});
    let m = map_record(&card).expect("the card names it");
    let doc = m.draft.value();
    assert_eq!(doc["organization"][0]["name"], "Bread of Life Pantry");
    let address = &doc["location"][0]["addresses"][0];
    assert_eq!(
        (
            &address["address_1"],
            &address["city"],
            &address["postal_code"]
        ),
        (&json!("215 Maple Ave"), &json!("Ithaca"), &json!("14850"))
    );
    // Every value's source is the text, not a field it never had.
    let sources: Vec<&str> = m
        .draft
        .provenance()
        .values()
        .map(|s| s.source.as_str())
        .collect();
    assert!(
        sources.iter().all(|s| *s == "raw:/text" || *s == "derived"),
        "{sources:?}"
    );
    assert_eq!(openings(card), ["TH 16:00-18:00"]);
    let event = json!({"text": "BEGIN:VEVENT\nSUMMARY:Community Food Distribution\n\
        DTSTART;TZID=America/New_York:20240106T090000\nDTEND:20240106T110000\n\
        RRULE:FREQ=MONTHLY;BYDAY=1SA\nLOCATION:77 Pine St\\, Utica\\, NY 13501\nEND:VEVENT"});
    assert!(has_content(&event));
    assert_eq!(openings(event), ["1SA 09:00-11:00"]);
    // Text that only starts like one is read as text.
    assert!(map_record(&json!({"text": "BEGIN: Tuesdays 10-12"})).is_none());
}

#[test]
fn days_in_a_list_a_closed_day_carved_out_and_another_programs_note() {
    let listed = json!({"name": "L", "days": ["Monday", "Friday"], "hours": "noon - 3 p.m."});
    assert_eq!(openings(listed), ["MO,FR 12:00-15:00"]);
    // Two fields of one day each are not one list: which goes with the
    // time is not known.
    let two = json!({"name": "L", "day": "Monday", "also": "Friday", "hours": "noon - 3 p.m."});
    assert!(openings(two).iter().all(|o| !o.starts_with("MO,FR")));
    let carved = json!({"name": "R", "hours": "Monday-Friday 9-4 (closed Wednesday)"});
    assert_eq!(openings(carved), ["MO,TU,TH,FR 09:00-16:00"]);
    let note = json!({"name": "K", "hours": "Thursdays 2-4pm",
        "notes": "Summer lunch program June 10 - August 16, weekdays 11:30-1"});
    assert_eq!(openings(note), ["TH 14:00-16:00"]);
    // Alone, a meal's hours are the record's.
    let meal = json!({"name": "K", "notes": "Lunch served weekdays 11:30-1"});
    assert_eq!(openings(meal), ["MO,TU,WE,TH,FR 11:30-13:00"]);
}

#[test]
fn typed_json_a_sheets_rows_and_times_with_their_offset() {
    let doc = json!({"name": "projects/p/databases/(default)/documents/pantries/abc",
        "fields": {"name": {"stringValue": "Riverbend Food Shelf"},
                   "hours": {"arrayValue": {"values": [{"stringValue": "Mon 3-6pm"}]}}}});
    let m = map_record(&doc).expect("typed JSON reads");
    assert_eq!(
        m.draft.value()["organization"][0]["name"],
        "Riverbend Food Shelf"
    );
    let name = &m.draft.provenance()["/organization/0/name"];
    assert_eq!(name.source, "raw:/fields/name/stringValue");
    assert_eq!(openings(doc), ["MO 15:00-18:00"]);
    let sheet = json!({"values": [["Name", "Address", "Hours"],
        ["Elm Street Pantry", "12 Elm St, Hagerstown, MD 21740", "Sat 8-10am"]]});
    assert_eq!(openings(sheet), ["SA 08:00-10:00"]);
    let offset = json!({"name": "C", "schedules": [{"byday": "SA", "opens_at": "09:00:00-05:00",
        "closes_at": "11:00:00-05:00", "freq": "WEEKLY"}]});
    assert_eq!(openings(offset), ["SA 09:00-11:00"]);
}

#[test]
fn a_food_banks_events_at_one_place_are_one_location_open_on_their_dates() {
    let ev = |date: &str| {
        json!({"event_date": date, "start_time": "10:00:00", "end_time": "12:00:00",
               "address1": "500 Park Ave", "city": "Toledo", "state": "OH", "zip": "43604"})
    };
    let raw =
        json!({"agency_name": "Mobile Market", "events": [ev("2024-07-09"), ev("2024-07-23")]});
    let m = map_record(&raw).expect("a mapping");
    let locations = m.draft.value()["location"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(locations.len(), 1, "{locations:?}");
    assert_eq!(
        openings(raw),
        ["2024-07-09 10:00-12:00", "2024-07-23 10:00-12:00"]
    );
    // Events at two places stay two locations.
    let mut other = ev("2024-07-30");
    other["address1"] = json!("9 Elm St");
    let two = json!({"agency_name": "M", "events": [ev("2024-07-09"), other]});
    let m = map_record(&two).expect("a mapping");
    assert_eq!(
        m.draft.value()["location"].as_array().map(Vec::len),
        Some(2)
    );
}

#[test]
fn events_with_local_times_and_a_surveys_stamped_times() {
    let ticketed = json!({"name": {"text": "Food Distribution"},
        "start": {"local": "2024-08-03T09:00:00", "utc": "2024-08-03T14:00:00Z"},
        "end": {"local": "2024-08-03T11:00:00", "utc": "2024-08-03T16:00:00Z"}});
    assert_eq!(openings(ticketed), ["2024-08-03 09:00-11:00"]);
    let social = json!({"name": "Giveaway", "start_time": "2024-08-10T10:00:00-0400",
                        "end_time": "2024-08-10T12:00:00-0400"});
    assert_eq!(openings(social), ["2024-08-10 10:00-12:00"]);
    let survey = json!({"group_info/name": "Rural Route Pantry", "group_hours/days": "tuesday thursday",
        "group_hours/open": "10:00:00.000-05:00", "group_hours/close": "12:00:00.000-05:00"});
    assert_eq!(openings(survey), ["TU,TH 10:00-12:00"]);
}

#[test]
fn a_day_in_the_name_another_programs_service_and_a_weekday_key() {
    let schedules = |raw: Value| -> Vec<String> {
        let m = map_record(&raw).unwrap();
        let list = m.draft.value()["location"][0]["schedules"].clone();
        let list = list.as_array().cloned().unwrap_or_default();
        list.iter()
            .map(|s| format!("{} {}-{}", s["byday"], s["opens_at"], s["closes_at"]))
            .collect()
    };
    // The day in the name, the time in the body (in words, with "close").
    let raw = json!({"title": "Wednesday Night Pantry",
                     "body": "Doors open at 5:30 pm and close at 7. Bring bags."});
    assert_eq!(schedules(raw), vec![r#""WE" "17:30"-"19:00""#]);
    let m = map_record(&json!({"title": "Wednesday Night Pantry", "body": "Doors open at 5:30 pm and close at 7."}))
        .unwrap();
    assert_eq!(
        m.draft.provenance()["/location/0/schedules/0/byday"].source,
        "raw:/title+raw:/body"
    );
    // Without a word of opening, a range in the prose is no time.
    let raw = json!({"title": "Saturday Food Share", "body": "For ages 5-12."});
    assert!(schedules(raw).is_empty());
    // A clothing closet's schedule among the services is not the pantry's.
    let raw = json!({"name": "Bread of Life", "services": [
        {"name": "Food Pantry", "schedule": "Thursdays 1-3"},
        {"name": "Clothing Closet", "schedule": "Saturdays 9-12"}]});
    assert_eq!(schedules(raw), vec![r#""TH" "13:00"-"15:00""#]);
    // A `weekday` key holds a day (not Monday to Friday); "every other"
    // is a day's word; `window` holds the time.
    let raw = json!({"name": "P", "weekday": "every other Tuesday", "window": "2-4 pm"});
    assert_eq!(schedules(raw), vec![r#""TU" "14:00"-"16:00""#]);
    // Minutes as a word after the hour's.
    let raw = json!({"name": "Q", "hours": "Monday from nine to eleven thirty in the morning"});
    assert_eq!(schedules(raw), vec![r#""MO" "09:00"-"11:30""#]);
}

#[test]
fn a_meals_hours_beside_the_pantrys_in_one_field() {
    let raw = json!({"name": "L", "hours": "M-F 11a-1p (lunch); Pantry: W 2p-4p"});
    let m = map_record(&raw).unwrap();
    let s = &m.draft.value()["location"][0]["schedules"];
    assert_eq!(s.as_array().map(Vec::len), Some(1), "{s}");
    assert_eq!(s[0]["byday"], "WE");
    // With no part naming the pantry, a meal's hours are the only hours.
    let raw = json!({"name": "L", "hours": "M-F 11a-1p (lunch)"});
    let m = map_record(&raw).unwrap();
    assert_eq!(
        m.draft.value()["location"][0]["schedules"][0]["byday"],
        "MO,TU,WE,TH,FR"
    );
}
