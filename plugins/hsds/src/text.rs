//! Scraped text as plain text: the HTML markup and entities scrapers
//! leave in values, and the placeholders they write for "nothing".

use regex::Regex;
use std::sync::OnceLock;

mod written;

struct Patterns {
    /// A tag that ends a line or a block (`<br>`, `</p>`, `</li>`).
    breaks: Regex,
    tag: Regex,
    entity: Regex,
    table: Regex,
    row: Regex,
    cell: Regex,
}

fn patterns() -> &'static Patterns {
    static P: OnceLock<Patterns> = OnceLock::new();
    P.get_or_init(|| {
        let compile = |p: &str| Regex::new(p).unwrap_or_else(|e| panic!("text pattern {p}: {e}"));
        Patterns {
            breaks: compile(r"(?i)<br\s*/?>|</(?:p|div|li|tr|h[1-6])\s*>"),
            tag: compile(r"</?[a-zA-Z][^<>]*>"),
            entity: compile(r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z]{2,8});"),
            table: compile(r"(?is)<table[^>]*>(.*?)</table\s*>"),
            row: compile(r"(?is)<tr[^>]*>(.*?)</tr\s*>"),
            cell: compile(r"(?is)<t[hd][^>]*>(.*?)</t[hd]\s*>"),
        }
    })
}

/// `text` without markup: Markdown's marks, a CSV line's quotes and a
/// scan's O for a zero first ([`written`]); then line-ending tags become
/// "; " (so each line stays its own part), other tags go, entities are
/// decoded, line breaks are read as [`lines`] says, and white space runs
/// become one space.
pub fn plain(text: &str) -> String {
    let mut t = written::scanned_digits(&written::csv_cells(&written::unmarked(text)));
    if t.contains('<') {
        let p = patterns();
        t = p
            .table
            .replace_all(&t, |c: &regex::Captures| {
                day_columns(&c[1]).unwrap_or_else(|| c[0].to_string())
            })
            .into_owned();
        t = p.breaks.replace_all(&t, "; ").into_owned();
        t = p.tag.replace_all(&t, " ").into_owned();
    }
    if t.contains('&') {
        t = patterns()
            .entity
            .replace_all(&t, |c: &regex::Captures| {
                entity(&c[1]).map_or_else(|| c[0].to_string(), String::from)
            })
            .into_owned();
    }
    let t = lines(&t);
    // Breaks at the ends, or doubled by empty paragraphs, mean nothing.
    let mut parts: Vec<&str> = t.split("; ").map(str::trim).collect();
    parts.retain(|p| !p.is_empty() && *p != ";");
    parts.join("; ").trim_matches([';', ' ']).to_string()
}

/// A week table with the days as columns: a first row of day names and
/// rows below with each day's hours in its column ("<tr><th>Mon</th>
/// <th>Tue</th></tr><tr><td>Closed</td><td>9am-12pm</td></tr>"), as one
/// line a day ("Mon Closed; Tue 9am-12pm; "). `None` for any other table.
fn day_columns(table: &str) -> Option<String> {
    let p = patterns();
    let rows: Vec<Vec<String>> = p
        .row
        .captures_iter(table)
        .map(|row| {
            p.cell
                .captures_iter(&row[1])
                .map(|cell| p.tag.replace_all(&cell[1], " ").trim().to_string())
                .collect()
        })
        .collect();
    let (head, body) = rows.split_first()?;
    let columns = head.len() >= 2
        && head.iter().all(|h| crate::hours::names_days(h))
        && !body.is_empty()
        && body.iter().all(|row| row.len() == head.len());
    if !columns {
        return None;
    }
    let lines: Vec<String> = head
        .iter()
        .enumerate()
        .map(|(i, day)| {
            let cells: Vec<&str> = body.iter().map(|row| row[i].as_str()).collect();
            format!("{day} {}; ", cells.join(" "))
        })
        .collect();
    Some(lines.concat())
}

/// The numbers one to twelve as words, in order: a house number ("One
/// Church Plaza") or an hour ("from nine until noon") written out.
pub(crate) const NUMBER_WORDS: [&str; 12] = [
    "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
    "twelve",
];

/// Whether `word`, written before a full stop (and given without it),
/// ends a sentence there: a clock time ("7pm", "a.m"), a number ("4-6"),
/// or a word of four letters or more; an abbreviation ("St", "Ave", "Mt")
/// ends none.
pub(crate) fn ends_sentence(word: &str) -> bool {
    let bare = word.trim_matches(|c: char| !c.is_alphanumeric());
    let lower = bare.to_ascii_lowercase();
    let meridiem = lower.ends_with("am") || lower.ends_with("pm");
    let clock = matches!(lower.as_str(), "am" | "pm" | "a.m" | "p.m")
        || (meridiem && lower.starts_with(|c: char| c.is_ascii_digit()));
    clock || lower.ends_with(|c: char| c.is_ascii_digit()) || bare.chars().count() > 3
}

/// Where sentences end in `text`, last first: the byte of each ". " whose
/// word before it ends a sentence ([`ends_sentence`]).
pub(crate) fn sentence_stops(text: &str) -> impl Iterator<Item = usize> + '_ {
    text.rmatch_indices(". ")
        .map(|(at, _)| at)
        .filter(move |&at| ends_sentence(text[..at].rsplit(' ').next().unwrap_or_default()))
}

/// Zero-width characters scrapers copy from pages: they separate nothing.
pub(crate) const ZERO_WIDTH: [char; 4] = ['\u{200b}', '\u{200c}', '\u{200d}', '\u{feff}'];

/// Lines made one text, white space runs one space. A line break between
/// a line that ends in a letter or digit and one that starts in capitals
/// or digits ends a part ("Wednesdays: call ahead" / "Fridays: 8-9 am")
/// and becomes "; "; any other ("9:00 AM" / "until food is gone") joins
/// as a space.
fn lines(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split('\n') {
        let line: String = line
            .split(|c: char| c.is_whitespace() || ZERO_WIDTH.contains(&c))
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        if line.is_empty() {
            continue;
        }
        if !out.is_empty() {
            let ends = out.chars().next_back().is_some_and(char::is_alphanumeric);
            let starts = line
                .chars()
                .next()
                .is_some_and(|c| c.is_uppercase() || c.is_ascii_digit());
            out.push_str(if ends && starts { "; " } else { " " });
        }
        out.push_str(&line);
    }
    out
}

/// The character an entity's name (`amp`, `#8217`, `#x2019`) stands for.
fn entity(name: &str) -> Option<char> {
    if let Some(num) = name.strip_prefix('#') {
        let code = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => num.parse().ok()?,
        };
        return char::from_u32(code).filter(|c| !c.is_control() || c.is_whitespace());
    }
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => ' ',
        "rsquo" => '\u{2019}',
        "lsquo" => '\u{2018}',
        "rdquo" => '\u{201D}',
        "ldquo" => '\u{201C}',
        "ndash" => '\u{2013}',
        "mdash" => '\u{2014}',
        "hellip" => '\u{2026}',
        "eacute" => '\u{e9}',
        "aacute" => '\u{e1}',
        "iacute" => '\u{ed}',
        "oacute" => '\u{f3}',
        "uacute" => '\u{fa}',
        "ntilde" => '\u{f1}',
        _ => return None,
    })
}

/// Whether `text` is a scraper's way of saying there is nothing: "N/A",
/// "none", "null", "-", "TBD", "unknown", "not available".
pub fn is_placeholder(text: &str) -> bool {
    let t: String = text
        .trim()
        .trim_end_matches('.')
        .to_ascii_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    t.chars().all(|c| matches!(c, '-' | '_' | '?' | '*' | '.'))
        || matches!(
            t.as_str(),
            "n/a"
                | "na"
                | "n.a"
                | "none"
                | "null"
                | "nil"
                | "undefined"
                | "tbd"
                | "tba"
                | "unknown"
                | "not available"
                | "not applicable"
                | "not listed"
                | "not provided"
                | "no data"
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_and_entities_become_plain_text() {
        assert_eq!(
            plain("<p>Open every 2nd Saturday 9-11</p><p>500 Shiloh Rd,&nbsp;Greensboro</p>"),
            "Open every 2nd Saturday 9-11; 500 Shiloh Rd, Greensboro"
        );
        assert_eq!(plain("Mon<br/>Tue<br>"), "Mon; Tue");
        assert_eq!(
            plain("St. Mary&#8217;s &amp; Sons"),
            "St. Mary\u{2019}s & Sons"
        );
        assert_eq!(
            plain("Caf&eacute; &#x2014; &bogus; a<b"),
            "Caf\u{e9} \u{2014} &bogus; a<b"
        );
        assert_eq!(plain("  two   spaces\n"), "two spaces");
        // A line that ends a part and one that starts another: two parts;
        // a line that goes on ("until ...") or ends in punctuation: one.
        assert_eq!(
            plain("Wednesdays: call ahead\n\nFridays: 8:30 - 9:30 am"),
            "Wednesdays: call ahead; Fridays: 8:30 - 9:30 am"
        );
        assert_eq!(
            plain("Last Wednesday: 9:00 AM\n\nuntil food is gone."),
            "Last Wednesday: 9:00 AM until food is gone."
        );
        assert_eq!(
            plain("9 a.m. - 4:30 p.m.\nCall first"),
            "9 a.m. - 4:30 p.m. Call first"
        );
        assert_eq!(plain("North\u{200b} Semmes"), "North Semmes");
        // A "<" that opens no tag stays.
        assert_eq!(plain("ages < 18 & > 5"), "ages < 18 & > 5");
    }

    #[test]
    fn a_week_table_with_days_as_columns_is_read_by_column() {
        let table = "<table><tr><th>Mon</th><th>Tue</th><th>Thu</th></tr>\
                     <tr><td>Closed</td><td>9am-12pm</td><td><b>4pm-6pm</b></td></tr></table>";
        assert_eq!(plain(table), "Mon Closed; Tue 9am-12pm; Thu 4pm-6pm");
        // A table whose first row is not days stays a table of rows.
        let rows =
            "<table><tr><td>Mon</td><td>9-12</td></tr><tr><td>Tue</td><td>1-3</td></tr></table>";
        assert_eq!(plain(rows), "Mon 9-12; Tue 1-3");
        // Rows of another length than the days' are no columns.
        let ragged = "<table><tr><th>Mon</th><th>Tue</th></tr><tr><td>9-12</td></tr></table>";
        assert_eq!(plain(ragged), "Mon Tue; 9-12");
    }

    #[test]
    fn what_ends_a_sentence_before_a_full_stop() {
        for word in ["7pm", "pm", "a.m", "4-6", "month", "(church)"] {
            assert!(super::ends_sentence(word), "{word}");
        }
        for word in ["St", "Ave", "Mt", "Dr", "Rd"] {
            assert!(!super::ends_sentence(word), "{word}");
        }
    }

    #[test]
    fn placeholders_are_nothing() {
        for t in [
            "N/A",
            "n/a",
            "None",
            "-",
            "--",
            "TBD",
            "Not available.",
            "  null ",
            "",
        ] {
            assert!(is_placeholder(t), "{t:?}");
        }
        for t in ["Nancy's Pantry", "No ID required", "NA Food Bank", "0"] {
            assert!(!is_placeholder(t), "{t:?}");
        }
    }
}
