//! Whether a time range in hours text is no opening by the words around
//! it: a break, a count, a season's variation, hours that were, a time for
//! something else (a call, a sign-up, volunteers).

use super::parts;

/// Whether a range is no opening by the words around it: a break ("(closed
/// 12-12:30 for lunch)"), a count ("ages 5-12", "0 - 18 years"), a
/// season's variation, hours that were, a time for something else ("Call Monday-Friday 9-5
/// to register").
pub(super) fn passed_over(before: &str, rest: &str) -> bool {
    a_break(before)
        || counted(before)
        || counts_after(rest)
        || seasonal(before)
        || superseded(before)
        || elsewhere(before, rest)
}

/// Whether a range is an opening that was and is no more ("Now open
/// Thursdays 3-5 (was Tuesdays 1-3)", "formerly Mondays 9-11").
fn superseded(before: &str) -> bool {
    let lead = before.rsplit(['(', ',', ';', '.']).next().unwrap_or(before);
    let lead = lead.trim_start();
    [
        "was ",
        "were ",
        "previously",
        "formerly",
        "old hours",
        "used to be",
    ]
    .iter()
    .any(|w| lead.starts_with(w))
}

/// Whether the text before a range makes it a time the place is closed
/// ("closed 12-12:30", "(closed from 12 to 1").
fn a_break(before: &str) -> bool {
    let t = lead_in(before);
    ["closed", "closed from", "closed between", "lunch"]
        .iter()
        .any(|w| t.ends_with(w))
}

/// Whether the word before a range says it counts something else than
/// hours ("ages 5-12", "rooms 3-4", "grades 9-12").
fn counted(before: &str) -> bool {
    const COUNTS: [&str; 17] = [
        "age", "ages", "aged", "grade", "grades", "room", "rooms", "suite", "suites", "floor",
        "floors", "sizes", "size", "items", "bags", "lbs", "pounds",
    ];
    let last = lead_in(before)
        .split(|c: char| !c.is_alphanumeric())
        .rfind(|w| !w.is_empty());
    last.is_some_and(|w| COUNTS.contains(&w))
}

/// Whether the word right after a range says it counts something else
/// than hours ("0 - 18 years", "5-10 lbs", "10-20%", "2-3 families").
fn counts_after(after: &str) -> bool {
    const COUNTS: [&str; 20] = [
        "years",
        "year",
        "yrs",
        "months",
        "month",
        "days",
        "people",
        "persons",
        "families",
        "households",
        "lbs",
        "pounds",
        "items",
        "miles",
        "kids",
        "children",
        "adults",
        "bags",
        "boxes",
        "percent",
    ];
    let after = after.trim_start();
    let word = after
        .split(|c: char| !c.is_alphanumeric())
        .next()
        .unwrap_or_default();
    after.starts_with('%') || COUNTS.contains(&word)
}

/// The words right before a range, without the bracket or colon that
/// opens it ("rooms (" and "closed:" end in "rooms" and "closed").
fn lead_in(before: &str) -> &str {
    before
        .trim_end()
        .trim_end_matches(['(', '[', ':'])
        .trim_end()
}

/// Whether a range stands in brackets after a season or months ("Tuesdays
/// 9-11am (June-August: 8-10am)"), or in a sentence of a season's hours
/// ("Summer hours: ..."): a variation of the opening before it, for part of
/// the year, not an opening of its own.
fn seasonal(before: &str) -> bool {
    const SEASONS: [&str; 5] = ["summer", "winter", "spring", "fall", "autumn"];
    const MONTHS: [&str; 16] = [
        "january",
        "february",
        "march",
        "april",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
        "jan",
        "feb",
        "jun",
        "jul",
        "aug",
    ];
    // "... 10 am to 1 pm. Summer hours (June-August): Wednesdays only, 10
    // am to noon": a sentence that starts with a season's hours.
    let sentence = before.rsplit(". ").next().unwrap_or(before).trim_start();
    let mut words = sentence.split(|c: char| !c.is_ascii_alphabetic());
    if words.next().is_some_and(|w| SEASONS.contains(&w))
        && words
            .next()
            .is_some_and(|w| matches!(w, "hours" | "schedule"))
    {
        return true;
    }
    let Some((_, inside)) = before.rsplit_once('(') else {
        return false;
    };
    !inside.contains(')')
        && inside
            .split(|c: char| !c.is_ascii_alphabetic())
            .any(|w| SEASONS.contains(&w) || MONTHS.contains(&w))
}

/// What a clause of coming in for food starts with.
const COMING: [&str; 7] = [
    "stop by", "stop in", "come", "visit", "drop by", "drop in", "walk in",
];

/// Whether the sentence a range stands in speaks of something else than
/// coming for food: the words since the sentence began before it, or up
/// to a comma or the sentence's end after it.
fn elsewhere(before: &str, after: &str) -> bool {
    let ends = |c: char| matches!(c, ';' | '!' | '?');
    let before = before.rsplit(". ").next().unwrap_or(before);
    let before = before.rsplit(ends).next().unwrap_or(before);
    // "Call 765-555-0134 or stop by Wednesdays 2-4 pm", "Volunteers run
    // it ..., open Wednesdays 2-4 pm": after "or" or a comma, coming in or
    // being open is a clause of its own.
    let opens = |t: &&str| {
        let t = t.trim_start();
        COMING.iter().any(|w| t.starts_with(w)) || t.starts_with("open")
    };
    let before = [" or ", ", "]
        .iter()
        .filter_map(|sep| before.rsplit_once(sep).map(|(_, tail)| tail))
        .filter(opens)
        .min_by_key(|tail| tail.len())
        .unwrap_or(before);
    let after = after.split([',', ';', '.']).next().unwrap_or(after);
    parts::about_something_else(before) || parts::about_something_else(before_a_number(after))
}

/// A clause up to a "call" that a phone number follows ("... 10-noon 515 W
/// 4th St call 775-555-0112"): that says how to reach the place, not when
/// to call.
pub(super) fn before_a_number(after: &str) -> &str {
    after
        .match_indices("call ")
        .find(|(at, w)| {
            after[at + w.len()..]
                .trim_start()
                .starts_with(|c: char| c.is_ascii_digit() || c == '(')
        })
        .map_or(after, |(at, _)| &after[..at])
}
