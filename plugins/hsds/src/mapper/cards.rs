//! Text in the content-line formats of a vCard (RFC 6350) and an
//! iCalendar event (RFC 5545), "BEGIN:VCARD ... ADR;TYPE=WORK:;;215 Maple
//! Ave;Ithaca;NY;14850;USA ...", read as the record its properties make,
//! under the names the mapper reads: a card's `FN` its name, `ADR` an
//! address in parts, `TEL` a phone (a fax by its type); an event's
//! `SUMMARY`, `LOCATION`, `DTSTART`, `DTEND` and `RRULE`.

use serde_json::{Map, Value, json};

/// One content line: its name (upper case), its parameters' text and its
/// value, still escaped.
struct Property<'t> {
    name: String,
    params: String,
    value: &'t str,
}

/// A record that is one text holding a card or an event (free text read
/// as `{"text": ...}`): the text's pointer and the record the card makes.
pub(super) fn card_in(raw: &Value) -> Option<(String, Value)> {
    let Value::Object(map) = raw else {
        return None;
    };
    let mut fields = map.iter();
    let (key, Value::String(text)) = fields.next()? else {
        return None;
    };
    if fields.next().is_some() {
        return None;
    }
    let pointer = format!("/{}", super::fields::escape(key));
    Some((pointer, Value::Object(record(text)?)))
}

/// The record a card or an event in `text` makes; `None` when `text` is
/// not one (it must open with `BEGIN:VCARD`, `BEGIN:VEVENT` or
/// `BEGIN:VCALENDAR`).
pub(super) fn record(text: &str) -> Option<Map<String, Value>> {
    let first = text
        .trim_start()
        .lines()
        .next()?
        .trim()
        .to_ascii_uppercase();
    let lines = unfold(text);
    let properties = lines.iter().filter_map(|l| property(l));
    match first.as_str() {
        "BEGIN:VCARD" => Some(card(properties)),
        "BEGIN:VEVENT" | "BEGIN:VCALENDAR" => Some(event(properties)),
        _ => None,
    }
}

/// A card's properties as a record.
fn card<'t>(properties: impl Iterator<Item = Property<'t>>) -> Map<String, Value> {
    let mut out = Map::new();
    let (mut addresses, mut phones) = (Vec::new(), Vec::new());
    for p in properties {
        let value = unescape(p.value);
        match p.name.as_str() {
            "FN" => put(&mut out, "name", value),
            "ORG" => put(&mut out, "organization", first_component(p.value)),
            "ADR" => addresses.push(address(p.value)),
            "TEL" => phones.push(phone(&p.params, &value)),
            "EMAIL" => put(&mut out, "email", value),
            "URL" => put(&mut out, "website", value),
            "NOTE" => put(&mut out, "notes", value),
            "GEO" => put(&mut out, "coordinates", coordinates(&value)),
            _ => {}
        }
    }
    if !addresses.is_empty() {
        out.insert("addresses".into(), Value::Array(addresses));
    }
    if !phones.is_empty() {
        out.insert("phones".into(), Value::Array(phones));
    }
    out
}

/// An event's properties as a record (the first event's, for a calendar
/// of several).
fn event<'t>(properties: impl Iterator<Item = Property<'t>>) -> Map<String, Value> {
    let mut out = Map::new();
    for p in properties {
        if p.name == "END" && p.value.eq_ignore_ascii_case("VEVENT") {
            break;
        }
        let value = unescape(p.value);
        match p.name.as_str() {
            "SUMMARY" => put(&mut out, "summary", value),
            "LOCATION" => put(&mut out, "location", value),
            "DESCRIPTION" => put(&mut out, "description", value),
            "URL" => put(&mut out, "website", value),
            "GEO" => put(&mut out, "coordinates", coordinates(&value)),
            "RRULE" => put(&mut out, "recurrence", format!("RRULE:{value}")),
            "DTSTART" | "DTEND" => {
                let key = if p.name == "DTSTART" { "start" } else { "end" };
                if let Some(at) = date_time(&value) {
                    put(&mut out, key, at);
                }
            }
            _ => {}
        }
    }
    out
}

/// The first value of a name kept: a record has one name, one location.
fn put(out: &mut Map<String, Value>, key: &str, value: String) {
    if !value.trim().is_empty() && !out.contains_key(key) {
        out.insert(key.into(), Value::String(value));
    }
}

/// Lines with their folded continuations (a line starting with a space
/// or a tab goes on the one before) joined.
fn unfold(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        match (line.strip_prefix([' ', '\t']), lines.last_mut()) {
            (Some(rest), Some(last)) => last.push_str(rest),
            _ => lines.push(line.to_string()),
        }
    }
    lines
}

/// "ADR;TYPE=WORK:;;215 Maple Ave" as its name, parameters and value;
/// `None` for a line that is not a property.
fn property(line: &str) -> Option<Property<'_>> {
    let colon = line.find(':')?;
    let (head, value) = (&line[..colon], &line[colon + 1..]);
    let (name, params) = head.split_once(';').unwrap_or((head, ""));
    // A property's name is letters, digits and dashes, after an optional
    // group ("item1.TEL").
    let name = name.rsplit('.').next().unwrap_or(name);
    let named = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    named.then(|| Property {
        name: name.to_ascii_uppercase(),
        params: params.to_ascii_uppercase(),
        value,
    })
}

/// A text value with its escapes read: `\,` `\;` `\\` and `\n`.
fn unescape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match (c, chars.clone().next()) {
            ('\\', Some('n' | 'N')) => {
                out.push('\n');
                chars.next();
            }
            ('\\', Some(next @ (',' | ';' | '\\' | ':'))) => {
                out.push(next);
                chars.next();
            }
            _ => out.push(c),
        }
    }
    out
}

/// A structured value's components, split at each `;` not escaped, each
/// unescaped.
fn components(value: &str) -> Vec<String> {
    let (mut parts, mut part) = (Vec::new(), String::new());
    let mut escaped = false;
    for c in value.chars() {
        match c {
            ';' if !escaped => parts.push(std::mem::take(&mut part)),
            _ => part.push(c),
        }
        escaped = c == '\\' && !escaped;
    }
    parts.push(part);
    parts.iter().map(|p| unescape(p)).collect()
}

fn first_component(value: &str) -> String {
    components(value).into_iter().next().unwrap_or_default()
}

/// `ADR`'s seven parts: post office box, extended address, street,
/// locality, region, postal code, country.
fn address(value: &str) -> Value {
    let parts = components(value);
    let keys = [
        "po_box",
        "address_2",
        "street",
        "city",
        "state",
        "postal_code",
        "country",
    ];
    let object: Map<String, Value> = keys
        .iter()
        .zip(&parts)
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, v)| ((*k).to_string(), Value::String(v.trim().to_string())))
        .collect();
    Value::Object(object)
}

/// A `TEL` as a phone object, typed a fax when its parameters say so
/// (`TYPE=WORK,FAX`, or vCard 2.1's bare `;FAX`); a `tel:` address as
/// its number.
fn phone(params: &str, value: &str) -> Value {
    let number = value.trim().strip_prefix("tel:").unwrap_or(value.trim());
    let fax = params
        .split([';', ',', '='])
        .any(|p| p.trim_matches('"') == "FAX");
    json!({ "number": number, "type": if fax { "fax" } else { "voice" } })
}

/// "42.44;-76.50" or "geo:42.44,-76.50" as "42.44, -76.50".
fn coordinates(value: &str) -> String {
    let v = value.trim().strip_prefix("geo:").unwrap_or(value.trim());
    v.replacen(';', ", ", 1)
}

/// "20240106T090000" as "2024-01-06T09:00:00", a date alone as
/// "2024-01-06"; `None` for a time in UTC ("...T140000Z"), whose local
/// time the text does not give, and for anything else.
fn date_time(value: &str) -> Option<String> {
    let v = value.trim();
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let (date, time) = v.split_once('T').unwrap_or((v, ""));
    if date.len() != 8 || !digits(date) {
        return None;
    }
    let day = format!("{}-{}-{}", &date[..4], &date[4..6], &date[6..]);
    match time.len() {
        0 => Some(day),
        6 if digits(time) => Some(format!(
            "{day}T{}:{}:{}",
            &time[..2],
            &time[2..4],
            &time[4..]
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_card_reads_as_name_address_in_parts_phones_and_notes() {
        let r = record(
            "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Bread of Life Pantry\r\nADR;TYPE=WORK:;Suite 2;215 \
             Maple Ave;Ithaca;NY;14850;USA\r\nTEL;TYPE=WORK,VOICE:+1-607-555-0133\r\nTEL;TYPE=FAX:\
             607-555-0134\r\nitem1.EMAIL:help@bread.org\r\nNOTE:Open Thursdays 4-6pm\\, \
             call\r\n  first\r\nEND:VCARD",
        )
        .expect("a card");
        assert_eq!(r["name"], "Bread of Life Pantry");
        assert_eq!(
            r["addresses"],
            json!([{"address_2": "Suite 2", "street": "215 Maple Ave", "city": "Ithaca",
                    "state": "NY", "postal_code": "14850", "country": "USA"}])
        );
        assert_eq!(
            r["phones"],
            json!([{"number": "+1-607-555-0133", "type": "voice"},
                   {"number": "607-555-0134", "type": "fax"}])
        );
        assert_eq!(r["email"], "help@bread.org");
        assert_eq!(r["notes"], "Open Thursdays 4-6pm, call first");
    }

    #[test]
    fn an_event_reads_as_summary_location_times_and_rule() {
        let r = record(
            "BEGIN:VCALENDAR\nBEGIN:VEVENT\nSUMMARY:Food Distribution\nDTSTART;TZID=America/\
             New_York:20240106T090000\nDTEND:20240106T110000\nRRULE:FREQ=MONTHLY;BYDAY=1SA\n\
             LOCATION:First Baptist\\, 77 Pine St\\, Utica\\, NY 13501\nEND:VEVENT\nBEGIN:VEVENT\n\
             SUMMARY:Other\nEND:VEVENT\nEND:VCALENDAR",
        )
        .expect("an event");
        assert_eq!(r["summary"], "Food Distribution");
        assert_eq!(r["start"], "2024-01-06T09:00:00");
        assert_eq!(r["end"], "2024-01-06T11:00:00");
        assert_eq!(r["recurrence"], "RRULE:FREQ=MONTHLY;BYDAY=1SA");
        assert_eq!(r["location"], "First Baptist, 77 Pine St, Utica, NY 13501");
    }

    #[test]
    fn a_time_in_utc_and_other_text_are_not_read() {
        let r = record("BEGIN:VEVENT\nDTSTART:20240106T140000Z\nSUMMARY:X\nEND:VEVENT")
            .expect("an event");
        assert!(r.get("start").is_none(), "{r:?}");
        assert!(record("Open Tuesdays: 10-12").is_none());
        assert!(record("").is_none());
    }
}
