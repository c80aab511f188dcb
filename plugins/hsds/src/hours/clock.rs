//! Clock times in hours text ("9", "9:30", "9am", "noon", "17:00:00") and
//! a range's two ends in seconds since midnight, a missing am/pm inferred.

use super::patterns;

// A meridiem ends its word: the "a" of "10-2 and" is not one.
pub(super) const TIME: &str = r"(?:noon|midnight|\d{1,2}(?::\d{2}){0,2}\s*(?:(?:am|pm|a|p)\b)?)";

/// (hour, minute, second, meridiem: Some(true) for pm).
pub(super) type Time = (u32, u32, u32, Option<bool>);

pub(super) fn parse_time(raw: &str) -> Option<Time> {
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

pub(super) fn to_24(hour: u32, pm: Option<bool>) -> u32 {
    match pm {
        Some(false) if hour == 12 => 0,
        Some(true) if hour != 12 => hour + 12,
        _ => hour,
    }
}

/// Both ends in seconds since midnight, inferring a missing am/pm.
pub(super) fn resolve(start: Time, end: Time) -> Option<(u32, u32)> {
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
    let start_hour_only = smer.is_none() && emer.is_none() && eh < 12 && sh <= 12;
    if start_hour_only && (e <= secs(sh, sm, ss) || (1..=6).contains(&sh)) {
        // "9-5", "10-2": no pantry opens overnight, so the end is in the
        // afternoon (the start, a morning hour, stays as it is). "1-3",
        // "5-7": nor before dawn, so both ends are (the start follows).
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

/// Seconds since midnight as "HH:MM".
pub(crate) fn clock(seconds: u32) -> String {
    format!("{:02}:{:02}", seconds / 3600, seconds / 60 % 60)
}

/// A clock time written as digits alone, "0900", "930", "1130" (a
/// 24-hour clock without its colon), as "09:00"; `None` for other text or
/// a time out of the day.
pub(crate) fn digits_clock(text: &str) -> Option<String> {
    let t = text.trim();
    if !(3..=4).contains(&t.len()) || !t.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u32 = t.parse().ok()?;
    let (h, m) = (n / 100, n % 100);
    (h < 24 && m < 60).then(|| clock(h * 3600 + m * 60))
}

/// A time written as a number: hours and a quarter's fraction (9.5 is
/// "09:30", 13.25 "13:15"), or a 24-hour clock's digits (900 is "09:00").
/// `None` for whole hours under 100 (a count as much as a time), for other
/// fractions (9.3 may be 9:18 or a clock's "9.30") and for a time out of
/// the day.
pub(crate) fn number_clock(n: &serde_json::Number) -> Option<String> {
    if let Some(whole) = n.as_u64() {
        return digits_clock(&whole.to_string());
    }
    let quarters = n.as_f64().filter(|f| (0.0..24.0).contains(f))? * 4.0;
    ((quarters - quarters.round()).abs() < 1e-9).then(|| clock(quarters.round() as u32 * 900))
}
