//! Calendar dates in hours text: "2024-06-01", "6/1/2024", "June 1, 2024",
//! "Sat, Jun 1 2024". A time range with a date is one opening on that day
//! (a mobile pantry's stop), not a weekly one.

use regex::Regex;
use std::sync::OnceLock;

use super::days::ORDER;

/// A valid calendar date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Date {
    year: i32,
    month: u32,
    day: u32,
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

fn patterns() -> &'static [Regex; 5] {
    static P: OnceLock<[Regex; 5]> = OnceLock::new();
    P.get_or_init(|| {
        let compile = |p: &str| Regex::new(p).unwrap_or_else(|e| panic!("date pattern {p}: {e}"));
        [
            // ISO 8601, a time after it ("2024-06-01t10:00:00") allowed.
            compile(r"\b(\d{4})-(\d{2})-(\d{2})(?:\b|t)"),
            // US month/day/year.
            compile(r"\b(\d{1,2})/(\d{1,2})/(\d{4})\b"),
            // "june 1, 2024", "jun. 1st 2024".
            compile(
                r"\b(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})\b",
            ),
            // "jan 20" with the year said once elsewhere ("2024 dates: ...").
            compile(
                r"\b(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+(\d{1,2})(?:st|nd|rd|th)?\b",
            ),
            // That year: 2000 to 2099 (its neighbours checked apart).
            compile(r"\b20\d{2}\b"),
        ]
    })
}

impl Date {
    fn new(year: i32, month: u32, day: u32) -> Option<Date> {
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        let days_in_month = match month {
            2 if leap => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            1..=12 => 31,
            _ => return None,
        };
        ((1900..=2200).contains(&year) && (1..=days_in_month).contains(&day)).then_some(Date {
            year,
            month,
            day,
        })
    }

    /// `YYYY-MM-DD`.
    pub(super) fn iso(&self) -> String {
        format!("{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }

    /// The day of the week as an RFC 5545 code (`MO`..`SU`).
    pub(super) fn weekday(&self) -> &'static str {
        // Sakamoto's method: 0 is Sunday.
        const T: [i32; 12] = [0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4];
        let y = if self.month < 3 {
            self.year - 1
        } else {
            self.year
        };
        let sunday_first =
            (y + y / 4 - y / 100 + y / 400 + T[self.month as usize - 1] + self.day as i32) % 7;
        ORDER[(sunday_first as usize + 6) % 7]
    }
}

/// The dates in lower-case text, with their byte spans, in order.
pub(super) fn dates(t: &str) -> Vec<(usize, usize, Date)> {
    let [iso, us, named, month_day, year] = patterns();
    let mut found: Vec<(usize, usize, Date)> = Vec::new();
    let mut add = |re: &Regex, read: &dyn Fn(&regex::Captures) -> Option<Date>| {
        for c in re.captures_iter(t) {
            let Some(whole) = c.get(0) else { continue };
            // The "t" of an ISO date-time stays with the time.
            let end = whole.end() - usize::from(whole.as_str().ends_with('t'));
            let overlaps = found.iter().any(|(s, e, _)| whole.start() < *e && *s < end);
            if let Some(date) = read(&c).filter(|_| !overlaps && !stamped(&t[..whole.start()])) {
                found.push((whole.start(), end, date));
            }
        }
    };
    let num = |c: &regex::Captures, i: usize| c.get(i)?.as_str().parse::<u32>().ok();
    add(iso, &|c| {
        Date::new(num(c, 1)? as i32, num(c, 2)?, num(c, 3)?)
    });
    add(us, &|c| {
        Date::new(num(c, 3)? as i32, num(c, 1)?, num(c, 2)?)
    });
    add(named, &|c| {
        let month = MONTHS.iter().position(|m| *m == &c[1])? as u32 + 1;
        Date::new(num(c, 3)? as i32, month, num(c, 2)?)
    });
    // A month and day with no year take the one year the text states.
    // (Not part of a date, a time or a number: "2024-06-01", "20:30".)
    let joined = |c: char| matches!(c, '-' | '/' | ':' | '.');
    let next_joins = |rest: &str| {
        let mut c = rest.chars();
        c.next().is_some_and(joined) && c.next().is_some_and(|d| d.is_ascii_digit())
    };
    let years: Vec<i32> = year
        .find_iter(t)
        .filter(|m| !t[..m.start()].ends_with(joined) && !next_joins(&t[m.end()..]))
        .filter_map(|m| m.as_str().parse().ok())
        .collect();
    if let [stated] = years[..] {
        add(month_day, &|c| {
            let month = MONTHS.iter().position(|m| *m == &c[1])? as u32 + 1;
            Date::new(stated, month, num(c, 2)?)
        });
    }
    found.sort_by_key(|(s, _, _)| *s);
    found
}

/// "2024 dates: jan 20, feb 17, mar 16 - 9am to 11am": a list of dates
/// that share the one time after them, as one text a date ("2024-01-20
/// 9am to 11am"); `None` unless two or more dates stand together, parted
/// only by commas, "and" or "&", before a rest that holds a time.
pub(super) fn dated_list(t: &str) -> Option<Vec<String>> {
    let found = dates(t);
    let last = found.last()?;
    let parted = found.windows(2).all(|w| {
        t[w[0].1..w[1].0]
            .split(|c: char| c.is_whitespace() || matches!(c, ',' | '&'))
            .all(|word| word.is_empty() || word == "and")
    });
    let rest = t[last.1..].trim_start_matches(|c: char| {
        c.is_whitespace() || matches!(c, ',' | '-' | ':' | '\u{2013}' | '\u{2014}')
    });
    // (No time after them: read as any line is.)
    if found.len() < 2 || !parted || !rest.contains(|c: char| c.is_ascii_digit()) {
        return None;
    }
    Some(
        found
            .iter()
            .map(|(_, _, d)| format!("{} {rest}", d.iso()))
            .collect(),
    )
}

/// Whether the text before a date makes it the record's own stamp ("last
/// updated 3/2/2024", "as of 1/5/2025"), not a day the place opens.
fn stamped(before: &str) -> bool {
    let before = before.trim_end().trim_end_matches(':').trim_end();
    let before = before.strip_suffix(" on").unwrap_or(before);
    [
        "updated", "as of", "posted", "revised", "verified", "modified", "reviewed", "edited",
    ]
    .iter()
    .any(|w| before.ends_with(w))
}

/// Whether `text` begins with a date ("2024-06-01 10:00-12:00").
pub fn starts_with_date(text: &str) -> bool {
    dates(&text.trim_start().to_lowercase())
        .first()
        .is_some_and(|(s, _, _)| *s == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_records_own_stamp_is_no_date_of_opening() {
        assert!(dates("tuesday 10-12 (last updated 3/2/2024 10:15 am)").is_empty());
        assert!(dates("as of: 2024-03-02").is_empty());
        assert_eq!(dates("saturday, march 2, 2024 10am-12pm").len(), 1);
    }

    #[test]
    fn dates_in_three_spellings_and_their_weekdays() {
        let read = |t: &str| -> Vec<(String, &str)> {
            dates(t)
                .into_iter()
                .map(|(_, _, d)| (d.iso(), d.weekday()))
                .collect()
        };
        assert_eq!(read("2024-06-01 10:00"), vec![("2024-06-01".into(), "SA")]);
        assert_eq!(read("on 6/3/2024"), vec![("2024-06-03".into(), "MO")]);
        assert_eq!(
            read("sat, june 1st, 2024 and dec. 25 2023"),
            vec![("2024-06-01".into(), "SA"), ("2023-12-25".into(), "MO")]
        );
        assert_eq!(read("2000-02-29t09:00"), vec![("2000-02-29".into(), "TU")]);
        // Not dates: a 31st of June, a February 29th of a common year,
        // phone numbers, times.
        assert!(read("2024-06-31 2023-02-29 555-0100 9/5 10-12").is_empty());
        // A month and day take the one year the text states.
        assert_eq!(
            read("2024 dates: jan 20, feb 17"),
            vec![("2024-01-20".into(), "SA"), ("2024-02-17".into(), "SA")]
        );
        assert!(read("dates: jan 20, feb 17").is_empty());
        assert!(read("2024 or 2025: jan 20").is_empty());
        assert!(starts_with_date("2024-06-01 10:00 AM-12:00 PM"));
        assert!(!starts_with_date("Saturday 2024-06-01"));
    }
}

#[cfg(test)]
mod list_tests {
    #[test]
    fn dates_that_share_one_time() {
        assert_eq!(
            super::dated_list("2024 distribution dates: jan 20, feb 17 and mar 16 - 9am to 11am"),
            Some(vec![
                "2024-01-20 9am to 11am".to_string(),
                "2024-02-17 9am to 11am".to_string(),
                "2024-03-16 9am to 11am".to_string()
            ])
        );
        // One date, or dates with words between: no list.
        assert_eq!(super::dated_list("saturday, june 1, 2024 9-11"), None);
        assert_eq!(
            super::dated_list("june 1, 2024 9-11; closed june 8, 2024"),
            None
        );
    }
}
