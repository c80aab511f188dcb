//! A US address read from one line of text: a place's name before it,
//! the street (and a unit after it), the city, the state and the ZIP code.

use super::street_words::{SUFFIXES, UNITS};
use super::{is_po_box, patterns};
use crate::geo;

/// A remark between a street and its city ("12 Oak St, in the rear lot,
/// Camden"): a clause that starts with a word of place.
pub(super) const REMARK: &str =
    r"\s*,\s*(?:in|at|on|behind|near|next|across|by|off|around|rear|back)\b[^,\d]{0,40}";

/// A street without the remarks after it ("12 Oak St, in the rear lot").
fn without_remarks(street: &str) -> String {
    let remark = |part: &str| {
        let first = part.split_whitespace().next().unwrap_or("");
        [
            "in", "at", "on", "behind", "near", "next", "across", "by", "off", "around", "rear",
            "back",
        ]
        .contains(&first)
    };
    let street = street
        .split(',')
        .map(str::trim)
        .enumerate()
        .take_while(|(i, part)| *i == 0 || !remark(part))
        .map(|(_, part)| part)
        .collect::<Vec<_>>()
        .join(", ");
    // "123 Main Street (rear entrance)": a remark in brackets after the
    // street is no part of it.
    match street.split_once('(') {
        Some((before, after)) if after.trim_end().ends_with(')') && !before.trim().is_empty() => {
            before.trim_end().to_string()
        }
        _ => street,
    }
}

/// A US address read from one line of text.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Address {
    /// A place name before the address ("St. Rocco Center — 9016 ...").
    pub place: Option<String>,
    pub street: Option<String>,
    /// A unit after the street ("111 Church St, Room 7").
    pub street2: Option<String>,
    pub city: Option<String>,
    /// Two-letter code.
    pub state: Option<String>,
    pub zip: Option<String>,
}

/// `text` without what it holds in brackets ("Trinity Church Parking Lot
/// (corner of 5th & Main), 500 Main St, ...": a corner's numbers are no
/// street's).
fn without_brackets(text: &str) -> String {
    if !text.contains('(') {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut depth = 0usize;
    for c in text.chars() {
        match c {
            '(' => {
                if depth == 0 {
                    out.truncate(out.trim_end_matches(' ').len());
                }
                depth += 1;
            }
            ')' if depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    if depth > 0 || out.trim().is_empty() {
        return text.to_string();
    }
    out
}

/// Reads "123 Main St, New York, NY 10001", "9016 Gap Newport Pike
/// Avondale, PA" or "St. Rocco Center — 9016 Gap Newport Pike Avondale, PA".
/// `None` when the text does not start (after an optional place name) with a
/// street number.
pub fn address(text: &str) -> Option<Address> {
    let mut out = Address::default();
    let text = without_brackets(&zero_restored(text));
    let rest = place_before(&mut out, &without_trailers(&text));
    let rest = corner_of(&rest).unwrap_or(rest);
    if !patterns().street.is_match(&rest)
        && !crossing(&rest)
        && !hyphenated(&rest)
        && !is_po_box(&rest)
        && !word_numbered(&rest)
        && !named_first(&rest)
    {
        return None;
    }
    let mut rest = without_country(rest);
    if let Some(c) = patterns().zip_tail.captures(&rest) {
        out.zip = Some(c[1].to_string());
        rest = rest[..c.get(0).map_or(rest.len(), |m| m.start())].to_string();
        // "..., IL, USA 62521": the country before the ZIP code.
        rest = without_country(rest.trim_end().to_string());
    }
    let rest = state_at_end(&mut out, &rest);
    let rest = without_county(rest.trim().trim_end_matches(',').trim());
    let rest = rest.as_str();
    let (rest, unit) = unit_after(rest);
    out.street2 = unit.or(out.street2.take());
    if let Some((street, city)) = rest.rsplit_once(',') {
        out.street = Some(without_remarks(street));
        let city = city.trim();
        if !city.is_empty() {
            out.city = Some(city.to_string());
        }
    } else if out.state.is_some() {
        let (street, city) = street_then_city(&rest);
        let (unit, city) = unit_led(city);
        out.street = Some(street);
        out.street2 = out.street2.take().or(unit);
        out.city = city;
    } else {
        out.street = Some(rest.to_string());
    }
    // "13 Main St #4", "5 Oak Ave Apt 2": a unit at the end of a numbered
    // street (in "Calle 5 #123" the number is the house's).
    if out.street2.is_none()
        && let Some((street, unit)) = out.street.as_deref().and_then(trailing_unit)
    {
        out.street = Some(street);
        out.street2 = Some(unit);
    }
    out.street.as_ref()?;
    Some(out)
}

/// "Newark, NJ 7102": a ZIP code that lost its leading zero to a
/// spreadsheet, after the code of a state whose ZIP codes start with 0,
/// given back its zero.
fn zero_restored(text: &str) -> String {
    patterns()
        .four_digit_zip
        .replace(text, "${1} 0${2}")
        .into_owned()
}

/// "108-20 71st Ave", "64-1067 Mamalahoa Hwy": a house number in two parts,
/// as Queens and Hawaii write them; "10-12 Saturdays" is a time range.
fn hyphenated(text: &str) -> bool {
    patterns().hyphenated.is_match(text) && !crate::hours::looks_like_hours(text)
}

/// "One Church Plaza, Camden": a house number written as a word, before
/// a street that ends (at the first comma) in a street-type word; "One
/// Stop Pantry" is no street.
fn word_numbered(text: &str) -> bool {
    let street = text.split(',').next().unwrap_or_default();
    let words: Vec<String> = street
        .split_whitespace()
        .map(|w| w.trim_end_matches('.').to_ascii_lowercase())
        .collect();
    match (words.first(), words.last()) {
        (Some(first), Some(last)) => {
            words.len() >= 3
                && crate::text::NUMBER_WORDS.contains(&first.as_str())
                && SUFFIXES.contains(&last.as_str())
        }
        _ => false,
    }
}

/// "Main St and 3rd Ave, Rock Island": two streets that cross, each with
/// its type, for a place without a house number.
fn crossing(text: &str) -> bool {
    let street = text
        .split(',')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let ends_as_street = |part: &str| {
        let words: Vec<&str> = part.split_whitespace().collect();
        words.len() >= 2
            && words
                .last()
                .is_some_and(|w| SUFFIXES.contains(&w.trim_end_matches('.')))
    };
    [" and ", " & ", " at "].iter().any(|joint| {
        street
            .split_once(joint)
            .is_some_and(|(a, b)| ends_as_street(a) && ends_as_street(b))
    })
}

/// The crossing without "Corner of" before it ("Corner of Main St and 3rd
/// Ave, ..." is "Main St and 3rd Ave, ...").
fn corner_of(text: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    ["at the corner of ", "the corner of ", "corner of "]
        .iter()
        .find(|lead| lower.starts_with(*lead))
        .map(|lead| text[lead.len()..].to_string())
        .filter(|rest| crossing(rest))
}

/// "Calle Luna 205, San Juan": a Spanish street type first and the house
/// number after the name (Puerto Rico, and Spanish-speaking scrapers'
/// records), a number before the first comma.
fn named_first(text: &str) -> bool {
    const TYPES: [&str; 6] = ["calle", "avenida", "ave", "carretera", "carr", "camino"];
    let street = text.split(',').next().unwrap_or_default();
    let mut words = street.split_whitespace();
    let first = words
        .next()
        .map(|w| w.trim_end_matches('.').to_ascii_lowercase())
        .unwrap_or_default();
    TYPES.contains(&first.as_str())
        && text.contains(',')
        && words.any(|w| w.starts_with(|c: char| c.is_ascii_digit()))
}

/// A unit at the end of a street that starts with its number.
fn trailing_unit(street: &str) -> Option<(String, String)> {
    if !street.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let words: Vec<&str> = street.split_whitespace().collect();
    let n = words.len();
    let last = words.last()?;
    let unit_word = n >= 4
        && UNITS.contains(
            &words[n - 2]
                .trim_end_matches('.')
                .to_ascii_lowercase()
                .as_str(),
        );
    // "Suite #200": the unit's word goes with its number.
    let cut = if unit_word {
        n - 2
    } else if last.starts_with('#') && last.len() > 1 {
        n - 1
    } else {
        return None;
    };
    // "Bldg 3 Ste 110": a unit before it goes with it.
    let unit_at = |i: usize| {
        UNITS.contains(&words[i].trim_end_matches('.').to_ascii_lowercase().as_str())
            && words[i + 1].bytes().any(|b| b.is_ascii_digit())
    };
    let cut = if cut >= 4 && unit_at(cut - 2) {
        cut - 2
    } else {
        cut
    };
    (cut >= 2).then(|| (words[..cut].join(" "), words[cut..].join(" ")))
}

/// A line break ("; ") parts an address as a comma does; a remark in
/// brackets at its end ("(Downtown Hilo)") is no part of it.
fn without_trailers(text: &str) -> String {
    let mut rest = text.trim().replace("; ", ", ");
    if rest.ends_with(')')
        && let Some(open) = rest.rfind('(')
    {
        rest.truncate(open);
        rest = rest.trim_end().to_string();
    }
    rest
}

/// "St. Rocco Center — 9016 ...", "First Baptist Church, 45 Church St,
/// ...": the place's name before the street.
fn place_before(out: &mut Address, rest: &str) -> String {
    // "Suite 100, 300 College St, ...", "Building 2, Harbor Center, 100
    // Harbor Blvd, ...": a unit or a place's name (or both) before the
    // street, each a part of its own.
    let parts: Vec<&str> = rest.split(", ").collect();
    for k in 1..parts.len().min(3) {
        let addr = parts[k..].join(", ");
        let (units, places): (Vec<&str>, Vec<&str>) =
            parts[..k].iter().partition(|p| starts_with_unit(p));
        let named = places
            .iter()
            .all(|p| !p.chars().any(|c| c.is_ascii_digit()));
        if named && patterns().street.is_match(addr.trim()) {
            out.street2 = units.first().map(|u| u.trim().to_string());
            out.place = places.first().map(|p| p.trim().to_string());
            return addr.trim().to_string();
        }
    }
    for sep in [" \u{2014} ", " \u{2013} ", " - ", " -- ", ", "] {
        if let Some((place, addr)) = rest.split_once(sep)
            && !place.chars().any(|c| c.is_ascii_digit())
            && patterns().street.is_match(addr.trim())
        {
            out.place = Some(place.trim().to_string());
            return addr.trim().to_string();
        }
    }
    rest.to_string()
}

/// "..., CO 80027, USA", "... IL 61820 USA": the country the document
/// gives anyway (without a comma only after a ZIP code's digits).
fn without_country(mut rest: String) -> String {
    let lower = rest.to_ascii_lowercase();
    let lower = lower.trim_end_matches('.');
    for country in ["usa", "us", "united states", "united states of america"] {
        let Some(before) = lower.strip_suffix(country) else {
            continue;
        };
        let after_comma = before.trim_end().ends_with(',');
        let after_zip =
            before.ends_with(' ') && before.trim_end().ends_with(|c: char| c.is_ascii_digit());
        if after_comma || after_zip {
            let cut = before.trim_end().trim_end_matches(',').len();
            rest.truncate(cut);
            break;
        }
    }
    rest
}

/// "5 Elm St, Troy, Rensselaer County": the county between the city and
/// the state, which HSDS has no field for; the city stays last.
fn without_county(rest: &str) -> String {
    match rest.rsplit_once(',') {
        Some((before, last))
            if before.contains(',')
                && [" county", " parish", " borough"]
                    .iter()
                    .any(|w| last.trim().to_ascii_lowercase().ends_with(w)) =>
        {
            before.trim_end().to_string()
        }
        _ => rest.to_string(),
    }
}

/// The state: the last word(s), if they name a US state; the rest.
fn state_at_end(out: &mut Address, rest: &str) -> String {
    let trimmed = rest.trim().trim_end_matches([',', '.']).trim().to_string();
    let words: Vec<&str> = trimmed.split_whitespace().collect();
    for take in [1usize, 2, 3] {
        if words.len() <= take {
            break;
        }
        let tail = words[words.len() - take..].join(" ");
        // "123 Oak Ct" is not Connecticut: a state needs a comma before it
        // or a ZIP code after it, or, written as a code in capitals, a comma
        // before its city ("123 Main St, Springfield IL").
        let capitals = take == 1 && tail.len() == 2 && tail.bytes().all(|b| b.is_ascii_uppercase());
        let marked = out.zip.is_some()
            || words[words.len() - take - 1].ends_with(',')
            || (capitals && words[..words.len() - take].iter().any(|w| w.ends_with(',')));
        // "N.Y.": a code written with dots.
        let tail = tail.trim_end_matches([',', '.']);
        let undotted = if take == 1 {
            tail.replace('.', "")
        } else {
            tail.to_string()
        };
        if let Some(code) = geo::us_state_code(&undotted)
            && marked
        {
            out.state = Some(code.to_string());
            return words[..words.len() - take].join(" ");
        }
    }
    trimmed
}

/// "9016 Gap Newport Pike Avondale", "136 W Cedar St Kennett Square": the
/// city follows the first street-type word after the street's name (and
/// any that follow it at once).
fn street_then_city(rest: &str) -> (String, Option<String>) {
    let words: Vec<&str> = rest.split_whitespace().collect();
    let suffix =
        |w: &str| SUFFIXES.contains(&w.trim_end_matches('.').to_ascii_lowercase().as_str());
    let cut = words
        .iter()
        .skip(2)
        .position(|w| suffix(w))
        .map(|i| i + 2)
        .map(|i| i + words[i + 1..].iter().take_while(|w| suffix(w)).count());
    match cut {
        // "77 Market Street in Salem": the city without the word before it.
        Some(i) if i + 1 < words.len() => {
            let city = &words[i + 1..];
            let city = match city.split_first() {
                Some((first, rest)) if matches!(*first, "in" | "at") && !rest.is_empty() => rest,
                _ => city,
            };
            (words[..=i].join(" "), Some(city.join(" ")))
        }
        _ => (rest.to_string(), None),
    }
}

/// "111 Church St, Room 7" (or "..., Suite B, Elkhart"): the street part
/// without its unit, and the unit.
fn unit_after(rest: &str) -> (String, Option<String>) {
    let parts: Vec<&str> = rest.split(',').map(str::trim).collect();
    match parts.iter().skip(1).position(|p| starts_with_unit(p)) {
        Some(i) => {
            let unit = parts[i + 1].to_string();
            let kept: Vec<&str> = parts
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i + 1)
                .map(|(_, p)| *p)
                .collect();
            (kept.join(", "), Some(unit))
        }
        None => (rest.to_string(), None),
    }
}

/// Whether `part` starts with a unit word and the unit's number or letter
/// ("Suite 100", "Apt. B", "#4"); not "Ste. Genevieve", a town.
fn starts_with_unit(part: &str) -> bool {
    let p = part.trim();
    let mut words = p
        .split(|c: char| c.is_whitespace() || c == '.')
        .filter(|w| !w.is_empty());
    let first = words.next().unwrap_or("").to_ascii_lowercase();
    let names_one = words.next().is_none_or(|w| {
        w.chars().count() <= 2 || w.starts_with('#') || w.chars().any(|c| c.is_ascii_digit())
    });
    (UNITS.contains(&first.as_str()) && names_one) || (p.starts_with('#') && p.len() > 1)
}

/// "Unit 3 Greenville" (no commas: "4 Main St Unit 3 Greenville SC"): a
/// unit word and its number before the city, and the city.
fn unit_led(city: Option<String>) -> (Option<String>, Option<String>) {
    let Some(city) = city else {
        return (None, None);
    };
    let words: Vec<&str> = city.split_whitespace().collect();
    match words.as_slice() {
        [unit, number, rest @ ..]
            if !rest.is_empty() && starts_with_unit(unit) && !number.is_empty() =>
        {
            (Some(format!("{unit} {number}")), Some(rest.join(" ")))
        }
        _ => (None, Some(city)),
    }
}

/// "Springfield, IL 62701" (an address's second line in a field of its
/// own): the city, the state code and the ZIP code, without a street.
pub fn city_line(text: &str) -> Option<Address> {
    let t = text.trim();
    let zip = patterns().zip_tail.captures(t);
    // "Greenville, SC": without a ZIP code, a comma before the state.
    let (before, zip) = match &zip {
        Some(c) => (
            t[..c.get(0)?.start()].trim().trim_end_matches(','),
            Some(c[1].to_string()),
        ),
        None if t.contains(',') => (t, None),
        None => return None,
    };
    let (city, state) = if zip.is_some() {
        before.rsplit_once([' ', ','])?
    } else {
        before.rsplit_once(',')?
    };
    let state = geo::us_state_code(state.trim())?;
    let city = city.trim().trim_end_matches(',').trim();
    let words = city.split_whitespace().count();
    let plain = city
        .chars()
        .all(|c| c.is_alphabetic() || matches!(c, ' ' | '.' | '\'' | '-'));
    ((1..=4).contains(&words) && plain).then(|| Address {
        city: Some(city.to_string()),
        state: Some(state.to_string()),
        zip,
        ..Address::default()
    })
}
