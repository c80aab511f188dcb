//! Text written in another format than prose, as the plain text it says:
//! Markdown (`**Address:**`, `## Name`, `- Tuesday: 1-4pm`,
//! `[612-555-0119](tel:6125550119)`), a CSV line (`"Hope Pantry","12 Oak
//! St"`), and digits a scan read as the letter O ("1O4 Chestnut St").

use regex::Regex;
use std::sync::OnceLock;

struct Patterns {
    /// `[text](target)`: a Markdown link.
    link: Regex,
    /// A heading's `#`s, a list item's bullet, at a line's start and
    /// before a word (not "- 5:00pm", a range's end on its own line).
    line_mark: Regex,
    /// Text between `**` or `__` marks: bold.
    bold: Regex,
    /// Digits with an O among them ("1O4", "555-O133", "1O").
    scanned: Regex,
}

fn patterns() -> &'static Patterns {
    static P: OnceLock<Patterns> = OnceLock::new();
    P.get_or_init(|| {
        let compile = |p: &str| Regex::new(p).unwrap_or_else(|e| panic!("text pattern {p}: {e}"));
        Patterns {
            link: compile(r"\[([^\[\]\n]{1,200})\]\(([^()\s]{1,300})\)"),
            line_mark: compile(r"(?m)^[ \t]*(?:#{1,6}|[-*+])[ \t]+([A-Za-z\[])"),
            bold: compile(r"\*\*([^*\n]+)\*\*|__([^_\n]+)__"),
            scanned: compile(r"\b(?:[0-9O]*[0-9][0-9O]*O|O[0-9O]*[0-9])[0-9O]*\b"),
        }
    })
}

/// `text` with Markdown's marks gone: a link is its text (its target
/// after it in brackets, unless it is a phone's or an email's), emphasis
/// marks go, and a heading's `#`s or a list's bullet at a line's start.
pub(super) fn unmarked(text: &str) -> String {
    let marked = ["**", "](", "__", "#"].iter().any(|m| text.contains(m))
        || text
            .lines()
            .any(|l| l.trim_start().starts_with(['-', '*', '+']));
    if !marked {
        return text.to_string();
    }
    let p = patterns();
    let t = p.link.replace_all(text, |c: &regex::Captures| {
        let target = &c[2];
        if target.starts_with("tel:") || target.starts_with("mailto:") || target == &c[1] {
            c[1].to_string()
        } else {
            format!("{} ({target})", &c[1])
        }
    });
    let t = p.bold.replace_all(&t, "$1$2");
    p.line_mark.replace_all(&t, "$1").into_owned()
}

/// A CSV line (`"Hope Pantry","12 Oak St","Camden"`): its cells, joined
/// by ", "; any other text as it is.
pub(super) fn csv_cells(text: &str) -> String {
    let t = text.trim();
    if !(t.starts_with('"') && t.ends_with('"') && t.contains("\",\"")) || t.contains('\n') {
        return text.to_string();
    }
    t[1..t.len() - 1]
        .split("\",\"")
        .map(|cell| cell.replace("\"\"", "\""))
        .map(|cell| cell.trim().to_string())
        .filter(|cell| !cell.is_empty())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Digits a scan read as the letter O given back ("1O4" is 104,
/// "555-O133" 555-0133): a word of digits and O's with a digit in it.
pub(super) fn scanned_digits(text: &str) -> String {
    if !text.contains('O') {
        return text.to_string();
    }
    patterns()
        .scanned
        .replace_all(text, |c: &regex::Captures| c[0].replace('O', "0"))
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_marks_go_and_links_keep_their_text() {
        let md = "## Northside Food Shelf\n\n**Address:** 2200 Lyndale Ave N  \n\
                  **Phone:** [612-555-0119](tel:6125550119)  \n- Tuesday: 1pm - 4pm\n\
                  * [Our site](https://north.example.org)";
        assert_eq!(
            unmarked(md),
            "Northside Food Shelf\n\nAddress: 2200 Lyndale Ave N  \nPhone: 612-555-0119  \n\
             Tuesday: 1pm - 4pm\nOur site (https://north.example.org)"
        );
        // A number sign inside a line is no heading; a dash inside no bullet.
        assert_eq!(unmarked("4 Main St Suite #200"), "4 Main St Suite #200");
        assert_eq!(unmarked("Tue 10 - 12"), "Tue 10 - 12");
        assert_eq!(unmarked("9:00am\n- 5:00pm"), "9:00am\n- 5:00pm");
        // A web address's underscores are no emphasis.
        let url = "https://example.org/food__pantry";
        assert_eq!(unmarked(url), url);
    }

    #[test]
    fn a_csv_line_is_its_cells() {
        assert_eq!(
            csv_cells("\"Hope Pantry\",\"12 Oak St\",\"Say \"\"hi\"\"\",\"\""),
            "Hope Pantry, 12 Oak St, Say \"hi\""
        );
        assert_eq!(csv_cells("\"Open\" Tue, \"Thu\""), "\"Open\" Tue, \"Thu\"");
    }

    #[test]
    fn digits_a_scan_read_as_o() {
        assert_eq!(
            scanned_digits("1O4 Chestnut St. Phone: 717-555-O133. Open 1O am"),
            "104 Chestnut St. Phone: 717-555-0133. Open 10 am"
        );
        // Words are left alone: "OH", "O'Brien", "ONE", "O" alone.
        let words = "OH 43701, O'Brien Rd, ONE WAY, Route O";
        assert_eq!(scanned_digits(words), words);
    }
}
