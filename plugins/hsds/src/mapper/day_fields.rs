//! A day's opening and closing times in two fields of their own, as
//! spreadsheets and map layers give them: `"start1_Tuesday": "10:00 AM",
//! "end1_Tuesday": "2:00 PM"`, `"mondayOpen"`/`"mondayClose"`,
//! `"tue_from"`/`"tue_to"`: one text a day ("Tuesday 10:00 AM-2:00 PM");
//! and the other ways a record puts days in its fields: days flagged
//! true or false, a day's key holding its opening, a key naming the day.

use serde_json::{Map, Value};

use super::opening::schedule_text;

use crate::classify;
use crate::hours;

/// One day's pair of fields and the text they make.
pub(super) struct DayPair {
    pub(super) start_key: String,
    pub(super) end_key: String,
    pub(super) text: String,
}

/// Which end of an opening a key's word names.
#[derive(Clone, Copy, PartialEq, Eq)]
enum End {
    Start,
    Finish,
}

/// The end a key names, its days' words and the slot's number
/// (`start1_Tuesday`: start, "tuesday", "1"); `None` for a key that is not
/// a day's start or end.
fn read_key(key: &str) -> Option<(End, String, String)> {
    let mut end = None;
    let mut slot = String::new();
    let mut days = Vec::new();
    for word in classify::words(key) {
        // `"tue_1_open"`: the slot's number as a word of its own.
        if !word.is_empty() && word.bytes().all(|b| b.is_ascii_digit()) && slot.is_empty() {
            slot = word;
            continue;
        }
        let base = word.trim_end_matches(|c: char| c.is_ascii_digit());
        let which = match base {
            "start" | "starts" | "open" | "opens" | "from" | "begin" => Some(End::Start),
            "end" | "ends" | "close" | "closes" | "to" | "until" => Some(End::Finish),
            _ => None,
        };
        match which {
            Some(w) if end.is_none() => {
                end = Some(w);
                if base.len() < word.len() {
                    slot = word[base.len()..].to_string();
                }
            }
            Some(_) => return None,
            None => days.push(word),
        }
    }
    let days = days.join(" ");
    (!days.is_empty() && hours::names_days(&days)).then_some((end?, days, slot))
}

/// The record's day fields paired: each start with the end of the same
/// days and slot, both texts present.
pub(super) fn day_pairs(record: &Map<String, Value>) -> Vec<DayPair> {
    let ends: Vec<(&String, End, String, String, &str)> = record
        .iter()
        .filter_map(|(k, v)| {
            let (end, days, slot) = read_key(k)?;
            let text = v.as_str().map(str::trim).filter(|t| !t.is_empty())?;
            Some((k, end, days, slot, text))
        })
        .collect();
    ends.iter()
        .filter(|(_, end, ..)| *end == End::Start)
        .filter_map(|(key, _, days, slot, opens)| {
            let (end_key, .., closes) = ends
                .iter()
                .find(|(_, e, d, s, _)| *e == End::Finish && d == days && s == slot)?;
            Some(DayPair {
                start_key: key.to_string(),
                end_key: end_key.to_string(),
                text: format!("{days} {opens}-{closes}"),
            })
        })
        .collect()
}

/// An object of days each true or false (`{"monday": false, "tuesday":
/// true}`) as the true days' names ("tuesday"); `None` for any other
/// object, and for one where no day is true.
pub(super) fn flagged_days(inner: &Map<String, Value>) -> Option<String> {
    let flags = !inner.is_empty()
        && inner
            .iter()
            .all(|(k, v)| v.is_boolean() && hours::names_days(k));
    let open: Vec<&str> = inner
        .iter()
        .filter(|(_, v)| v.as_bool() == Some(true))
        .map(|(k, _)| k.as_str())
        .collect();
    (flags && !open.is_empty()).then(|| open.join(", "))
}

/// What one day of a day-keyed object says: a text, an opening object
/// (`{"open": "0900", "close": "1200"}`), or a list of either.
pub(super) fn day_texts(value: &Value) -> Vec<String> {
    match value {
        Value::String(t) if !t.trim().is_empty() => vec![t.clone()],
        // `{"openIntervals": [{"start": "09:00", "end": "11:00"}, ...]}`:
        // each interval in the list the object holds.
        Value::Object(o) => match schedule_text(o) {
            Some(text) => vec![text],
            None => o
                .values()
                .filter(|v| v.is_array())
                .flat_map(day_texts)
                .collect(),
        },
        Value::Array(items) => match opening_and_closing(items) {
            Some(range) => vec![range],
            None => items.iter().flat_map(day_texts).collect(),
        },
        _ => Vec::new(),
    }
}

/// `["10:00 AM", "12:00 PM"]`: a list of two times, an opening and a
/// closing, as one range.
pub(super) fn opening_and_closing(items: &[Value]) -> Option<String> {
    match items {
        [Value::String(opens), Value::String(closes)]
            if hours::is_time(opens) && hours::is_time(closes) =>
        {
            Some(format!("{opens} - {closes}"))
        }
        _ => None,
    }
}

/// The days a key names, besides words for hours ("Mon", "tuesday_hours",
/// "HoursWednesday"): `None` for a key that names no day or more. A
/// `weekday` key holds a day: it names none.
pub(super) fn days_of_key(key: &str) -> Option<String> {
    let hourly = [
        "hours", "hour", "hrs", "open", "opening", "time", "times", "schedule", "weekday",
    ];
    let words: Vec<String> = classify::words(key)
        .into_iter()
        .filter(|w| !hourly.contains(&w.as_str()))
        .collect();
    let days = words.join(" ");
    (!words.is_empty() && hours::names_days(&days)).then_some(days)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn texts(v: Value) -> Vec<String> {
        let record = v.as_object().cloned().unwrap_or_default();
        day_pairs(&record).into_iter().map(|p| p.text).collect()
    }

    #[test]
    fn a_days_start_and_end_fields_make_one_text() {
        assert_eq!(
            texts(
                json!({"start1_Tuesday": "10:00 AM", "end1_Tuesday": "2:00 PM",
                         "start2_Tuesday": "4:00 PM", "end2_Tuesday": "6:00 PM"})
            ),
            ["tuesday 10:00 AM-2:00 PM", "tuesday 4:00 PM-6:00 PM"]
        );
        assert_eq!(
            texts(json!({"mondayOpen": "9:00", "mondayClose": "12:00"})),
            ["monday 9:00-12:00"]
        );
        // A start without its end, an empty end, or another day's end: none.
        assert!(texts(json!({"start1_Tuesday": "10:00 AM"})).is_empty());
        assert!(texts(json!({"start1_Tuesday": "10:00 AM", "end1_Tuesday": " "})).is_empty());
        assert!(texts(json!({"start1_Tuesday": "10:00 AM", "end1_Friday": "2:00 PM"})).is_empty());
        // A key that is no day's: none.
        assert!(texts(json!({"start_date": "2024-01-01", "end_date": "2024-02-01"})).is_empty());
    }

    #[test]
    fn a_list_of_two_times_is_one_range() {
        assert_eq!(
            day_texts(&json!(["10:00 AM", "12:00 PM"])),
            ["10:00 AM - 12:00 PM"]
        );
        // Three times, or a time and a word, are read item by item.
        assert_eq!(day_texts(&json!(["9:00", "11:00", "1:00"])).len(), 3);
        assert_eq!(day_texts(&json!(["10:00 AM", "closed"])).len(), 2);
    }
}
