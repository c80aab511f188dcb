//! One line of an hours text read: its time ranges, the days (or the
//! date) each goes with, and the schedules they make.

use serde_json::{Value, json};

use super::build::schedules as schedules_of;
use super::clock::{parse_time, resolve};
use super::date::{self, Date};
use super::days::{self, excepted, parse_days};
use super::parts;
use super::passed::passed_over;
use super::{clean_edges, normalise, opening_only, patterns};

/// One time range of a line and the days it was given.
struct Range<'t> {
    /// The range as written.
    raw: &'t str,
    /// (opens, closes) in seconds; None when the clock times do not read.
    span: Option<(u32, u32)>,
    /// The text before it back to the previous range (after the last
    /// "closed"); the days it names, if any.
    before: &'t str,
    /// The clause right after it, up to a comma: "(1st & 3rd)", "(first
    /// Saturday only)".
    clause: &'t str,
    /// Whether only joining words ("and", "from", ",", "/") stand between
    /// it and the previous range: "Mon 9-11am & 1-3pm".
    joined: bool,
    /// The days it goes with, and the text they were read from.
    days: Option<(Vec<&'static str>, &'t str)>,
    /// Whether those days were written before it ("mon 9-11"), not after
    /// it ("9-11 mon") or lent by a range joined to it.
    days_before: bool,
    /// The one day it is on ("2024-06-01 10-12"), when a date goes with it.
    date: Option<Date>,
    /// Whether its sentence speaks of another program ("Office: Mon-Fri
    /// 9-4", "Clothing closet: Mon 9-11"): passed over beside an opening
    /// that does not.
    other_program: bool,
}

pub(super) fn parse_line(text: &str) -> (Vec<Value>, Vec<String>) {
    let t = normalise(text);
    // Dates that share one time: each read as its own line.
    if let Some(lines) = date::dated_list(&t) {
        let (mut schedules, mut unparsed) = (Vec::new(), Vec::new());
        for line in lines {
            let (s, u) = parse_line(&line);
            schedules.extend(s.into_iter().map(|mut s| {
                s["description"] = json!(text.trim());
                s
            }));
            unparsed.extend(u);
        }
        return (schedules, unparsed);
    }
    // Dates are read first and blanked out, so "06-01" of "2024-06-01" is
    // no time range; the blanks keep every other position where it was.
    let dates = date::dates(&t);
    let mut t = t.into_bytes();
    for (start, end, _) in &dates {
        t[*start..*end].fill(b'#');
    }
    let t = String::from_utf8(t).unwrap_or_default();
    let mut ranges = ranges(&t, &dates);
    share_days(&mut ranges);
    let (mut schedules, mut unparsed) = schedules(&ranges, text);
    // A line about something else (a sign-up, a call, deliveries) with no
    // opening in it is neither read nor left to ask about.
    if ranges.is_empty() && !t.is_empty() && !parts::about_something_else(&t) {
        match opening_only(&t) {
            Some((days, opens)) => {
                schedules.extend(schedules_of(&days, &t, Some(opens), None, text.trim()));
            }
            None => unparsed.push(text.trim().to_string()),
        }
    }
    (schedules, unparsed)
}

/// The time ranges of `t` (dates blanked), each with the text around it
/// and the days or date that go with it.
fn ranges<'t>(t: &'t str, dates: &[(usize, usize, Date)]) -> Vec<Range<'t>> {
    let found: Vec<_> = patterns()
        .range
        .captures_iter(t)
        .filter(|c| c.get(0).is_some_and(|m| clean_edges(t, m.start(), m.end())))
        .collect();
    let mut ranges: Vec<Range> = Vec::new();
    let mut previous_end = 0;
    let mut carried: Option<&str> = None;
    for (n, r) in found.iter().enumerate() {
        let whole = r.get(0).map_or((0, 0), |m| (m.start(), m.end()));
        let before_all = &t[previous_end..whole.0];
        if passed_over(before_all, &t[whole.1..]) {
            // "Saturday: registration 9-9:30am, distribution 10-12": the
            // days before a range passed over go on to the next range of
            // the sentence.
            carried = (!parse_days(before_all).is_empty()).then_some(before_all);
            previous_end = whole.1;
            continue;
        }
        let before = days::own_sentence(since_closed(before_all));
        let next_start = found
            .get(n + 1)
            .and_then(|c| c.get(0))
            .map_or(t.len(), |m| m.start());
        let sentence_after = t[whole.1..next_start].split('.').next().unwrap_or("");
        let after = sentence_after.split("closed").next().unwrap_or("");
        let span = parse_time(&r["start"])
            .zip(parse_time(&r["end"]))
            .and_then(|(s, e)| resolve(s, e));
        let date = date_near(
            dates,
            (previous_end, whole.0),
            (whole.1, whole.1 + after.len()),
        );
        // "wednesday 9-12 and 1-3, thursday ...": a range joined to one
        // with days takes those, not the days after it.
        let joined = !ranges.is_empty() && joins(before_all);
        let (days, from_after) = match days_of(date, before, after) {
            (_, true) if joined && ranges.last().is_some_and(|r: &Range| r.days_before) => {
                (None, false)
            }
            read => read,
        };
        let days = match (days, carried.take()) {
            (None, Some(c)) if !before_all.contains(". ") => days_of(date, c, "").0,
            (days, _) => days,
        };
        previous_end = whole.1;
        if from_after {
            // "9am-12pm monday, 1pm-3pm wednesday": "monday" is this
            // range's, not the next one's.
            previous_end += after.len();
        }
        let sentence = before_all.rsplit(". ").next().unwrap_or(before_all);
        let other_program = parts::names_another_program(sentence)
            || (joined && ranges.last().is_some_and(|r: &Range| r.other_program));
        ranges.push(Range {
            raw: r.get(0).map_or("", |m| m.as_str()),
            span,
            before,
            // "9-4 (closed wednesday)": the brackets a closed day stands in.
            clause: clause(sentence_after),
            joined,
            days_before: days.is_some() && !from_after,
            days,
            date,
            other_program,
        });
    }
    // "Office: Mon-Fri 9-4. Food pantry: Wednesdays 1-3 pm.": the office's
    // hours (or a clothing closet's, worship's) are not the pantry's, when
    // the pantry's are given.
    if ranges.iter().any(|r| !r.other_program) {
        ranges.retain(|r| !r.other_program);
    }
    ranges
}

/// Whether only joining words stand between two ranges ("mon 9-11am and
/// 1-3pm"); "10am-12pm (seniors), 1pm-3pm": a remark in brackets joins
/// too.
fn joins(between: &str) -> bool {
    without_brackets(between)
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | '/'))
        .all(|w| matches!(w, "" | "and" | "also" | "plus" | "from" | "de"))
}

/// The text before a range from which its days are read: "monday: closed
/// tuesday: 12-2" gives only what follows the last "closed" (or "by
/// appointment": "thursday by appointment, friday 9-12"), and past the end
/// of its sentence ("closed mondays. open tuesday-saturday 10-4").
fn since_closed(before_all: &str) -> &str {
    let cut = ["closed", "by appointment"]
        .iter()
        .filter_map(|w| before_all.rfind(w).map(|at| at + w.len()))
        .max();
    match cut.map(|at| before_all.split_at(at)) {
        Some((_, after_closed)) => after_closed
            .split_once(". ")
            .map_or(after_closed, |(_, next)| next),
        None => before_all,
    }
}

/// The date just before a range (within `before`, byte offsets), else
/// just after it (within `after`).
fn date_near(
    dates: &[(usize, usize, Date)],
    before: (usize, usize),
    after: (usize, usize),
) -> Option<Date> {
    let within = |(from, to): (usize, usize)| {
        move |(s, e, _): &&(usize, usize, Date)| *s >= from && *e <= to
    };
    dates
        .iter()
        .rev()
        .find(within(before))
        .or_else(|| dates.iter().find(within(after)))
        .map(|(_, _, d)| *d)
}

/// The clause right after a range: what stands in the brackets that open
/// it, one group or several in a row ("[1st, 3rd week(s)]", "(Seniors
/// only) [2nd week(s)]", "(1st & 3rd)"), else up to a comma.
fn clause(after: &str) -> &str {
    let t = after.trim_start();
    let mut end = 0;
    loop {
        let rest = &t[end..];
        let close = match rest.trim_start().chars().next() {
            Some('(') => ')',
            Some('[') => ']',
            _ => break,
        };
        match rest.find(close) {
            Some(i) => end += i + 1,
            None => return t,
        }
    }
    if end == 0 {
        after.split(',').next().unwrap_or("")
    } else {
        &t[..end]
    }
}

/// `text` without what stands in round brackets.
fn without_brackets(text: &str) -> String {
    let mut depth = 0usize;
    text.chars()
        .filter(|c| {
            match c {
                '(' => depth += 1,
                ')' => depth = depth.saturating_sub(1),
                _ => return depth == 0,
            }
            false
        })
        .collect()
}

/// The days a range goes with, and whether they came from after it: its
/// date's weekday, else the days before it, else those after it.
#[allow(clippy::type_complexity)]
fn days_of<'t>(
    date: Option<Date>,
    before: &'t str,
    after: &'t str,
) -> (Option<(Vec<&'static str>, &'t str)>, bool) {
    match (date, parse_days(before)) {
        (Some(d), _) => (Some((vec![d.weekday()], before)), false),
        (None, d) if !d.is_empty() => (Some((d, before)), false),
        _ => match parse_days(after) {
            d if !d.is_empty() => (Some((d, after)), true),
            _ => (None, false),
        },
    }
}

/// A range with no days of its own joined to one with days takes them:
/// the one before ("mon 9-11am and 1-3pm"), else the one after ("9-11am
/// and 1-3pm mon").
fn share_days(ranges: &mut [Range]) {
    for n in 1..ranges.len() {
        if ranges[n].days.is_none() && ranges[n].joined {
            ranges[n].days = ranges[n - 1].days.clone();
            ranges[n].date = ranges[n - 1].date;
        }
    }
    for n in (0..ranges.len().saturating_sub(1)).rev() {
        if ranges[n].days.is_none() && ranges[n + 1].joined {
            ranges[n].days = ranges[n + 1].days.clone();
            ranges[n].date = ranges[n + 1].date;
        }
    }
}

/// The schedules the ranges make (`text`, the line, as their
/// description), and the ranges that make none.
fn schedules(ranges: &[Range], text: &str) -> (Vec<Value>, Vec<String>) {
    let p = patterns();
    let mut schedules = Vec::new();
    let mut unparsed = Vec::new();
    for range in ranges {
        let Some((opens, closes)) = range.span else {
            unparsed.push(range.raw.to_string());
            continue;
        };
        let Some((days, side)) = &range.days else {
            unparsed.push(format!("{}{}", range.before, range.raw).trim().to_string());
            continue;
        };
        // "Mon-Fri 9-5 (excluding Thursday)": a day the clause after the
        // range leaves out.
        let left_out = excepted(range.clause);
        let days: Vec<&str> = days
            .iter()
            .copied()
            .filter(|d| !left_out.contains(d))
            .collect();
        if days.is_empty() {
            continue;
        }
        let days = &days;
        // "Sat 10-12 (first Saturday only)", "Fri 9-11 (1st & 3rd)": the
        // ordinals of a clause after the range that names no other days.
        let clause_days = parse_days(range.clause);
        let side = if clause_days.iter().all(|d| days.contains(d))
            && p.ordinal.is_match(range.clause)
            && !p.ordinal.is_match(side)
        {
            format!("{side} {}", range.clause)
        } else {
            side.to_string()
        };
        for mut schedule in schedules_of(days, &side, Some(opens), Some(closes), text.trim()) {
            if let Some(date) = range.date {
                // One opening: that day, once.
                let day = date.iso();
                for key in ["dtstart", "valid_from", "valid_to"] {
                    schedule[key] = json!(day);
                }
                schedule["count"] = json!(1);
            }
            schedules.push(schedule);
        }
    }
    (schedules, unparsed)
}
