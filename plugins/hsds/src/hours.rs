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
//! 4:00 pm until 6:00 pm", "Monday: Closed Tuesday: 12:00 PM - 02:00 PM",
//! "MWF 0800-1200", "Mon 9-11am & 1-3pm", "every other Tuesday 2-4",
//! "Lunes a Viernes de 9:00 a 17:00".
//! A time range takes its days (and ordinals) from the text just before it,
//! else from the text just after it on the same line, else from a range it
//! is joined to by "and"; never from a line of its own.

use regex::Regex;
use serde_json::{Value, json};
use std::sync::OnceLock;

mod build;
mod candidates;
mod clock;
mod date;
mod days;
mod layout;
mod line;
mod parts;
mod passed;
mod rrule;
mod spoken;

pub use candidates::{candidates, pairs};
pub(crate) use clock::{clock, digits_clock, number_clock};
pub use date::starts_with_date;
pub(crate) use days::ordinal_word;
pub use parts::{combine, names_monthly_days};
pub use rrule::rrule_days;

use build::merge;
use clock::{TIME, parse_time, to_24};
use days::{DAY_PATTERNS, ORDER, parse_days};
use layout::{day_then_time, picklist, table_rows};
use line::parse_line;

struct Patterns {
    day: Regex,
    range: Regex,
    ordinal: Regex,
    time: Regex,
    between_days: Regex,
    military: Regex,
    clock_suffix: Regex,
    hour_h: Regex,
    foreign_to: Regex,
    foreign_and: Regex,
    day_dot: Regex,
    dot_clock: Regex,
    between: Regex,
    opening: Regex,
    osm_nth: Regex,
    meridiem_end: Regex,
    oclock: Regex,
    day_part: Regex,
    meridiem_dot: Regex,
    spaced_meridiem: Regex,
    /// A clock time with milliseconds and its offset, as a survey app
    /// writes it ("10:00:00.000-05:00").
    stamped_time: Regex,
    til: Regex,
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
            ordinal: compile(
                r"\b(1st|first|2nd|second|3rd|third|4th|fourth|5th|fifth|last|primer|primero|primera|segundo|segunda|tercer|tercero|tercera|cuarto|cuarta|quinto|quinta|[uú]ltimo|[uú]ltima)\b",
            ),
            time: compile(r"^(\d{1,2})(?::(\d{2}))?(?::(\d{2}))?\s*(am|pm|a|p)?$"),
            between_days: compile(r"^\s*(?:-|to|through|thru|a|al|hasta|au|à)\s*$"),
            military: compile(r"\b([01]\d|2[0-3])([0-5]\d)\s*(-|to)\s*([01]\d|2[0-3])([0-5]\d)\b"),
            clock_suffix: compile(r"(\d:\d{2})\s*(?:hrs|horas|hs|h)\b\.?"),
            hour_h: compile(r"\b([01]?\d|2[0-3])h([0-5]\d)?\b"),
            foreign_to: compile(r"(\d|\bam|\bpm)\s+(?:a|hasta|à)\s+(\d)"),
            foreign_and: compile(r"\b(?:y|et)\b"),
            day_dot: compile(r"\b(mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)\."),
            between: compile(&format!(r"\b(?:between|entre)\s+({TIME})\s+and\s+({TIME})")),
            dot_clock: compile(r"(^|[\s(\-])([01]?\d|2[0-3])\.([0-5]\d)(\b|[ap])"),
            opening: compile(r"\b(?:noon|\d{1,2}(?::\d{2})?\s*(?:am|pm)\b)"),
            osm_nth: compile(r"\b(mo|tu|we|th|fr|sa|su)\[((?:-1|[1-5])(?:\s*,\s*(?:-1|[1-5]))*)\]"),
            meridiem_end: compile(r"\b([aApP])\.[mM]\.(\s+)([A-Z][a-z]*)"),
            oclock: compile(r"(\d)\s*o['\x{2019}]\s?clock\b"),
            meridiem_dot: compile(r"(\d\s*[ap]m)\.(\s*(?:-|to\b|until\b|till\b))"),
            spaced_meridiem: compile(r"\b([aApP])\.[\s\x{a0}]([mM])\."),
            stamped_time: compile(r"\b(\d{1,2}:\d{2}:\d{2})\.\d{1,6}(?:[+-]\d{2}:?\d{2}|Z)?"),
            til: compile(r"['\x{2019}]?\btil\b"),
            day_part: compile(
                r"\b(\d{1,2}(?::\d{2})?)\s+(?:in\s+the\s+(morning)|in\s+the\s+(?:afternoon|evening)|at\s+night)\b",
            ),
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
    has_range && (names_a_day(&t) || has_meridiem(&t))
}

/// Whether normalised text holds "am" or "pm" as a word or after a
/// number ("10am"); not inside a word ("Camden", "pamphlet").
fn has_meridiem(t: &str) -> bool {
    t.split(|c: char| !c.is_ascii_alphanumeric()).any(|w| {
        let letters = w.trim_start_matches(|c: char| c.is_ascii_digit());
        matches!(letters, "am" | "pm")
    })
}

/// The one day a place's name is called by, written out ("Wednesday
/// Night Pantry" gives "Wednesday"); `None` for a name with no day or more
/// than one, or only an abbreviation ("Sat", "Mo" may be other words).
pub fn day_in_name(name: &str) -> Option<&str> {
    let days: Vec<&str> = name
        .split(|c: char| !c.is_alphabetic())
        .filter(|w| w.chars().count() >= 6 && names_days(w))
        .collect();
    match days.as_slice() {
        [day] => Some(day),
        _ => None,
    }
}

/// Whether a text speaks of an opening's time: "open" or "doors", or an
/// am or pm ("Doors open at 5:30 pm and close at 7").
pub fn speaks_of_a_time(text: &str) -> bool {
    let t = normalise(text);
    has_meridiem(&t) || t.contains("open") || t.contains("doors")
}

/// Whether `word` is an ordinal of the month's days and nothing else
/// ("2nd", "fourth", "last").
pub fn is_ordinal(word: &str) -> bool {
    let w = word.trim().to_lowercase();
    patterns()
        .ordinal
        .find(&w)
        .is_some_and(|m| m.start() == 0 && m.end() == w.len())
}

/// Whether `text` names a day of the week, or days at once ("daily",
/// "every week on Wednesday").
pub fn has_days(text: &str) -> bool {
    names_a_day(&normalise(text))
}

/// Whether normalised text names a day, or days at once ("daily").
fn names_a_day(t: &str) -> bool {
    patterns().day.is_match(t)
        || days::has_compact(t)
        || ["daily", "weekday", "weekend"]
            .iter()
            .any(|w| t.contains(w))
}

/// Whether a note's hours belong to a program of its own ("Summer lunch
/// program June 10 - August 16, weekdays 11:30-1"), not the pantry's.
pub fn about_another_program(text: &str) -> bool {
    parts::describes_another_program(&normalise(text))
}

/// Whether a program's name is for something other than food ("Clothing
/// Closet", "Church Office", "Sunday Worship").
pub fn names_another_program(text: &str) -> bool {
    parts::names_another_program(&normalise(text))
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
    looks_like_hours(text) || (names_a_day(&t) && (clock || t.contains("noon"))) || dated(&t)
}

/// Whether `text` gives dates with a time of day said in am and pm ("Jan
/// 20, Feb 17 - 9am to 11am"; not a date-time stamp).
pub fn names_dated_openings(text: &str) -> bool {
    dated(&normalise(text))
}

fn dated(t: &str) -> bool {
    has_meridiem(t) && !date::dates(t).is_empty()
}

/// Whether `text` is one clock time and nothing else ("10:00", "3:30 PM",
/// "noon"): a cell of an hours table's row.
pub fn is_time(text: &str) -> bool {
    let t = normalise(text);
    !t.is_empty() && clock::parse_time(&t).is_some()
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

/// What ends one part of an hours text: each is read on its own.
const PART_ENDS: [char; 3] = ['\n', ';', '|'];

/// Reads `text` into schedules.
pub fn parse(text: &str) -> Hours {
    let mut schedules = Vec::new();
    let mut unparsed = Vec::new();
    let rows = table_rows(&picklist(&spoken::ends_joined(text)));
    let text = rows.as_str();
    let others = read_parts(text, &mut schedules, &mut unparsed);
    if schedules.is_empty() {
        schedules = others;
    }
    // The day in one part, the time in another; else monthly days alone.
    if schedules.is_empty()
        && let Some(joined) = parts::combine([text])
    {
        let (s, _) = parse_line(&joined);
        if !s.is_empty() {
            unparsed.clear();
            schedules.extend(s);
        }
    }
    if schedules.is_empty() {
        schedules.extend(text.split(PART_ENDS).filter_map(parts::monthly_days));
        if !schedules.is_empty() {
            unparsed.clear();
        }
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
    if schedules.is_empty()
        && unparsed.is_empty()
        && !text.trim().is_empty()
        && !parts::about_something_else(&normalise(text))
    {
        unparsed.push(text.trim().to_string());
    }
    Hours {
        schedules: merge(schedules),
        unparsed,
    }
}

/// Each line (or `;`-separated part) of `text` read on its own into
/// `schedules` and `unparsed`; what a part about another program gives
/// ("Worship Sunday 10-11am; food pantry Tuesday 10-12", "M-F 11a-1p
/// (lunch); Pantry: W 2p-4p") is returned apart, for when no other part
/// gives hours.
fn read_parts(text: &str, schedules: &mut Vec<Value>, unparsed: &mut Vec<String>) -> Vec<Value> {
    // Each part with its normalised text, made once.
    let lines: Vec<(String, String)> = day_then_time(text)
        .into_iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let t = normalise(&l);
            (l, t)
        })
        .collect();
    let pantry = |t: &str| t.contains("pantry") || t.contains("despensa");
    let pantry_named = lines.iter().any(|(_, t)| pantry(t));
    let mut others = Vec::new();
    for (line, t) in lines {
        let (s, u) = parse_line(&line);
        let label = line
            .split(|c: char| c.is_ascii_digit())
            .next()
            .unwrap_or_default();
        let another = parts::names_another_program(&normalise(label))
            || (pantry_named && !pantry(&t) && parts::describes_another_program(&t));
        if another {
            others.extend(s);
        } else {
            schedules.extend(s);
        }
        unparsed.extend(u);
    }
    others
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
    // "Call our 24/7 hotline": a line to call, not the place.
    if !(words.contains(&"24/7") || (day_long && opening)) || parts::about_something_else(&t) {
        return None;
    }
    Some(if days.is_empty() {
        ORDER.to_vec()
    } else {
        days
    })
}

fn normalise(text: &str) -> String {
    let p = patterns();
    // "9 a.m. - 4:30 p.m. Please call us": the meridiem's last dot also
    // ends the sentence, which must stay ended (the call is not the
    // opening); "9 A.M. To 12 P.M." goes on.
    // "9:00 a. m.": Spanish writes a space inside the meridiem.
    let text = p.spaced_meridiem.replace_all(text, "$1.$2.");
    let text = p.stamped_time.replace_all(&text, "$1");
    let text = p.meridiem_end.replace_all(&text, |c: &regex::Captures| {
        let next = c[3].to_ascii_lowercase();
        let goes_on =
            ["to", "until", "till", "through", "thru", "and", "or"].contains(&next.as_str());
        let dot = if goes_on { "" } else { "." };
        format!("{}m{dot}{}{}", &c[1], &c[2], &c[3])
    });
    let mut t = text
        .to_lowercase()
        .replace(['\u{2013}', '\u{2014}', '\u{2012}'], "-");
    for (from, to) in [("a.m.", "am"), ("p.m.", "pm"), ("a.m", "am"), ("p.m", "pm")] {
        t = t.replace(from, to);
    }
    t = t.replace('&', " and ");
    // "9 til noon", "'til 2".
    let t = p.til.replace_all(&t, "till");
    let t = spoken::spoken(&t);
    // OpenStreetMap's "sa[2]", "fr[-1]", "sa[1,3]": the month's such days.
    let t = p.osm_nth.replace_all(&t, osm_nth);
    let t = spoken::word_hours(&t);
    // "10 am. - 12 pm.": a meridiem's dot before the range goes on.
    let t = p.meridiem_dot.replace_all(&t, "$1$2");
    // "10 o'clock", "9 in the morning", "7 in the evening": the hour and
    // its half of the day.
    let t = p.oclock.replace_all(&t, "$1");
    let t = p.day_part.replace_all(&t, |c: &regex::Captures| {
        let half = if c.get(2).is_some() { "am" } else { "pm" };
        format!("{} {half}", &c[1])
    });
    // "10.00-12.00": a dot between an hour and its minutes.
    let t = p.dot_clock.replace_all(&t, "${1}${2}:${3}${4}");
    // "Mon.-Fri.": an abbreviation's dot ends no sentence.
    let t = p.day_dot.replace_all(&t, "$1");
    // "0800-1600"; not "2023-2024", two years.
    let t = p.military.replace_all(&t, |c: &regex::Captures| {
        let year = |h: &str| matches!(h, "19" | "20");
        if year(&c[1]) && year(&c[4]) {
            c[0].to_string()
        } else {
            format!("{}:{}-{}:{}", &c[1], &c[2], &c[4], &c[5])
        }
    });
    // "9:00 hrs", "13:00 h".
    let t = p.clock_suffix.replace_all(&t, "$1");
    // "14h-16h", "9h30": the hour before an h.
    let t = p.hour_h.replace_all(&t, |c: &regex::Captures| {
        format!("{}:{}", &c[1], c.get(2).map_or("00", |m| m.as_str()))
    });
    // "de 9:00 a 17:00", "8 a 12 y 14 a 17", "de 9:00 à 11:30".
    let t = p.foreign_to.replace_all(&t, "$1 - $2");
    let t = p.foreign_and.replace_all(&t, "and");
    // "between 9 and 11 am", "entre 9 y 11".
    let t = p.between.replace_all(&t, "$1-$2");
    t.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// OpenStreetMap's "sa[2]", "fr[-1]", "sa[1,3]" as "2nd sa", "last fr",
/// "1st and 3rd sa".
fn osm_nth(c: &regex::Captures) -> String {
    // (The pattern lets through 1 to 5 and -1 only.)
    let nth: Vec<&str> = c[2]
        .split(',')
        .filter_map(|n| n.trim().parse().ok().and_then(ordinal_word))
        .collect();
    format!("{} {}", nth.join(" and "), &c[1])
}

/// A match is a time range only if it is not glued to more digits.
fn clean_edges(t: &str, start: usize, end: usize) -> bool {
    let before = t[..start].chars().next_back();
    let after = t[end..].chars().next();
    !before.is_some_and(|c| c.is_ascii_digit() || c == ':')
        && !after.is_some_and(|c| c.is_ascii_digit() || c == ':')
}

/// "Last Wednesday of the month: 9:00 AM until food is gone", "3rd Monday,
/// 10am": days and one opening time with its am/pm, no closing time. `None`
/// unless the line names days and exactly one such time.
fn opening_only(t: &str) -> Option<(Vec<&'static str>, u32)> {
    let times: Vec<_> = patterns().opening.find_iter(t).collect();
    let [time] = times.as_slice() else {
        return None;
    };
    // "Call Monday after 2pm": a time to call, not an opening.
    let words: Vec<&str> = t.split(|c: char| !c.is_ascii_alphanumeric()).collect();
    if ["call", "appointment", "before", "after", "by"]
        .iter()
        .any(|w| words.contains(w))
        || parts::not_opening(t)
    {
        return None;
    }
    let days = parse_days(t);
    if days.is_empty() || !clean_edges(t, time.start(), time.end()) {
        return None;
    }
    let (h, m, s, meridiem) = parse_time(time.as_str())?;
    Some((days, (to_24(h, meridiem) * 60 + m) * 60 + s))
}

#[cfg(test)]
mod forms_tests;
#[cfg(test)]
mod sentence_tests;
#[cfg(test)]
mod tests;
