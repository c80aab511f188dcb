//! Free-text pantry opening hours into HSDS `schedule` objects.
//!
//! The rules of the `pantry_hours` job type (Python), ported so the Rust
//! mapper reads hours in-process instead of spawning a child job per record
//! (a child job would cost a queue round trip and a 12 MB Python instance
//! for what is a few regular expressions). Anything it cannot read is
//! returned as unparsed, never guessed.
//!
//! Reads: "Monday: 9:00:00-12:00:00", "Tues 10:00-11:00am", "Mon-Fri 9am-5pm",
//! "M - F: 8:30a-4:30", "2nd & 4th Tuesday 12:00pm - 4:00pm", "Sundays from
//! 4:00 pm until 6:00 pm", "Monday: Closed Tuesday: 12:00 PM - 02:00 PM".
//! A time range takes its days (and ordinals) from the text just before it,
//! else from the text just after it on the same line, never from a line of
//! its own.

use regex::Regex;
use serde_json::{Value, json};
use std::sync::OnceLock;

const ORDER: [&str; 7] = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"];
// English, then Spanish.
const DAY_PATTERNS: [&str; 7] = [
    r"mon(?:day)?s?|mo|m|lunes",
    r"tue(?:s(?:day)?)?s?|tu|martes",
    r"wed(?:nesday)?s?|we|w|mi[ée]rcoles",
    r"thu(?:r(?:s(?:day)?)?)?s?|th|jueves",
    r"fri(?:day)?s?|fr|f|viernes",
    r"sat(?:urday)?s?|sa|s[áa]bados?",
    r"sun(?:day)?s?|su|domingos?",
];
// A meridiem ends its word: the "a" of "10-2 and" is not one.
const TIME: &str = r"(?:noon|midnight|\d{1,2}(?::\d{2}){0,2}\s*(?:(?:am|pm|a|p)\b)?)";

struct Patterns {
    day: Regex,
    range: Regex,
    ordinal: Regex,
    time: Regex,
    between_days: Regex,
}

fn patterns() -> &'static Patterns {
    static P: OnceLock<Patterns> = OnceLock::new();
    P.get_or_init(|| {
        let days: Vec<String> = DAY_PATTERNS
            .iter()
            .enumerate()
            .map(|(i, p)| format!("(?P<d{i}>{p})"))
            .collect();
        let compile = |p: &str| Regex::new(p).unwrap_or_else(|e| panic!("hours pattern {p}: {e}"));
        Patterns {
            day: compile(&format!(r"\b(?:{})\b", days.join("|"))),
            range: compile(&format!(
                r"(?P<start>{TIME})\s*(?:-|to|until|till|through)\s*(?P<end>{TIME})"
            )),
            ordinal: compile(r"\b(1st|first|2nd|second|3rd|third|4th|fourth|5th|fifth|last)\b"),
            time: compile(r"^(\d{1,2})(?::(\d{2}))?(?::(\d{2}))?\s*(am|pm|a|p)?$"),
            between_days: compile(r"^\s*(?:-|to|through|thru|a|al|hasta)\s*$"),
        }
    })
}

/// What [`parse`] read.
#[derive(Debug, Clone, PartialEq)]
pub struct Hours {
    /// HSDS schedules (`freq`, `byday`, `opens_at`, `closes_at`, `description`).
    pub schedules: Vec<Value>,
    /// Pieces it could not read.
    pub unparsed: Vec<String>,
}

/// Whether `text` reads like opening hours (a day and a time range, or a
/// time range with am/pm).
pub fn looks_like_hours(text: &str) -> bool {
    let t = normalise(text);
    let p = patterns();
    let has_range = p
        .range
        .find_iter(&t)
        .any(|m| clean_edges(&t, m.start(), m.end()));
    has_range && (names_a_day(&t) || t.contains("am") || t.contains("pm"))
}

/// Whether normalised text names a day, or days at once ("daily").
fn names_a_day(t: &str) -> bool {
    patterns().day.is_match(t)
        || ["daily", "weekday", "weekend"]
            .iter()
            .any(|w| t.contains(w))
}

/// Whether `text` speaks of opening times at all: a day and a clock time
/// ("3rd Monday of the Month, 10am"), even where [`parse`] cannot read it.
pub fn mentions_hours(text: &str) -> bool {
    let t = normalise(text);
    let clock = t
        .split(|c: char| !c.is_ascii_alphanumeric() && c != ':')
        .any(|w| {
            let digits = w.trim_end_matches(|c: char| c.is_ascii_alphabetic());
            let suffix = &w[digits.len()..];
            !digits.is_empty()
                && digits.len() <= 5
                && digits.chars().all(|c| c.is_ascii_digit() || c == ':')
                && (matches!(suffix, "am" | "pm" | "a" | "p") || digits.contains(':'))
        });
    looks_like_hours(text) || (names_a_day(&t) && (clock || t.contains("noon")))
}

/// Whether `text` names days and nothing else ("Monday", "mon-fri",
/// "TH,FR", "weekdays"): a key of a day-by-day hours object, say.
pub fn names_days(text: &str) -> bool {
    let t = normalise(&text.replace('_', " "));
    if parse_days(&t).is_empty() {
        return false;
    }
    let rest = patterns().day.replace_all(&t, " ");
    rest.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .all(|w| {
            matches!(
                w,
                "daily"
                    | "weekday"
                    | "weekdays"
                    | "weekend"
                    | "weekends"
                    | "to"
                    | "and"
                    | "thru"
                    | "through"
            )
        })
}

/// Reads `text` into schedules.
pub fn parse(text: &str) -> Hours {
    let mut schedules = Vec::new();
    let mut unparsed = Vec::new();
    // Each line (or `;`-separated part) is read on its own.
    for line in text.split(['\n', ';', '|']) {
        if line.trim().is_empty() {
            continue;
        }
        let (s, u) = parse_line(line);
        schedules.extend(s);
        unparsed.extend(u);
    }
    if schedules.is_empty()
        && let Some(days) = round_the_clock(text)
    {
        unparsed.clear();
        schedules.push(json!({
            "freq": "WEEKLY",
            "byday": days.join(","),
            "opens_at": "00:00",
            "closes_at": "23:59",
            "description": text.trim(),
        }));
    }
    if schedules.is_empty() && unparsed.is_empty() && !text.trim().is_empty() {
        unparsed.push(text.trim().to_string());
    }
    Hours {
        schedules: merge(schedules),
        unparsed,
    }
}

/// "24/7", "Open 24 hours", "24 hrs Mon-Fri": open round the clock, on the
/// days the text names (every day when it names none).
fn round_the_clock(text: &str) -> Option<Vec<&'static str>> {
    let t = normalise(text);
    let words: Vec<&str> = t
        .split(|c: char| !c.is_ascii_alphanumeric() && c != '/')
        .collect();
    let days = parse_days(&t);
    let day_long = words
        .windows(2)
        .any(|w| w[0] == "24" && matches!(w[1], "hours" | "hrs"))
        || words.iter().any(|w| matches!(*w, "24hrs" | "24hours"));
    // "24 hours" is an opening time only as one: "open 24 hours", "24
    // hours a day", "24 hrs Mon-Fri", not "call 24 hours ahead".
    let opening = words.contains(&"open")
        || t.contains("a day")
        || !days.is_empty()
        || t.trim_end_matches('.') == "24 hours";
    if !(words.contains(&"24/7") || (day_long && opening)) {
        return None;
    }
    Some(if days.is_empty() {
        ORDER.to_vec()
    } else {
        days
    })
}

fn normalise(text: &str) -> String {
    let mut t = text
        .to_lowercase()
        .replace(['\u{2013}', '\u{2014}', '\u{2012}'], "-");
    for (from, to) in [("a.m.", "am"), ("p.m.", "pm"), ("a.m", "am"), ("p.m", "pm")] {
        t = t.replace(from, to);
    }
    t = t.replace('&', " and ");
    t.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A match is a time range only if it is not glued to more digits.
fn clean_edges(t: &str, start: usize, end: usize) -> bool {
    let before = t[..start].chars().next_back();
    let after = t[end..].chars().next();
    !before.is_some_and(|c| c.is_ascii_digit() || c == ':')
        && !after.is_some_and(|c| c.is_ascii_digit() || c == ':')
}

fn parse_line(text: &str) -> (Vec<Value>, Vec<String>) {
    let t = normalise(text);
    let p = patterns();
    let ranges: Vec<_> = p
        .range
        .captures_iter(&t)
        .filter(|c| {
            let m = c.get(0).map_or((0, 0), |m| (m.start(), m.end()));
            clean_edges(&t, m.0, m.1)
        })
        .collect();
    let mut schedules = Vec::new();
    let mut unparsed = Vec::new();
    let mut previous_end = 0;
    for (n, r) in ranges.iter().enumerate() {
        let whole = r.get(0).map_or((0, 0), |m| (m.start(), m.end()));
        let before_all = &t[previous_end..whole.0];
        // "monday: closed tuesday: 12-2": only what follows the last "closed".
        let before = before_all.rsplit("closed").next().unwrap_or("");
        let next_start = ranges
            .get(n + 1)
            .and_then(|c| c.get(0))
            .map_or(t.len(), |m| m.start());
        let after_all = &t[whole.1..next_start];
        let after = after_all.split(['.', ',']).next().unwrap_or("");
        let after = after.split("closed").next().unwrap_or("");
        previous_end = whole.1;
        let span = match (parse_time(&r["start"]).zip(parse_time(&r["end"])),) {
            (Some((s, e)),) => resolve(s, e),
            _ => None,
        };
        let Some((opens, closes)) = span else {
            unparsed.push(r[0].to_string());
            continue;
        };
        // Days and ordinals from the same side: before the range, else after.
        let (days, side) = match parse_days(before) {
            d if !d.is_empty() => (d, before),
            _ => (parse_days(after), after),
        };
        if days.is_empty() {
            unparsed.push(format!("{}{}", before, &r[0]).trim().to_string());
            continue;
        }
        let mut ordinals: Vec<i32> = p
            .ordinal
            .find_iter(side)
            .map(|m| ordinal(m.as_str()))
            .collect();
        ordinals.sort_unstable();
        ordinals.dedup();
        let (freq, byday) = if ordinals.is_empty() {
            ("WEEKLY", days.join(","))
        } else {
            let mut parts = Vec::new();
            for d in &days {
                for o in &ordinals {
                    parts.push(format!("{o}{d}"));
                }
            }
            ("MONTHLY", parts.join(","))
        };
        schedules.push(json!({
            "freq": freq,
            "byday": byday,
            "opens_at": clock(opens),
            "closes_at": clock(closes),
            "description": text.trim(),
        }));
    }
    if ranges.is_empty() && !t.is_empty() {
        unparsed.push(text.trim().to_string());
    }
    (schedules, unparsed)
}

fn ordinal(word: &str) -> i32 {
    match word {
        "1st" | "first" => 1,
        "2nd" | "second" => 2,
        "3rd" | "third" => 3,
        "4th" | "fourth" => 4,
        "5th" | "fifth" => 5,
        _ => -1,
    }
}

/// (hour, minute, second, meridiem: Some(true) for pm).
type Time = (u32, u32, u32, Option<bool>);

fn parse_time(raw: &str) -> Option<Time> {
    let raw = raw.trim();
    match raw {
        "noon" => return Some((12, 0, 0, Some(true))),
        "midnight" => return Some((0, 0, 0, Some(false))),
        _ => {}
    }
    let c = patterns().time.captures(raw)?;
    let num = |i: usize| c.get(i).map_or(Some(0), |m| m.as_str().parse::<u32>().ok());
    let (h, m, s) = (num(1)?, num(2)?, num(3)?);
    let meridiem = c.get(4).map(|m| m.as_str().starts_with('p'));
    if h > 23 || m > 59 || s > 59 || (meridiem.is_some() && !(1..=12).contains(&h)) {
        return None;
    }
    Some((h, m, s, meridiem))
}

fn to_24(hour: u32, pm: Option<bool>) -> u32 {
    match pm {
        Some(false) if hour == 12 => 0,
        Some(true) if hour != 12 => hour + 12,
        _ => hour,
    }
}

/// Both ends in seconds since midnight, inferring a missing am/pm.
fn resolve(start: Time, end: Time) -> Option<(u32, u32)> {
    let secs = |h: u32, m: u32, s: u32| h * 3600 + m * 60 + s;
    let (sh, sm, ss, smer) = start;
    let (eh, em, es, emer) = end;
    if emer.is_none() && smer.is_some() {
        // "8:30a-4:30": the first reading of the end after the start.
        let s = secs(to_24(sh, smer), sm, ss);
        let mut candidates = vec![secs(eh, em, es)];
        if eh <= 12 {
            candidates.push(secs(to_24(eh, Some(true)), em, es));
        }
        return candidates
            .into_iter()
            .filter(|c| *c > s)
            .min()
            .map(|e| (s, e));
    }
    let mut e = secs(to_24(eh, emer), em, es);
    if smer.is_none() && emer.is_none() && eh < 12 && e <= secs(sh, sm, ss) && sh <= 12 {
        // "9-5", "10-2": no pantry opens overnight, so the end is in the
        // afternoon (the start, a morning hour, stays as it is).
        e += 12 * 3600;
    }
    if smer.is_none() {
        // "9:00-1:00 pm": the reading of the start that comes before the end.
        let mut candidates = vec![secs(sh, sm, ss)];
        if sh < 12 {
            candidates.push(secs(sh + 12, sm, ss));
        }
        return candidates
            .into_iter()
            .filter(|c| *c < e)
            .max()
            .map(|s| (s, e));
    }
    let s = secs(to_24(sh, smer), sm, ss);
    (s < e).then_some((s, e))
}

fn clock(seconds: u32) -> String {
    format!("{:02}:{:02}", seconds / 3600, seconds / 60 % 60)
}

/// Day codes named in `text`, ranges ("mon-fri", "m - th") expanded, in
/// week order.
fn parse_days(text: &str) -> Vec<&'static str> {
    let p = patterns();
    let matches: Vec<(usize, usize, usize)> = p
        .day
        .captures_iter(text)
        .filter_map(|c| {
            let whole = c.get(0)?;
            let day = (0..7).find(|i| c.name(&format!("d{i}")).is_some())?;
            Some((day, whole.start(), whole.end()))
        })
        .collect();
    let mut found = [false; 7];
    // Words for several days at once.
    let words: Vec<&str> = text
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let phrase = |a: &str, b: &str| words.windows(2).any(|w| w[0] == a && w[1] == b);
    if words.contains(&"daily") || phrase("every", "day") || phrase("7", "days") {
        found = [true; 7];
    }
    if words.iter().any(|w| matches!(*w, "weekday" | "weekdays")) {
        found[..5].fill(true);
    }
    if words.iter().any(|w| matches!(*w, "weekend" | "weekends")) {
        found[5..].fill(true);
    }
    let mut i = 0;
    while i < matches.len() {
        let (day, _, end) = matches[i];
        if let Some(&(next, next_start, _)) = matches.get(i + 1)
            && p.between_days.is_match(&text[end..next_start])
        {
            let mut d = day;
            loop {
                found[d] = true;
                if d == next {
                    break;
                }
                d = (d + 1) % 7;
            }
            i += 2;
            continue;
        }
        // A lone letter (m, w, f) counts only next to other day words.
        if matches[i].2 - matches[i].1 > 1 || matches.len() > 1 {
            found[day] = true;
        }
        i += 1;
    }
    (0..7).filter(|d| found[*d]).map(|d| ORDER[d]).collect()
}

/// One schedule per (freq, opens_at, closes_at), days joined in week order.
fn merge(schedules: Vec<Value>) -> Vec<Value> {
    let mut merged: Vec<Value> = Vec::new();
    for s in schedules {
        let key = |v: &Value| {
            (
                v["freq"].clone(),
                v["opens_at"].clone(),
                v["closes_at"].clone(),
            )
        };
        match merged.iter_mut().find(|m| key(m) == key(&s)) {
            Some(m) => {
                let mut days: Vec<String> = m["byday"]
                    .as_str()
                    .unwrap_or_default()
                    .split(',')
                    .chain(s["byday"].as_str().unwrap_or_default().split(','))
                    .map(str::to_string)
                    .collect();
                days.dedup();
                days.sort_by_key(|d| {
                    let code = &d[d.len().saturating_sub(2)..];
                    (ORDER.iter().position(|o| *o == code), d.clone())
                });
                days.dedup();
                m["byday"] = json!(days.join(","));
                if m["description"] != s["description"] {
                    let joined = format!(
                        "{}; {}",
                        m["description"].as_str().unwrap_or_default(),
                        s["description"].as_str().unwrap_or_default()
                    );
                    m["description"] = json!(joined);
                }
            }
            None => merged.push(s),
        }
    }
    merged
}

#[cfg(test)]
#[path = "hours_tests.rs"]
mod tests;
