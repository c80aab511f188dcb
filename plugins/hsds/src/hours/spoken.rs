//! Openings said in words the range and day patterns do not take: "doors
//! open at 5:30 pm and close at 7" (a range said as its two ends) and
//! Spanish day initials, "L-V" (lunes a viernes). Text here is lower case.

use std::sync::OnceLock;

use regex::Regex;

use super::clock::TIME;

struct Patterns {
    open_close: Regex,
    initials: Regex,
}

fn patterns() -> &'static Patterns {
    static P: OnceLock<Patterns> = OnceLock::new();
    P.get_or_init(|| {
        let compile = |p: &str| Regex::new(p).unwrap_or_else(|e| panic!("spoken pattern {p}: {e}"));
        Patterns {
            open_close: compile(&format!(
                r"\bopens?\s+(?:at\s+)?({TIME})\s*,?\s*(?:and\s+)?(?:closes?|closing)\s+(?:at\s+)?({TIME})"
            )),
            initials: compile(r"\bl\s*(?:-|a)\s*([jvsd])\b"),
        }
    })
}

/// `t` with a range said as its ends ("open at 5:30 pm and close at 7" as
/// "open 5:30 pm-7") and Spanish initials' day ranges ("l-v" as "lunes a
/// viernes") written as the parser reads them.
pub(super) fn spoken(t: &str) -> String {
    let p = patterns();
    let t = p.open_close.replace_all(t, "open $1-$2");
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
            spoken("l-v 8:00am-12:00pm"),
            "lunes a viernes 8:00am-12:00pm"
        );
        assert_eq!(spoken("l a s 9-1"), "lunes a sábado 9-1");
        // Not initials: a word's letters.
        assert_eq!(spoken("hall-v 9-1"), "hall-v 9-1");
    }
}
