//! The mapper on records like the scrapers give.

use super::*;

#[test]
fn misfiled_fields_land_where_they_belong() {
    // A scraper put the address in `phone` and the phone in `hours`.
    let raw = json!({
        "name": "Avondale", "address": "", "city": "", "state": "PA", "zip": "",
        "phone": "St. Rocco Center \u{2014} 9016 Gap Newport Pike Avondale, PA",
        "hours": "(610) 268-3365", "latitude": 40.0066, "longitude": -75.7075,
        "source": "x", "food_bank": "Chester County Food Bank"
    });
    let m = map_record(&raw).unwrap();
    let loc = &m.draft["location"][0];
    assert_eq!(loc["name"], "St. Rocco Center");
    assert_eq!(loc["phones"][0]["number"], "(610) 268-3365");
    assert_eq!(
        m.provenance["/location/0/phones/0/number"].source,
        "raw:/hours"
    );
    assert_eq!(
        m.provenance["/location/0/phones/0/number"].how,
        How::Inferred
    );
    assert!(m.questions.is_empty());
    // No ZIP code: no address (HSDS requires one), nothing invented.
    assert!(loc.get("addresses").is_none());
}

#[test]
fn a_complete_record_is_fully_mapped_with_provenance() {
    let raw = json!({
        "name": "Napa Food Pantry", "address": "938 Kaiser Road", "city": "Napa",
        "state": "CA", "zip": "94559", "phone": "707.555.0100",
        "hours": "Open Tuesday, Wednesday, & Thursday Hours: 9:00-1:00 PM",
        "services": ["Food Pantry"], "website": "https://www.canv.org/food-pantry/",
        "notes": "Bring ID.", "latitude": 38.25, "longitude": -122.27
    });
    let m = map_record(&raw).unwrap();
    assert!(m.questions.is_empty());
    let addr = &m.draft["location"][0]["addresses"][0];
    assert_eq!(addr["address_1"], "938 Kaiser Road");
    assert_eq!(addr["postal_code"], "94559");
    let s = &m.draft["location"][0]["schedules"][0];
    assert_eq!(s["byday"], "TU,WE,TH");
    assert_eq!(s["opens_at"], "09:00");
    assert_eq!(
        m.provenance["/location/0/addresses/0/city"].source,
        "raw:/city"
    );
    assert_eq!(
        m.provenance["/location/0/addresses/0/city"].how,
        How::Copied
    );
    assert_eq!(
        m.provenance["/location/0/phones/0/number"].how,
        How::Normalised
    );
    assert_eq!(m.draft["service"][0]["description"], "Bring ID.");
    // Every value in the draft has a source.
    let all = leaf_pointers(&m.draft);
    for p in all {
        assert!(m.provenance.contains_key(&p), "no provenance for {p}");
    }
}

#[test]
fn hours_in_notes_and_unreadable_hours() {
    let raw = json!({"name": "A", "notes": "Sundays from 4:00 pm until 6:00 pm"});
    let m = map_record(&raw).unwrap();
    assert_eq!(m.draft["location"][0]["schedules"][0]["byday"], "SU");
    assert_eq!(
        m.provenance["/location/0/schedules/0/opens_at"].source,
        "raw:/notes"
    );
    let raw =
        json!({"name": "B", "hours": "Monday: 3rd Monday of the Month, 10am (except holidays)"});
    let m = map_record(&raw).unwrap();
    assert_eq!(m.questions.len(), 1);
    assert_eq!(m.questions[0].from, "/hours");
    let raw =
        json!({"name": "C", "notes": "Monday: 3rd Monday of the Month, 10am (except holidays)"});
    let m = map_record(&raw).unwrap();
    assert_eq!(m.questions.len(), 1, "hours in notes ask too");
    let raw = json!({"name": "D", "notes": "Bring two forms of ID, once every 30 days."});
    assert!(map_record(&raw).unwrap().questions.is_empty());
    assert!(!has_content(&json!({"test": "data"})));
    assert!(has_content(&json!({"contact": "(610) 268-3365"})));
}

#[test]
fn other_scrapers_shapes_are_read_by_meaning() {
    // Spellings and nesting none of the sample scrapers use.
    let raw = json!({
        "Agency Name": "Springfield Community Food Shelf",
        "Site": { "Street Address": "742 Evergreen Terrace", "City": "Springfield",
                  "State": "Illinois", "Postal Code": "62704" },
        "Phone Number": "217.555.0199 ext 2",
        "Hours of Operation": "Mon, Wed 10:00am-2:00pm; Sat 9-11am",
        "Website URL": "www.springfieldfoodshelf.org",
        "Contact Email": "help@springfieldfoodshelf.org",
        "Latitude": "39.7817", "Longitude": "-89.6501",
        "Programs": "Food Pantry, Senior Boxes"
    });
    let m = map_record(&raw).unwrap();
    assert!(m.questions.is_empty(), "{:?}", m.questions);
    let d = &m.draft;
    assert_eq!(
        d["organization"][0]["name"],
        "Springfield Community Food Shelf"
    );
    assert_eq!(
        d["organization"][0]["website"],
        "https://www.springfieldfoodshelf.org"
    );
    assert_eq!(
        d["organization"][0]["email"],
        "help@springfieldfoodshelf.org"
    );
    let addr = &d["location"][0]["addresses"][0];
    assert_eq!(addr["address_1"], "742 Evergreen Terrace");
    assert_eq!(addr["state_province"], "IL");
    assert_eq!(addr["postal_code"], "62704");
    assert_eq!(
        m.provenance["/location/0/addresses/0/state_province"].how,
        How::Normalised
    );
    assert_eq!(d["location"][0]["latitude"], 39.7817);
    assert_eq!(d["location"][0]["phones"][0]["number"], "(217) 555-0199");
    let days: Vec<&str> = d["location"][0]["schedules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["byday"].as_str().unwrap())
        .collect();
    assert_eq!(days, vec!["MO,WE", "SA"]);
    assert_eq!(d["service"][1]["name"], "Senior Boxes");
    // A whole address in one field.
    let raw = json!({ "title": "Pantry", "location": "123 Main St, Springfield, IL 62701" });
    let m = map_record(&raw).unwrap();
    assert_eq!(
        m.draft["location"][0]["addresses"][0]["city"],
        "Springfield"
    );
}

/// A record already shaped like HSDS (another directory's export): nested
/// lists are read, identifiers and pictures are not content, and a plain
/// key beats a longer one and a value placed by its content.
#[test]
fn a_nested_hsds_shaped_record_is_read_by_meaning() {
    let raw = json!({
        "id": "d9d5e0f5-d3ce-4f73-9a2f-4dd0ecc6c610",
        "alternate_name": "Example Org",
        "name": "Example Organization Inc.",
        "parent_organization_id": "cd09a387-91f4-4555-94ec-e799c35344cd",
        "logo": "https://example.org/logo.png",
        "website": "http://example.com",
        "phones": [{ "id": "1554f2e2", "number": "(609) 882-7719", "extension": 100 }],
        "services": [{ "id": "ac148810", "name": "Food Pantry" }, { "name": "Hot Meals" }],
        "locations": [{
            "name": "Civic Center",
            "addresses": [{
                "address_1": "1 Main Street", "city": "Trenton",
                "state_province": "NJ", "postal_code": "08608"
            }],
            "schedules": [{ "byday": "TH,FR", "opens_at": "10:00", "closes_at": "18:00" }]
        }]
    });
    let m = map_record(&raw).unwrap();
    let org = &m.draft["organization"][0];
    assert_eq!(org["name"], "Example Organization Inc.");
    assert_eq!(org["website"], "http://example.com");
    assert_eq!(
        m.provenance["/organization/0/website"].source,
        "raw:/website"
    );
    let loc = &m.draft["location"][0];
    assert_eq!(loc["phones"][0]["number"], "(609) 882-7719");
    assert_eq!(
        m.provenance["/location/0/phones/0/number"].source,
        "raw:/phones/0/number"
    );
    let address = &loc["addresses"][0];
    assert_eq!(
        (
            &address["address_1"],
            &address["city"],
            &address["postal_code"]
        ),
        (&json!("1 Main Street"), &json!("Trenton"), &json!("08608"))
    );
    let names: Vec<&str> = m.draft["service"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(names, ["Food Pantry", "Hot Meals"]);
    assert_eq!(
        m.provenance["/service/1/name"].source,
        "raw:/services/1/name"
    );
    // The structured opening times are read without a question.
    assert!(m.questions.is_empty(), "{:?}", m.questions);
    let schedule = &loc["schedules"][0];
    assert_eq!(schedule["opens_at"], "10:00", "{schedule}");
    // No identifier became a value.
    let text = m.draft.to_string();
    assert!(
        !text.contains("cd09a387") && !text.contains("logo.png"),
        "{text}"
    );
}

#[test]
fn identifiers_and_pictures_are_not_content() {
    use crate::classify::{Role, role_of};
    for key in [
        "id",
        "siteId",
        "parent_organization_id",
        "external_identifier",
        "image_url",
        "logoUrl",
    ] {
        assert_eq!(role_of(key), Role::Ignore, "{key}");
    }
    for (key, role) in [
        ("paid", Role::Unknown),
        ("Hours_of_Operation", Role::Hours),
        ("valid_from", Role::Unknown),
        ("organizationName", Role::OrgName),
    ] {
        assert_eq!(role_of(key), role, "{key}");
    }
}
