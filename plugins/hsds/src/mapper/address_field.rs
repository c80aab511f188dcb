//! A field that holds an address, read into the record's parts: a house
//! number alone, hours in brackets after it, a PO box before the street or
//! between the street and the town (the postal address), else an address
//! read into its parts, else by its content, else a street as written; and
//! an address's second line (a unit, or a city line).

use super::How;
use super::gather::{Found, place_by_content, put_address, set, src};
use super::prose::hours_in_brackets;
use crate::classify;

/// An address field: a PO box (the mailing address), an address read into
/// its parts, else by its content, else a street as written.
pub(super) fn place_address(found: &mut Found, p: &str, text: String) {
    // `"address": "123"` beside `"street": "Main Street"`: the house
    // number.
    if text.len() <= 6 && text.bytes().all(|b| b.is_ascii_digit()) {
        set(&mut found.house_number, text, src(p, How::Copied));
        return;
    }
    // "12 Oak St, ... (Open Tues 10-12)": the hours in its brackets.
    if let Some((_, opening)) = hours_in_brackets(&text) {
        found.hours.push((p.to_string(), opening.to_string()));
    }
    if classify::is_po_box(&text) {
        // "P.O. Box 12, 45 Elm St, Hudson, NY 12534": the box (the postal
        // address), then the place's own street.
        let split = text
            .split_once([',', ';', '\n'])
            .and_then(|(po_box, rest)| {
                let rest = rest.trim();
                let street = rest.starts_with(|c: char| c.is_ascii_digit());
                street
                    .then(|| classify::address(rest))
                    .flatten()
                    .map(|a| (po_box, a))
            });
        if let Some((po_box, a)) = split {
            box_and_street(found, p, po_box.trim(), &a);
        } else if let Some(a) = classify::address(&text) {
            found.postal.get_or_insert((p.to_string(), a));
        }
        return;
    }
    // "12 W. Main St., P.O. Box 7, Sharpsburg, KY 40374": the box between
    // the street and the town is the postal address.
    if let Some((street_text, po_box)) = box_inside(&text)
        && let Some(a) = classify::address(&street_text)
    {
        box_and_street(found, p, &po_box, &a);
        return;
    }
    match classify::address(&text) {
        Some(a) => {
            let how = if a.city.is_some() || a.place.is_some() {
                How::Normalised
            } else {
                How::Copied
            };
            put_address(found, p, &a, how);
        }
        None if place_by_content(found, p, &text, How::Inferred) => {}
        None => set(&mut found.street, text, src(p, How::Copied)),
    }
}

/// An address's second line: a unit ("Suite 4"), or the city line a
/// store locator puts there (`"addressLine2": "Lowell, MA 01852"`).
pub(super) fn place_second_line(found: &mut Found, p: &str, text: String) {
    match classify::city_line(&text) {
        Some(line) => put_address(found, p, &line, How::Normalised),
        None => set(&mut found.street2, text, src(p, How::Copied)),
    }
}

/// A PO box (the postal address, in the street's town) and the place's
/// own street, both from the field at `p`.
fn box_and_street(found: &mut Found, p: &str, po_box: &str, a: &classify::Address) {
    let postal = classify::Address {
        street: Some(po_box.to_string()),
        street2: None,
        place: None,
        ..a.clone()
    };
    found.postal.get_or_insert((p.to_string(), postal));
    put_address(found, p, a, How::Normalised);
}

/// An address with a PO box among its comma-parted parts (not the first):
/// the address without it, and the box.
fn box_inside(text: &str) -> Option<(String, String)> {
    let parts: Vec<&str> = text.split(',').map(str::trim).collect();
    let at = parts.iter().skip(1).position(|p| classify::is_po_box(p))? + 1;
    let rest: Vec<&str> = parts
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != at)
        .map(|(_, p)| *p)
        .collect();
    Some((rest.join(", "), parts[at].to_string()))
}
