//! A location's addresses in the draft: the street address, and a PO box
//! beside it as a second, postal, address.

use super::doc::Address;
use super::gather::{Found, src};
use super::{How, derived};
use crate::classify;

/// The address, when it has a street and a city (the state and the ZIP
/// code may be missing: "402 Oak St, Springfield" still tells a person
/// where to go).
pub(super) fn street(f: &Found) -> Option<Address> {
    let (street, ss) = f.street.clone()?;
    let (city, cs) = f.city.clone()?;
    // HSDS requires the keys; a record without a state or a ZIP code keeps
    // its address with an empty one rather than losing it (nothing is
    // invented).
    let empty = || (String::new(), derived());
    let (state, st) = f.state.clone().unwrap_or_else(empty);
    let (zip, zs) = f.zip.clone().unwrap_or_else(empty);
    // A PO box takes mail; nobody visits it.
    let kind = if classify::is_po_box(&street) {
        "postal"
    } else {
        "physical"
    };
    let mut a = Address::default();
    a.address_1(street, ss);
    a.city(city, cs);
    a.state_province(state, st);
    a.postal_code(zip, zs);
    a.country("US", derived());
    a.address_type(kind, derived());
    if let Some((street2, s2)) = f.street2.clone() {
        a.address_2(street2, s2);
    }
    Some(a)
}

/// A PO box beside the street address: the second, postal, address.
pub(super) fn mailing(f: &Found) -> Option<Address> {
    let (pointer, a) = f.postal.as_ref()?;
    f.street.as_ref()?;
    let parts = [&a.street, &a.city, &a.state];
    let [Some(street), Some(city), Some(state)] = parts else {
        return None;
    };
    let from = || src(pointer, How::Normalised);
    let mut part = Address::default();
    part.address_1(street.clone(), from());
    part.city(city.clone(), from());
    part.state_province(state.clone(), from());
    part.postal_code(a.zip.clone().unwrap_or_default(), from());
    part.country("US", derived());
    part.address_type("postal", derived());
    Some(part)
}

#[cfg(test)]
mod tests {
    use super::super::map_record;
    use serde_json::{Value, json};

    fn addresses(raw: Value) -> Vec<(String, String, String, String)> {
        let m = map_record(&raw).expect("a mapping");
        let doc = m.draft.value();
        doc["location"][0]["addresses"]
            .as_array()
            .map(|list| {
                list.iter()
                    .map(|a| {
                        let f = |k: &str| a[k].as_str().unwrap_or_default().to_string();
                        (
                            f("address_1"),
                            f("city"),
                            f("postal_code"),
                            f("address_type"),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn a_po_box_before_the_street_in_one_line_is_the_postal_address() {
        let found =
            addresses(json!({"name": "A", "address": "P.O. Box 12, 45 Elm St, Hudson, NY 12534"}));
        let a = |street: &str, kind: &str| {
            (street.into(), "Hudson".into(), "12534".into(), kind.into())
        };
        assert_eq!(
            found,
            [a("45 Elm St", "physical"), a("P.O. Box 12", "postal")]
        );
        // A box alone is the address.
        let found = addresses(json!({"name": "B", "address": "PO Box 12, Hudson, NY 12534"}));
        assert_eq!(found, [a("PO Box 12", "postal")]);
    }

    #[test]
    fn a_street_and_a_city_without_state_or_zip_code_is_still_the_address() {
        let found = addresses(json!({"name": "A", "vicinity": "402 Oak St, Springfield"}));
        let want = (
            "402 Oak St".into(),
            "Springfield".into(),
            String::new(),
            "physical".into(),
        );
        assert_eq!(found, [want]);
        // A street alone is not.
        assert!(addresses(json!({"name": "B", "street": "402 Oak St"})).is_empty());
    }

    #[test]
    fn an_address_given_as_its_lines() {
        let lines = json!([
            "First Methodist Church",
            "222 W Main St",
            "Carbondale, IL 62901"
        ]);
        let found = addresses(json!({"name": "A", "address_lines": lines}));
        let want = (
            "222 W Main St".into(),
            "Carbondale".into(),
            "62901".into(),
            "physical".into(),
        );
        assert_eq!(found, [want]);
        // Two whole addresses in a list are two, not one run together.
        let two = json!(["5 Elm St, Troy, NY 12180", "PO Box 9, Troy, NY 12180"]);
        let found = addresses(json!({"name": "B", "addresses": two}));
        assert_eq!(found.len(), 2, "{found:?}");
    }

    #[test]
    fn a_name_field_that_goes_on_with_the_address() {
        let raw = json!({"name": "Good Shepherd Pantry - 12 Oak St, Elkhart, IN 46516"});
        let m = map_record(&raw).expect("a mapping");
        assert_eq!(
            m.draft.value()["location"][0]["name"],
            "Good Shepherd Pantry"
        );
        let want = (
            "12 Oak St".into(),
            "Elkhart".into(),
            "46516".into(),
            "physical".into(),
        );
        assert_eq!(addresses(raw), [want]);
    }

    #[test]
    fn a_city_field_with_its_zip_code() {
        let found = addresses(
            json!({"name": "A", "street": "4 Elm St", "city": "Hudson 12534", "state": "NY"}),
        );
        assert_eq!(
            found,
            [(
                "4 Elm St".into(),
                "Hudson".into(),
                "12534".into(),
                "physical".into()
            )]
        );
    }
}
