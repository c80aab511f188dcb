//! Schedules as HSDS writes them: one from the days and times read, and
//! those that differ only in their days made one.

use serde_json::{Value, json};

use super::clock::clock;
use super::days::{ORDER, ordinal, parse_days};
use super::patterns;

/// One HSDS schedule: weekly on `days`, monthly when `side` (the text the
/// days were read from) names ordinals ("2nd and 4th"), every other week
/// when it says so ("every other", "biweekly", "cada dos semanas"); without
/// times when the text gives none ("every 2nd Friday").
pub(super) fn schedule(
    days: &[&str],
    side: &str,
    opens: Option<u32>,
    closes: Option<u32>,
    description: &str,
) -> Value {
    // "every 2nd week" is a fortnight, not the 2nd day of the month ("the
    // 2nd week of the month" stays an ordinal).
    let side = side
        .replace("every 2nd week", "every other week")
        .replace("every second week", "every other week");
    let side = side.as_str();
    let found: Vec<regex::Match> = patterns()
        .ordinal
        .find_iter(side)
        .filter(|m| before_a_day(m.as_str(), &side[m.end()..]) && !excepted(&side[..m.start()]))
        .collect();
    let mut ordinals: Vec<i32> = found.iter().map(|m| ordinal(m.as_str())).collect();
    ordinals.sort_unstable();
    ordinals.dedup();
    let mut schedule = if ordinals.is_empty() {
        json!({"freq": "WEEKLY", "byday": days.join(",")})
    } else {
        // "1st Tue and 3rd Thu": each ordinal with its own days; else
        // every ordinal with every day ("2nd & 4th Tue and Thu").
        let byday = paired(days, side, &found).unwrap_or_else(|| {
            days.iter()
                .flat_map(|d| ordinals.iter().map(move |o| format!("{o}{d}")))
                .collect()
        });
        json!({"freq": "MONTHLY", "byday": byday.join(",")})
    };
    if ordinals.is_empty()
        && [
            "every other",
            "alternate",
            "biweekly",
            "bi-weekly",
            "fortnightly",
            "cada dos semanas",
            "cada otra semana",
            "quincenal",
        ]
        .iter()
        .any(|w| side.contains(w))
    {
        schedule["interval"] = json!(2);
    }
    if let Some(opens) = opens {
        schedule["opens_at"] = json!(clock(opens));
    }
    if let Some(closes) = closes {
        schedule["closes_at"] = json!(clock(closes));
    }
    schedule["description"] = json!(description);
    schedule
}

/// The schedules of `days` read from `side`: one, as [`schedule`] makes
/// it, unless days named before the first ordinal are apart from the days
/// after it ("every Tuesday and the last Saturday of the month"): then the
/// days before run weekly and the ordinals belong to the days after.
pub(super) fn schedules(
    days: &[&str],
    side: &str,
    opens: Option<u32>,
    closes: Option<u32>,
    description: &str,
) -> Vec<Value> {
    let p = patterns();
    let first = p.ordinal.find_iter(side).find(|m| {
        next_word(&side[m.end()..]).is_some_and(|w| !parse_days(w).is_empty())
            && !excepted(&side[..m.start()])
    });
    let Some(first) = first else {
        return vec![schedule(days, side, opens, closes, description)];
    };
    let (before, after) = side.split_at(first.start());
    let later = parse_days(after);
    let weekly: Vec<&str> = parse_days(before)
        .into_iter()
        .filter(|d| days.contains(d) && !later.contains(d))
        .collect();
    let monthly: Vec<&str> = days
        .iter()
        .copied()
        .filter(|d| !weekly.contains(d))
        .collect();
    if weekly.is_empty() || monthly.is_empty() {
        return vec![schedule(days, side, opens, closes, description)];
    }
    vec![
        schedule(&weekly, before, opens, closes, description),
        schedule(&monthly, after, opens, closes, description),
    ]
}

/// Each ordinal of `found` (matches in `side`) with the days named after
/// it, before the next ordinal; ordinals with no day of their own go with
/// the next that has ("1st and 3rd Saturday"). `None` unless every ordinal
/// finds days and every one of `days`, and no other, gets an ordinal: then
/// every ordinal goes with every day.
fn paired(days: &[&str], side: &str, found: &[regex::Match]) -> Option<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    let mut pending: Vec<i32> = Vec::new();
    for (i, m) in found.iter().enumerate() {
        pending.push(ordinal(m.as_str()));
        let end = found.get(i + 1).map_or(side.len(), |n| n.start());
        let named = parse_days(&side[m.end()..end]);
        if named.iter().any(|d| !days.contains(d)) {
            return None;
        }
        for d in &named {
            out.extend(pending.iter().map(|o| format!("{o}{d}")));
        }
        if !named.is_empty() {
            pending.clear();
        }
    }
    let every_day = days.iter().all(|d| {
        out.iter()
            .any(|b| b.trim_start_matches(|c: char| c == '-' || c.is_ascii_digit()) == *d)
    });
    out.dedup();
    (pending.is_empty() && every_day).then_some(out)
}

/// Whether an ordinal is one the opening leaves out ("Thursdays (except
/// the last Thursday)"): an exception word just before it.
fn excepted(before: &str) -> bool {
    let words: Vec<&str> = before
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty() && *w != "the" && *w != "on")
        .collect();
    words
        .last()
        .is_some_and(|w| matches!(*w, "except" | "excluding" | "not" | "but" | "exceptions"))
}

/// The first word of `rest` after joining words and other ordinals.
fn next_word(rest: &str) -> Option<&str> {
    let p = patterns();
    rest.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .find(|w| !matches!(*w, "and" | "or" | "of" | "the" | "each") && !p.ordinal.is_match(w))
}

/// Whether an ordinal is one of a day ("1st & 3rd Saturdays", "2nd, 3rd,
/// and 4th Tuesday", "the 2nd week", "Fri 9-11 (1st & 3rd)"), not a word
/// in passing ("until supplies last", "first come"): after other ordinals
/// and joining words, a day or a week follows, or nothing after a numeral.
fn before_a_day(ordinal: &str, rest: &str) -> bool {
    match next_word(rest) {
        Some(w) => !parse_days(w).is_empty() || w.starts_with("week") || w == "semana",
        None => ordinal.starts_with(|c: char| c.is_ascii_digit()),
    }
}

/// One schedule per (freq, interval, dtstart, opens_at, closes_at), days
/// joined in week order.
pub(super) fn merge(schedules: Vec<Value>) -> Vec<Value> {
    let mut merged: Vec<Value> = Vec::new();
    for s in schedules {
        let key = |v: &Value| {
            (
                v["freq"].clone(),
                v["interval"].clone(),
                v["dtstart"].clone(),
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
