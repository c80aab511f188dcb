//! How a text lays its hours out, made plain before its lines are read:
//! a week table's rows, a form's multi-select of days, a line of days
//! alone before its time.

use super::{PART_ENDS, names_a_day, names_days, normalise, parse_time, parts};

/// A week table's rows as text ("Mon | 9:00 | 12:00", rows parted by
/// lines or `;`): a day's cell and two cells of one time each make one
/// line, "Mon 9:00-12:00"; other rows stay as they are (their bars part
/// them).
pub(super) fn table_rows(text: &str) -> String {
    text.split(['\n', ';'])
        .map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            match cells.as_slice() {
                [day, opens, closes]
                    if names_a_day(&normalise(day))
                        && parse_time(&normalise(opens)).is_some()
                        && parse_time(&normalise(closes)).is_some() =>
                {
                    format!("{day} {opens}-{closes}")
                }
                _ => line.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// "Monday;Wednesday 4-6 PM": a form's multi-select joins the days it
/// gives by a bare `;` (no space after it); those days are one list, not
/// parts read on their own. A `;` with a space after it still parts.
pub(super) fn picklist(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pieces = text.split(';').peekable();
    while let Some(piece) = pieces.next() {
        out.push_str(piece);
        let Some(next) = pieces.peek() else { break };
        let last = piece.rsplit(['\n', '|']).next().unwrap_or_default();
        let first = next
            .split(|c: char| !c.is_alphabetic())
            .next()
            .unwrap_or_default();
        let joined = next.starts_with(char::is_alphabetic) && names_days(last) && names_days(first);
        out.push_str(if joined { ", " } else { ";" });
    }
    out
}

/// The parts of an hours text, where a part naming days and nothing else
/// ("Tuesday") and the next giving a time range and no day ("10am -
/// 12pm"), as a page's lines turned to text give them, make one part.
pub(super) fn day_then_time(text: &str) -> Vec<String> {
    let parts: Vec<&str> = text.split(PART_ENDS).collect();
    let mut out = Vec::with_capacity(parts.len());
    let mut i = 0;
    while i < parts.len() {
        if let Some(next) = parts.get(i + 1)
            && names_days(parts[i])
            && parts::range_only(next).is_some()
        {
            out.push(format!("{} {}", parts[i].trim(), next.trim()));
            i += 2;
            continue;
        }
        out.push(parts[i].to_string());
        i += 1;
    }
    out
}
