//! Reading a record's fields: each by its key's role, or by its content
//! when the key says nothing useful or the content contradicts it.

use serde_json::{Map, Value};

use super::opening::{has_times, schedule_text};
use super::{How, Source};
use crate::classify::{self, Rank, Role};
use crate::{geo, hours, text};

/// One raw field: its pointer, role and value, how deep it sits and how
/// surely its key says its role.
struct Field {
    pointer: String,
    role: Role,
    value: Value,
    depth: usize,
    rank: Rank,
}

/// How deep into nested objects and lists fields are read (an HSDS
/// document nests `organization > locations > addresses`).
const MAX_DEPTH: usize = 3;
/// Items of one list read at most.
const MAX_ITEMS: usize = 20;
/// GeoJSON's object types: a `type` holding one is not record content.
const GEOJSON_TYPES: [&str; 4] = ["Feature", "FeatureCollection", "Point", "MultiPoint"];

/// Collects the record's fields, nested ones too, in the order they are
/// placed: shallow before deep, then those whose key says their role (an
/// exact spelling first) before those placed by content, so `name` wins
/// over `alternate_name` and `website` over a URL in some other field.
fn fields(record: &Map<String, Value>, prefix: &str) -> Vec<Field> {
    let mut out = Vec::new();
    walk(record, prefix, None, 0, &mut out);
    out.sort_by_key(|f| (f.depth, f.rank));
    out
}

fn walk(
    record: &Map<String, Value>,
    prefix: &str,
    parent: Option<Role>,
    depth: usize,
    out: &mut Vec<Field>,
) {
    for (key, value) in record {
        let pointer = format!("{prefix}/{}", escape(key));
        let (own, rank) = classify::rank_role(key);
        let role = match parent {
            // `"displayName": {"text": "Community Food Share"}`: the text
            // of a field given as an object is the field's.
            Some(p) if own == Role::Unknown && is_wrapper(key) => p,
            _ => in_context(parent, own),
        };
        if role == Role::Ignore {
            continue;
        }
        // `"Mon": "9-12"`, `"tuesday_hours": "1-3"`: the day is in the key.
        if let (Some(days), Value::String(text)) = (days_of_key(key), value)
            && matches!(role, Role::Unknown | Role::Hours)
            && !text.trim().is_empty()
        {
            // The key as written when it is the days ("Mon"), else its days.
            let days = if hours::names_days(key) { key } else { &days };
            out.push(Field {
                pointer,
                role: Role::Hours,
                value: Value::String(format!("{days} {text}")),
                depth,
                rank,
            });
            continue;
        }
        let objects = |items: &Vec<Value>| items.iter().any(Value::is_object);
        let field = |pointer: String, role: Role, value: Value| Field {
            pointer,
            role,
            value,
            depth,
            rank,
        };
        match value {
            // GeoJSON's `"type": "Feature"` and the like say nothing of the place.
            Value::String(t) if role == Role::Unknown && GEOJSON_TYPES.contains(&t.as_str()) => {}
            // GeoJSON's point: `"coordinates": [longitude, latitude]`.
            Value::Array(items) if key.eq_ignore_ascii_case("coordinates") => {
                if let [Value::Number(lon), Value::Number(lat)] = items.as_slice() {
                    let at = |i: usize| format!("{pointer}/{i}");
                    out.push(field(at(0), Role::Longitude, Value::Number(lon.clone())));
                    out.push(field(at(1), Role::Latitude, Value::Number(lat.clone())));
                }
            }
            Value::Object(inner) if depth < MAX_DEPTH => {
                nested(inner, &pointer, role, depth, out);
            }
            Value::Array(items) if depth < MAX_DEPTH && objects(items) => {
                for (i, item) in items.iter().enumerate().take(MAX_ITEMS) {
                    if let Value::Object(inner) = item {
                        nested(inner, &format!("{pointer}/{i}"), role, depth, out);
                    }
                }
            }
            // Prose given as a list ("requirements": ["Photo ID", "Proof
            // of address"]): one text.
            Value::Array(items)
                if matches!(role, Role::Eligibility | Role::Notes | Role::Description) =>
            {
                let texts: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
                if !texts.is_empty() {
                    out.push(field(pointer, role, Value::String(texts.join("; "))));
                }
            }
            // A list of texts (phones, hours lines): each item on its own.
            // Services are read as a list where they are placed; a list
            // under a key that says nothing (tags, languages) is not content.
            Value::Array(items) if !matches!(role, Role::Services | Role::Unknown) => {
                for (i, item) in items.iter().enumerate().take(MAX_ITEMS) {
                    if item.is_string() || item.is_number() {
                        out.push(field(format!("{pointer}/{i}"), role, item.clone()));
                    }
                }
            }
            _ => out.push(Field {
                pointer,
                role,
                value: value.clone(),
                depth,
                rank,
            }),
        }
    }
}

/// An object inside the record: a structured opening time (an HSDS
/// schedule, say) is read as one text; anything else field by field.
fn nested(
    inner: &Map<String, Value>,
    pointer: &str,
    role: Role,
    depth: usize,
    out: &mut Vec<Field>,
) {
    let hours = |pointer: String, text: String| Field {
        pointer,
        role: Role::Hours,
        value: Value::String(text),
        depth: depth + 1,
        rank: Rank::Exact,
    };
    if let Some(text) = schedule_text(inner) {
        // Outside an hours field, only an opening on a day (a dated
        // event's start and end is not a regular schedule: left out).
        let on_a_day = text
            .split_whitespace()
            .next()
            .is_some_and(hours::names_days);
        if role == Role::Hours || on_a_day {
            out.push(hours(pointer.to_string(), text));
        }
        if role == Role::Hours || on_a_day || has_times(inner) {
            return;
        }
    }
    // `{"monday": "9-5", "tuesday": "closed"}`: each day's text with its day.
    if role == Role::Hours && !inner.is_empty() && inner.keys().all(|k| hours::names_days(k)) {
        for (day, value) in inner {
            if let Some(text) = value.as_str().filter(|t| !t.trim().is_empty()) {
                out.push(hours(
                    format!("{pointer}/{}", escape(day)),
                    format!("{day} {text}"),
                ));
            }
        }
        return;
    }
    walk(inner, pointer, Some(role), depth + 1, out);
}

/// A field's role inside an object whose own key has a role: a `name`
/// inside `services` is a service, inside `organization` the
/// organization's; a `number` inside `phones` a phone.
fn in_context(parent: Option<Role>, own: Role) -> Role {
    match (parent, own) {
        (Some(Role::Services), Role::Name) => Role::Services,
        (Some(Role::OrgName), Role::Name) => Role::OrgName,
        // `"regularOpeningHours": {"weekdayDescriptions": [...]}`.
        (Some(Role::Hours), Role::Unknown | Role::Description) => Role::Hours,
        (Some(p @ (Role::Phone | Role::Email | Role::Website)), Role::Unknown) => p,
        _ => own,
    }
}

/// A key that only holds its parent's value: `text`, `value`.
fn is_wrapper(key: &str) -> bool {
    ["text", "value", "#text", "label", "display"]
        .iter()
        .any(|w| key.eq_ignore_ascii_case(w))
}

/// The days a key names, besides words for hours ("Mon", "tuesday_hours",
/// "HoursWednesday"): `None` for a key that names no day or more.
fn days_of_key(key: &str) -> Option<String> {
    let hourly = [
        "hours", "hour", "hrs", "open", "opening", "time", "times", "schedule",
    ];
    let words: Vec<String> = classify::words(key)
        .into_iter()
        .filter(|w| !hourly.contains(&w.as_str()))
        .collect();
    let days = words.join(" ");
    (!words.is_empty() && hours::names_days(&days)).then_some(days)
}

pub(super) fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// A scraped text as plain text: HTML markup scrapers leave in (`<p>`,
/// `<br>`: line breaks become "; ") and entities (`&#8217;`, `&amp;`,
/// `&nbsp;`) decoded, runs of white space made one. A placeholder for
/// nothing ("N/A", "none", "-") is the empty text.
fn unescape(text: &str) -> String {
    let t = text::plain(text);
    if text::is_placeholder(&t) {
        return String::new();
    }
    t
}

/// The values gathered for each part of the record, with their sources.
#[derive(Default)]
pub(super) struct Found {
    pub(super) name: Option<(String, Source)>,
    pub(super) org_name: Option<(String, Source)>,
    pub(super) place: Option<(String, Source)>,
    pub(super) street: Option<(String, Source)>,
    pub(super) street2: Option<(String, Source)>,
    pub(super) city: Option<(String, Source)>,
    pub(super) state: Option<(String, Source)>,
    pub(super) zip: Option<(String, Source)>,
    pub(super) latitude: Option<(f64, Source)>,
    pub(super) longitude: Option<(f64, Source)>,
    pub(super) phones: Vec<(String, Source)>,
    /// Extensions of the phones above, by number.
    pub(super) extensions: Vec<(String, u64)>,
    /// Numbers of the phones above that are faxes.
    pub(super) faxes: Vec<String>,
    /// A PO box: the address only when the record gives no street.
    postal: Option<(String, classify::Address)>,
    pub(super) email: Option<(String, Source)>,
    pub(super) website: Option<(String, Source)>,
    /// Texts with opening hours, and where they came from.
    pub(super) hours: Vec<(String, String)>,
    pub(super) notes: Vec<(String, String)>,
    pub(super) description: Option<(String, Source)>,
    /// Who may come, what to bring.
    pub(super) eligibility: Option<(String, Source)>,
    pub(super) services: Vec<(String, Source)>,
}

pub(super) fn src(pointer: &str, how: How) -> Source {
    Source {
        source: format!("raw:{pointer}"),
        how,
    }
}

fn set<T>(slot: &mut Option<(T, Source)>, value: T, source: Source) {
    if slot.is_none() {
        *slot = Some((value, source));
    }
}

/// Places one text value by its content, for a field whose key says
/// nothing useful or something the content contradicts. Returns whether it
/// found a home.
fn place_by_content(found: &mut Found, pointer: &str, text: &str, how: How) -> bool {
    if let Some(number) = classify::phone(text) {
        found.phones.push((number, src(pointer, how)));
        return true;
    }
    if let Some(email) = classify::email(text).filter(|e| e.len() + 10 >= text.trim().len()) {
        set(&mut found.email, email, src(pointer, how));
        return true;
    }
    if let Some((url, _)) = classify::url(text) {
        set(&mut found.website, url, src(pointer, how));
        return true;
    }
    // A street number alone ("30 days ...") is not an address: it also
    // needs a state or a ZIP code.
    if let Some(address) = classify::address(text).filter(|a| a.state.is_some() || a.zip.is_some())
    {
        put_address(found, pointer, &address, how);
        return true;
    }
    if hours::looks_like_hours(text) {
        found.hours.push((pointer.to_string(), text.to_string()));
        return true;
    }
    // "40.1, -75.2": a latitude and a longitude in one text.
    if let Some((lat, lon)) = geo::pair(text) {
        set(&mut found.latitude, lat, src(pointer, How::Normalised));
        set(&mut found.longitude, lon, src(pointer, How::Normalised));
        return true;
    }
    false
}

/// What free text holds besides its prose ("St. Vincent Pantry, 88 Oak
/// Ave, Dayton OH 45402. Call (937) 555-0177."): a whole address (and the
/// short name before it, when the record has none), phone numbers and an
/// email address.
fn embedded(found: &mut Found, pointer: &str, text: &str) {
    if let Some((at, address)) = classify::address_in(text) {
        let before = text[..at]
            .trim()
            .trim_end_matches([',', ':', '-', '\u{2014}'])
            .trim();
        // Never parts of it beside another address the record has.
        if found.street.is_none() {
            let named = found.name.is_some() || found.org_name.is_some() || found.place.is_some();
            if !named && names_a_place(before) {
                found.place = Some((before.to_string(), src(pointer, How::Inferred)));
            }
            put_address(found, pointer, &address, How::Inferred);
        }
    }
    for number in classify::phones_in(text) {
        found.phones.push((number, src(pointer, How::Inferred)));
    }
    // "Call Mary at 417-555-0142 or email svdp@example.org".
    if let Some(email) = classify::email(text) {
        set(&mut found.email, email, src(pointer, How::Inferred));
    }
}

/// Whether the text before an address reads as the place's name ("St.
/// Anne Pantry"), not as prose ("Visit us at", "located on").
fn names_a_place(text: &str) -> bool {
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
    capitalised
        && (1..=8).contains(&words.len())
        && !sentence
        && !linking.contains(&last.trim_end_matches(':'))
}

fn put_address(found: &mut Found, pointer: &str, a: &classify::Address, how: How) {
    let s = || src(pointer, how);
    if let Some(place) = &a.place {
        set(&mut found.place, place.clone(), s());
    }
    if let Some(street) = &a.street {
        set(&mut found.street, street.clone(), s());
    }
    if let Some(city) = &a.city {
        set(&mut found.city, city.clone(), s());
    }
    if let Some(state) = &a.state {
        set(&mut found.state, state.clone(), s());
    }
    if let Some(zip) = &a.zip {
        set(&mut found.zip, zip.clone(), s());
    }
}

fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Reads every field into [`Found`].
pub(super) fn gather(record: &Map<String, Value>) -> Found {
    gather_at(record, "")
}

/// Reads every field of an object found at `prefix` (a JSON pointer into
/// the record: one site of several) into [`Found`].
pub(super) fn gather_at(record: &Map<String, Value>, prefix: &str) -> Found {
    let mut found = Found::default();
    for Field {
        pointer,
        role,
        value,
        ..
    } in fields(record, prefix)
    {
        let p = pointer.as_str();
        if role == Role::Latitude || role == Role::Longitude {
            if let Some(n) = number(&value) {
                let slot = if role == Role::Latitude {
                    &mut found.latitude
                } else {
                    &mut found.longitude
                };
                set(slot, n, src(p, How::Copied));
            }
            continue;
        }
        if role == Role::Services {
            // A list: each item from its place; a text listing several
            // ("Food Pantry, Hot Meals"): each from the text, split.
            let items: Vec<(String, Source)> = match &value {
                Value::Array(items) => items
                    .iter()
                    .enumerate()
                    .filter_map(|(i, v)| {
                        Some((unescape(v.as_str()?), src(&format!("{p}/{i}"), How::Copied)))
                    })
                    .collect(),
                Value::String(s) => {
                    let parts: Vec<String> = s
                        .split([',', ';', '|', '\u{2022}'])
                        .map(unescape)
                        .filter(|s| !s.is_empty())
                        .collect();
                    let how = if parts.len() > 1 {
                        How::Normalised
                    } else {
                        How::Copied
                    };
                    parts.into_iter().map(|t| (t, src(p, how))).collect()
                }
                _ => vec![],
            };
            found
                .services
                .extend(items.into_iter().filter(|(s, _)| !s.is_empty()));
            continue;
        }
        let text = match &value {
            Value::String(s) => unescape(s),
            Value::Number(n) if role == Role::Zip => n.to_string(),
            _ => continue,
        };
        // A ZIP code of four digits lost its leading zero to a spreadsheet.
        let four_digits = text.len() == 4 && text.bytes().all(|b| b.is_ascii_digit());
        let text = if role == Role::Zip && four_digits {
            format!("0{text}")
        } else {
            text
        };
        if text.is_empty() || role == Role::Ignore {
            continue;
        }
        place_field(&mut found, p, role, text);
    }
    if found.street.is_none()
        && let Some((pointer, postal)) = found.postal.take()
    {
        put_address(&mut found, &pointer, &postal, How::Normalised);
    }
    found
}

/// Places one text field: by its key when the content agrees, else by its
/// content (a misfiled value), else as notes.
fn place_field(found: &mut Found, p: &str, role: Role, text: String) {
    let copied = || src(p, How::Copied);
    match role {
        Role::Name if classify::phone(&text).is_none() => set(&mut found.name, text, copied()),
        Role::OrgName => set(&mut found.org_name, text, copied()),
        Role::City if classify::phone(&text).is_none() => set(&mut found.city, text, copied()),
        Role::State => match geo::us_state_code(&text) {
            Some(code) if code == text => set(&mut found.state, text, copied()),
            Some(code) => set(&mut found.state, code.to_string(), src(p, How::Normalised)),
            None => found.notes.push((p.to_string(), text)),
        },
        Role::Zip if text.chars().filter(char::is_ascii_digit).count() >= 5 => {
            let zip: String = text.chars().take_while(|c| *c != ' ').collect();
            set(&mut found.zip, zip, copied());
        }
        Role::Address2 => set(&mut found.street2, text, copied()),
        Role::Phone => {
            let fax_field = p.to_ascii_lowercase().contains("fax");
            // One number (a label or an extension beside it at most), else
            // each number the text holds ("555.123.4567 (Main),
            // 555.123.9999 (Fax)"), a fax marked as one.
            let numbers: Vec<(String, bool, How)> = match classify::phone(&text) {
                Some(n) => {
                    if let Some(ext) = classify::extension(&text) {
                        found.extensions.push((n.clone(), ext));
                    }
                    let how = if n == text {
                        How::Copied
                    } else {
                        How::Normalised
                    };
                    vec![(n, false, how)]
                }
                None => classify::labelled_phones(&text)
                    .into_iter()
                    .map(|(n, fax)| (n, fax, How::Normalised))
                    .collect(),
            };
            for (number, fax, how) in &numbers {
                if *fax || fax_field {
                    found.faxes.push(number.clone());
                }
                found.phones.push((number.clone(), src(p, *how)));
            }
            if numbers.is_empty() {
                if classify::local_phone(&text) {
                    // A local number without its area code, as written.
                    found.phones.push((text, copied()));
                } else if !place_by_content(found, p, &text, How::Inferred) {
                    found.notes.push((p.to_string(), text));
                }
            }
        }
        Role::Email => match classify::email(&text) {
            Some(e) => set(&mut found.email, e, copied()),
            None => {
                place_by_content(found, p, &text, How::Inferred);
            }
        },
        Role::Website => match classify::url(&text) {
            Some((u, false)) => set(&mut found.website, u, copied()),
            Some((u, true)) => set(&mut found.website, u, src(p, How::Normalised)),
            None => match classify::site(&text) {
                Some(u) => set(&mut found.website, u, src(p, How::Normalised)),
                None => {
                    place_by_content(found, p, &text, How::Inferred);
                }
            },
        },
        Role::Hours => {
            if hours::looks_like_hours(&text) {
                found.hours.push((p.to_string(), text));
            } else if !place_by_content(found, p, &text, How::Inferred) {
                // Hours the parser may still not read: a question.
                found.hours.push((p.to_string(), text));
            }
        }
        Role::Address if classify::is_po_box(&text) => {
            if let Some(a) = classify::address(&text) {
                found.postal.get_or_insert((p.to_string(), a));
            }
        }
        Role::Address => match classify::address(&text) {
            Some(a) => {
                let how = if a.city.is_some() || a.place.is_some() {
                    How::Normalised
                } else {
                    How::Copied
                };
                put_address(found, p, &a, how);
            }
            None if place_by_content(found, p, &text, How::Inferred) => {}
            None => set(&mut found.street, text, copied()),
        },
        Role::Eligibility => {
            embedded(found, p, &text);
            set(&mut found.eligibility, text, copied());
        }
        Role::Description => {
            if hours::looks_like_hours(&text) {
                found.hours.push((p.to_string(), text.clone()));
            }
            embedded(found, p, &text);
            set(&mut found.description, text, copied());
        }
        // Placed by content when it reads as something; notes otherwise.
        Role::Notes | Role::Unknown => {
            embedded(found, p, &text);
            if !place_by_content(found, p, &text, How::Inferred) {
                found.notes.push((p.to_string(), text));
            }
        }
        // A name, city or ZIP field holding a phone number (say).
        Role::Name | Role::City | Role::Zip => {
            place_by_content(found, p, &text, How::Inferred);
        }
        _ => {}
    }
}
