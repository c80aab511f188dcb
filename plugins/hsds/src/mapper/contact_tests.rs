//! The mapper on phones and addresses as records give them: a list of
//! typed phones, a PO box on the line before the street.

use super::*;
use serde_json::json;

#[test]
fn a_phone_typed_as_a_fax_in_a_list_of_phones() {
    let raw = json!({"name": "C", "contactInfo": {"phoneNumbers": [
        {"number": "8155550170", "type": "Main"},
        {"number": "8155550171", "type": "Fax"}]}});
    let m = map_record(&raw).unwrap();
    let phones = &m.draft.value()["location"][0]["phones"];
    assert_eq!(phones[0]["number"], "(815) 555-0170");
    assert!(phones[0].get("type").is_none(), "{phones}");
    assert_eq!(phones[1]["number"], "(815) 555-0171");
    assert_eq!(phones[1]["type"], "fax");
    // A phone with a non-breaking hyphen (`&#8209;`) is a phone.
    let raw = json!({"name": "E", "phone": "(217) 555&#8209;0190"});
    let m = map_record(&raw).unwrap();
    assert_eq!(
        m.draft.value()["location"][0]["phones"][0]["number"],
        "(217) 555-0190"
    );
}

#[test]
fn a_po_box_on_the_line_before_the_street() {
    let raw = json!({"name": "B", "address": "PO Box 44\n75 Water St\nMadison, IN 47250"});
    let m = map_record(&raw).unwrap();
    let a = &m.draft.value()["location"][0]["addresses"];
    assert_eq!(a[0]["address_1"], "75 Water St", "{a}");
    assert_eq!(a[0]["address_type"], "physical");
    assert_eq!(a[1]["address_1"], "PO Box 44");
    assert_eq!(a[1]["address_type"], "postal");
    assert_eq!(a[1]["city"], "Madison");
}

#[test]
fn hours_in_brackets_after_the_address() {
    let raw = json!({"name": "A", "address": "12 Oak St, Muncie, IN 47305 (Open Tues 10-12)"});
    let m = map_record(&raw).unwrap();
    let loc = &m.draft.value()["location"][0];
    assert_eq!(loc["addresses"][0]["address_1"], "12 Oak St");
    assert_eq!(loc["schedules"][0]["byday"], "TU");
    assert_eq!(loc["schedules"][0]["opens_at"], "10:00");
}

#[test]
fn a_list_of_contacts_and_a_phone_after_the_name() {
    let raw = json!({"name": "Corner Pantry 815-555-0113",
        "contact": ["309-555-0114", "help@listpantry.org"], "tags": ["food", "pantry"]});
    let m = map_record(&raw).unwrap();
    let doc = m.draft.value();
    assert_eq!(doc["location"][0]["name"], "Corner Pantry");
    let phones: Vec<&str> = doc["location"][0]["phones"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["number"].as_str())
        .collect();
    assert_eq!(phones, ["(815) 555-0113", "(309) 555-0114"]);
    assert_eq!(doc["organization"][0]["email"], "help@listpantry.org");
}

#[test]
fn a_street_in_the_notes_beside_a_city_line_and_a_state_in_the_zip_field() {
    let raw = json!({"name": "N", "address": "Coatesville, PA 19320",
        "notes": "Located at 300 E Lincoln Hwy in the church hall."});
    let m = map_record(&raw).unwrap();
    let a = &m.draft.value()["location"][0]["addresses"][0];
    assert_eq!(a["address_1"], "300 E Lincoln Hwy", "{a}");
    assert_eq!(a["city"], "Coatesville");
    assert_eq!(
        m.draft.provenance()["/location/0/addresses/0/address_1"].source,
        "raw:/notes"
    );
    let raw =
        json!({"name": "Z", "address": "14 Market St", "city": "West Chester", "zip": "PA 19380"});
    let m = map_record(&raw).unwrap();
    let a = &m.draft.value()["location"][0]["addresses"][0];
    assert_eq!(
        (&a["state_province"], &a["postal_code"]),
        (&json!("PA"), &json!("19380"))
    );
}

#[test]
fn a_directory_entrys_labelled_lines_and_a_name_after_the_address() {
    let text = "Name: Riverside Food Shelf\nAddress: 88 River Rd\nCity/State/Zip: Marietta, OH 45750\nPhone: 740-555-0163\nHours: Mon & Wed 1-3 PM";
    let m = map_record(&json!({ "text": text })).expect("named by its label");
    let loc = &m.draft.value()["location"][0];
    assert_eq!(loc["name"], "Riverside Food Shelf");
    assert_eq!(loc["addresses"][0]["address_1"], "88 River Rd");
    assert_eq!(loc["addresses"][0]["city"], "Marietta");
    assert_eq!(loc["phones"][0]["number"], "(740) 555-0163");
    assert_eq!(loc["schedules"][0]["byday"], "MO,WE");
    // A table's rows with one labelled line are no directory entry.
    let rows = "Day | Hours\nTuesday | 9:00 AM - 12:00 PM\nThursday | 1:00 PM - 4:00 PM\nLocation: 66 Elm St, Mansfield, OH 44902";
    assert!(super::prose::labelled_lines(rows).is_none());
    let text = "900 Market St, Zanesville, OH 43701 \u{2013} Zanesville Community Pantry. 10am-1pm Tuesdays.";
    let m = map_record(&json!({ "text": text })).expect("named after its address");
    assert_eq!(
        m.draft.value()["location"][0]["name"],
        "Zanesville Community Pantry"
    );
    // A sentence after the address names nothing.
    let text = "900 Market St, Zanesville, OH 43701. Call us for food help.";
    assert!(map_record(&json!({ "text": text })).is_none());
}

#[test]
fn a_mailing_field_with_a_po_box_and_a_street_is_no_email() {
    let raw = json!({"name": "G", "mailing": "P.O. Box 44, 12 Hill Rd, Groton, VT 05046"});
    let m = map_record(&raw).unwrap();
    let a = &m.draft.value()["location"][0]["addresses"];
    assert_eq!(a[0]["address_1"], "12 Hill Rd", "{a}");
    assert_eq!(a[1]["address_1"], "P.O. Box 44");
    assert_eq!(a[1]["address_type"], "postal");
    assert!(m.draft.value()["organization"][0].get("email").is_none());
    // An email under `mail` is still an email.
    let raw = json!({"name": "G", "mail": "help@grace.org"});
    let m = map_record(&raw).unwrap();
    assert_eq!(
        m.draft.value()["organization"][0]["email"],
        "help@grace.org"
    );
}

#[test]
fn fields_given_as_label_and_value_and_a_place_in_the_address_field() {
    let raw = json!({"title": "Grace Table", "custom_fields": [
        {"label": "Street Address", "value": "410 Grace Ln"}, {"label": "City", "value": "Peoria"},
        {"label": "State", "value": "IL"}, {"label": "Zip", "value": "61602"}]});
    let m = map_record(&raw).unwrap();
    let a = &m.draft.value()["location"][0]["addresses"][0];
    assert_eq!(
        (&a["address_1"], &a["city"], &a["postal_code"]),
        (&json!("410 Grace Ln"), &json!("Peoria"), &json!("61602"))
    );
    let street = &m.draft.provenance()["/location/0/addresses/0/address_1"];
    assert_eq!(street.source, "raw:/custom_fields/0/value");
    // A label that names nothing known leaves the pair to its content.
    let raw = json!({"name": "G", "extra": [{"label": "Parking", "value": "Rear lot"}]});
    assert!(
        map_record(&raw).unwrap().draft.value()["location"][0]
            .get("addresses")
            .is_none()
    );
    let raw = json!({"name": "Bread of Life", "location": "Trinity Church basement",
                     "where": "300 Church St, Lititz, PA 17543"});
    let m = map_record(&raw).unwrap();
    let loc = &m.draft.value()["location"][0];
    assert_eq!(loc["addresses"][0]["address_1"], "300 Church St");
    assert_eq!(loc["name"], "Trinity Church basement");
}

#[test]
fn a_crms_billing_po_box_beside_its_shipping_street() {
    let raw = json!({"Name": "Westside Pantry", "BillingStreet": "PO Box 310", "BillingCity": "Eugene",
        "BillingState": "OR", "BillingPostalCode": "97440", "ShippingStreet": "2300 W 11th Ave",
        "ShippingCity": "Eugene", "ShippingState": "OR", "ShippingPostalCode": "97402"});
    let m = map_record(&raw).unwrap();
    let a = &m.draft.value()["location"][0]["addresses"];
    assert_eq!(
        (&a[0]["address_1"], &a[0]["postal_code"]),
        (&json!("2300 W 11th Ave"), &json!("97402"))
    );
    assert_eq!(
        (
            &a[1]["address_1"],
            &a[1]["postal_code"],
            &a[1]["address_type"]
        ),
        (&json!("PO Box 310"), &json!("97440"), &json!("postal"))
    );
}

#[test]
fn a_directory_line_with_bars_and_a_stops_date_and_time_lines() {
    let raw = json!({"text": "Agape Pantry | 2100 Agape Ln | Durham, NC 27704 | 919-555-0108 | Wed 6-8pm"});
    let m = map_record(&raw).expect("named by its first part");
    let a = &m.draft.value()["location"][0]["addresses"][0];
    assert_eq!(
        (&a["address_1"], &a["city"]),
        (&json!("2100 Agape Ln"), &json!("Durham"))
    );
    let stop = json!({"text": "Mobile Pantry Schedule\nStop: Lincoln Elementary\nAddress: 401 Lincoln \
        Ave, Fort Collins, CO 80524\nDate: 2024-09-14\nTime: 10:00 AM - 11:30 AM"});
    let m = map_record(&stop).expect("a mapping");
    let s = &m.draft.value()["location"][0]["schedules"][0];
    assert_eq!(
        (&s["dtstart"], &s["opens_at"], &s["closes_at"]),
        (&json!("2024-09-14"), &json!("10:00"), &json!("11:30"))
    );
}

#[test]
fn a_house_number_alone_in_the_address_field_and_a_town_after_in() {
    let line = |raw: Value| {
        let m = map_record(&raw).unwrap();
        let a = m.draft.value()["location"][0]["addresses"][0].clone();
        (a["address_1"].clone(), a["city"].clone())
    };
    let raw = json!({"name": "B", "address": "123", "street": "Main Street",
                     "town": "Belfast", "state": "ME", "zip": "04915"});
    assert_eq!(line(raw), (json!("123 Main Street"), json!("Belfast")));
    let raw = json!({"name": "M", "directions": "We are behind the fire station at 12 Elm St. in Milford.",
                     "state": "NH", "zip": "03055"});
    assert_eq!(line(raw), (json!("12 Elm St."), json!("Milford")));
}

#[test]
fn a_po_box_between_the_street_and_the_town() {
    let raw = json!({"name": "S", "address": "12 W. Main St., P.O. Box 7, Sharpsburg, KY 40374"});
    let m = map_record(&raw).unwrap();
    let a = &m.draft.value()["location"][0]["addresses"];
    assert_eq!(a[0]["address_1"], "12 W. Main St.", "{a}");
    assert_eq!(a[0]["city"], "Sharpsburg");
    assert_eq!(a[1]["address_1"], "P.O. Box 7");
    assert_eq!(a[1]["address_type"], "postal");
}

#[test]
fn a_city_line_in_the_second_line_and_a_whole_address_as_a_place_name() {
    let first = |raw: Value| {
        let m = map_record(&raw).unwrap();
        let a = m.draft.value()["location"][0]["addresses"][0].clone();
        (
            a["address_1"].clone(),
            a["city"].clone(),
            a["postal_code"].clone(),
        )
    };
    let raw = json!({"title": "Canal Street Pantry", "location": {"addressLine1": "55 Canal St",
                     "addressLine2": "Lowell, MA 01852"}});
    assert_eq!(
        first(raw),
        (json!("55 Canal St"), json!("Lowell"), json!("01852"))
    );
    let raw = json!({"pantry": "Oak Street Pantry", "geocoded": {
        "place_name": "12 Oak St, Springfield, Illinois 62701, United States"}});
    assert_eq!(
        first(raw),
        (json!("12 Oak St"), json!("Springfield"), json!("62701"))
    );
}
