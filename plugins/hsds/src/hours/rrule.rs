//! An iCalendar recurrence rule, as calendar exports and event APIs give a
//! pantry's opening ("RRULE:FREQ=WEEKLY;BYDAY=TU,TH", "FREQ=MONTHLY;
//! BYDAY=3SA", "FREQ=MONTHLY;BYSETPOS=-1;BYDAY=FR"), as the words the
//! hours parser reads ("tu, th", "3rd sa", "last fr").

use super::days::{ORDER, ordinal_word};

/// The days `text` names when it is a recurrence rule (weekly, monthly or
/// daily); `None` for any other text, or a rule this cannot say in words
/// (a yearly one, a day code it does not know, an ordinal past the fifth).
pub fn rrule_days(text: &str) -> Option<String> {
    let t = text.trim();
    let t = strip_prefix_ignoring_case(t, "rrule:").unwrap_or(t);
    let mut freq = None;
    let mut byday = None;
    let mut setpos = None;
    for part in t.split(';').filter(|p| !p.trim().is_empty()) {
        let (key, value) = part.split_once('=')?;
        match key.trim().to_ascii_uppercase().as_str() {
            "FREQ" => freq = Some(value.trim().to_ascii_uppercase()),
            "BYDAY" => byday = Some(value.trim().to_ascii_uppercase()),
            "BYSETPOS" => setpos = Some(value.trim().parse::<i32>().ok()?),
            _ => {}
        }
    }
    match (freq?.as_str(), byday) {
        ("DAILY", None) => Some("daily".to_string()),
        ("DAILY" | "WEEKLY" | "MONTHLY", Some(days)) => words(&days, setpos),
        _ => None,
    }
}

/// "TU,TH" as "tu, th"; "1SA,3SA" as "1st and 3rd sa"; "SA" with a set
/// position 2 as "2nd sa".
fn words(byday: &str, setpos: Option<i32>) -> Option<String> {
    let mut items: Vec<(Option<i32>, String)> = Vec::new();
    for item in byday.split(',') {
        let item = item.trim();
        let split = item.len().checked_sub(2)?;
        let (nth, day) = item.split_at(split);
        if !ORDER.contains(&day) {
            return None;
        }
        let nth = match nth {
            "" => setpos,
            n => Some(n.trim_start_matches('+').parse::<i32>().ok()?),
        };
        items.push((nth, day.to_ascii_lowercase()));
    }
    let ordinals: Vec<&str> = items
        .iter()
        .filter_map(|(n, _)| *n)
        .map(ordinal_word)
        .collect::<Option<_>>()?;
    let first_day = items.first().map(|(_, d)| d.clone())?;
    let one_day = items.iter().all(|(_, d)| *d == first_day);
    Some(match (ordinals.len(), one_day) {
        (0, _) => items
            .into_iter()
            .map(|(_, d)| d)
            .collect::<Vec<_>>()
            .join(", "),
        (n, true) if n == items.len() => format!("{} {first_day}", ordinals.join(" and ")),
        _ => return None,
    })
}

fn strip_prefix_ignoring_case<'t>(text: &'t str, prefix: &str) -> Option<&'t str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

#[cfg(test)]
mod tests {
    use super::rrule_days;

    #[test]
    fn weekly_monthly_and_daily_rules_as_words() {
        let read = |t: &str| rrule_days(t);
        assert_eq!(
            read("RRULE:FREQ=WEEKLY;BYDAY=TU,TH").as_deref(),
            Some("tu, th")
        );
        assert_eq!(read("FREQ=MONTHLY;BYDAY=3SA").as_deref(), Some("3rd sa"));
        assert_eq!(
            read("freq=monthly;byday=1sa,3sa").as_deref(),
            Some("1st and 3rd sa")
        );
        assert_eq!(
            read("FREQ=MONTHLY;BYSETPOS=-1;BYDAY=FR").as_deref(),
            Some("last fr")
        );
        assert_eq!(
            read("FREQ=MONTHLY;BYDAY=+2WE;INTERVAL=1").as_deref(),
            Some("2nd we")
        );
        assert_eq!(read("FREQ=DAILY").as_deref(), Some("daily"));
    }

    #[test]
    fn what_is_no_rule_or_cannot_be_said_is_none() {
        for t in [
            "Tuesdays 10-12",
            "FREQ=YEARLY;BYDAY=SA",
            "FREQ=WEEKLY;BYDAY=XX",
            "FREQ=MONTHLY;BYDAY=7SA",
            "FREQ=MONTHLY;BYDAY=1SA,3TU",
            "BYDAY=TU",
            "FREQ=WEEKLY;BYDAY=",
            "",
        ] {
            assert_eq!(rrule_days(t), None, "{t}");
        }
    }
}
