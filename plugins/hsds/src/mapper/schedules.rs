//! A site's schedules from its hours fields and notes: each text read by
//! the hours parser, a field about a program of its own passed over
//! beside the pantry's, the day in one field and the time in another
//! joined, and what the parser cannot read asked as a question.

use super::doc::Schedule;
use super::{Found, How, Question, src};
use crate::{classify, hours};

/// Where a field's key puts it among an opening's parts: an opening or
/// start first, a closing or end last, anything else between.
fn opening_rank(pointer: &str) -> u8 {
    let key = pointer
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| key.contains(w));
    if has(&["open", "start", "begin", "from"]) {
        0
    } else if has(&["close", "end", "until"]) {
        2
    } else {
        1
    }
}

/// Schedules from every hours text (and notes that read as hours); what
/// the parser cannot read becomes a question.
pub(super) fn schedules(
    f: &Found,
    location: usize,
    questions: &mut Vec<Question>,
) -> Vec<Schedule> {
    let mut out: Vec<Schedule> = Vec::new();
    // Each text read once: (where it came from, the text, what it says).
    let mut texts: Vec<(String, String, hours::Hours)> = f
        .hours
        .iter()
        .chain(
            f.notes
                .iter()
                .filter(|(_, t)| hours::mentions_hours(t) || hours::names_monthly_days(t)),
        )
        .map(|(p, t)| (p.clone(), t.clone(), hours::parse(t)))
        .collect();
    // A field about a program of its own ("Summer lunch program ...
    // weekdays 11:30-1") beside one that opens the pantry is not the
    // pantry's.
    let pantry = |(_, t, r): &(String, String, hours::Hours)| {
        !r.schedules.is_empty() && !hours::about_another_program(t)
    };
    if texts.iter().any(pantry) {
        texts.retain(|(_, t, _)| !hours::about_another_program(t));
    }
    // The day in one field and the time in another ("day_of_week":
    // "Wednesdays", "hours": "4pm-6pm"), when no field says both: one
    // text, from both fields (of this site only).
    // (Monthly days without a time, "2nd and 4th Wednesday", give way to
    // the same days with the times another field gives.)
    let timed = texts
        .iter()
        .any(|(_, _, read)| read.schedules.iter().any(|s| s.get("opens_at").is_some()));
    if !timed && let Some((from, joined)) = combined(f).or_else(|| named_day(f)) {
        let read = hours::parse(&joined);
        texts = vec![(from, joined, read)];
    }
    for (pointer, text, read) in texts {
        for s in read.schedules {
            if out.len() >= 7 {
                break;
            }
            // Every field the schedule has (`interval` too, when given).
            out.push(Schedule::read(s, |key| {
                let how = if key == "description" {
                    How::Copied
                } else {
                    How::Normalised
                };
                src(&pointer, how)
            }));
        }
        // Leftovers that still mention a day or a time are worth a question.
        let worth_asking = read.unparsed.iter().any(|u| {
            let l = u.to_lowercase();
            l.chars().any(|c| c.is_ascii_digit()) && classify::phone(u).is_none()
        });
        if worth_asking && out.is_empty() {
            out.extend(only_pairing(&text, &pointer));
        }
        if worth_asking && out.is_empty() {
            questions.push(Question {
                kind: "hours",
                location,
                from: pointer,
                text,
            });
        }
    }
    out
}

/// The hours fields and notes of one site read as one text, when one
/// names the days and others the times: the fields' pointers (joined by
/// `+raw:`) and the text. An opening field goes before a closing one,
/// whatever their keys' order (`end_time` sorts before `start_time`); the
/// items of one list are one part (`"days": ["Monday", "Friday"]`).
fn combined(f: &Found) -> Option<(String, String)> {
    let mut fields: Vec<&(String, String)> = f.hours.iter().chain(&f.notes).collect();
    fields.sort_by_key(|(p, _)| opening_rank(p));
    let from: Vec<&str> = fields.iter().map(|(p, _)| p.as_str()).collect();
    let mut parts: Vec<(String, String)> = Vec::new();
    for (pointer, text) in fields.iter().copied() {
        let list = |p: &str| {
            p.rsplit_once('/')
                .filter(|(_, i)| !i.is_empty() && i.bytes().all(|b| b.is_ascii_digit()))
                .map(|(parent, _)| parent.to_string())
        };
        match parts.last_mut() {
            Some((last, joined)) if list(pointer).is_some_and(|p| list(last) == Some(p)) => {
                joined.push_str(", ");
                joined.push_str(text);
                last.clone_from(pointer);
            }
            _ => parts.push((pointer.clone(), text.clone())),
        }
    }
    let joined = hours::combine(parts.iter().map(|(_, t)| t.as_str()))?;
    Some((from.join("+raw:"), joined))
}

/// The day a site's name gives ("Wednesday Night Pantry") with the time
/// range a text of its own gives ("Doors open at 5:30 pm and close at
/// 7"), when no field names a day: the fields' pointers and one text.
fn named_day(f: &Found) -> Option<(String, String)> {
    let (name, source) = f.name.as_ref()?;
    let day = hours::day_in_name(name)?;
    let from = source.source.strip_prefix("raw:")?;
    let texts = f.hours.iter().chain(&f.notes).chain(&f.prose);
    texts
        .filter(|(_, t)| hours::speaks_of_a_time(t))
        .find_map(|(pointer, text)| {
            let joined = hours::combine([day, text.as_str()])?;
            Some((format!("{from}+raw:{pointer}"), joined))
        })
}

/// The days one part of `text` names with the one time range another
/// gives, when that pairing is the only one: code's reading, not a
/// question (`how: inferred`, the whole text as the description).
fn only_pairing(text: &str, pointer: &str) -> Vec<Schedule> {
    let paired = hours::pairs(text);
    let [pair] = paired.as_slice() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for s in hours::parse(pair).schedules {
        let mut part = Schedule::read(s, |_| src(pointer, How::Inferred));
        part.description(text, src(pointer, How::Copied));
        out.push(part);
    }
    out
}
