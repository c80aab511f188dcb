//! Openings said in words the range and day patterns do not take: "doors
//! open at 5:30 pm and close at 7" (a range said as its two ends), hours
//! as words ("from nine to eleven thirty") and Spanish day initials, "L-V"
//! (lunes a viernes). Text here is lower case.

use std::sync::OnceLock;

use regex::Regex;

use super::clock::TIME;
use crate::text::NUMBER_WORDS;

struct Patterns {
    open_close: Regex,
    initials: Regex,
    word_hour: Regex,
}

fn patterns() -> &'static Patterns {
    static P: OnceLock<Patterns> = OnceLock::new();
    P.get_or_init(|| {
        let compile = |p: &str| Regex::new(p).unwrap_or_else(|e| panic!("spoken pattern {p}: {e}"));
        Patterns {
            // "Doors open at 9:30; we close at 11:30": a part's end between
            // them too, so it is read before the text is parted; "doors open
            // 5pm, distribution until 6:30": the end as "until".
            open_close: compile(&format!(
                r"(?i)\bopens?\s+(?:at\s+)?({TIME})\s*[,;]?\s*(?:and\s+)?(?:(?:(?:we|it|they)\s+)?(?:closes?|closing)\s+(?:at\s+)?|(?:[a-z]+\s+){{0,2}}(?:until|till)\s+)({TIME})"
            )),
            initials: compile(r"\bl\s*(?:-|a)\s*([jvsd])\b"),
            word_hour: compile(&format!(
                r"\b({})(?:[\s-]+(fifteen|thirty|forty[\s-]five))?\b",
                NUMBER_WORDS.join("|")
            )),
        }
    })
}

/// `text` with a range said as its two ends ("Doors open at 9:30; we close
/// at 11:30") written as one ("Doors open 9:30-11:30"), before the text is
/// parted at its semicolons.
pub(super) fn ends_joined(text: &str) -> String {
    patterns()
        .open_close
        .replace_all(text, one_range)
        .into_owned()
}

/// An opening and a closing caught by `open_close` as one range ("open
/// 9-11").
fn one_range(c: &regex::Captures) -> String {
    format!("open {}-{}", c[1].trim(), &c[2])
}

/// `t` with a range said as its ends ("open at 5:30 pm and close at 7" as
/// "open 5:30 pm-7") and Spanish initials' day ranges ("l-v" as "lunes a
/// viernes") written as the parser reads them.
pub(super) fn spoken(t: &str) -> String {
    let p = patterns();
    let t = p.open_close.replace_all(t, one_range);
    p.initials
        .replace_all(&t, |c: &regex::Captures| {
            let last = match &c[1] {
                "j" => "jueves",
                "v" => "viernes",
                "s" => "sábado",
                _ => "domingo",
            };
            format!("lunes a {last}")
        })
        .into_owned()
}

/// "from nine until noon", "to eleven thirty": an hour written as a word
/// (and its minutes after it), beside a range's words, as digits.
pub(super) fn word_hours(t: &str) -> String {
    patterns()
        .word_hour
        .replace_all(t, |c: &regex::Captures| {
            let (start, end) = c.get(0).map_or((0, 0), |m| (m.start(), m.end()));
            let before = t[..start].trim_end();
            let after = t[end..].trim_start();
            let last = before.split_whitespace().last().unwrap_or_default();
            let next = after.split_whitespace().next().unwrap_or_default();
            let ranged = matches!(last, "from" | "until" | "till" | "to" | "at")
                || before.ends_with('-')
                || matches!(next, "to" | "until" | "till" | "am" | "pm" | "o'clock")
                || after.starts_with('-');
            let minutes = match c.get(2).map(|m| m.as_str()) {
                Some("fifteen") => ":15",
                Some("thirty") => ":30",
                Some(_) => ":45",
                None => "",
            };
            match NUMBER_WORDS.iter().position(|w| *w == &c[1]) {
                Some(i) if ranged => format!("{}{minutes}", i + 1),
                _ => c[0].to_string(),
            }
        })
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::spoken;

    #[test]
    fn a_range_said_as_its_ends_and_spanish_initials() {
        assert_eq!(
            spoken("doors open at 5:30 pm and close at 7."),
            "doors open 5:30 pm-7."
        );
        assert_eq!(spoken("opens 9am, closes 11am"), "open 9am-11am");
        assert_eq!(
            super::ends_joined("Doors open at 9:30; we close at 11:30 or when food runs out"),
            "Doors open 9:30-11:30 or when food runs out"
        );
        // The end as "until", a word or two before it.
        assert_eq!(
            super::ends_joined("Doors open 5pm, distribution until 6:30."),
            "Doors open 5pm-6:30."
        );
        assert_eq!(
            spoken("doors open at 9 and we serve till 11"),
            "doors open 9-11"
        );
        assert_eq!(
            spoken("l-v 8:00am-12:00pm"),
            "lunes a viernes 8:00am-12:00pm"
        );
        assert_eq!(spoken("l a s 9-1"), "lunes a sábado 9-1");
        // Not initials: a word's letters.
        assert_eq!(spoken("hall-v 9-1"), "hall-v 9-1");
    }
}
