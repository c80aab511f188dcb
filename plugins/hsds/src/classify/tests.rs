//! The classifiers on keys in many spellings, addresses, phones and boxes.

use super::*;

#[test]
fn keys_in_many_spellings() {
    assert_eq!(role_of("Hours_of_Operation"), Role::Hours);
    assert_eq!(role_of("Zip"), Role::Zip);
    assert_eq!(role_of("site_name"), Role::Name);
    assert_eq!(role_of("lng"), Role::Longitude);
    assert_eq!(role_of("Phone Number"), Role::Phone);
    assert_eq!(role_of("full_address"), Role::Address);
    assert_eq!(role_of("food_bank"), Role::Ignore);
    assert_eq!(role_of("contact_email"), Role::Email);
    // The record's own dates.
    for key in [
        "last_verified",
        "updatedAt",
        "date_modified",
        "created",
        "scraped_at",
    ] {
        assert_eq!(role_of(key), Role::Ignore, "{key}");
    }
    // French.
    assert_eq!(role_of("nom"), Role::Name);
    assert_eq!(role_of("adresse"), Role::Address);
    assert_eq!(role_of("ville"), Role::City);
    assert_eq!(role_of("code_postal"), Role::Zip);
    assert_eq!(role_of("heures"), Role::Hours);
    assert_eq!(role_of("horaires_d_ouverture"), Role::Hours);
    assert_eq!(role_of("t\u{e9}l\u{e9}phone"), Role::Phone);
    assert_eq!(role_of("courriel"), Role::Email);
}

#[test]
fn a_dotted_state_a_queens_number_and_a_second_number_without_area_code() {
    let a = address("11 Bank St, Hudson, N.Y. 12534").expect("an address");
    assert_eq!(
        (a.street.as_deref(), a.city.as_deref(), a.state.as_deref()),
        (Some("11 Bank St"), Some("Hudson"), Some("NY"))
    );
    let a = address("108-20 71st Ave, Forest Hills, NY 11375").expect("a Queens number");
    assert_eq!(a.street.as_deref(), Some("108-20 71st Ave"));
    assert_eq!(a.city.as_deref(), Some("Forest Hills"));
    let a = address("64-1067 Mamalahoa Hwy, Kamuela, HI 96743").expect("a Hawaiian number");
    assert_eq!(a.street.as_deref(), Some("64-1067 Mamalahoa Hwy"));
    // A time range with its days is no house number.
    assert_eq!(address("10-12 Saturdays, NY 12534"), None);
    let numbers =
        |t: &str| -> Vec<String> { labelled_phones(t).into_iter().map(|(n, _)| n).collect() };
    assert_eq!(
        numbers("(518) 555-0120 or 555-0121"),
        ["(518) 555-0120", "(518) 555-0121"]
    );
    assert_eq!(
        phones_in("Call 518-555-0120 / 555.0121 today"),
        ["(518) 555-0120", "(518) 555-0121"]
    );
    // Two whole numbers are each their own; a year after one is none.
    assert_eq!(
        numbers("518-555-0120, 212-555-0199"),
        ["(518) 555-0120", "(212) 555-0199"]
    );
    assert_eq!(numbers("518-555-0120 since 2024"), ["(518) 555-0120"]);
    assert_eq!(phone("tel:+15185550131").as_deref(), Some("(518) 555-0131"));
    assert_eq!(phone("518/555-0132").as_deref(), Some("(518) 555-0132"));
    assert_eq!(
        city_zip("Hudson 12534"),
        Some(("Hudson".into(), "12534".into()))
    );
    assert_eq!(
        city_zip("St. Albans, 05478-1234"),
        Some(("St. Albans".into(), "05478".into()))
    );
    // A ZIP code that lost its leading zero, where ZIP codes start
    // with one.
    let a = address("100 Market St, Suite 200, Newark, NJ 7102").expect("an address");
    assert_eq!(
        (a.street.as_deref(), a.city.as_deref(), a.zip.as_deref()),
        (Some("100 Market St"), Some("Newark"), Some("07102"))
    );
    let a = address("5 Main St, Dayton, OH 4540").expect("an address");
    assert_eq!(a.zip, None);
    // Rural routes' boxes are boxes; a road is not.
    for t in [
        "RR 2 Box 15",
        "R.R. 2, Box 15",
        "HC 65 Box 12",
        "Rural Route 3 Box 7",
    ] {
        assert!(is_po_box(t), "{t}");
    }
    for t in [
        "RR Box 15",
        "HC 65 Main St",
        "Rrr 2 Box 1",
        "12 Box Elder Rd",
    ] {
        assert!(!is_po_box(t), "{t}");
    }
    let a = address("W5678 County Rd K, Fond du Lac, WI 54935").expect("a grid address");
    assert_eq!(a.street.as_deref(), Some("W5678 County Rd K"));
    assert_eq!(address("West Side Pantry, Fond du Lac, WI 54935"), None);
    // A clock's minutes before a street are not its number.
    let (at, a) = address_in("Open 9:00-11:00 25 Oak Ave, Troy, NY 12180").expect("one");
    assert_eq!((at, a.street.as_deref()), (16, Some("25 Oak Ave")));
    assert_eq!(city_zip("Hudson"), None);
    assert_eq!(city_zip("12534"), None);
}

#[test]
fn a_county_between_city_and_state_is_left_out() {
    let a = address("5 Elm St, Troy, Rensselaer County, NY 12180, United States");
    let a = a.expect("an address");
    assert_eq!(
        (a.street.as_deref(), a.city.as_deref(), a.state.as_deref()),
        (Some("5 Elm St"), Some("Troy"), Some("NY"))
    );
    let a = address("One Church Plaza, Camden, NJ 08102").expect("a word-numbered street");
    assert_eq!(a.street.as_deref(), Some("One Church Plaza"));
    assert_eq!(address("One Stop Pantry, Camden, NJ 08102"), None);
    let a = address("Suite 100, 300 College St, Greenville, SC 29601").expect("unit first");
    assert_eq!(
        (a.street.as_deref(), a.street2.as_deref(), a.city.as_deref()),
        (
            Some("300 College St"),
            Some("Suite 100"),
            Some("Greenville")
        )
    );
    let a = address("4 Main St Unit 3 Greenville SC 29601").expect("no commas");
    assert_eq!(
        (a.street2.as_deref(), a.city.as_deref()),
        (Some("Unit 3"), Some("Greenville"))
    );
    let a = city_line("Greenville, SC").expect("a city and a state");
    assert_eq!(
        (a.city.as_deref(), a.state.as_deref(), a.zip),
        (Some("Greenville"), Some("SC"), None)
    );
    assert_eq!(city_line("Greenville"), None);
    let a = address("Calle Luna 205, San Juan, PR 00901").expect("a Spanish street first");
    assert_eq!(
        (a.street.as_deref(), a.city.as_deref()),
        (Some("Calle Luna 205"), Some("San Juan"))
    );
    // A place named after a county keeps its name as the city.
    let a = address("9 Main St, Orange County, CA 92701").expect("an address");
    assert_eq!(a.city.as_deref(), Some("Orange County"));
}

#[test]
fn values_by_content() {
    assert_eq!(phone("(610) 268-3365").as_deref(), Some("(610) 268-3365"));
    assert_eq!(phone("336.229.7031").as_deref(), Some("(336) 229-7031"));
    assert_eq!(
        phone("Phone: 718-292-8734").as_deref(),
        Some("(718) 292-8734")
    );
    assert_eq!(
        phone("St. Rocco Center — 9016 Gap Newport Pike Avondale, PA"),
        None
    );
    // No area code starts with 0 or 1: a tax id, a placeholder.
    for not_a_phone in ["Tax ID: 123-456-7890", "(000) 000-0000", "1234567890"] {
        assert_eq!(phone(not_a_phone), None, "{not_a_phone}");
    }
    assert_eq!(
        email("Contact: a.b@example.org").as_deref(),
        Some("a.b@example.org")
    );
    assert_eq!(url("www.x.org"), Some(("https://www.x.org".into(), true)));
    let a = address("St. Rocco Center \u{2014} 9016 Gap Newport Pike Avondale, PA").unwrap();
    assert_eq!(a.place.as_deref(), Some("St. Rocco Center"));
    assert_eq!(a.street.as_deref(), Some("9016 Gap Newport Pike"));
    assert_eq!(a.city.as_deref(), Some("Avondale"));
    assert_eq!(a.state.as_deref(), Some("PA"));
    // A city whose name holds a street-type word.
    let a = address("136 W Cedar St Kennett Square, PA").unwrap();
    assert_eq!(
        (a.street.as_deref(), a.city.as_deref()),
        (Some("136 W Cedar St"), Some("Kennett Square"))
    );
    let a = address("12 Court St Springfield, MA").unwrap();
    assert_eq!(a.street.as_deref(), Some("12 Court St"));
    let a = address("123 Main St, New York, NY 10001").unwrap();
    assert_eq!(
        (
            a.street.as_deref(),
            a.city.as_deref(),
            a.state.as_deref(),
            a.zip.as_deref()
        ),
        (
            Some("123 Main St"),
            Some("New York"),
            Some("NY"),
            Some("10001")
        )
    );
    assert_eq!(address("Phone: 718-292-8734"), None);
}

#[test]
fn addresses_with_units_remarks_and_line_breaks() {
    // A unit is no city; a remark in brackets is no part; a line break
    // parts as a comma does.
    let a = address("111 Church St, Room 7").unwrap();
    assert_eq!(
        (a.street.as_deref(), a.street2.as_deref(), a.city),
        (Some("111 Church St"), Some("Room 7"), None)
    );
    let a = address("410 N. Main St., Suite B, Elkhart, IN 46516").unwrap();
    assert_eq!(
        (a.street2.as_deref(), a.city.as_deref()),
        (Some("Suite B"), Some("Elkhart"))
    );
    let a = address("219 Ponahawai St, Hilo, HI 96720 (Downtown Hilo)").unwrap();
    assert_eq!(
        (a.street.as_deref(), a.city.as_deref(), a.zip.as_deref()),
        (Some("219 Ponahawai St"), Some("Hilo"), Some("96720"))
    );
    let (_, a) =
        address_in("Behind the church at 12 Oak St, in the rear lot, Camden, NJ 08102").unwrap();
    assert_eq!(
        (a.street.as_deref(), a.city.as_deref(), a.zip.as_deref()),
        (Some("12 Oak St"), Some("Camden"), Some("08102"))
    );
    assert_eq!(
        phones_in("Call 18005550142 two days before, or 215.555.0100"),
        ["(215) 555-0100", "(800) 555-0142"]
    );
    // Not a number that starts 0 or 1 after its country code, nor
    // part of a longer run of digits.
    assert!(phones_in("order 0123456789 or 123456789012").is_empty());
    let a = address("12 Oak St; Camden, NJ 08102").unwrap();
    assert_eq!(
        (a.street.as_deref(), a.city.as_deref()),
        (Some("12 Oak St"), Some("Camden"))
    );
}

#[test]
fn two_crossing_streets_without_a_house_number() {
    let a = address("Corner of Main St and 3rd Ave, Rock Island, IL 61201").expect("a crossing");
    assert_eq!(
        (a.street.as_deref(), a.city.as_deref(), a.zip.as_deref()),
        (
            Some("Main St and 3rd Ave"),
            Some("Rock Island"),
            Some("61201")
        )
    );
    let a = address("Elm St & Oak Ave, Troy, NY 12180").expect("a crossing with &");
    assert_eq!(a.street.as_deref(), Some("Elm St & Oak Ave"));
    // Each side must be a street: a name with "and" in it is not.
    assert_eq!(address("Bread and Butter St, Troy, NY 12180"), None);
    assert_eq!(address("Corner of the park, Troy, NY 12180"), None);
}

#[test]
fn a_remark_in_brackets_after_the_street_is_left_out() {
    let a = address("123 Main Street (rear entrance), Danville, IL 61832").expect("an address");
    assert_eq!(
        (a.street.as_deref(), a.city.as_deref()),
        (Some("123 Main Street"), Some("Danville"))
    );
}

#[test]
fn a_newspapers_state_abbreviation_and_a_suites_hash() {
    let a = address("205 S 5th St, Springfield, Ill. 62701").unwrap();
    assert_eq!(
        (a.street.as_deref(), a.city.as_deref(), a.state.as_deref()),
        (Some("205 S 5th St"), Some("Springfield"), Some("IL"))
    );
    let a = address("1200 Main St., Anderson, Ind. 46016").unwrap();
    assert_eq!(
        (a.city.as_deref(), a.state.as_deref()),
        (Some("Anderson"), Some("IN"))
    );
    let a = address("9 Hill Rd, Morgantown, W.Va. 26505").unwrap();
    assert_eq!(a.state.as_deref(), Some("WV"));
    assert_eq!(crate::geo::us_state_code("Calif."), Some("CA"));
    // Without a comma before it or a ZIP code after it, no state.
    let a = address("12 Ill Rd").unwrap();
    assert_eq!((a.street.as_deref(), a.state), (Some("12 Ill Rd"), None));
    // "Suite #200": the unit's word goes with its number.
    let a = address("4 Market St Suite #200, Logansport, IN 46947").unwrap();
    assert_eq!(
        (a.street.as_deref(), a.street2.as_deref()),
        (Some("4 Market St"), Some("Suite #200"))
    );
    let a = address("13 Main St #4, Troy, NY 12180").unwrap();
    assert_eq!(
        (a.street.as_deref(), a.street2.as_deref()),
        (Some("13 Main St"), Some("#4"))
    );
}

#[test]
fn a_second_line_as_its_last_four_digits() {
    assert_eq!(
        labelled_phones("812-555-0101 / 0102"),
        vec![
            ("(812) 555-0101".to_string(), false),
            ("(812) 555-0102".to_string(), false)
        ]
    );
    assert_eq!(
        labelled_phones("812-555-0101 or 0102 (Fax)").len(),
        2,
        "joined by or"
    );
    // Four digits that go on (a date, a time) or stand after a comma are
    // no line.
    for text in [
        "812-555-0101 / 2024-25",
        "812-555-0101 / 1030:",
        "812-555-0101, 0102",
    ] {
        assert_eq!(labelled_phones(text).len(), 1, "{text}");
    }
}

#[test]
fn phones_with_spaced_dashes_or_the_last_groups_run_together() {
    assert_eq!(phone("(812) 555 - 0144").as_deref(), Some("(812) 555-0144"));
    assert_eq!(phone("812 5550143").as_deref(), Some("(812) 555-0143"));
    assert_eq!(extension("812-555-0145 x.12"), Some(12));
    // Still no phone: an area code from 0 or 1, too few digits.
    assert_eq!(phone("(112) 555 - 0144"), None);
    assert_eq!(phone("555 - 0144"), None);
}

#[test]
fn a_state_code_without_a_comma_and_the_country_around_the_zip_code() {
    let a = address("123 Main St, Springfield IL").unwrap();
    assert_eq!(
        (a.city.as_deref(), a.state.as_deref(), a.zip),
        (Some("Springfield"), Some("IL"), None)
    );
    // Not in lower case, and not without a comma before the city.
    assert_eq!(address("123 Oak Ct").unwrap().state, None);
    assert_eq!(address("12 Elm St, Dover de").unwrap().state, None);
    let a = address("45 Oak Ave, Decatur, IL, USA 62521").unwrap();
    assert_eq!(
        (a.street.as_deref(), a.city.as_deref(), a.zip.as_deref()),
        (Some("45 Oak Ave"), Some("Decatur"), Some("62521"))
    );
    let a = address("77 Elm St Champaign IL 61820 USA").unwrap();
    assert_eq!(
        (a.street.as_deref(), a.city.as_deref(), a.state.as_deref()),
        (Some("77 Elm St"), Some("Champaign"), Some("IL"))
    );
    assert_eq!(
        name_then_phone("Corner Pantry 815-555-0113"),
        Some(("Corner Pantry".into(), "(815) 555-0113".into()))
    );
    assert_eq!(name_then_phone("815-555-0113"), None);
    assert_eq!(name_then_phone("Call 815-555-0113 today"), None);
}

#[test]
fn a_map_links_place_as_an_address() {
    let a = map_link_address(
        "https://www.google.com/maps/place/12+Oak+St,+Muncie,+IN+47305/@40.19,-85.38,17z",
    )
    .unwrap();
    assert_eq!(
        (a.street.as_deref(), a.city.as_deref(), a.zip.as_deref()),
        (Some("12 Oak St"), Some("Muncie"), Some("47305"))
    );
    let a =
        map_link_address("https://maps.google.com/?daddr=200+Lake+Ave,+Elyria,+OH+44035").unwrap();
    assert_eq!(a.street.as_deref(), Some("200 Lake Ave"));
    let a = map_link_address(
        "https://maps.apple.com/?address=17%20Bay%20St,%20Mobile,%20AL%2036602&ll=1,2",
    )
    .unwrap();
    assert_eq!(a.city.as_deref(), Some("Mobile"));
    // A place's name, a link elsewhere, a broken escape: no address.
    assert!(
        map_link_address("https://www.google.com/maps/place/Hope+Food+Pantry/@40,-85,17z")
            .is_none()
    );
    assert!(map_link_address("https://example.org/?q=12+Oak+St,+Muncie,+IN+47305").is_none());
    assert!(map_link_address("https://maps.google.com/?q=12+Oak+St%2").is_none());
    assert!(map_link_address("https://maps.google.com/?q=%FF%FE").is_none());
}

#[test]
fn a_street_named_in_prose() {
    assert_eq!(
        street_in("Located at 300 E Lincoln Hwy in the church hall.").as_deref(),
        Some("300 E Lincoln Hwy")
    );
    assert_eq!(
        street_in("Meet us at 12 Oak St.").as_deref(),
        Some("12 Oak St.")
    );
    // Not after "at", a number that is no house's, or past a clause's end.
    assert_eq!(street_in("Serving 300 families on Main St"), None);
    assert_eq!(street_in("Open at 9, then Main St"), None);
    assert_eq!(street_in("at 10 am. Parking on Oak St"), None);
}

#[test]
fn a_unit_and_a_place_before_the_street_and_a_spaced_zip_plus_four() {
    let a = address("Building 2, Harbor Center, 100 Harbor Blvd, Oxnard, CA 93035").unwrap();
    assert_eq!(
        (
            a.street.as_deref(),
            a.street2.as_deref(),
            a.place.as_deref(),
            a.city.as_deref()
        ),
        (
            Some("100 Harbor Blvd"),
            Some("Building 2"),
            Some("Harbor Center"),
            Some("Oxnard")
        )
    );
    let a = address("15 Court St, Redding, CA 96001 - 1234").unwrap();
    assert_eq!(
        (a.city.as_deref(), a.state.as_deref(), a.zip.as_deref()),
        (Some("Redding"), Some("CA"), Some("96001"))
    );
    // A part with a number that is no unit is no place's name.
    let a = address("Gate 4, 100 Harbor Blvd, Oxnard, CA 93035");
    assert!(a.is_none_or(|a| a.place.is_none()));
}

#[test]
fn a_town_that_starts_like_a_unit_and_a_road_named_by_its_number() {
    let a = address("601 County Road 12, Ste. Genevieve, MO 63670").unwrap();
    assert_eq!(
        (a.street.as_deref(), a.street2.as_deref(), a.city.as_deref()),
        (Some("601 County Road 12"), None, Some("Ste. Genevieve"))
    );
    // "Ste 4", "Suite B", "Unit #2" are still units.
    for (text, unit) in [
        ("600 Main St, Ste 4, Springfield, MO 65806", "Ste 4"),
        ("600 Main St, Suite B, Springfield, MO 65806", "Suite B"),
        ("600 Main St, Unit #2, Springfield, MO 65806", "Unit #2"),
    ] {
        let a = address(text).unwrap();
        assert_eq!(
            (a.street2.as_deref(), a.city.as_deref()),
            (Some(unit), Some("Springfield")),
            "{text}"
        );
    }
}
