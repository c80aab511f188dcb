//! What free text holds besides its prose: a whole address and the
//! place's name before it, phone numbers, an email address; and what a
//! name field holds besides the name (an address, hours, a phone).

use super::gather::{Found, put_address, set, src};
use super::{How, text_name};
use crate::classify::{self, Role};
use crate::hours;

/// What free text holds besides its prose ("St. Vincent Pantry, 88 Oak
/// Ave, Dayton OH 45402. Call (937) 555-0177."): a whole address (and the
/// short name before it, when the record has none), phone numbers and an
/// email address.
pub(super) fn embedded(found: &mut Found, pointer: &str, text: &str) {
    // "1020 Oak; Street, Racine, WI; 53403": an address a flyer's lines
    // broke is read with its lines joined; "2100 Agape Ln | Durham, NC
    // 27704", "55 SALEM ST • BOSTON MA": a directory's bars and bullets
    // part it as commas do.
    let rewritten: [String; 2];
    let (text, span) = match classify::address_span(text) {
        Some(span) => (text, Some(span)),
        None => {
            rewritten = [
                text.replace("; ", " "),
                [" | ", " \u{2022} ", " \u{b7} "]
                    .iter()
                    .fold(text.to_string(), |t, bar| t.replace(bar, ", ")),
            ];
            rewritten
                .iter()
                .find_map(|t| Some((t.as_str(), Some(classify::address_span(t)?))))
                .unwrap_or((text, None))
        }
    };
    let spanned = span.is_some();
    if let Some((at, end, address)) = span {
        let before = text[..at]
            .trim()
            .trim_end_matches([',', ':', '-', '\u{2014}', '(', '['])
            .trim();
        // Never parts of it beside another address the record has.
        if found.street.is_none() {
            let named = found.name.is_some() || found.org_name.is_some() || found.place.is_some();
            let name = as_name(before)
                .or_else(|| last_part(before))
                .or_else(|| held_at(before).and_then(as_name))
                .or_else(|| name_after(&text[end..]).and_then(as_name));
            // A hosting place's name yields to a pantry's the text names
            // elsewhere ("Family Resource Center Pantry ... Where: Room 12,
            // Jefferson Middle School, 800 ...").
            let name = name.map(|n| match text_name::names_a_pantry(&n) {
                true => n,
                false => text_name::pantry_name(text).unwrap_or(n),
            });
            if let Some(name) = name.filter(|_| !named) {
                found.place = Some((name, src(pointer, How::Inferred)));
            }
            put_address(found, pointer, &address, How::Inferred);
        }
    }
    // "..., 75 Depot St., Brandon, will distribute ...": a newspaper's
    // street and town, with no state or ZIP code to find it by.
    if !spanned
        && found.street.is_none()
        && let Some((street, town)) = classify::street_and_town_in(text)
    {
        set(&mut found.street, street, src(pointer, How::Inferred));
        set(&mut found.city, town, src(pointer, How::Inferred));
    }
    for number in classify::phones_in(text) {
        found.phones.push((number, src(pointer, How::Inferred)));
    }
    // "Call Mary at 417-555-0142 or email svdp@example.org".
    if let Some(email) = classify::email(text) {
        set(&mut found.email, email, src(pointer, How::Inferred));
    }
}

/// "900 Market St, Zanesville, OH 43701 – Zanesville Community Pantry.
/// ...": a place's name right after an address, up to its sentence's end,
/// when it names a pantry (a food word in it).
fn name_after(text: &str) -> Option<&str> {
    let rest = text
        .trim_start()
        .trim_start_matches([',', '-', '\u{2013}', '\u{2014}', ':']);
    let part = rest.split(['.', ';', '\n', '(']).next()?.trim();
    let lower = part.to_lowercase();
    let food = [
        "pantry", "food", "shelf", "closet", "cupboard", "kitchen", "market",
    ]
    .iter()
    .any(|w| lower.split(|c: char| !c.is_alphanumeric()).any(|x| x == *w));
    (food && names_a_place(part)).then_some(part)
}

/// "Name: Riverside Food Shelf; Address: 88 River Rd; Phone: ...": a text
/// of labelled lines (a directory entry), as each line's role and value
/// (and a first line without a label that reads as a name, as the name);
/// `None` unless two or more lines, and most, carry a label that names a
/// field, one of them the name or the address.
pub(super) fn labelled_lines(text: &str) -> Option<Vec<(Role, String)>> {
    let mut lines: Vec<(Role, String)> = text
        .split(['\n', ';'])
        .filter_map(|line| {
            let (label, value) = line.split_once(':')?;
            let label = label.trim();
            let short = !label.is_empty()
                && label.len() <= 30
                && !label.chars().any(|c| c.is_ascii_digit());
            let role = classify::role_of(label);
            // "Date: 2024-09-14" beside "Time: 10:00 AM - 11:30 AM": the
            // day a time line is for.
            if short && label.eq_ignore_ascii_case("date") && hours::starts_with_date(value.trim())
            {
                return Some((Role::Hours, value.trim().to_string()));
            }
            // "Thursday: 1pm - 6pm" under an "Hours:" line: a day's line.
            if short
                && role == Role::Unknown
                && hours::has_days(label)
                && hours::looks_like_hours(line)
            {
                return Some((Role::Hours, line.trim().to_string()));
            }
            let named = short && !matches!(role, Role::Unknown | Role::Ignore);
            (named && !value.trim().is_empty()).then(|| (role, value.trim().to_string()))
        })
        .collect();
    let anchored = lines
        .iter()
        .any(|(r, _)| matches!(r, Role::Name | Role::Address));
    // Most of the text's lines carry a label: a table's rows or a page's
    // prose with one "Location:" line are no directory entry.
    let total = text
        .split(['\n', ';'])
        .filter(|l| !l.trim().is_empty())
        .count();
    if lines.len() * 2 < total {
        return None;
    }
    // A first line without a label that reads as a name is the name
    // ("Despensa La Esperanza\nDirección: ...").
    let first = text.split(['\n', ';']).next().unwrap_or_default().trim();
    if !lines.iter().any(|(r, _)| *r == Role::Name)
        && !first.contains(':')
        && let Some(name) = as_name(first)
    {
        lines.insert(0, (Role::Name, name));
    }
    (lines.len() >= 2 && anchored).then_some(lines)
}

/// `text` as a place's name, tidied (`name_tidy`), when it reads as one.
fn as_name(text: &str) -> Option<String> {
    super::name_tidy::tidy(text).filter(|n| names_a_place(n))
}

/// The name in the last parts of a page's text before an address, after a
/// line, a bar, a dot between parts, a copyright mark, a sentence's end,
/// without a copyright year ("... Volunteer with us! © 2024 Hope Pantry ·
/// " is "Hope Pantry"); never a part that speaks of hours or holds a phone
/// number, and up to three parts are tried ("Hope Pantry; Tuesday
/// 10:00-12:00; 14 Water St, ...", "St. Vincent Pantry; Hours; Mon-Thu
/// 9-12; 1200 Vine St ...").
fn last_part(text: &str) -> Option<String> {
    parts_back(text).into_iter().take(3).find_map(|p| {
        let speaks_of_hours = hours::mentions_hours(p) || hours::looks_like_hours(p);
        if speaks_of_hours || !classify::phones_in(p).is_empty() {
            return None;
        }
        let p = p
            .trim_start_matches("(c)")
            .trim_start_matches("Copyright")
            .trim_start();
        let year = p
            .get(..4)
            .is_some_and(|y| y.bytes().all(|b| b.is_ascii_digit()));
        as_name(if year { p[4..].trim_start() } else { p })
    })
}

/// The parts of `text`, last first: parted by lines, bars, dots between
/// parts, a copyright mark, an exclamation, an opening bracket ("... on Elm
/// (St. Mark's, 500 Elm St ..."), and a sentence's end ("... every Monday
/// 4pm-6pm. St. Andrew's Episcopal"; `text::ends_sentence`).
fn parts_back(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for part in text.rsplit([
        ';', '|', '\u{b7}', '\u{2022}', '\n', '\u{a9}', '!', '?', '(',
    ]) {
        let mut rest = part;
        while let Some(at) = sentence_end(rest) {
            out.push(rest[at + 1..].trim());
            rest = &rest[..at];
        }
        out.push(rest.trim());
    }
    out.retain(|p| !p.is_empty());
    out
}

/// Where the last sentence of `text` starts after a stop (the stop's
/// byte), if one ends inside it.
fn sentence_end(text: &str) -> Option<usize> {
    crate::text::sentence_stops(text).next()
}

/// "... open every Tuesday 4-6p @ First UMC, 201 S Main St ...", "... at
/// the Town Hall, 1 Main St ...": the place the text says the pantry is
/// held at, right before its address.
fn held_at(before: &str) -> Option<&str> {
    let lower = before.to_ascii_lowercase();
    let at = [" at ", " @ "]
        .iter()
        .filter_map(|w| lower.rfind(w).map(|i| i + w.len()))
        .max()?;
    let place = before[at..].trim();
    let place = place
        .strip_prefix("the ")
        .or_else(|| place.strip_prefix("The "))
        .unwrap_or(place);
    names_a_place(place).then_some(place)
}

/// A name field: the name, and what it goes on with: where it is ("Good
/// Shepherd Pantry - 12 Oak St, Elkhart, IN 46516"), when it opens
/// ("Trinity Pantry (Tues 10-12)").
pub(super) fn place_name(found: &mut Found, p: &str, text: String) {
    // A geocoder's `place_name`: a whole address, no name.
    if let Some(a) = classify::address(&text)
        .filter(|a| a.place.is_none() && a.city.is_some() && (a.state.is_some() || a.zip.is_some()))
    {
        put_address(found, p, &a, How::Normalised);
        return;
    }
    if let Some((name, a)) = name_then_address(&text) {
        set(&mut found.name, name, src(p, How::Normalised));
        put_address(found, p, &a, How::Inferred);
    } else if let Some((name, opening)) = hours_in_brackets(&text) {
        found.hours.push((p.to_string(), opening.to_string()));
        set(&mut found.name, name.to_string(), src(p, How::Normalised));
    } else if let Some((name, number)) = classify::name_then_phone(&text) {
        // "Corner Pantry 815-555-0113": the name, then its phone.
        found.phones.push((number, src(p, How::Normalised)));
        set(&mut found.name, name, src(p, How::Normalised));
    } else {
        set(&mut found.name, text, src(p, How::Copied));
    }
}

/// A name field that goes on with a whole address: the name before it,
/// and the address.
fn name_then_address(text: &str) -> Option<(String, classify::Address)> {
    let (at, address) = classify::address_in(text)?;
    let name = text[..at].trim_end_matches([' ', '-', '\u{2013}', '\u{2014}', ',', ':', '|', '@']);
    (!name.trim().is_empty()).then(|| (name.trim().to_string(), address))
}

/// "Trinity Pantry (Tues 10-12)", "12 Oak St, Muncie, IN 47305 (Open Tues
/// 10-12)": a text with opening hours in brackets at its end, as (the text
/// before them, the hours); `None` when the brackets hold anything else
/// ("(Drive-Thru)").
pub(super) fn hours_in_brackets(text: &str) -> Option<(&str, &str)> {
    let inner = text.trim_end().strip_suffix(')')?;
    let open = inner.rfind('(')?;
    let (name, hours_text) = (inner[..open].trim_end(), &inner[open + 1..]);
    let reads = !name.is_empty() && !hours::parse(hours_text).schedules.is_empty();
    reads.then_some((name, hours_text))
}

/// Whether the text before an address reads as the place's name ("St.
/// Anne Pantry"), not as prose ("Visit us at", "located on"); also what a
/// short description must read as to stand for a record's missing name.
pub(super) fn names_a_place(text: &str) -> bool {
    let words: Vec<&str> = text.split_whitespace().collect();
    let capitalised = text.chars().next().is_some_and(char::is_uppercase);
    let last = words.last().map(|w| w.to_lowercase()).unwrap_or_default();
    let linking = [
        "at", "on", "in", "to", "is", "are", "located", "address", "visit", "us", "near", "by",
        "from",
    ];
    // A word of four letters or more that ends in a period ends a
    // sentence; "St." and "Ave." do not.
    let sentence = words.iter().any(|w| {
        w.ends_with(['.', '!', '?', ';']) && w.trim_end_matches(['.', '!', '?', ';']).len() > 3
    });
    // "The pantry at Trinity Lutheran", "Food share held monthly at the
    // Miller Barn": a sentence's words, not a name's ("Main pantry" is
    // one: a name's lower-case words join or say what kind of place).
    let titled = !matches!(words.as_slice(), [the, next, ..]
        if ["The", "Our", "This"].contains(the) && next.starts_with(char::is_lowercase))
        && words.iter().all(|w| {
            !w.starts_with(char::is_lowercase)
                || super::text_name::names_a_kind(w.trim_end_matches([',', '.', ':']))
        });
    capitalised
        && titled
        && !hours::looks_like_hours(text)
        && (1..=8).contains(&words.len())
        && !sentence
        && !linking.contains(&last.trim_end_matches(':'))
}

#[cfg(test)]
mod tests {
    use super::super::map_record;
    use serde_json::json;

    #[test]
    fn a_pages_text_names_the_place_in_the_part_before_its_address() {
        let text = "Home | About | Donate\nWelcome to Hope Pantry!\nPantry Hours\n\
                    Wednesday 1:00-3:00 PM\n\u{a9} 2024 Hope Pantry \u{b7} 15 Bank St, Hudson, NY 12534 \
                    \u{b7} (518) 555-0123";
        let m = map_record(&json!({"url": "https://hope.example.org/", "text": text}))
            .expect("a mapping");
        let doc = m.draft.value();
        assert_eq!(doc["location"][0]["name"], "Hope Pantry");
        assert_eq!(
            doc["location"][0]["addresses"][0]["address_1"],
            "15 Bank St"
        );
        // Hours between the name and the address are passed over.
        let text = "Hope Pantry\nTuesday 10:00-12:00\n14 Water St, Troy, NY 12180";
        let m = map_record(&json!({ "text": text })).expect("a mapping");
        assert_eq!(m.draft.value()["location"][0]["name"], "Hope Pantry");
        // The part before an address that is a time range is no name.
        let m = map_record(&json!({"text": "Open. Tuesdays 10-2; 88 Oak Ave, Dayton OH 45402"}));
        assert!(m.is_none(), "no name, no mapping");
        // A sentence's end parts a name from the prose before it; a
        // heading's line is passed over.
        for (text, name) in [
            (
                "FREE FOOD PANTRY (Elmwood)\n\nFood pantry open every Monday 4pm-6pm. St. \
                 Andrew's Episcopal, 300 Elmwood Ave, Buffalo NY 14222",
                "St. Andrew's Episcopal",
            ),
            (
                "St. Vincent Pantry\nHours\nMon-Thu: 9:00-12:00\n1200 Vine St, Cincinnati, OH 45202",
                "St. Vincent Pantry",
            ),
        ] {
            let m = map_record(&json!({ "text": text })).expect("a mapping");
            assert_eq!(m.draft.value()["location"][0]["name"], name, "{text}");
        }
        // A sentence's subject before the address is no name; the church
        // the sentence names is.
        let text = "The pantry at Trinity Lutheran (1500 Maple Dr, Fargo, ND 58103) is open";
        let m = map_record(&json!({ "text": text })).expect("a mapping");
        assert_eq!(m.draft.value()["location"][0]["name"], "Trinity Lutheran");
        // The place a text says it is held at, right before the address,
        // whatever words it is named by.
        for (text, name) in [
            (
                "Free groceries Tuesdays 4-6 @ Zion Corner, 201 S Main St, Ann Arbor MI 48104",
                "Zion Corner",
            ),
            (
                "Food share held monthly at the Miller Barn, 5 Barn Rd, Ames, IA 50010",
                "Miller Barn",
            ),
        ] {
            let m = map_record(&json!({ "text": text })).expect("a mapping");
            assert_eq!(m.draft.value()["location"][0]["name"], name, "{text}");
        }
    }
}
