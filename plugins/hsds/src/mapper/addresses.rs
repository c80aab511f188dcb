//! A location's addresses in the draft: the street address, and a PO box
//! beside it as a second, postal, address.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::gather::{Found, src};
use super::{How, Source, derived};
use crate::classify;

/// The address, when it has a street, a city and a state (the ZIP code
/// may be missing).
pub(super) fn street(
    f: &Found,
    location: &str,
    prov: &mut BTreeMap<String, Source>,
) -> Option<Value> {
    let (street, ss) = f.street.clone()?;
    let (city, cs) = f.city.clone()?;
    let (state, st) = f.state.clone()?;
    // HSDS requires the key; a record without a ZIP code keeps its address
    // with an empty one rather than losing it (nothing is invented).
    let (zip, zs) = f.zip.clone().unwrap_or_else(|| (String::new(), derived()));
    let base = format!("{location}/addresses/0");
    // A PO box takes mail; nobody visits it.
    let kind = if classify::is_po_box(&street) {
        "postal"
    } else {
        "physical"
    };
    let mut a = json!({
        "address_1": street, "city": city, "state_province": state,
        "postal_code": zip, "country": "US", "address_type": kind,
    });
    prov.insert(format!("{base}/address_1"), ss);
    prov.insert(format!("{base}/city"), cs);
    prov.insert(format!("{base}/state_province"), st);
    prov.insert(format!("{base}/postal_code"), zs);
    prov.insert(format!("{base}/country"), derived());
    prov.insert(format!("{base}/address_type"), derived());
    if let Some((street2, s2)) = f.street2.clone() {
        a["address_2"] = json!(street2);
        prov.insert(format!("{base}/address_2"), s2);
    }
    Some(a)
}

/// A PO box beside the street address: the second, postal, address.
pub(super) fn mailing(
    f: &Found,
    location: &str,
    prov: &mut BTreeMap<String, Source>,
) -> Option<Value> {
    let (pointer, a) = f.postal.as_ref()?;
    f.street.as_ref()?;
    let parts = [&a.street, &a.city, &a.state];
    let [Some(street), Some(city), Some(state)] = parts else {
        return None;
    };
    let base = format!("{location}/addresses/1");
    for key in ["address_1", "city", "state_province", "postal_code"] {
        prov.insert(format!("{base}/{key}"), src(pointer, How::Normalised));
    }
    prov.insert(format!("{base}/country"), derived());
    prov.insert(format!("{base}/address_type"), derived());
    Some(json!({
        "address_1": street, "city": city, "state_province": state,
        "postal_code": a.zip.clone().unwrap_or_default(), "country": "US",
        "address_type": "postal",
    }))
}
