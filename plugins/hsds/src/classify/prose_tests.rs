//! Addresses found in prose: a newspaper's state, a state's name, a
//! comma before the ZIP code, a time's number that starts no street, a
//! street and its town with no state or ZIP code.

#[test]
fn an_address_in_prose_with_a_newspapers_state_and_a_comma_before_its_zip() {
    let text = "The pantry at 60 Canal St in Lowell, Mass., 01852 hands out groceries.";
    let (_, _, a) = super::address_span(text).expect("an address");
    assert_eq!(
        (
            a.street.as_deref(),
            a.city.as_deref(),
            a.state.as_deref(),
            a.zip.as_deref()
        ),
        (
            Some("60 Canal St"),
            Some("Lowell"),
            Some("MA"),
            Some("01852")
        )
    );
    // A time's number starts no street.
    let (at, _, a) = super::address_span("open 9 to 11 AM. We're at 45 River Rd, Easton, PA 18042")
        .expect("an address");
    assert_eq!(a.street.as_deref(), Some("45 River Rd"));
    assert!(at > 20);
}

#[test]
fn a_newspapers_street_and_town_and_a_states_name_in_prose() {
    assert_eq!(
        super::street_and_town_in("The Food Shelf, 75 Depot St., Brandon, will open Tuesdays."),
        Some(("75 Depot St.".to_string(), "Brandon".to_string()))
    );
    // Not a number that is no house's, nor a town that is a unit.
    assert_eq!(
        super::street_and_town_in("Open 9 to 11, then closed, Monday,"),
        None
    );
    assert_eq!(
        super::street_and_town_in("at 12 Oak St, Suite 4, Camden"),
        None
    );
    let text = "We're at 55 Bakery Street in Dover, New Hampshire, 03820. Thanks.";
    let (_, _, a) = super::address_span(text).expect("an address");
    assert_eq!(
        (a.city.as_deref(), a.state.as_deref(), a.zip.as_deref()),
        (Some("Dover"), Some("NH"), Some("03820"))
    );
}

#[test]
fn broadway_a_spanish_street_and_a_building_before_its_suite() {
    let (_, _, a) = super::address_span("Thursdays 6-8 PM\n901 S Broadway, Santa Ana, CA 92701")
        .expect("an address");
    assert_eq!(
        (a.street.as_deref(), a.city.as_deref()),
        (Some("901 S Broadway"), Some("Santa Ana"))
    );
    // A range's end and a sentence's end start no street.
    let text = "distribution 10-12 Saturdays. 400 Harvest Rd, Lafayette, IN 47905";
    let (_, _, a) = super::address_span(text).expect("an address");
    assert_eq!(a.street.as_deref(), Some("400 Harvest Rd"));
    // A Spanish street's type before its name.
    let (_, _, a) =
        super::address_span("Dirección: 210 Calle Sol, Laredo, TX 78040.").expect("an address");
    assert_eq!(
        (a.street.as_deref(), a.city.as_deref()),
        (Some("210 Calle Sol"), Some("Laredo"))
    );
    let a =
        super::address("4801 Veterans Dr Bldg 3 Ste 110, Las Vegas, NV 89106").expect("an address");
    assert_eq!(
        (a.street.as_deref(), a.street2.as_deref()),
        (Some("4801 Veterans Dr"), Some("Bldg 3 Ste 110"))
    );
}

#[test]
fn a_street_and_the_town_after_in() {
    assert_eq!(
        super::street_and_town_in("behind the fire station at 12 Elm St. in Milford."),
        Some(("12 Elm St.".to_string(), "Milford".to_string()))
    );
    // "in" after no street type: no street.
    assert_eq!(super::street_and_town_in("open at 10 am in Milford."), None);
}

#[test]
fn a_routes_number_ends_a_street_and_brackets_hold_no_street() {
    let span = |t: &str| super::address_span(t).map(|(_, _, a)| a.street);
    assert_eq!(
        span("the old Grange Hall at 812 County Route 9, Ghent NY 12075. Open Fridays."),
        Some(Some("812 County Route 9".to_string()))
    );
    let a = super::address(
        "Trinity Church Parking Lot (corner of 5th & Main), 500 Main St, Ames, IA 50010",
    )
    .expect("an address");
    assert_eq!(
        (a.street.as_deref(), a.city.as_deref(), a.zip.as_deref()),
        (Some("500 Main St"), Some("Ames"), Some("50010"))
    );
}

#[test]
fn a_phone_said_digit_by_digit_and_a_street_with_a_direction_before_in() {
    assert_eq!(
        super::phones_in(
            "For more information call six one two, five five five, zero one nine nine."
        ),
        ["(612) 555-0199"]
    );
    // Nine words, or an area code that is none: no phone.
    assert!(super::phones_in("one two three four five six seven eight nine").is_empty());
    assert!(super::phones_in("one two three, five five five, zero one nine nine").is_empty());
    assert_eq!(
        super::street_and_town_in(
            "The Northside Food Shelf at 2211 Penn Avenue North in Minneapolis is open"
        ),
        Some((
            "2211 Penn Avenue North".to_string(),
            "Minneapolis".to_string()
        ))
    );
}
