//! An address's parts checked against each other once every field is
//! gathered: what one part says about another, and the splits a scraper
//! got wrong.

use std::sync::OnceLock;

use regex::Regex;

use super::gather::{Found, put_address, set, src};
use super::{How, Source};
use crate::classify;
use crate::geo;

/// Every check, in order.
pub(super) fn address(f: &mut Found) {
    street_elsewhere(f);
    house_number_first(f);
    number_led_city(f);
    compass_led_city(f);
    zip_against_state(f);
    zip_in_prose(f);
    state_of_zip(f);
}

/// Where no field gives a street: a PO box is the address (beside a
/// street it is the mailing address), and a street the prose names goes
/// with a city line given on its own ("Located at 300 E Lincoln Hwy in the
/// church hall").
fn street_elsewhere(f: &mut Found) {
    // A PO box is the address only when the record gives no street;
    // beside one it is the mailing address.
    if f.street.is_none()
        && let Some((pointer, postal)) = f.postal.take()
    {
        put_address(f, &pointer, &postal, How::Normalised);
    }
    // A city line with no street beside it: a street the prose names
    // ("Located at 300 E Lincoln Hwy in the church hall").
    if f.street.is_none() && (f.city.is_some() || f.zip.is_some()) {
        let described = f.description.as_ref().and_then(|(text, s)| {
            let pointer = s.source.strip_prefix("raw:")?;
            Some((pointer.to_string(), text.clone()))
        });
        let named = f
            .notes
            .iter()
            .cloned()
            .chain(described)
            .find_map(|(pointer, text)| classify::street_in(&text).map(|street| (street, pointer)));
        if let Some((street, pointer)) = named {
            set(&mut f.street, street, src(&pointer, How::Inferred));
        }
    }
}

/// A house number in a field of its own (`addr:housenumber` beside
/// `addr:street`) goes before a street that does not start with one.
fn house_number_first(f: &mut Found) {
    let (Some((number, _)), Some((street, source))) = (&f.house_number, &f.street) else {
        return;
    };
    let number = number.trim();
    let numbered = street
        .trim_start()
        .starts_with(|c: char| c.is_ascii_digit());
    if numbered || number.is_empty() || !number.starts_with(|c: char| c.is_ascii_digit()) {
        return;
    }
    let joined = format!("{number} {}", street.trim());
    let source = Source {
        source: source.source.clone(),
        how: How::Normalised,
    };
    f.street = Some((joined, source));
}

/// "Pantry serving Essex County, NJ. 07102": the one ZIP code that follows
/// the record's own state code in its prose (and lies in that state), for
/// a street no field gives a ZIP code for. A list of ZIP codes served
/// ("Serves 39455, 39426") follows no state code and is not taken.
fn zip_in_prose(f: &mut Found) {
    static AFTER_STATE: OnceLock<Regex> = OnceLock::new();
    let (None, Some(_), Some((state, _))) = (&f.zip, &f.street, &f.state) else {
        return;
    };
    let pattern = AFTER_STATE.get_or_init(|| {
        Regex::new(r"\b([A-Z]{2})[.,]?\s+(\d{5})(?:-\d{4})?\b").unwrap_or_else(|e| panic!("{e}"))
    });
    let texts = f
        .description
        .iter()
        .map(|(t, s)| (t.as_str(), s.source.clone()))
        .chain(
            f.notes
                .iter()
                .map(|(p, t)| (t.as_str(), format!("raw:{p}"))),
        );
    let mut found: Vec<(String, String)> = Vec::new();
    for (text, source) in texts {
        for c in pattern.captures_iter(text) {
            let zip = c[2].to_string();
            if &c[1] == state
                && geo::state_of_zip(&zip) == Some(state.as_str())
                && !found.iter().any(|(z, _)| *z == zip)
            {
                found.push((zip, source.clone()));
            }
        }
    }
    if let [(zip, source)] = found.as_slice() {
        let source = Source {
            source: source.clone(),
            how: How::Inferred,
        };
        f.zip = Some((zip.clone(), source));
    }
}

/// A ZIP code without its state: the state the ZIP code lies in.
fn state_of_zip(f: &mut Found) {
    if f.state.is_none()
        && let Some((zip, zs)) = &f.zip
        && let Some(code) = geo::state_of_zip(zip)
    {
        let source = Source {
            how: How::Derived,
            ..zs.clone()
        };
        f.state = Some((code.to_string(), source));
    }
}

/// A ZIP code that lies in another state than the one the record gives is
/// not the address's ("18464" in Alabama: the house number copied into the
/// ZIP field); the address keeps no ZIP code rather than a wrong one.
fn zip_against_state(f: &mut Found) {
    if let (Some((zip, _)), Some((state, _))) = (&f.zip, &f.state)
        && let Some(zip_state) = geo::state_of_zip(zip)
        && zip_state != state
    {
        f.zip = None;
    }
}

/// Compass words that may end a street ("Highway 59 North").
const COMPASS: [&str; 8] = ["north", "south", "east", "west", "n", "s", "e", "w"];

/// A city that starts with a number ("45 Citronelle" beside "21276
/// Highway"): no city does, so the number (and a compass word after it)
/// ends the street, split off at the wrong space.
fn number_led_city(f: &mut Found) {
    let (Some((city, cs)), Some((street, ss))) = (&f.city, &f.street) else {
        return;
    };
    let words: Vec<&str> = city.split_whitespace().collect();
    let numeric = |w: &str| !w.is_empty() && w.bytes().all(|b| b.is_ascii_digit());
    if words.len() < 2 || !numeric(words[0]) {
        return;
    }
    let mut moved = 1;
    if words.len() > 2 && COMPASS.contains(&words[1].to_ascii_lowercase().as_str()) {
        moved = 2;
    }
    let street = format!("{street} {}", words[..moved].join(" "));
    let city = words[moved..].join(" ");
    let how = |s: &Source| Source {
        how: How::Normalised,
        source: s.source.clone(),
    };
    let (street_source, city_source) = (how(ss), how(cs));
    f.street = Some((street, street_source));
    f.city = Some((city, city_source));
}

/// Whether a raw city field breaks after a leading compass word with a
/// zero-width character ("North\u{200b} Semmes"): a page's two lines
/// ("Schillinger Road North" / "Semmes") joined into one field.
pub(super) fn broken_after_compass(raw: &str) -> bool {
    let Some((first, _)) = raw.split_once(crate::text::ZERO_WIDTH) else {
        return false;
    };
    COMPASS.contains(&first.trim().to_ascii_lowercase().as_str())
}

/// A city that starts with a compass word its field broke after (see
/// [`broken_after_compass`]): the word ends the street. Without that
/// break "North Little Rock" is a city and stays one.
fn compass_led_city(f: &mut Found) {
    let (true, Some((city, cs)), Some((street, ss))) = (f.city_break, &f.city, &f.street) else {
        return;
    };
    let Some((first, rest)) = city.split_once(' ') else {
        return;
    };
    if !COMPASS.contains(&first.to_ascii_lowercase().as_str()) || rest.trim().is_empty() {
        return;
    }
    let how = |s: &Source| Source {
        how: How::Normalised,
        source: s.source.clone(),
    };
    let (street_source, city_source) = (how(ss), how(cs));
    f.street = Some((format!("{street} {first}"), street_source));
    f.city = Some((rest.trim().to_string(), city_source));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s() -> Source {
        Source {
            source: "raw:/x".into(),
            how: How::Copied,
        }
    }

    fn found(street: &str, city: &str, state: &str, zip: &str) -> Found {
        Found {
            street: Some((street.into(), s())),
            city: Some((city.into(), s())),
            state: Some((state.into(), s())),
            zip: Some((zip.into(), s())),
            ..Found::default()
        }
    }

    fn parts(f: &Found) -> (String, String, Option<String>) {
        let v = |o: &Option<(String, Source)>| o.as_ref().map(|(v, _)| v.clone());
        (
            v(&f.street).unwrap_or_default(),
            v(&f.city).unwrap_or_default(),
            v(&f.zip),
        )
    }

    #[test]
    fn a_compass_word_the_city_field_broke_after_ends_the_street() {
        assert!(broken_after_compass("North\u{200b} Semmes"));
        assert!(!broken_after_compass("North Little Rock"));
        assert!(!broken_after_compass("Semmes\u{200b}"));
        let mut f = found("3550 Schillinger Road", "North Semmes", "AL", "36575");
        f.city_break = true;
        address(&mut f);
        let (street, city, _) = parts(&f);
        assert_eq!(
            (street.as_str(), city.as_str()),
            ("3550 Schillinger Road North", "Semmes")
        );
        // Without the break, a city named "North ..." stays whole.
        let mut f = found("1 Main St", "North Little Rock", "AR", "72114");
        address(&mut f);
        assert_eq!(parts(&f).1, "North Little Rock");
    }

    #[test]
    fn a_split_at_the_wrong_space_is_mended_and_a_foreign_zip_dropped() {
        let mut f = found("23010 Highway", "59 North Robertsdale", "AL", "23010");
        address(&mut f);
        assert_eq!(
            parts(&f),
            ("23010 Highway 59 North".into(), "Robertsdale".into(), None)
        );
        assert_eq!(f.street.as_ref().map(|(_, s)| s.how), Some(How::Normalised));
        let mut f = found("21276 Highway", "45 Citronelle", "AL", "21276");
        address(&mut f);
        assert_eq!(
            parts(&f),
            ("21276 Highway 45".into(), "Citronelle".into(), None)
        );
    }

    #[test]
    fn a_zip_code_after_the_state_in_prose_fills_a_missing_one() {
        let mut f = found("310 Clinton Ave", "Newark", "NJ", "");
        f.zip = None;
        f.description = Some(("Pantry serving Essex County, NJ. 07102".into(), s()));
        address(&mut f);
        assert_eq!(parts(&f).2.as_deref(), Some("07102"));
        assert_eq!(f.zip.as_ref().map(|(_, s)| s.how), Some(How::Inferred));
        // ZIP codes served, another state's, or two different: none taken.
        for note in [
            "Serves 39455, 39426, 39470 residents.",
            "Also a site in PA 19104.",
            "NJ 07102 and NJ 08102",
        ] {
            let mut f = found("310 Clinton Ave", "Newark", "NJ", "");
            f.zip = None;
            f.notes = vec![("/notes".into(), note.into())];
            address(&mut f);
            assert_eq!(parts(&f).2, None, "{note}");
        }
    }

    #[test]
    fn a_right_address_is_left_as_it_is() {
        for (street, city, state, zip) in [
            ("1 Lenape Way", "Honey Brook", "PA", "19344"),
            ("208 North Main Street", "North Little Rock", "AR", "72114"),
            ("1500 Refugee Rd", "Columbus", "OH", "43207-1234"),
        ] {
            let mut f = found(street, city, state, zip);
            address(&mut f);
            assert_eq!(
                parts(&f),
                (street.into(), city.into(), Some(zip.into())),
                "{street}"
            );
        }
        // A city that is only a number is left alone too.
        let mut f = found("5 Main St", "12", "PA", "19344");
        address(&mut f);
        assert_eq!(parts(&f).1, "12");
    }
}
