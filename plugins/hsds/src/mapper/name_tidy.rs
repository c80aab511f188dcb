//! A name as free text gives it, without what stands around it: a label
//! before it or after it ("Name: Westgate Pantry | Addr", "Pantry Name -
//! Lighthouse Pantry", "Oak Street Pantry • Location"), a heading
//! ("FOOD PANTRY NEWS: The Westford Food Pantry", "Mobile Pantry
//! Schedule"), a person's title ("Pantry Coordinator, Sacred Heart Food
//! Pantry"), a bracket the text never closed ("Campus Cupboard (Student
//! Union"); and no name at all when what is left names a kind of place or
//! a heading, not one place ("FREE FOOD", "Hours", "Location").

use super::text_name::{GENERIC, HEADINGS, HOST_WORDS, PLACE_WORDS, bare};
use crate::classify::{Rank, Role, rank_role};

/// Words that say when, which end a heading, not a name ("FOOD PANTRY
/// OPEN EVERY FRIDAY"); "today" is a heading's word already.
const WHEN: &[&str] = &[
    "every",
    "each",
    "monday",
    "mondays",
    "tuesday",
    "tuesdays",
    "wednesday",
    "wednesdays",
    "thursday",
    "thursdays",
    "friday",
    "fridays",
    "saturday",
    "saturdays",
    "sunday",
    "sundays",
    "tonight",
];

/// `text` as a name, tidied; `None` when it names no one place.
pub(super) fn tidy(text: &str) -> Option<String> {
    if is_label(text) {
        return None;
    }
    let text = without_trailing_labels(text);
    let text = after_label(text);
    let text = before_open_bracket(text);
    let text = after_title(text);
    let mut words: Vec<&str> = text.split_whitespace().collect();
    let trailing = |w: &str| HEADINGS.contains(&w) || WHEN.contains(&w);
    while words.len() > 1 && words.last().is_some_and(|w| trailing(bare(w).as_str())) {
        words.pop();
    }
    let name = trim_marks(&words.join(" ")).to_string();
    has_own_word(&name).then_some(name)
}

/// Whether `text` holds a word beyond those any pantry's name, a place's
/// kind or a heading may hold ("Hope Pantry" does, "Food Pantry Hours"
/// does not).
pub(super) fn has_own_word(text: &str) -> bool {
    text.split_whitespace().map(bare).any(|w| {
        w.chars().any(char::is_alphabetic)
            && ![GENERIC, PLACE_WORDS, HEADINGS]
                .iter()
                .any(|list| list.contains(&w.as_str()))
    })
}

/// The marks a name never starts or ends with.
fn trim_marks(text: &str) -> &str {
    text.trim_matches(|c: char| {
        c.is_whitespace()
            || matches!(
                c,
                '|' | '\u{2022}'
                    | '\u{b7}'
                    | ','
                    | ':'
                    | ';'
                    | '-'
                    | '\u{2013}'
                    | '\u{2014}'
                    | '@'
                    | '('
                    | '['
            )
    })
}

/// Whether `text` is a field's label ("Addr", "Location", "Pantry Name").
fn is_label(text: &str) -> bool {
    let text = trim_marks(text);
    text.split_whitespace().count() <= 3
        && matches!(rank_role(text), (role, Rank::Exact) if role != Role::Unknown)
}

/// "Oak Street Pantry • Location", "Name: Westgate Pantry | Addr": the
/// labels a directory's line puts after the name, gone.
fn without_trailing_labels(text: &str) -> &str {
    let mut text = trim_marks(text);
    while let Some(at) = text.rfind(['|', '\u{2022}', '\u{b7}'])
        && is_label(&text[at..])
    {
        text = trim_marks(&text[..at]);
    }
    text
}

/// "Name: Westgate Pantry", "Pantry Name - Lighthouse Pantry", "FOOD
/// PANTRY NEWS: The Westford Food Pantry", "Stop: Lincoln Elementary":
/// what follows a label, a heading or one word and a colon, when something
/// follows it.
fn after_label(text: &str) -> &str {
    for mark in [": ", " - ", " \u{2013} ", " \u{2014} "] {
        if let Some((head, rest)) = text.split_once(mark) {
            let rest = trim_marks(rest);
            let one_word = mark == ": " && !head.trim().contains(' ');
            if !rest.is_empty() && (is_label(head) || !has_own_word(head) || one_word) {
                return rest;
            }
        }
    }
    text
}

/// "Campus Cupboard (Student Union": a bracket opened and never closed
/// ends the name.
fn before_open_bracket(text: &str) -> &str {
    match text.rfind('(') {
        Some(at) if !text[at..].contains(')') => trim_marks(&text[..at]),
        _ => text,
    }
}

/// "Pantry Coordinator, Sacred Heart Food Pantry": after a comma, a name
/// of a place follows what names none (a person's title).
fn after_title(text: &str) -> &str {
    let Some((head, rest)) = text.rsplit_once(", ") else {
        return text;
    };
    let kind = |w: &str| {
        let w = bare(w);
        PLACE_WORDS.contains(&w.as_str()) || HOST_WORDS.contains(&w.as_str())
    };
    let head_names_a_place = head.split_whitespace().last().is_some_and(kind);
    let rest_names_a_place = rest.split_whitespace().last().is_some_and(kind) && has_own_word(rest);
    if !head_names_a_place && rest_names_a_place {
        rest.trim()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::tidy;

    #[test]
    fn labels_headings_titles_and_open_brackets_go_and_kinds_name_no_one() {
        for (text, name) in [
            ("Name: Westgate Pantry | Addr", "Westgate Pantry"),
            ("Pantry Name - Lighthouse Pantry", "Lighthouse Pantry"),
            ("Oak Street Pantry \u{2022} Location", "Oak Street Pantry"),
            (
                "FOOD PANTRY NEWS: The Westford Food Pantry",
                "The Westford Food Pantry",
            ),
            ("Mobile Pantry Schedule", "Mobile Pantry"),
            (
                "Pantry Coordinator, Sacred Heart Food Pantry",
                "Sacred Heart Food Pantry",
            ),
            ("Campus Cupboard (Student Union", "Campus Cupboard"),
            ("Bread of Life |", "Bread of Life"),
            ("Stop: Lincoln Elementary", "Lincoln Elementary"),
            // A name with its own brackets, dash or comma stays whole.
            ("Hope Pantry (Eastside)", "Hope Pantry (Eastside)"),
            (
                "Community Pantry, First Baptist Church",
                "Community Pantry, First Baptist Church",
            ),
            ("St. Mary's - Westside", "St. Mary's - Westside"),
            ("Town Hall", "Town Hall"),
        ] {
            assert_eq!(tidy(text).as_deref(), Some(name), "{text}");
        }
        for text in [
            "FREE FOOD",
            "Hours",
            "Location",
            "Direcci\u{f3}n",
            "FOOD PANTRY HOURS",
            "Food Pantry News",
            "Pantry Days",
            "FOOD PANTRY OPEN EVERY FRIDAY",
            "Community Food Pantry",
            "Pantry | Address",
        ] {
            assert_eq!(tidy(text), None, "{text}");
        }
    }
}
