//! The mapper on records like the scrapers give.

use super::*;
use serde_json::json;

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
    let loc = &m.draft.value()["location"][0];
    assert_eq!(loc["name"], "St. Rocco Center");
    assert_eq!(loc["phones"][0]["number"], "(610) 268-3365");
    assert_eq!(
        m.draft.provenance()["/location/0/phones/0/number"].source,
        "raw:/hours"
    );
    assert_eq!(
        m.draft.provenance()["/location/0/phones/0/number"].how,
        How::Inferred
    );
    assert!(m.questions.is_empty());
    // No ZIP code: the address stays, its ZIP code empty (derived), never
    // invented.
    let address = &loc["addresses"][0];
    assert_eq!(address["address_1"], "9016 Gap Newport Pike");
    assert_eq!(address["city"], "Avondale");
    assert_eq!(address["postal_code"], "");
    let zip = &m.draft.provenance()["/location/0/addresses/0/postal_code"];
    assert_eq!((zip.source.as_str(), zip.how), ("derived", How::Derived));
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
    let addr = &m.draft.value()["location"][0]["addresses"][0];
    assert_eq!(addr["address_1"], "938 Kaiser Road");
    assert_eq!(addr["postal_code"], "94559");
    let s = &m.draft.value()["location"][0]["schedules"][0];
    assert_eq!(s["byday"], "TU,WE,TH");
    assert_eq!(s["opens_at"], "09:00");
    assert_eq!(
        m.draft.provenance()["/location/0/addresses/0/city"].source,
        "raw:/city"
    );
    assert_eq!(
        m.draft.provenance()["/location/0/addresses/0/city"].how,
        How::Copied
    );
    assert_eq!(
        m.draft.provenance()["/location/0/phones/0/number"].how,
        How::Normalised
    );
    assert_eq!(m.draft.value()["service"][0]["description"], "Bring ID.");
    // Every value in the draft has a source.
    let all = leaf_pointers(m.draft.value());
    for p in all {
        assert!(
            m.draft.provenance().contains_key(&p),
            "no provenance for {p}"
        );
    }
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
    let d = m.draft.value();
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
        m.draft.provenance()["/location/0/addresses/0/state_province"].how,
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
        m.draft.value()["location"][0]["addresses"][0]["city"],
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
    let org = &m.draft.value()["organization"][0];
    assert_eq!(org["name"], "Example Organization Inc.");
    assert_eq!(org["website"], "http://example.com");
    assert_eq!(
        m.draft.provenance()["/organization/0/website"].source,
        "raw:/website"
    );
    let loc = &m.draft.value()["location"][0];
    assert_eq!(loc["phones"][0]["number"], "(609) 882-7719");
    assert_eq!(
        m.draft.provenance()["/location/0/phones/0/number"].source,
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
    let names: Vec<&str> = m.draft.value()["service"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(names, ["Food Pantry", "Hot Meals"]);
    assert_eq!(
        m.draft.provenance()["/service/1/name"].source,
        "raw:/services/1/name"
    );
    // The structured opening times are read without a question.
    assert!(m.questions.is_empty(), "{:?}", m.questions);
    let schedule = &loc["schedules"][0];
    assert_eq!(schedule["opens_at"], "10:00", "{schedule}");
    // No identifier became a value.
    let text = m.draft.value().to_string();
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
        // Accents do not matter; the name of a program is a name.
        ("dirección", Role::Address),
        ("teléfono", Role::Phone),
        ("nombre_del_programa", Role::Name),
        ("nombre_de_la_organización", Role::OrgName),
        // Address lines, whatever they are called.
        ("line1", Role::Address),
        ("line2", Role::Address2),
        ("PhysicalAddress1", Role::Address),
        ("PhysicalAddress2", Role::Address2),
        ("address_line_2", Role::Address2),
        ("addr_line_1", Role::Address),
        // An address's parts under an address prefix (schema.org,
        // OpenStreetMap).
        ("addressLocality", Role::City),
        ("addressRegion", Role::State),
        ("addressCountry", Role::Ignore),
        ("addr:street", Role::Address),
        ("addr:housenumber", Role::HouseNumber),
        ("addr:postcode", Role::Zip),
        ("street_number", Role::HouseNumber),
        ("zip4", Role::Ignore),
        // Who may come is the service's eligibility, not its description.
        ("requirements", Role::Eligibility),
        ("eligibility_description", Role::Eligibility),
        ("languageCode", Role::Ignore),
    ] {
        assert_eq!(role_of(key), role, "{key}");
    }
}

/// Shapes other scrapers give (none of the shared samples has them): a
/// store locator's hours as objects, a GeoJSON feature, free text, HTML, a
/// food bank's list of sites, Spanish keys, placeholders for nothing.
#[test]
fn a_geojson_feature_and_a_zip_code_without_its_state() {
    let raw = json!({
        "type": "Feature",
        "geometry": { "type": "Point", "coordinates": [-75.16, 39.95] },
        "properties": { "NAME": "PHILABUNDANCE KITCHEN", "ADDRESS": "2224 N 10TH ST",
                        "CITY": "PHILADELPHIA", "ZIP": "19133", "PHONE": "2155550123",
                        "HOURS": "M-F 8AM-4PM" }
    });
    let m = map_record(&raw).unwrap();
    let loc = &m.draft.value()["location"][0];
    assert_eq!(
        (loc["latitude"].clone(), loc["longitude"].clone()),
        (json!(39.95), json!(-75.16))
    );
    assert_eq!(
        m.draft.provenance()["/location/0/latitude"].source,
        "raw:/geometry/coordinates/1"
    );
    assert_eq!(loc["phones"][0]["number"], "(215) 555-0123");
    assert_eq!(loc["addresses"][0]["state_province"], "PA");
    let state = &m.draft.provenance()["/location/0/addresses/0/state_province"];
    assert_eq!(
        (state.source.as_str(), state.how),
        ("raw:/properties/ZIP", How::Derived)
    );
    // "Feature" is no description of anything.
    assert!(m.draft.value()["service"][0].get("description").is_none());
}

#[test]
fn free_text_and_html_are_read_for_what_they_hold() {
    let raw = json!({ "text": "St. Vincent de Paul Pantry, 88 Oak Ave, Dayton OH 45402. Call (937) 555-0177. Open Tuesdays 10-2 and Saturdays 9-11." });
    let m = map_record(&raw).unwrap();
    let loc = &m.draft.value()["location"][0];
    assert_eq!(loc["name"], "St. Vincent de Paul Pantry");
    assert_eq!(m.draft.provenance()["/location/0/name"].how, How::Inferred);
    let a = &loc["addresses"][0];
    assert_eq!(
        json!([
            a["address_1"],
            a["city"],
            a["state_province"],
            a["postal_code"]
        ]),
        json!(["88 Oak Ave", "Dayton", "OH", "45402"])
    );
    assert_eq!(loc["phones"][0]["number"], "(937) 555-0177");
    let days: Vec<&str> = loc["schedules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["byday"].as_str().unwrap())
        .collect();
    assert_eq!(days, vec!["TU", "SA"]);
    assert_eq!(loc["schedules"][0]["closes_at"], "14:00");

    // Prose before an address names nothing; an address in the notes is
    // not mixed into the one the record gives.
    let raw = json!({ "notes": "Come see us. Visit us at 88 Oak Ave, Dayton OH 45402." });
    assert!(map_record(&raw).is_none());
    let raw = json!({ "name": "R", "street": "1 Main St", "notes": "Our warehouse: 9 Dock Rd, Dayton OH 45402" });
    let m = map_record(&raw).unwrap();
    assert!(
        m.draft.value()["location"][0].get("addresses").is_none(),
        "{:#}",
        m.draft.value()
    );

    let raw = json!({ "title": "Food Pantry at Shiloh Baptist",
        "content": "<p>Open every 2nd and 4th Saturday 9:00 am &ndash; 11:00 am</p><p>500 Shiloh Rd, Greensboro, NC 27401</p>" });
    let m = map_record(&raw).unwrap();
    let loc = &m.draft.value()["location"][0];
    assert_eq!(loc["addresses"][0]["city"], "Greensboro");
    assert_eq!(loc["schedules"][0]["byday"], "2SA,4SA");
    let text = loc["schedules"][0]["description"].as_str().unwrap();
    assert!(!text.contains('<') && !text.contains("&ndash;"), "{text}");
}

#[test]
fn each_site_of_a_list_is_its_own_location() {
    let raw = json!({
        "org": "Helping Hands", "state": "TX", "phone": "512-555-0100",
        "sites": [
            { "site_name": "North", "addr": "1 First St, Austin, TX 78701", "hours": "Wed 1-3pm" },
            { "site_name": "South", "street": "2 Second St", "city": "Austin", "zip": "78704",
              "hours": "Fri 9am-noon", "phone": "512-555-0199" }
        ]
    });
    let m = map_record(&raw).unwrap();
    let locs = m.draft.value()["location"].as_array().unwrap();
    assert_eq!(locs.len(), 2);
    assert_eq!(m.draft.value()["organization"][0]["name"], "Helping Hands");
    let (north, south) = (&locs[0], &locs[1]);
    assert_eq!(
        (&north["name"], &south["name"]),
        (&json!("North"), &json!("South"))
    );
    // Each keeps its own hours: the second site's are not the first's.
    assert_eq!(north["schedules"].as_array().unwrap().len(), 1);
    assert_eq!(north["schedules"][0]["byday"], "WE");
    assert_eq!(south["schedules"][0]["byday"], "FR");
    assert_eq!(
        m.draft.provenance()["/location/1/schedules/0/byday"].source,
        "raw:/sites/1/hours"
    );
    // A site without a phone has the record's; one with its own keeps it.
    assert_eq!(north["phones"][0]["number"], "(512) 555-0100");
    assert_eq!(south["phones"][0]["number"], "(512) 555-0199");
    assert_eq!(south["addresses"][0]["state_province"], "TX");
    assert_eq!(
        m.draft.provenance()["/location/1/addresses/0/state_province"].source,
        "raw:/state"
    );
    // A question about one site's hours is about that site.
    let raw = json!({ "name": "P", "sites": [
        { "addr": "1 First St, Austin, TX 78701" },
        { "addr": "2 Second St, Austin, TX 78704", "hours": "3rd Monday of the month, 10am or 2pm" }
    ]});
    let m = map_record(&raw).unwrap();
    assert_eq!(m.questions.len(), 1);
    assert_eq!(
        (m.questions[0].location, m.questions[0].from.as_str()),
        (1, "/sites/1/hours")
    );
    // Two addresses of one place (street and mail) are not two sites.
    let raw = json!({ "name": "Q", "addresses": [
        { "address_1": "1 First St", "city": "Austin", "state": "TX", "zip": "78701" },
        { "address_1": "PO Box 9", "city": "Austin", "state": "TX", "zip": "78702" }
    ]});
    assert_eq!(
        map_record(&raw).unwrap().draft.value()["location"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn spanish_keys_lists_and_placeholders() {
    let raw = json!({
        "nombre": "Banco de Alimentos", "dirección": "Calle 5 #123", "ciudad": "San Juan",
        "estado": "PR", "código postal": "00901", "teléfono": "787-555-0111",
        "correo": "info@banco.org"
    });
    let m = map_record(&raw).unwrap();
    let a = &m.draft.value()["location"][0]["addresses"][0];
    assert_eq!(
        json!([a["address_1"], a["city"], a["postal_code"]]),
        json!(["Calle 5 #123", "San Juan", "00901"])
    );
    assert_eq!(
        m.draft.value()["organization"][0]["email"],
        "info@banco.org"
    );
    // Phones as a list, one of them local; "N/A" is nothing, not a note.
    let raw = json!({ "name": "L", "phone": ["555-0100", "(212) 555-0101"], "fax": "N/A",
                      "website": "none", "notes": "-" });
    let m = map_record(&raw).unwrap();
    let loc = &m.draft.value()["location"][0];
    assert_eq!(
        loc["phones"],
        json!([{ "number": "555-0100" }, { "number": "(212) 555-0101" }])
    );
    assert_eq!(
        m.draft.provenance()["/location/0/phones/1/number"].source,
        "raw:/phone/1"
    );
    assert!(m.draft.value()["organization"][0].get("website").is_none());
    assert!(m.draft.value()["service"][0].get("description").is_none());
    assert!(!has_content(&json!({ "name": "N/A", "phone": "none" })));
}

#[test]
fn a_po_box_is_a_postal_address() {
    let raw = json!({ "name": "Box Pantry", "address": "PO Box 55, Dover, DE 19901" });
    let m = map_record(&raw).unwrap();
    let a = &m.draft.value()["location"][0]["addresses"][0];
    assert_eq!(
        (&a["address_1"], &a["city"]),
        (&json!("PO Box 55"), &json!("Dover"))
    );
    assert_eq!(a["address_type"], "postal");
    // Beside a street, the street is the address.
    let raw = json!({ "name": "B", "address": "PO Box 55, Dover, DE 19901",
                      "physical_address": "10 Loockerman St, Dover, DE 19901" });
    let m = map_record(&raw).unwrap();
    let a = &m.draft.value()["location"][0]["addresses"][0];
    assert_eq!(
        (&a["address_1"], &a["address_type"]),
        (&json!("10 Loockerman St"), &json!("physical"))
    );
}

#[test]
fn a_geocoders_typed_parts_and_day_keyed_opening_objects() {
    let raw = json!({ "name": "P", "addressComponents": [
        {"longText": "12", "types": ["street_number"]},
        {"longText": "Oak Street", "shortText": "Oak St", "types": ["route"]},
        {"longText": "Troy", "types": ["locality", "political"]},
        {"longText": "New York", "shortText": "NY", "types": ["administrative_area_level_1"]},
        {"longText": "Rensselaer County", "types": ["administrative_area_level_2"]},
        {"longText": "12180", "types": ["postal_code"]}],
        "hours": {"Monday": [{"open": "0900", "close": "1200"}]} });
    let m = map_record(&raw).unwrap();
    let a = &m.draft.value()["location"][0]["addresses"][0];
    assert_eq!(
        (
            &a["address_1"],
            &a["city"],
            &a["state_province"],
            &a["postal_code"]
        ),
        (
            &json!("12 Oak Street"),
            &json!("Troy"),
            &json!("NY"),
            &json!("12180")
        )
    );
    let s = &m.draft.value()["location"][0]["schedules"][0];
    assert_eq!(
        (&s["byday"], &s["opens_at"]),
        (&json!("MO"), &json!("09:00"))
    );
}

#[test]
fn a_mailing_address_object_yields_to_the_places_own() {
    let raw = json!({ "name": "P",
        "mailing_address": {"street": "PO Box 9", "city": "Greenville", "state": "SC", "zip": "29602"},
        "physical_address": {"street": "19 Pendleton St", "city": "Greenville", "state": "SC", "zip": "29601"} });
    let m = map_record(&raw).unwrap();
    let a = &m.draft.value()["location"][0]["addresses"][0];
    assert_eq!(
        (&a["address_1"], &a["postal_code"]),
        (&json!("19 Pendleton St"), &json!("29601"))
    );
    let raw = json!({ "name": "P", "street": "19 Pendleton St", "city": "Greenville",
        "state": "SC", "zip": "29601", "mailing_zip": "29602" });
    let m = map_record(&raw).unwrap();
    let a = &m.draft.value()["location"][0]["addresses"][0];
    assert_eq!(a["postal_code"], json!("29601"));
}
