//! Hours given in parts: the day in one labelled part (or field) and the
//! time in another ("Pickup Day: Thursday | Pickup Time: 10:00 am - 11:30
//! am"), and monthly days without any time ("Open every 2nd Friday").
//! Times and days under labels that are not openings ("Sign-up Time",
//! "call by", "deadline", "screening") are never read as openings.

use serde_json::Value;

use super::build::schedule;
use super::days::parse_days;
use super::{PART_ENDS, clean_edges, normalise, patterns};

/// Words that make a time something other than the place's opening:
/// when to sign up, call (a hotline too), apply, volunteer, deliver or
/// donate, or when a page was updated.
const ELSEWHERE: [&str; 23] = [
    "sign-up",
    "signup",
    "sign up",
    "register",
    "registration",
    "call",
    "deadline",
    "screening",
    "apply",
    "application",
    "applications",
    "reserve",
    "order by",
    "volunteer",
    "volunteers",
    "delivery",
    "deliveries",
    "donation",
    "donations",
    "hotline",
    "helpline",
    // "Last updated Monday 3/4/2024 10:15 AM": a page's stamp.
    "updated",
    "posted",
];

/// Whether `t` holds one of `words` as a whole word.
fn has_word(t: &str, words: &[&str]) -> bool {
    words.iter().any(|w| {
        t.match_indices(w).any(|(at, _)| {
            let before = t[..at].chars().next_back();
            let after = t[at + w.len()..].chars().next();
            !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
        })
    })
}

/// Whether a clause speaks of a time for something else than coming for
/// food ("Sign-up: Mondays 9-11am", "Call Monday-Friday 9-5 to register",
/// "Volunteers needed Mondays 8-10am").
pub(super) fn about_something_else(t: &str) -> bool {
    has_word(t, &ELSEWHERE)
}

/// Whether a sentence speaks of another program's hours than food's: an
/// office ("office: mon-fri 9-4"), a clothing closet, a thrift store,
/// worship.
pub(super) fn names_another_program(t: &str) -> bool {
    has_word(
        t,
        &[
            "office",
            "oficina",
            "clothing",
            "clothes",
            "thrift",
            "furniture",
            "worship",
            "mass",
            "bible",
            "choir",
        ],
    )
}

/// Whether a note speaks of a program of its own beside the pantry's
/// opening (the programs above, a meal or a summer camp): its hours are
/// not the pantry's when another field gives the pantry's.
pub(super) fn describes_another_program(t: &str) -> bool {
    names_another_program(t) || has_word(t, &["lunch", "breakfast", "dinner", "supper", "camp"])
}

/// Whether a part is something other than an opening time: about
/// something else, or an appointment's ("Appointment times: ...").
pub(super) fn not_opening(t: &str) -> bool {
    about_something_else(t) || has_word(t, &["appointment"])
}

/// The text after a label without digits ("pickup day: thursday").
fn unlabelled(t: &str) -> &str {
    match t.split_once(':') {
        Some((label, rest)) if !label.chars().any(|c| c.is_ascii_digit()) => rest.trim(),
        _ => t.trim(),
    }
}

/// Whether normalised text holds a clock time or a time range.
fn has_time(t: &str) -> bool {
    let p = patterns();
    p.opening.is_match(t)
        || p.range
            .find_iter(t)
            .any(|m| clean_edges(t, m.start(), m.end()))
}

/// A part that names days and no time ("Pickup Day: Thursday",
/// "Wednesdays", "1st and 3rd Monday"), or one date alone ("Date:
/// 2024-09-14"): the days' text, unlabelled.
fn days_only(part: &str) -> Option<String> {
    let t = normalise(part);
    if not_opening(&t) || has_time(&t) {
        return None;
    }
    let text = unlabelled(&t);
    if super::date::starts_with_date(text) && text.len() == 10 {
        return Some(text.to_string());
    }
    // Days and the words that go with them, nothing else: a sentence that
    // happens to name a day ("bring ID on Mondays") is no day field.
    let extra = text
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .filter(|w| parse_days(w).is_empty() && !patterns().ordinal.is_match(w))
        .filter(|w| {
            !matches!(
                *w,
                "and"
                    | "of"
                    | "each"
                    | "every"
                    | "other"
                    | "the"
                    | "month"
                    | "on"
                    | "open"
                    | "only"
                    | "to"
            )
        })
        .count();
    (!parse_days(text).is_empty() && extra == 0).then(|| text.to_string())
}

/// A part that is ordinals and nothing else ("Frequency: 2nd & 4th", "1st
/// and 3rd week"): which of the month's days the other parts' days are.
fn ordinals_only(part: &str) -> Option<String> {
    let t = normalise(part);
    let text = unlabelled(&t);
    let words: Vec<&str> = text
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let ordinal = |w: &&str| patterns().ordinal.is_match(w);
    let filler = |w: &&str| {
        matches!(
            *w,
            "and" | "of" | "the" | "month" | "week" | "weeks" | "each"
        )
    };
    let only = words.iter().any(ordinal) && words.iter().all(|w| ordinal(w) || filler(w));
    only.then(|| {
        let ordinals: Vec<&str> = words.into_iter().filter(ordinal).collect();
        ordinals.join(" and ")
    })
}

/// A part that gives a time range and names no day ("10:00 am - 11:30
/// am", "Pickup Time: 10-11:30am"): the range as written.
pub(super) fn range_only(part: &str) -> Option<String> {
    let t = normalise(part);
    let text = unlabelled(&t);
    if not_opening(&t) || !parse_days(text).is_empty() {
        return None;
    }
    let p = patterns();
    let m = p
        .range
        .find_iter(text)
        .find(|m| clean_edges(text, m.start(), m.end()))?;
    Some(m.as_str().to_string())
}

/// A part that is one clock time and nothing else ("9:00 AM", "Close:
/// 1 pm", "17:00"): the time as written.
fn single_time(part: &str) -> Option<String> {
    let t = normalise(part);
    let text = unlabelled(&t);
    if not_opening(&t) || !parse_days(text).is_empty() {
        return None;
    }
    // A 24-hour clock time alone ("10:00", "17:00:00") needs no am/pm.
    if text.contains(':') && patterns().time.is_match(text) {
        return Some(text.to_string());
    }
    let m = patterns().opening.find(text)?;
    (m.as_str().len() == text.len()).then(|| m.as_str().to_string())
}

/// Parts of one record (the labelled parts of a field, or the fields of
/// one site) where one names the days and others the times: the text
/// that says both ("thursday 10:00 am - 11:30 am"). `None` unless exactly
/// one set of days and at least one time range are found, or, without a
/// range, exactly two single times (an opening and a closing field, in
/// that order), or one other part with a time ("8am until gone").
pub fn combine<'a>(parts: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let mut days: Vec<String> = Vec::new();
    let mut ranges: Vec<String> = Vec::new();
    let mut singles: Vec<String> = Vec::new();
    let mut ordinals: Vec<String> = Vec::new();
    // Parts with a time that are none of those ("8am until gone").
    let mut timed: Vec<&str> = Vec::new();
    for part in parts.into_iter().flat_map(|p| p.split(PART_ENDS)) {
        if let Some(o) = ordinals_only(part) {
            ordinals.push(o);
        } else if let Some(d) = days_only(part) {
            if !days.contains(&d) {
                days.push(d);
            }
        } else if let Some(r) = range_only(part) {
            if !ranges.contains(&r) {
                ranges.push(r);
            }
        } else if let Some(t) = single_time(part) {
            singles.push(t);
        } else if has_time(&normalise(part)) && parse_days(&normalise(part)).is_empty() {
            timed.push(part.trim());
        }
    }
    if let ([opens, closes], true) = (singles.as_slice(), ranges.is_empty()) {
        ranges.push(format!("{opens} - {closes}"));
    }
    // "day": "Saturday", "frequency": "2nd & 4th": the month's such days,
    // unless the days' own text says which.
    let days = match (days.as_slice(), ordinals.as_slice()) {
        ([d], [o]) if !patterns().ordinal.is_match(d) => vec![format!("{o} {d}")],
        _ => days,
    };
    match (
        days.as_slice(),
        ranges.is_empty(),
        singles.as_slice(),
        timed.as_slice(),
    ) {
        ([d], false, _, _) => Some(format!("{d} {}", ranges.join(" and "))),
        // "Every 3rd Saturday" beside "8am until gone": the parser reads
        // the two as one.
        ([d], true, [], [time]) => Some(format!("{d} {time}")),
        _ => None,
    }
}

/// "Open every 2nd Friday.", "1st and 3rd Monday of each month": monthly
/// days with no time, as a schedule without `opens_at`. Not a part with a
/// time, a label that is no opening, or a day fixed by another ("the 1st
/// Saturday after the 3rd Thursday").
pub(super) fn monthly_days(part: &str) -> Option<Value> {
    let t = normalise(part);
    let words: Vec<&str> = t.split(|c: char| !c.is_ascii_alphanumeric()).collect();
    if not_opening(&t)
        || has_time(&t)
        || ["after", "before", "following", "prior"]
            .iter()
            .any(|w| words.contains(w))
        || !patterns().ordinal.is_match(&t)
    {
        return None;
    }
    let days = parse_days(&t);
    if days.is_empty() {
        return None;
    }
    let s = schedule(&days, &t, None, None, part.trim());
    (s["freq"] == "MONTHLY").then_some(s)
}

/// Whether `text` names monthly days in any of its parts.
pub fn names_monthly_days(text: &str) -> bool {
    text.split(PART_ENDS).any(|p| monthly_days(p).is_some())
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use serde_json::json;

    fn read(text: &str) -> Vec<(String, String, String)> {
        parse(text)
            .schedules
            .iter()
            .map(|s| {
                let f = |k: &str| s[k].as_str().unwrap_or_default().to_string();
                (f("byday"), f("opens_at"), f("closes_at"))
            })
            .collect()
    }

    fn one(byday: &str, opens: &str, closes: &str) -> Vec<(String, String, String)> {
        vec![(byday.into(), opens.into(), closes.into())]
    }

    #[test]
    fn a_day_in_one_labelled_part_and_the_time_in_another() {
        assert_eq!(
            read(
                "Pickup Day: Thursday | Pickup Time: 10:00 am - 11:30 am | Sign-up Time: 10:30 am"
            ),
            one("TH", "10:00", "11:30")
        );
        assert_eq!(
            read("Distribution day: Saturdays; Hours: 9-11am"),
            one("SA", "09:00", "11:00")
        );
        // An opening and a closing time in parts of their own.
        assert_eq!(
            read("Days: Mon, Tue, Thu | Opens: 9:00 AM | Closes: 1:00 PM"),
            one("MO,TU,TH", "09:00", "13:00")
        );
        // Which of the month's days, in a part of its own.
        assert_eq!(
            read("Day: Saturday | Time: 9:00 AM - 11:00 AM | Frequency: 2nd & 4th"),
            one("2SA,4SA", "09:00", "11:00")
        );
        // A part that opens with no range: the days with its opening.
        assert_eq!(
            super::combine(["Every 3rd Saturday", "8am until gone"]).as_deref(),
            Some("every 3rd saturday 8am until gone")
        );
        assert_eq!(
            read("Every 3rd Saturday | 8am until gone"),
            one("3SA", "08:00", "")
        );
        // Ordinals beside days that have their own stay theirs.
        assert_eq!(
            read("Day: 1st Saturday | Time: 9-11am | Also: 3rd"),
            one("1SA", "09:00", "11:00")
        );
        // Two different days and one time: which goes with it is unknown.
        assert!(read("Day: Monday | Also: Friday | Time: 9-11am").is_empty());
        // A sign-up time is no opening, with or without a day.
        assert!(read("Sign-up Day: Monday | Sign-up Time: 9-11am").is_empty());
    }

    #[test]
    fn monthly_days_without_a_time() {
        assert_eq!(read("Open every 2nd Friday."), one("2FR", "", ""));
        assert_eq!(
            read("1st and 3rd Monday of each month"),
            one("1MO,3MO", "", "")
        );
        assert_eq!(
            parse("Last Saturday of the month").schedules[0]["freq"],
            json!("MONTHLY")
        );
        // Not a screening day, not a day fixed by another, not a weekly
        // day without a time, not a call.
        for text in [
            "Screening on 3rd Thursday of each month",
            "Pantry on 1st Saturday after 3rd Thursday",
            "Mondays",
            "Call the 2nd Monday to register",
        ] {
            assert!(read(text).is_empty(), "{text}");
        }
    }

    #[test]
    fn labels_that_are_not_openings_stay_out() {
        assert_eq!(
            read("Tuesday 1-3pm; Call by 5pm Monday to reserve; Deadline: Friday 12pm"),
            one("TU", "13:00", "15:00")
        );
    }
}
