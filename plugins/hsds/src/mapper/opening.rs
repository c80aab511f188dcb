//! Opening times given as objects rather than text: a store locator's
//! `{"day_of_week": "Monday", "start_time": "0900", "end_time": "1200"}`,
//! HSDS' own `{byday, opens_at, closes_at}`, `{"day": "Monday", "hours":
//! "9-5"}`, a mobile pantry's stop `{"date": "2024-06-01", "start_time":
//! "10:00 AM", "end_time": "12:00 PM"}` or `{"start":
//! "2024-06-01T10:00:00", "end": ...}`, each read as one text the hours
//! parser takes.

use serde_json::{Map, Value};

use super::parts::spelled;
use crate::hours::ordinal_word;

/// An opening time given as an object, as one text: `{byday: "TH,FR",
/// opens_at: "10:00", closes_at: "18:00"}` as "TH,FR 10:00-18:00",
/// `{day_of_week: "Monday", start_time: "0900", end_time: "1200"}` as
/// "Monday 09:00-12:00", `{day: "Monday", hours: "9-5"}` as "Monday 9-5".
/// Keys are read by their words (a day; an opening, start or from; a
/// closing, end or to). None for an object without opening times.
pub(super) fn schedule_text(object: &Map<String, Value>) -> Option<String> {
    if let Some(text) = period(object) {
        return Some(text);
    }
    let (texts, date) = key_texts(object);
    let find = |words: &[&str]| keyed(&texts, words, false).map(|(_, v)| v);
    // An opening's or closing's time, not its day (`openDay`, `openTime`).
    let timed = |words: &[&str]| keyed(&texts, words, true);
    // `"start_minute": 600`: a count the key names the unit of.
    let opens = timed(&["open", "start", "begin", "from"]).and_then(counted_time);
    let closes = timed(&["close", "end", "until", "to"]).and_then(counted_time);
    // `"start": "2024-06-01T10:00:00"`: the date and the time of day.
    let (opens, start_date) = opens
        .as_deref()
        .map(split_datetime)
        .map(|(t, d)| (t.to_string(), d))
        .unzip();
    let closes = closes.as_deref().map(|c| split_datetime(c).0.to_string());
    // A recurrence rule's days, else the weekday a weekly schedule gives,
    // else the day of an event.
    let rule = texts.iter().find_map(|(_, v)| crate::hours::rrule_days(v));
    let numbered = from_monday(object);
    // `"recurrence": "Every week on Wednesday"`: a text that says the days.
    let repeats =
        || find(&["recur", "repeat", "pattern", "frequency"]).filter(|t| crate::hours::has_days(t));
    let days = rule
        .as_deref()
        .or(numbered)
        .or_else(|| find(&["day", "dow"]))
        .or_else(repeats)
        .or(date.as_deref())
        .or(start_date.flatten())
        .unwrap_or_default();
    // `"weekOfMonth": "2"`: which of the month's such days.
    let nth = texts
        .iter()
        .find(|(k, _)| is_week_of_month(k))
        .and_then(|(_, v)| week_of_month(v));
    let days = match nth {
        Some(nth) if !days.is_empty() => format!("{nth} {days}"),
        _ => days.to_string(),
    };
    let text = match (opens, closes) {
        (Some(opens), Some(closes)) => format!("{days} {}-{}", clock(&opens), clock(&closes)),
        _ if !days.is_empty() => format!("{days} {}", find(&["hour", "time"])?),
        _ => return None,
    };
    Some(text.trim().to_string())
}

/// An object's values as texts by key (lower case, letters and digits
/// only), with the date an event's `date` gives; a date's own start or end
/// (`dtstart`, `valid_from`) is no time of day and is left out.
fn key_texts(object: &Map<String, Value>) -> (Vec<(String, String)>, Option<String>) {
    let mut date: Option<String> = None;
    let texts: Vec<(String, String)> = object
        .iter()
        .filter_map(|(k, v)| {
            let k = spelled(k);
            // `"days": ["Monday", "Wednesday"]`: the list as one text.
            let v = match v {
                // `"weeksOfMonth": [1, 3]`.
                Value::Array(items) => {
                    let texts: Vec<String> = items
                        .iter()
                        .filter_map(|i| match i {
                            Value::String(s) => Some(s.clone()),
                            Value::Number(n) => Some(n.to_string()),
                            _ => None,
                        })
                        .collect();
                    texts.join(", ")
                }
                // `"week_of_month": 3`; `"from": 9.5`, hours and a fraction.
                Value::Number(n) if n.is_f64() => crate::hours::number_clock(n)?,
                Value::Number(n) => n.to_string(),
                // `"openTime": {"hours": 10, "minutes": 30}`.
                Value::Object(t) => hours_minutes(t)?,
                v => v.as_str()?.trim().to_string(),
            };
            if v.is_empty() {
                return None;
            }
            // A date's start or end (`dtstart`, `valid_from`) is not a time
            // of day; an event's `date` is its day.
            if k == "date" || k == "eventdate" {
                date = Some(v.clone());
            }
            let dated = k.starts_with("dt") || k.contains("valid") || k.contains("date");
            (!dated).then_some((k, v))
        })
        .collect();
    (texts, date)
}

/// A date field beside an opening's and a closing's time fields (a food
/// bank's event, `"event_date": "2024-07-09", "start_time": "10:00:00",
/// "end_time": "12:00:00"`): the dated opening, and the keys it was made
/// of.
pub(super) fn dated_opening(object: &Map<String, Value>) -> Option<(String, Vec<String>)> {
    let (texts, date) = key_texts(object);
    let date = date.filter(|d| crate::hours::starts_with_date(d))?;
    let timed = |words: &[&str]| keyed(&texts, words, true);
    let (open_key, opens) = timed(&["open", "start", "begin", "from"])?;
    let (close_key, closes) = timed(&["close", "end", "until", "to"])?;
    let used = object
        .keys()
        .filter(|k| {
            let b = spelled(k);
            b == open_key || b == close_key || b == "date" || b == "eventdate"
        })
        .cloned()
        .collect();
    let day = date.get(..10).unwrap_or(&date);
    Some((format!("{day} {}-{}", clock(opens), clock(closes)), used))
}

/// The first key holding one of `words` (tried in order; a word under three
/// letters must be the whole key), and its text; past keys that name a day
/// when `not_days`.
fn keyed<'t>(
    texts: &'t [(String, String)],
    words: &[&str],
    not_days: bool,
) -> Option<(&'t str, &'t str)> {
    words.iter().find_map(|w| {
        texts
            .iter()
            .filter(|(k, _)| !(not_days && k.contains("day")))
            .find(|(k, _)| if w.len() < 3 { k == w } else { k.contains(w) })
            .map(|(k, v)| (k.as_str(), v.as_str()))
    })
}

/// The days of the week from Monday.
const FROM_MONDAY: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// A places API's period, `{"open": {"day": 2, "time": "0900"}, "close":
/// {"day": 2, "time": "1100"}}` (days numbered from Sunday, 0), as
/// "Tuesday 09:00-11:00". `None` for any other object, and for a period
/// without a close (the API's way of saying open round the clock).
fn period(object: &Map<String, Value>) -> Option<String> {
    let end = |key: &str| -> Option<(u64, &str)> {
        let o = object.get(key)?.as_object()?;
        Some((o.get("day")?.as_u64()?, o.get("time")?.as_str()?))
    };
    let (day, opens) = end("open")?;
    let (_, closes) = end("close")?;
    let day = usize::try_from(day).ok().filter(|d| *d < 7)?;
    let day = FROM_MONDAY[(day + 6) % 7];
    Some(format!("{day} {}-{}", clock(opens), clock(closes)))
}

/// `{"hours": 10, "minutes": 30}` (a business profile's time of day) as
/// "10:30"; `None` for any other object or an hour out of the day.
fn hours_minutes(t: &Map<String, Value>) -> Option<String> {
    let hours = t.get("hours")?.as_u64().filter(|h| *h <= 24)?;
    let minutes = match t.get("minutes") {
        Some(m) => m.as_u64().filter(|m| *m < 60)?,
        None => 0,
    };
    let seconds = u32::try_from(hours * 3600 + minutes * 60).ok()?;
    Some(crate::hours::clock(seconds))
}

/// A calendar event's own times, `"start": {"dateTime":
/// "2026-12-08T10:00:00-05:00"}, "end": {...}` (or the date-times as
/// texts), as "2026-12-08 10:00:00-12:00:00"; `None` unless both are
/// date-times of one day.
pub(super) fn event_times(object: &Map<String, Value>) -> Option<String> {
    // `"start": {"local": ...}` (a ticketing platform's local time, beside
    // its UTC one), `"start_time": "2024-08-10T10:00:00-0400"`.
    let at = |keys: &[&str]| -> Option<&str> {
        keys.iter().find_map(|key| match object.get(*key)? {
            Value::String(s) => Some(s.as_str()),
            Value::Object(o) => o.get("dateTime").or_else(|| o.get("local"))?.as_str(),
            _ => None,
        })
    };
    let (opens, day) = split_datetime(at(&["start", "start_time", "startTime"])?);
    let (closes, end_day) = split_datetime(at(&["end", "end_time", "endTime"])?);
    let day = day.filter(|d| end_day == Some(*d))?;
    Some(format!("{day} {opens}-{closes}"))
}

/// A review site's opening, `{"day": 1, "start": "1000", "end": "1200",
/// "is_overnight": false}`: its days are numbered from Monday, 0 (its
/// `is_overnight` tells it from other numberings, which are not guessed);
/// an `isoWeekday` from Monday, 1.
fn from_monday(object: &Map<String, Value>) -> Option<&'static str> {
    // ISO 8601's numbering, by its name: Monday is 1, Sunday 7.
    let iso = object.iter().find_map(|(k, v)| {
        let k = k.to_ascii_lowercase();
        (k.starts_with("iso") && k.contains("day")).then(|| v.as_u64())?
    });
    let index = match iso {
        Some(n) => n.checked_sub(1)?,
        None => {
            object.get("is_overnight")?;
            object.get("day")?.as_u64()?
        }
    };
    FROM_MONDAY.get(usize::try_from(index).ok()?).copied()
}

/// A time given as a count whose key names its unit (`"start_minute":
/// 600`, `"openSeconds": 36000`) as "10:00", a clock's digits under a key
/// that names a time (`"open_time": 900`) as "09:00"; any other value as it
/// is (`"start": 600` is no time: a count or a clock, the key does not say).
/// `None` for a count past the day's end or not a count at all.
fn counted_time((key, value): (&str, &str)) -> Option<String> {
    let unit = if key.contains("minute") || key.ends_with("min") || key.ends_with("mins") {
        60
    } else if key.contains("second") || key.ends_with("sec") || key.ends_with("secs") {
        1
    } else if key.contains("time") {
        // `"open_time": 900`: a key that names a time of day, its clock's
        // digits.
        return Some(crate::hours::digits_clock(value).unwrap_or_else(|| value.to_string()));
    } else {
        return Some(value.to_string());
    };
    let s = value.parse::<u32>().ok()?.checked_mul(unit)?;
    (s <= 24 * 3600).then(|| crate::hours::clock(s))
}

/// A key that says which week of the month (`weekOfMonth`,
/// `week_of_month`, `occurrence`, `nth`, `week`).
fn is_week_of_month(key: &str) -> bool {
    matches!(key, "week" | "nth" | "weeknumber" | "ordinal")
        || key.contains("weekofmonth")
        || key.contains("weeksofmonth")
        || key.contains("occurrence")
}

/// A week-of-month value as the ordinals the hours parser reads ("2" as
/// "2nd", "-1" as "last", "first" as it is, a list `[1, 3]` as "1st &
/// 3rd"); `None` for every week ("", "0", "every", "all") and anything
/// else.
fn week_of_month(value: &str) -> Option<String> {
    let weeks: Option<Vec<&str>> = value.split(',').map(one_week).collect();
    Some(weeks?.join(" & "))
}

/// One week of the month as its ordinal ("2" as "2nd").
fn one_week(value: &str) -> Option<&'static str> {
    const WORDS: [&str; 5] = ["first", "second", "third", "fourth", "fifth"];
    let v = value.trim().to_ascii_lowercase();
    let n = match v.as_str() {
        "last" => -1,
        v => v
            .parse::<i32>()
            .ok()
            .or_else(|| WORDS.iter().position(|w| *w == v).map(|i| i as i32 + 1))
            .or_else(|| (1..=5).find(|&n| ordinal_word(n) == Some(v)))?,
    };
    ordinal_word(n)
}

/// Whether an object holds a start and an end time (an event).
pub(super) fn has_times(object: &Map<String, Value>) -> bool {
    let keys: Vec<String> = object.keys().map(|k| k.to_ascii_lowercase()).collect();
    let any = |w: &str| keys.iter().any(|k| k.contains(w) && k.contains("time"));
    (any("start") || any("open")) && (any("end") || any("close"))
}

/// "2024-06-01T10:00:00" as ("10:00:00", Some("2024-06-01")); a time
/// alone as it is.
fn split_datetime(text: &str) -> (&str, Option<&str>) {
    match text.split_once(['T', ' ']) {
        Some((day, time)) if crate::hours::starts_with_date(day) => {
            // An offset or zone after the time is not part of it.
            let end = time.find(['+', 'Z', 'z']).unwrap_or(time.len());
            let time = match time[..end].rfind('-') {
                Some(i) if i > 4 => &time[..i],
                _ => &time[..end],
            };
            (time, Some(day))
        }
        // "09:00:00-05:00", "09:00Z": a time of day with its offset.
        _ => (without_offset(text), None),
    }
}

/// A clock time with seconds without the UTC offset after it
/// ("09:00:00-05:00" is "09:00:00"); any other text as it is ("09:00-12:00"
/// is a range, not a time and its offset).
fn without_offset(text: &str) -> &str {
    let t = text.trim();
    let cut = t
        .char_indices()
        .skip(4)
        .find(|(_, c)| matches!(c, '+' | '-' | 'Z' | 'z'))
        .map(|(i, _)| i);
    match cut {
        Some(i) if crate::hours::is_time(&t[..i]) && t[..i].matches(':').count() == 2 => &t[..i],
        _ => text,
    }
}

/// "0900" (a 24-hour clock without its colon) as "09:00"; anything else
/// as it is.
fn clock(text: &str) -> String {
    match text.len() {
        4 => crate::hours::digits_clock(text).unwrap_or_else(|| text.to_string()),
        _ => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn text(v: Value) -> Option<String> {
        schedule_text(v.as_object()?)
    }

    #[test]
    fn a_week_of_month_field_makes_the_day_an_ordinal() {
        let day = |week: Value| {
            text(json!({"dayOfWeek": "Saturday", "weekOfMonth": week,
                        "startTime": "09:00:00", "endTime": "11:00:00"}))
        };
        assert_eq!(
            day(json!("2")).as_deref(),
            Some("2nd Saturday 09:00:00-11:00:00")
        );
        assert_eq!(
            day(json!("-1")).as_deref(),
            Some("last Saturday 09:00:00-11:00:00")
        );
        assert_eq!(
            day(json!("third")).as_deref(),
            Some("3rd Saturday 09:00:00-11:00:00")
        );
        assert_eq!(
            day(json!(3)).as_deref(),
            Some("3rd Saturday 09:00:00-11:00:00")
        );
        for every in [json!(""), json!("0"), json!(0), json!("every"), json!("9")] {
            assert_eq!(day(every).as_deref(), Some("Saturday 09:00:00-11:00:00"));
        }
    }

    #[test]
    fn a_places_apis_period_counts_days_from_sunday() {
        let period = |day: Value| {
            text(json!({"open": {"day": day, "time": "0900"},
                        "close": {"day": 2, "time": "1100"}}))
        };
        assert_eq!(period(json!(2)).as_deref(), Some("Tuesday 09:00-11:00"));
        assert_eq!(period(json!(0)).as_deref(), Some("Sunday 09:00-11:00"));
        // A day out of the week, or given as text, makes no period.
        assert_eq!(period(json!(7)), None);
        assert_eq!(period(json!(-1)), None);
        assert_eq!(text(json!({"open": {"day": 0, "time": "0000"}})), None);
    }

    #[test]
    fn a_review_sites_days_count_from_monday_and_no_other_numbering_is_guessed() {
        let yelp = |day: Value| {
            text(json!({"is_overnight": false, "start": "1000", "end": "1200", "day": day}))
        };
        assert_eq!(yelp(json!(1)).as_deref(), Some("Tuesday 10:00-12:00"));
        assert_eq!(yelp(json!(6)).as_deref(), Some("Sunday 10:00-12:00"));
        assert_eq!(yelp(json!(7)).as_deref(), Some("7 10:00-12:00"));
        // Without the review site's mark, a number is not a day.
        let bare = text(json!({"start": "1000", "end": "1200", "day": 1}));
        assert_eq!(bare.as_deref(), Some("1 10:00-12:00"));
        // ISO's numbering, named by its key.
        let iso = |day: Value| text(json!({"isoWeekday": day, "open": "10:00", "close": "12:00"}));
        assert_eq!(iso(json!(2)).as_deref(), Some("Tuesday 10:00-12:00"));
        assert_eq!(iso(json!(7)).as_deref(), Some("Sunday 10:00-12:00"));
        assert_eq!(iso(json!(0)).as_deref(), Some("0 10:00-12:00"));
    }

    #[test]
    fn a_time_as_a_count_of_the_unit_its_key_names() {
        let t = text(json!({"weekday": "Wednesday", "start_minute": 600, "end_minute": 750}));
        assert_eq!(t.as_deref(), Some("Wednesday 10:00-12:30"));
        let t = text(json!({"day": "Friday", "openSeconds": 32400, "closeSeconds": 39600}));
        assert_eq!(t.as_deref(), Some("Friday 09:00-11:00"));
        // Past the day's end, or not a count: no time (not 15:00).
        assert_eq!(
            text(json!({"day": "Friday", "open_min": 1500, "close_min": 600})),
            None
        );
        assert_eq!(
            text(json!({"day": "Friday", "open_min": 540, "close_min": "ten"})),
            None
        );
        // A count without a unit in its key is no time.
        let t = text(json!({"day": "Friday", "start": 600, "end": 720}));
        assert_eq!(t.as_deref(), Some("Friday 600-720"));
    }

    #[test]
    fn weeks_of_the_month_as_a_list_and_times_as_numbers() {
        let t = text(
            json!({"dayOfWeek": "Tuesday", "startTime": "1000", "endTime": "1200",
                            "weeksOfMonth": [1, 3]}),
        );
        assert_eq!(t.as_deref(), Some("1st & 3rd Tuesday 10:00-12:00"));
        // Hours and a quarter's fraction; a clock's digits under a key
        // that names a time.
        let t = text(json!({"day": "Wed", "from": 9.5, "to": 11.75}));
        assert_eq!(t.as_deref(), Some("Wed 09:30-11:45"));
        let t = text(json!({"day": "Wed", "open_time": 900, "close_time": 1130}));
        assert_eq!(t.as_deref(), Some("Wed 09:00-11:30"));
        // 9.3 is 9:18 or a clock's "9.30": neither is guessed.
        assert_eq!(text(json!({"day": "Wed", "from": 9.3, "to": 11.5})), None);
        assert_eq!(text(json!({"day": "Wed", "from": 25.5, "to": 26.0})), None);
    }

    #[test]
    fn a_recurrence_rule_gives_the_days() {
        let t = text(json!({"rrule": "FREQ=MONTHLY;BYDAY=1TU", "start": "10:00", "end": "12:00"}));
        assert_eq!(t.as_deref(), Some("1st tu 10:00-12:00"));
    }
}
