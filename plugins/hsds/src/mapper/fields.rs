//! A record's fields in the order they are placed: nested objects and
//! lists walked, each field given its role by its key and by the key of the
//! object it sits in, values that are really one field (an object's
//! `text`, a day's hours under the day's key, a list of requirements) made
//! one.

use serde_json::{Map, Value};

use super::day_fields::{day_pairs, day_texts, days_of_key, flagged_days};
use super::opening::{dated_opening, event_times, has_times, schedule_text};
use super::parts;
use crate::classify::{self, Rank, Role};
use crate::hours;

/// One raw field: its pointer, role and value, how deep it sits and how
/// surely its key says its role.
pub(super) struct Field {
    pub(super) pointer: String,
    pub(super) role: Role,
    pub(super) value: Value,
    pub(super) depth: usize,
    pub(super) rank: Rank,
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
pub(super) fn fields(record: &Map<String, Value>, prefix: &str) -> Vec<Field> {
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
    let used = several_as_one(record, prefix, parent, depth, out);
    let paired = |key: &str| used.iter().any(|u| u == key);
    for (key, value) in record {
        if paired(key) {
            continue;
        }
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
        let field = |pointer: String, role: Role, value: Value| Field {
            pointer,
            role,
            value,
            depth,
            rank,
        };
        // `"Mon": "9-12"`, `"tuesday_hours": "1-3"`: the day is in the key.
        if let (Some(days), Value::String(text)) = (days_of_key(key), value)
            && matches!(role, Role::Unknown | Role::Hours)
            && !text.trim().is_empty()
        {
            // The key as written when it is the days ("Mon"), else its days.
            let days = if hours::names_days(key) { key } else { &days };
            out.push(field(
                pointer,
                Role::Hours,
                Value::String(format!("{days} {text}")),
            ));
            continue;
        }
        read_value(
            key,
            value,
            &At {
                pointer,
                role,
                depth,
                rank,
            },
            out,
        );
    }
}

/// Values a record gives across several fields, each pushed as one field:
/// a day's start and end (`"start1_Tuesday"`, `"end1_Tuesday"`, from the
/// start's field), a calendar event's start and end date-times (at the top
/// only; on its recurrence rule's days when it has one), a date beside an
/// opening's and a closing's time, a street in parts, a phone's area code
/// apart, a label and its value. Returns the keys
/// the joined ones were made of, which are read no further.
fn several_as_one(
    record: &Map<String, Value>,
    prefix: &str,
    parent: Option<Role>,
    depth: usize,
    out: &mut Vec<Field>,
) -> Vec<String> {
    let mut made: Vec<(String, Role, String)> = Vec::new();
    let mut used = Vec::new();
    for pair in day_pairs(record) {
        used.extend([pair.start_key.clone(), pair.end_key.clone()]);
        made.push((pair.start_key, Role::Hours, pair.text));
    }
    if depth == 0
        && let Some(text) = event_times(record)
    {
        // A recurring event: its rule's days at the event's times.
        let rule = record
            .iter()
            .find_map(|(k, v)| Some((k, crate::hours::rrule_days(v.as_str()?)?)));
        let text = match (rule, text.split_once(' ')) {
            (Some((key, days)), Some((_, times))) => {
                used.push(key.clone());
                format!("{days} {times}")
            }
            _ => text,
        };
        let starts = ["start", "start_time", "startTime"];
        let key = starts.into_iter().find(|k| record.contains_key(*k));
        made.push((key.unwrap_or("start").to_string(), Role::Hours, text));
    }
    if let Some((text, keys)) = dated_opening(record)
        && let Some(first) = keys.first()
    {
        made.push((first.clone(), Role::Hours, text));
        used.extend(keys);
    }
    for j in parts::joined(record, parent) {
        used.extend(j.used);
        made.push((j.key, j.role, j.text));
    }
    for (key, role, text) in made {
        out.push(Field {
            pointer: format!("{prefix}/{}", escape(&key)),
            role,
            value: Value::String(text),
            depth,
            rank: Rank::Exact,
        });
    }
    used
}

/// Where a field sits: its pointer, role, depth and rank.
struct At {
    pointer: String,
    role: Role,
    depth: usize,
    rank: Rank,
}

impl At {
    fn field(&self, pointer: String, role: Role, value: Value) -> Field {
        Field {
            pointer,
            role,
            value,
            depth: self.depth,
            rank: self.rank,
        }
    }
}

/// One value of the record at `at` (its key `key`): a field, fields of an
/// object or list inside it, or nothing.
fn read_value(key: &str, value: &Value, at: &At, out: &mut Vec<Field>) {
    let (pointer, role, depth) = (at.pointer.as_str(), at.role, at.depth);
    let objects = |items: &Vec<Value>| items.iter().any(Value::is_object);
    match value {
        Value::Array(items) if components(items, at, out) => {}
        // GeoJSON's `"type": "Feature"` and the like say nothing of the place.
        Value::String(t) if role == Role::Unknown && GEOJSON_TYPES.contains(&t.as_str()) => {}
        // GeoJSON's point: `"coordinates": [longitude, latitude]`.
        Value::Array(items) if key.eq_ignore_ascii_case("coordinates") => {
            if let [Value::Number(lon), Value::Number(lat)] = items.as_slice() {
                let item = |i: usize| format!("{pointer}/{i}");
                out.push(at.field(item(0), Role::Longitude, Value::Number(lon.clone())));
                out.push(at.field(item(1), Role::Latitude, Value::Number(lat.clone())));
            }
        }
        Value::Object(inner) if depth < MAX_DEPTH => match flagged_days(inner) {
            // `"days": {"monday": false, "tuesday": true, ...}`: the days
            // that are true, as one text.
            Some(days) => out.push(at.field(pointer.to_string(), Role::Hours, Value::String(days))),
            None => nested(inner, pointer, role, depth, out),
        },
        // An object or a list of objects written as a string (open-data
        // portals' `"human_address": "{\"address\": ...}"`, `"hours":
        // "[{\"day\": ...}]"`): read as the object or the list.
        Value::String(t) if depth < MAX_DEPTH && t.trim_start().starts_with(['{', '[']) => {
            match serde_json::from_str::<Value>(t) {
                Ok(Value::Object(inner)) => nested(&inner, pointer, role, depth, out),
                Ok(list @ Value::Array(_)) if list.as_array().is_some_and(&objects) => {
                    read_value(key, &list, at, out);
                }
                _ => out.push(at.field(pointer.to_string(), role, value.clone())),
            }
        }
        Value::Array(items) if depth < MAX_DEPTH && objects(items) => {
            for (i, item) in items.iter().enumerate().take(MAX_ITEMS) {
                if let Value::Object(inner) = item {
                    nested(inner, &format!("{pointer}/{i}"), role, depth, out);
                }
            }
        }
        Value::Array(items) if read_texts(key, items, at, out) => {}
        _ => out.push(at.field(pointer.to_string(), role, value.clone())),
    }
}

/// A list of texts or of rows of texts: read as its role wants (prose as
/// one text, an address's lines as one, rows as lines, hours or phones
/// item by item). False for a list that is none of these.
fn read_texts(key: &str, items: &[Value], at: &At, out: &mut Vec<Field>) -> bool {
    let (pointer, role) = (at.pointer.as_str(), at.role);
    let texts = || items.iter().take(MAX_ITEMS).filter_map(Value::as_str);
    if let Some(range) = super::day_fields::opening_and_closing(items) {
        // `"tuesday_hours": ["10:00 AM", "12:00 PM"]`: one range.
        out.push(at.field(pointer.to_string(), role, Value::String(range)));
    } else if matches!(role, Role::Eligibility | Role::Notes | Role::Description) {
        // Prose given as a list ("requirements": ["Photo ID", "Proof of
        // address"]): one text.
        let texts: Vec<&str> = texts().collect();
        if !texts.is_empty() {
            out.push(at.field(pointer.to_string(), role, Value::String(texts.join("; "))));
        }
    } else if !items.is_empty() && items.iter().all(Value::is_array) {
        // Rows of cells (`"open": [["Tuesday", "10:00", "12:00"], ...]`):
        // each row one text, two times side by side a range.
        let rows = Value::Array(items.iter().take(MAX_ITEMS).map(row_text).collect());
        read_value(key, &rows, at, out);
    } else if role == Role::Unknown && texts().any(hours::mentions_hours) {
        // `"weekday_text": ["Monday: Closed", "Tuesday: 9:00 AM - 11:00
        // AM", ...]`: under a key that says nothing, a list whose texts
        // speak of opening times is hours.
        for (i, item) in items.iter().enumerate().take(MAX_ITEMS) {
            if item.is_string() {
                out.push(at.field(format!("{pointer}/{i}"), Role::Hours, item.clone()));
            }
        }
    } else if role == Role::Unknown
        && texts().any(|t| classify::phone(t).is_some() || classify::email(t).is_some())
    {
        // `"contact": ["309-555-0114", "help@pantry.org"]`: each item placed
        // by what it is.
        for (i, item) in items.iter().enumerate().take(MAX_ITEMS) {
            if item.is_string() {
                out.push(at.field(format!("{pointer}/{i}"), role, item.clone()));
            }
        }
    } else if role == Role::Address && address_lines(items) {
        // An address as its lines (`["First Methodist Church", "222 W Main
        // St", "Carbondale, IL 62901"]`): one text, as a page writes it,
        // unless an item is a whole address of its own.
        let lines: Vec<&str> = texts().collect();
        out.push(at.field(pointer.to_string(), role, Value::String(lines.join("\n"))));
    } else if !matches!(role, Role::Services | Role::Unknown) {
        // A list of texts (phones, hours lines): each item on its own.
        // Services are read as a list where they are placed; a list under
        // a key that says nothing (tags, languages) is not content.
        for (i, item) in items.iter().enumerate().take(MAX_ITEMS) {
            if item.is_string() || item.is_number() {
                out.push(at.field(format!("{pointer}/{i}"), role, item.clone()));
            }
        }
    } else {
        return false;
    }
    true
}

/// A geocoder's address as typed parts (`addressComponents`, `address_components`:
/// `{"longText" or "long_name", "shortText" or "short_name", "types": [...]}`),
/// each part a field of the role its type names. False (nothing read)
/// for any other list.
fn components(items: &[Value], at: &At, out: &mut Vec<Field>) -> bool {
    let typed = |item: &Value| item.get("types").is_some_and(Value::is_array);
    if items.is_empty() || !items.iter().all(typed) {
        return false;
    }
    for (i, item) in items.iter().enumerate().take(MAX_ITEMS) {
        let types: Vec<&str> = item["types"]
            .as_array()
            .map(|t| t.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let is = |t: &str| types.contains(&t);
        let (role, short) = if is("street_number") {
            (Role::HouseNumber, false)
        } else if is("route") {
            (Role::Address, false)
        } else if is("subpremise") {
            (Role::Address2, false)
        } else if is("locality") || is("postal_town") {
            (Role::City, false)
        } else if is("administrative_area_level_1") {
            (Role::State, true)
        } else if is("postal_code") {
            (Role::Zip, false)
        } else {
            continue;
        };
        let [long, brief] = [["longText", "long_name"], ["shortText", "short_name"]].map(|names| {
            names
                .iter()
                .find_map(|n| item.get(*n).filter(|v| v.is_string()))
        });
        let text = if short {
            brief.or(long)
        } else {
            long.or(brief)
        };
        if let Some(text) = text {
            out.push(at.field(format!("{}/{i}", at.pointer), role, text.clone()));
        }
    }
    true
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
    // An object that names a place, its street or its phone is a record
    // (an ArcGIS feature's `attributes`), not an opening given as an
    // object, though it has a day and a time field.
    let record_like = inner.keys().any(|k| {
        matches!(
            classify::role_of(k),
            Role::Name | Role::OrgName | Role::Address | Role::Phone | Role::Zip
        )
    });
    // `{"tue_1_open": "10:00", "tue_1_close": "12:00", ...}`: each day's
    // pair of fields, read by the walk below.
    let day_paired = !day_pairs(inner).is_empty();
    if let Some(text) = schedule_text(inner).filter(|_| !record_like && !day_paired) {
        // Outside an hours field, only an opening on a day of the week or
        // on a date (a mobile pantry's stop).
        // (Its first word, or its second after an ordinal: "2nd Saturday".)
        let on_a_day = text
            .split_whitespace()
            .take(2)
            .any(|word| hours::names_days(word) || hours::starts_with_date(word));
        if role == Role::Hours || on_a_day {
            out.push(hours(pointer.to_string(), text));
        }
        if role == Role::Hours || on_a_day || has_times(inner) {
            return;
        }
    }
    // `{"monday": "9-5", "tuesday": "closed"}`, `{"Monday": [{"open":
    // "0900", "close": "1200"}]}`: each day's texts with its day; `{"2nd":
    // "Saturday 9-11", "4th": ...}`: each week's with its ordinal.
    let keyed_by = |is: fn(&str) -> bool| !inner.is_empty() && inner.keys().all(|k| is(k));
    let day_keyed = role == Role::Hours && keyed_by(hours::names_days);
    let week_keyed = matches!(role, Role::Hours | Role::Unknown) && keyed_by(hours::is_ordinal);
    if day_keyed || week_keyed {
        for (key, value) in inner {
            for text in day_texts(value) {
                out.push(hours(
                    format!("{pointer}/{}", escape(key)),
                    format!("{key} {text}"),
                ));
            }
        }
        return;
    }
    let from = out.len();
    walk(inner, pointer, Some(role), depth + 1, out);
    // `"services": [..., {"name": "Clothing Closet", "schedule": "Saturdays
    // 9-12"}]`: another program's hours are not the pantry's.
    if role == Role::Services && names_another_program(inner) {
        let fields = out.split_off(from);
        out.extend(fields.into_iter().filter(|f| f.role != Role::Hours));
    }
}

/// Whether a service's object is named for a program other than food (a
/// clothing closet, an office, worship).
fn names_another_program(inner: &Map<String, Value>) -> bool {
    inner.iter().any(|(k, v)| {
        matches!(classify::role_of(k), Role::Name | Role::Services)
            && v.as_str().is_some_and(hours::names_another_program)
    })
}

/// Whether a list of texts is one address's lines: two or more, none a
/// whole address (a street with its state or ZIP code) by itself.
fn address_lines(items: &[Value]) -> bool {
    let whole = |t: &str| {
        classify::city_line(t).is_none()
            && classify::address(t).is_some_and(|a| a.state.is_some() || a.zip.is_some())
    };
    items.len() >= 2 && items.iter().all(|i| i.as_str().is_some_and(|t| !whole(t)))
}

/// A row of cells as one text: cells joined by a space, two clock times
/// side by side by a dash ("Tuesday 10:00-12:00").
fn row_text(row: &Value) -> Value {
    let mut text = String::new();
    let mut last_time = false;
    for cell in row.as_array().into_iter().flatten().take(MAX_ITEMS) {
        let cell = match cell {
            Value::String(t) => t.trim().to_string(),
            Value::Number(n) => n.to_string(),
            _ => continue,
        };
        let time = hours::is_time(&cell);
        if !text.is_empty() {
            text.push(if time && last_time { '-' } else { ' ' });
        }
        text.push_str(&cell);
        last_time = time && !last_time;
    }
    Value::String(text)
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

/// A key as one step of a JSON pointer (`~` and `/` escaped).
pub(super) fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}
