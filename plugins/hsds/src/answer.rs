//! A question about one field, answered only from the record: what the
//! record's own text offers as candidates for a field, and what an answer
//! (the LLM's choice or a person's) reads as. Code asks these when it could
//! not settle a field itself: opening hours it could not read, a field
//! `known_fields` says the record holds that the mapper did not place.

use serde_json::Value;

use crate::classify::{self, Address};
use crate::hours;
use crate::known::Kind;

/// Most candidates one question offers.
const MAX_CANDIDATES: usize = 8;
/// The longest answer read as a name or a city (characters).
const MAX_NAME_CHARS: usize = 200;
const MAX_CITY_CHARS: usize = 60;
/// Words a name candidate has at most.
const MAX_NAME_WORDS: usize = 12;
/// Common ends of a web address written without a scheme.
const SITE_ENDS: [&str; 7] = [".org", ".com", ".net", ".gov", ".edu", ".us", ".info"];

/// An answer read into a value of its field.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// HSDS schedules, as the hours parser gives them.
    Schedules(Vec<Value>),
    /// `(NNN) NNN-NNNN`.
    Phone(String),
    Email(String),
    /// With a scheme.
    Website(String),
    /// With at least a street, a city and a state.
    Address(Address),
    City(String),
    /// Five digits, or ZIP+4.
    PostalCode(String),
    Name(String),
}

/// The candidates for a `kind` question in `text` (the record's text): the
/// [`pieces`] that [`read`] reads as that kind. What the LLM may choose.
pub fn candidates(kind: Kind, text: &str) -> Vec<String> {
    pieces(kind, text)
        .into_iter()
        .filter(|c| read(kind, c).is_some())
        .collect()
}

/// The pieces of `text` that speak of a `kind` field, as written where
/// they can be, at most eight: what a person is offered to start from (an
/// hours piece the parser cannot read among them). None for a city: a
/// person types it.
pub fn pieces(kind: Kind, text: &str) -> Vec<String> {
    let found: Vec<String> = match kind {
        Kind::Hours => hours::candidates(text),
        Kind::Phone => classify::phones_in(text),
        Kind::Email => classify::emails_in(text),
        Kind::Website => websites_in(text),
        Kind::Address => addresses_in(text),
        Kind::PostalCode => zips_in(text),
        Kind::Name => names_in(text),
        Kind::City => Vec::new(),
    };
    let mut out: Vec<String> = Vec::new();
    for c in found {
        let readable_kind = kind == Kind::Hours || read(kind, &c).is_some();
        if !out.contains(&c) && readable_kind {
            out.push(c);
        }
    }
    out.truncate(MAX_CANDIDATES);
    out
}

/// What `text` says as an answer about a `kind` field; `None` when it is
/// not one (a phone that is not ten digits, an address without a city).
pub fn read(kind: Kind, text: &str) -> Option<Answer> {
    let t = text.trim();
    match kind {
        Kind::Hours => {
            let schedules = hours::parse(t).schedules;
            (!schedules.is_empty()).then_some(Answer::Schedules(schedules))
        }
        Kind::Phone => classify::phone(t).map(Answer::Phone),
        Kind::Email => classify::email(t)
            .filter(|e| e.len() == t.len())
            .map(Answer::Email),
        Kind::Website => classify::url(t)
            .map(|(u, _)| u)
            .or_else(|| classify::site(t))
            .map(Answer::Website),
        Kind::Address => classify::address(t)
            .filter(|a| a.street.is_some() && a.city.is_some() && a.state.is_some())
            .map(Answer::Address),
        Kind::City => {
            let plain = t.chars().count() <= MAX_CITY_CHARS
                && t.chars().any(char::is_alphabetic)
                && t.chars()
                    .all(|c| c.is_alphabetic() || matches!(c, ' ' | '.' | '\'' | '-'));
            plain.then(|| Answer::City(t.to_string()))
        }
        Kind::PostalCode => is_zip(t).then(|| Answer::PostalCode(t.to_string())),
        Kind::Name => {
            let fits = !t.is_empty() && t.chars().count() <= MAX_NAME_CHARS;
            fits.then(|| Answer::Name(t.to_string()))
        }
    }
}

/// "08102" or "08102-1234".
fn is_zip(t: &str) -> bool {
    let b = t.as_bytes();
    let digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    match b.len() {
        5 => digits(b),
        10 => digits(&b[..5]) && b[5] == b'-' && digits(&b[6..]),
        _ => false,
    }
}

/// The record's text in parts: lines, `|` and `;` parts.
fn parts(text: &str) -> impl Iterator<Item = &str> {
    text.split(['\n', '|', ';'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
}

/// Web addresses in `text`, with a scheme or `www.`, or a bare domain with
/// a common ending ("example.org/pantry").
fn websites_in(text: &str) -> Vec<String> {
    text.split_whitespace()
        .map(|w| w.trim_matches(|c: char| "()<>\"',;".contains(c)))
        .map(|w| w.trim_end_matches('.'))
        .filter(|w| {
            let lower = w.to_ascii_lowercase();
            classify::url(w).is_some()
                || (!w.contains('@') && SITE_ENDS.iter().any(|end| lower.contains(end)))
        })
        .map(str::to_string)
        .collect()
}

/// Parts of `text` that are a whole address, and an address inside prose.
fn addresses_in(text: &str) -> Vec<String> {
    let mut out: Vec<String> = parts(text).map(str::to_string).collect();
    for part in parts(text) {
        if let Some((start, _)) = classify::address_in(part) {
            out.push(part[start..].trim().to_string());
        }
    }
    out
}

/// Parts of `text` that could be a name: short, with letters, and nothing
/// else a field reads (no phone, email, web address, address or hours).
fn names_in(text: &str) -> Vec<String> {
    parts(text)
        .filter(|p| {
            p.chars().count() <= MAX_NAME_WORDS * 8
                && p.split_whitespace().count() <= MAX_NAME_WORDS
        })
        .filter(|p| p.chars().any(char::is_alphabetic))
        .filter(|p| {
            classify::phones_in(p).is_empty()
                && classify::emails_in(p).is_empty()
                && websites_in(p).is_empty()
                && classify::address(p).is_none()
                && classify::address_in(p).is_none()
                && !hours::mentions_hours(p)
        })
        .map(str::to_string)
        .collect()
}

/// ZIP codes in `text`: five digits (or ZIP+4) standing alone.
fn zips_in(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_ascii_digit() || c == '-'))
        .map(|w| w.trim_matches('-'))
        .filter(|w| is_zip(w))
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const RECORD: &str = "Grace Pantry | Behind the church at 12 Oak St, Camden, NJ 08102 \
        | Call 856-555-0142 or 8565550143 | Tue 10-12; visit www.grace.org or mail help@grace.org";

    #[test]
    fn candidates_are_the_records_own_pieces_of_each_kind() {
        assert_eq!(
            candidates(Kind::Phone, RECORD),
            ["(856) 555-0142", "(856) 555-0143"]
        );
        assert_eq!(candidates(Kind::Email, RECORD), ["help@grace.org"]);
        assert_eq!(candidates(Kind::Website, RECORD), ["www.grace.org"]);
        assert_eq!(candidates(Kind::PostalCode, RECORD), ["08102"]);
        assert_eq!(
            candidates(Kind::Address, RECORD),
            ["12 Oak St, Camden, NJ 08102"]
        );
        assert!(
            candidates(Kind::Hours, RECORD)
                .iter()
                .any(|c| c.contains("Tue 10-12"))
        );
        assert!(candidates(Kind::City, RECORD).is_empty());
        assert_eq!(candidates(Kind::Name, RECORD), ["Grace Pantry"]);
    }

    #[test]
    fn answers_read_as_their_kind_or_not_at_all() {
        assert_eq!(
            read(Kind::Phone, "856 555 0142"),
            Some(Answer::Phone("(856) 555-0142".into()))
        );
        assert_eq!(read(Kind::Phone, "555-0142"), None);
        assert!(read(Kind::PostalCode, "08102-1234").is_some());
        assert_eq!(read(Kind::PostalCode, "8102"), None);
        assert_eq!(
            read(Kind::City, "Camden"),
            Some(Answer::City("Camden".into()))
        );
        assert_eq!(read(Kind::City, "12 Oak St"), None);
        assert_eq!(read(Kind::Email, "write to help@grace.org"), None);
        assert_eq!(
            read(Kind::Website, "www.grace.org"),
            Some(Answer::Website("https://www.grace.org".into()))
        );
        let Some(Answer::Address(a)) = read(Kind::Address, "12 Oak St, Camden, NJ 08102") else {
            panic!("an address");
        };
        assert_eq!(
            (a.street.as_deref(), a.city.as_deref(), a.zip.as_deref()),
            (Some("12 Oak St"), Some("Camden"), Some("08102"))
        );
        assert_eq!(read(Kind::Address, "12 Oak St"), None, "no city, no state");
        assert!(
            matches!(read(Kind::Hours, "Tue 10-12"), Some(Answer::Schedules(s)) if s.len() == 1)
        );
        assert_eq!(read(Kind::Hours, "mornings"), None);
    }
}
