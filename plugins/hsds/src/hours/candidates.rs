//! What a question about an hours text offers to choose from: only what
//! the text itself says, so that an answer cannot be invented.

use super::{PART_ENDS, clean_edges, mentions_hours, names_a_day, normalise, parse, patterns};

/// Most candidates [`candidates`] offers.
const MAX_CANDIDATES: usize = 8;

/// The candidates for `text`: first the days one piece names joined with a
/// time range another piece gives ("Days: Tuesday and Thursday | Hours:
/// 10am - noon" offers "tuesday and thursday 10am - noon"), kept only where
/// the hours parser reads the pair; then the pieces that speak of opening
/// times (a line, a `;` or `|` part, a sentence), as written.
pub fn candidates(text: &str) -> Vec<String> {
    let mut out = pairs(text);
    for piece in pieces(text) {
        if !out.contains(&piece) {
            out.push(piece);
        }
    }
    out.truncate(MAX_CANDIDATES);
    out
}

/// The days a piece without times names, each joined with each time range
/// a piece without days gives, where the hours parser reads the pair.
pub fn pairs(text: &str) -> Vec<String> {
    let pieces = pieces(text);
    let days: Vec<String> = pieces
        .iter()
        .filter(|p| range_spans(p).is_empty())
        .filter_map(|p| day_span(p))
        .collect();
    let ranges: Vec<String> = pieces
        .iter()
        .filter(|p| day_span(p).is_none())
        .flat_map(|p| range_spans(p))
        .collect();
    let mut out: Vec<String> = Vec::new();
    for d in &days {
        for r in &ranges {
            let pair = format!("{d} {r}");
            if !out.contains(&pair) && !parse(&pair).schedules.is_empty() {
                out.push(pair);
            }
        }
    }
    out
}

/// The pieces of `text` that speak of opening times, as written.
fn pieces(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for part in text.split(PART_ENDS) {
        for piece in part.split(". ") {
            let piece = piece.trim().trim_end_matches('.').trim();
            let t = normalise(piece);
            let speaks = names_a_day(&t) || !range_spans(piece).is_empty() || mentions_hours(piece);
            if !piece.is_empty() && speaks && !out.iter().any(|c| c == piece) {
                out.push(piece.to_string());
            }
        }
    }
    out
}

/// From the first day `piece` names to the last ("tuesday and thursday"),
/// with an ordinal before them ("2nd saturday").
fn day_span(piece: &str) -> Option<String> {
    let t = normalise(piece);
    let mut found = patterns().day.find_iter(&t);
    let first = found.next()?;
    let end = found.last().map_or(first.end(), |m| m.end());
    let start = patterns()
        .ordinal
        .find(&t)
        .filter(|o| o.start() < first.start())
        .map_or(first.start(), |o| o.start());
    Some(t[start..end].to_string())
}

/// The time ranges `piece` gives ("10am - noon").
fn range_spans(piece: &str) -> Vec<String> {
    let t = normalise(piece);
    patterns()
        .range
        .find_iter(&t)
        .filter(|m| clean_edges(&t, m.start(), m.end()))
        .map(|m| m.as_str().to_string())
        .collect()
}
