//! A raw field's value as the text it is placed as: markup and entities
//! gone, a placeholder for nothing made empty, a spreadsheet's number read
//! as the text it stands for, a services field split into its services.

use serde_json::Value;

use super::gather::src;
use super::{How, Source};
use crate::classify::Role;
use crate::text;

/// A scraped text as plain text: HTML markup scrapers leave in (`<p>`,
/// `<br>`: line breaks become "; ") and entities (`&#8217;`, `&amp;`,
/// `&nbsp;`) decoded, runs of white space made one. A placeholder for
/// nothing ("N/A", "none", "-") is the empty text.
fn unescape(text: &str) -> String {
    let t = text::plain(text);
    if text::is_placeholder(&t) {
        return String::new();
    }
    t
}

/// A field's value as the text it is placed as: a text unescaped, a
/// spreadsheet's or an API's number for a ZIP code, a phone or a house
/// number, a time of day written as a number or as digits alone, a ZIP
/// code of four digits given back the leading zero a spreadsheet took;
/// `None` for nothing to place.
pub(super) fn field_text(role: Role, value: &Value) -> Option<String> {
    let text = match value {
        Value::String(s) => unescape(s),
        Value::Number(n) if matches!(role, Role::Zip | Role::Phone | Role::HouseNumber) => {
            n.to_string()
        }
        // `"open_time": 900`, `"from": 9.5`: a time of day as a number.
        Value::Number(n) if role == Role::Hours => crate::hours::number_clock(n)?,
        _ => return None,
    };
    // `"open_time": "0900"`: a 24-hour clock without its colon.
    let text = match role {
        Role::Hours => crate::hours::digits_clock(&text).unwrap_or(text),
        _ => text,
    };
    let four_digits = text.len() == 4 && text.bytes().all(|b| b.is_ascii_digit());
    let text = if role == Role::Zip && four_digits {
        format!("0{text}")
    } else {
        text
    };
    (!text.is_empty() && role != Role::Ignore).then_some(text)
}

/// A services field: a list, each item from its place; a text listing
/// several ("Food Pantry, Hot Meals"), each from the text, split.
pub(super) fn services(value: &Value, p: &str) -> Vec<(String, Source)> {
    match value {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .filter_map(|(i, v)| {
                Some((unescape(v.as_str()?), src(&format!("{p}/{i}"), How::Copied)))
            })
            .collect(),
        Value::String(s) => {
            let parts: Vec<String> = s
                .split([',', ';', '|', '\u{2022}'])
                .map(unescape)
                .filter(|s| !s.is_empty())
                .collect();
            let how = if parts.len() > 1 {
                How::Normalised
            } else {
                How::Copied
            };
            parts.into_iter().map(|t| (t, src(p, how))).collect()
        }
        _ => vec![],
    }
}
