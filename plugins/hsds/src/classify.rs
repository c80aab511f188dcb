//! What a scraped value is, by its key and by its content: a key's role
//! from its many spellings, and detectors for phone numbers, emails, URLs,
//! US addresses and opening hours wherever a scraper put them.

use regex::Regex;
use std::sync::OnceLock;

mod address;
mod key;
mod map_link;
mod street_words;

use address::REMARK;
pub use address::{Address, address, city_line};
pub(crate) use key::words;
pub use key::{Rank, Role, rank_role, role_of};
pub use map_link::map_link_address;
use street_words::SUFFIXES;

/// Whether `word` is a street's type ("St", "Avenue", "Rd.").
pub(crate) fn is_street_type(word: &str) -> bool {
    let w = word.trim_end_matches('.').to_ascii_lowercase();
    SUFFIXES.contains(&w.as_str())
}

struct Patterns {
    phone: Regex,
    extension: Regex,
    email: Regex,
    url: Regex,
    site: Regex,
    zip_tail: Regex,
    street: Regex,
    hyphenated: Regex,
    next_local: Regex,
    next_line: Regex,
    city_zip: Regex,
    four_digit_zip: Regex,
    embedded_address: Regex,
    bare_phone: Regex,
}

fn patterns() -> &'static Patterns {
    static P: OnceLock<Patterns> = OnceLock::new();
    P.get_or_init(|| {
        let compile = |p: &str| Regex::new(p).unwrap_or_else(|e| panic!("pattern {p}: {e}"));
        Patterns {
            // An area code never starts with 0 or 1 ("123-456-7890" is a
            // tax id, "(000) 000-0000" a placeholder).
            // A hyphen may be any of Unicode's ("555‑0190", a
            // non-breaking hyphen from `&#8209;`) or an en dash.
            // Between the groups: a space, or a dash or dot with spaces
            // around it at most ("(812) 555 - 0144"); the last two groups
            // may also run together ("812 5550143").
            phone: compile(
                r"(?:\+?1[\s.\-\x{2010}-\x{2013}]?)?\(?\b([2-9]\d{2})\)?(?:\s*[.\-/\x{2010}-\x{2013}]\s*|\s+)?(\d{3})(?:\s*[.\-\x{2010}-\x{2013}]\s*|\s)?(\d{4})\b",
            ),
            extension: compile(r"(?i)(?:\bext\.?|\bextension|\bx\.?)\s*(\d{1,6})\s*$"),
            email: compile(r"(?i)\b[a-z0-9._%+\-]+@[a-z0-9.\-]+\.[a-z]{2,}\b"),
            url: compile(r"(?i)^(?:https?://|www\.)[^\s]+$"),
            site: compile(r"(?i)^[a-z0-9][a-z0-9\-]*(?:\.[a-z0-9\-]+)*\.[a-z]{2,}(?:/\S*)?$"),
            zip_tail: compile(r"(\d{5})(?:\s*-\s*\d{4})?\s*$"),
            // "123 Main", "17B Oak", and Wisconsin's grid "W5678 County Rd K".
            street: compile(r"^(?:(?i:\d+[a-z]?)|[NSEW]\d{3,})\s+\S"),
            hyphenated: compile(r"^\d{1,3}-\d{1,4}\s+\S"),
            four_digit_zip: compile(r"\b(CT|MA|ME|NH|NJ|RI|VT|PR|VI)\s+(\d{4})\s*$"),
            city_zip: compile(r"^([A-Za-z][A-Za-z .'\-]*?)\s*,?\s+(\d{5})(?:-\d{4})?$"),
            next_local: compile(r"^\s*(?:or|and|/|,|&)\s*([2-9]\d{2})[.\-](\d{4})\b"),
            // "/ 0102": a line's last four digits, nothing after them that
            // goes on with a number.
            next_line: compile(r"^\s*(?:or|/|&)\s*(\d{4})(?:$|[^\d\-./:])"),
            // (A Spanish street's type comes first: "210 Calle Sol, Laredo";
            // a route's number comes last: "812 County Route 9, Ghent".)
            embedded_address: compile(&format!(
                r"(?i)\b\d{{1,6}}[a-z]?\s+(?:(?:[a-z0-9.'#&\-]+\s+){{0,5}}?(?:{})\b\.?|(?:calle|avenida|camino|carretera|paseo)\s+[a-z0-9.'\-]+(?:\s+[a-z0-9.'\-]+){{0,2}}?|(?:[a-z]+\s+){{0,2}}?(?:route|rte|rt|highway|hwy|road|rd|fm)\.?\s+\d{{1,4}}[a-z]?\b)(?:\s*,?\s*(?:suite|ste|unit|room|rm|#)\s*[a-z0-9\-]+)?(?:{})?\s*,?\s+(?:[a-z][a-z.'\-]*\s+){{0,3}}?[a-z][a-z.'\-]*\s*,?\s+(?-i:[A-Z]{{2}}|{})\s*,?\s+\d{{5}}(?:-\d{{4}})?\b",
                SUFFIXES.join("|"),
                REMARK,
                crate::geo::newspaper_pattern()
            )),
            // Ten digits (eleven with a leading 1) written together, as
            // NANP numbers are: area code and exchange not starting 0 or 1.
            bare_phone: compile(r"\b(?:\+?1)?([2-9]\d{2})([2-9]\d{2})(\d{4})\b"),
        }
    })
}

/// The one phone number `text` is (a label such as "Phone:" allowed), as
/// `(NNN) NNN-NNNN`; `None` when the text is something else or holds more.
pub fn phone(text: &str) -> Option<String> {
    // "tel:+15185550131": a page's phone link.
    let t = text.trim();
    let t = t.strip_prefix("tel:").unwrap_or(t).trim();
    // Ten digits with nothing between them ("2155550123", "+12155550123").
    let bare = t
        .strip_prefix("+1")
        .or_else(|| t.strip_prefix('+'))
        .unwrap_or(t);
    let bare = if bare.len() == 11 {
        bare.strip_prefix('1').unwrap_or(bare)
    } else {
        bare
    };
    if bare.len() == 10 && bare.bytes().all(|b| b.is_ascii_digit()) && !bare.starts_with(['0', '1'])
    {
        return Some(format!("({}) {}-{}", &bare[..3], &bare[3..6], &bare[6..]));
    }
    let found: Vec<_> = patterns().phone.captures_iter(t).collect();
    if found.len() != 1 {
        return None;
    }
    let c = &found[0];
    // What is left besides the number: a label or an extension at most.
    let rest = t.replace(&c[0], "");
    let rest = rest
        .trim()
        .trim_matches(|ch: char| ch == ':' || ch == '-' || ch == ',' || ch == '(' || ch == ')');
    let rest = rest.trim().to_ascii_lowercase();
    let label_only = rest.is_empty()
        || ["phone", "tel", "telephone", "call", "ph", "phone number"].contains(&rest.as_str())
        || rest.starts_with("ext")
        || rest.starts_with('x');
    label_only.then(|| formatted(c))
}

/// A street named in prose without its city ("Located at 300 E Lincoln
/// Hwy in the church hall"): after "at", a house number and up to six
/// words, the last a street type, within one clause. For a record whose
/// city line stands in a field of its own.
pub fn street_in(text: &str) -> Option<String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    (1..words.len()).find_map(|i| {
        let number = words[i].len() <= 6 && words[i].bytes().all(|b| b.is_ascii_digit());
        if !(number && words[i - 1].eq_ignore_ascii_case("at")) {
            return None;
        }
        for j in i + 1..(i + 7).min(words.len()) {
            let bare = words[j]
                .trim_end_matches([',', '.', ';'])
                .to_ascii_lowercase();
            if SUFFIXES.contains(&bare.as_str()) {
                return Some(
                    words[i..=j]
                        .join(" ")
                        .trim_end_matches([',', ';'])
                        .to_string(),
                );
            }
            if words[j].ends_with([',', '.', ';']) {
                return None;
            }
        }
        None
    })
}

/// A street and its town in prose without a state or ZIP code, as a
/// newspaper writes them ("The Helping Hands Food Shelf, 75 Depot St.,
/// Brandon, will distribute ...", "behind the fire station at 12 Elm St.
/// in Milford."): after a comma or "at", a house number and up to six
/// words, the last a street type before a comma (or before "in"), then one
/// to three capitalised words before a comma (or, after "in", a full stop).
pub fn street_and_town_in(text: &str) -> Option<(String, String)> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let capitalised = |w: &&str| {
        w.chars().next().is_some_and(char::is_uppercase) && !w.chars().any(|c| c.is_ascii_digit())
    };
    let kind =
        |w: &str| SUFFIXES.contains(&w.trim_end_matches([',', '.']).to_ascii_lowercase().as_str());
    let before_in = |j: usize| words.get(j + 1).is_some_and(|w| *w == "in");
    // "2211 Penn Avenue North in Minneapolis": a direction after the type.
    let direction = |w: &str| {
        let w = w.trim_end_matches([',', '.']).to_ascii_lowercase();
        [
            "north", "south", "east", "west", "n", "s", "e", "w", "ne", "nw", "se", "sw",
        ]
        .contains(&w.as_str())
    };
    (0..words.len()).find_map(|i| {
        let number = words[i].len() <= 6 && words[i].bytes().all(|b| b.is_ascii_digit());
        let starts =
            i == 0 || words[i - 1].ends_with(',') || words[i - 1].eq_ignore_ascii_case("at");
        if !(number && starts) {
            return None;
        }
        let street_end =
            |j: usize| kind(words[j]) || (j > i + 1 && direction(words[j]) && kind(words[j - 1]));
        let j = (i + 1..(i + 7).min(words.len()))
            .find(|&j| words[j].ends_with(',') || (street_end(j) && before_in(j)))?;
        let after_in = before_in(j) && !words[j].ends_with(',');
        let (from, ends): (usize, &[char]) = match after_in {
            true => (j + 2, &[',', '.']),
            false => (j + 1, &[',']),
        };
        // After "in", the town also ends before a lower-case word ("in
        // Minneapolis is open").
        let ends_town = |k: usize| {
            words[k].ends_with(ends)
                || (after_in
                    && words
                        .get(k + 1)
                        .is_some_and(|w| w.starts_with(char::is_lowercase)))
        };
        let k = (from..(from + 3).min(words.len())).find(|&k| ends_town(k))?;
        let town = &words[from..=k];
        (street_end(j) && town.iter().all(capitalised)).then(|| {
            let street = words[i..=j].join(" ").trim_end_matches(',').to_string();
            (
                street,
                town.join(" ").trim_end_matches([',', '.']).to_string(),
            )
        })
    })
}

/// "Corner Pantry 815-555-0113", "Hope Pantry - (518) 555-0120": a name
/// with a phone number at its end, as (the name, the number as `(NNN)
/// NNN-NNNN`); `None` unless both are there.
pub fn name_then_phone(text: &str) -> Option<(String, String)> {
    let t = text.trim();
    let c = patterns().phone.captures_iter(t).last()?;
    let whole = c.get(0)?;
    let name = t[..whole.start()]
        .trim_end()
        .trim_end_matches([',', ':', '-', '|', '\u{2013}'])
        .trim_end();
    let at_end = t[whole.end()..].trim().is_empty();
    (at_end && name.chars().any(char::is_alphabetic)).then(|| (name.to_string(), formatted(&c)))
}

/// "Hudson 12534", "Hudson, 12534-0001": a city field that holds its ZIP
/// code too, as (city, ZIP code).
pub fn city_zip(text: &str) -> Option<(String, String)> {
    let c = patterns().city_zip.captures(text.trim())?;
    Some((c[1].trim().to_string(), c[2].to_string()))
}

/// Whether `text` is a seven-digit local number ("555-0100").
pub fn local_phone(text: &str) -> bool {
    let b = text.trim().as_bytes();
    b.len() == 8
        && matches!(b[3], b'-' | b'.' | b' ')
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 3 || c.is_ascii_digit())
}

/// The extension after a phone number ("x204", "ext. 12", "extension 3").
pub fn extension(text: &str) -> Option<u64> {
    patterns().extension.captures(text.trim())?[1].parse().ok()
}

/// Every phone number inside `text`, with whether the words right after it
/// (or right before it) say it is a fax: "555.123.9999 (Fax)", "Fax: ...".
pub fn labelled_phones(text: &str) -> Vec<(String, bool)> {
    patterns()
        .phone
        .captures_iter(text)
        .filter_map(|c| {
            let whole = c.get(0)?;
            let after: String = text[whole.end()..].chars().take(8).collect();
            let before: String = text[..whole.start()].chars().rev().take(6).collect();
            let fax = after.to_ascii_lowercase().contains("fax")
                || before.to_ascii_lowercase().contains("xaf");
            Some([
                Some((formatted(&c), fax)),
                shares_area(text, &c).map(|n| (n, fax)),
            ])
        })
        .flatten()
        .flatten()
        .collect()
}

/// "(518) 555-0120 or 555-0121": a local number right after a whole one
/// (joined by "or", "and", "/", "," or "&") shares its area code; "812-555-0101
/// / 0102", four digits alone, share its exchange too.
fn shares_area(text: &str, whole: &regex::Captures) -> Option<String> {
    let rest = &text[whole.get(0)?.end()..];
    if let Some(c) = patterns().next_local.captures(rest) {
        return Some(format!("({}) {}-{}", &whole[1], &c[1], &c[2]));
    }
    let c = patterns().next_line.captures(rest)?;
    Some(format!("({}) {}-{}", &whole[1], &whole[2], &c[1]))
}

/// A matched phone number as `(NNN) NNN-NNNN`.
fn formatted(c: &regex::Captures) -> String {
    format!("({}) {}-{}", &c[1], &c[2], &c[3])
}

/// Whether an address is a post-office box ("PO Box 55", "P.O. Box 9"), or
/// a rural route's or highway contract route's box ("RR 2 Box 15", "HC 65
/// Box 12"): where mail goes, not where people come.
pub fn is_po_box(text: &str) -> bool {
    let t: String = text
        .to_ascii_lowercase()
        .chars()
        .filter(|c| !matches!(c, '.' | ' ' | ','))
        .collect();
    if t.starts_with("pobox") || t.starts_with("postofficebox") {
        return true;
    }
    let route = ["ruralroute", "highwaycontractroute", "hcr", "rr", "hc"]
        .iter()
        .find_map(|r| t.strip_prefix(r));
    let Some(rest) = route else {
        return false;
    };
    let after_number = rest.trim_start_matches(|c: char| c.is_ascii_digit());
    after_number.len() < rest.len()
        && after_number
            .strip_prefix("box")
            .is_some_and(|b| b.starts_with(|c: char| c.is_ascii_digit()))
}

/// Every phone number inside free text, formatted: with separators, or
/// ten (eleven) digits together ("Call 18005550142").
pub fn phones_in(text: &str) -> Vec<String> {
    let p = patterns();
    let mut out: Vec<String> = p
        .phone
        .captures_iter(text)
        .flat_map(|c| [Some(formatted(&c)), shares_area(text, &c)])
        .flatten()
        .collect();
    for number in p.bare_phone.captures_iter(text).map(|c| formatted(&c)) {
        if !out.contains(&number) {
            out.push(number);
        }
    }
    if out.is_empty() {
        out.extend(spelled_phone(text));
    }
    out
}

/// "call six one two, five five five, zero one nine nine": a phone
/// number said digit by digit (a voicemail's, a radio spot's), when ten
/// such words stand together.
fn spelled_phone(text: &str) -> Option<String> {
    const DIGITS: [&str; 10] = [
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
    ];
    let mut run = String::new();
    for word in text.split_whitespace() {
        let w = word
            .trim_matches(|c: char| !c.is_alphabetic())
            .to_ascii_lowercase();
        match DIGITS.iter().position(|d| *d == w) {
            Some(d) => run.push(char::from(b'0' + d as u8)),
            None if w == "oh" && !run.is_empty() => run.push('0'),
            None if run.len() == 10 => break,
            None => run.clear(),
        }
    }
    let c = patterns()
        .bare_phone
        .captures(&run)
        .filter(|_| run.len() == 10)?;
    Some(formatted(&c))
}

/// The email address `text` is (or holds, once).
pub fn email(text: &str) -> Option<String> {
    let found: Vec<_> = patterns().email.find_iter(text).collect();
    (found.len() == 1).then(|| found[0].as_str().to_string())
}

/// Every email address inside `text`.
pub fn emails_in(text: &str) -> Vec<String> {
    patterns()
        .email
        .find_iter(text)
        .map(|m| m.as_str().to_string())
        .collect()
}

/// A URL, with a scheme (a bare `www.` gets `https://`); `bool` says
/// whether the scheme was added.
pub fn url(text: &str) -> Option<(String, bool)> {
    let t = text.trim();
    if !patterns().url.is_match(t) {
        return None;
    }
    if t.to_ascii_lowercase().starts_with("www.") {
        Some((format!("https://{t}"), true))
    } else {
        Some((t.to_string(), false))
    }
}

/// A web address without a scheme or `www.` ("example.org/pantry"), for a
/// field whose key says it is a website; with `https://` put in front.
pub fn site(text: &str) -> Option<String> {
    let t = text.trim();
    (patterns().site.is_match(t) && !t.contains('@')).then(|| format!("https://{t}"))
}

/// A whole US address inside longer text ("... Pantry, 88 Oak Ave, Dayton
/// OH 45402. Call ..."): where it starts, and the address. It must end in a
/// state code and a ZIP code, so a number in prose is not taken for one.
pub fn address_in(text: &str) -> Option<(usize, Address)> {
    address_span(text).map(|(start, _, a)| (start, a))
}

/// Like [`address_in`], with where the address ends too.
pub fn address_span(text: &str) -> Option<(usize, usize, Address)> {
    let mut at = 0;
    while let Some(m) = patterns().embedded_address.find_at(text, at) {
        // "Open 9:00-11:00 25 Oak Ave": a clock's minutes start no street;
        // the search goes on from the next character.
        // (Nor does a range's end: "10-12 Saturdays. 400 Harvest Rd".)
        let glued = text[..m.start()]
            .ends_with(|c: char| matches!(c, ':' | '-' | '\u{2013}') || c.is_ascii_digit());
        if !glued
            && !crosses_a_time(m.as_str())
            && let Some(a) = address(m.as_str())
        {
            let whole =
                a.street.is_some() && a.city.is_some() && a.state.is_some() && a.zip.is_some();
            if whole {
                return Some((m.start(), m.end(), a));
            }
        }
        at = m.start() + text[m.start()..].chars().next().map_or(1, char::len_utf8);
    }
    None
}

/// Whether a candidate's words before its first comma hold a time's
/// meridiem or "at" ("11 AM. We're at 45 River Rd"), or end a sentence
/// ("12 Saturdays. 400 Harvest Rd"): its number is not the street's, which
/// starts later.
fn crosses_a_time(candidate: &str) -> bool {
    let street = candidate.split(',').next().unwrap_or(candidate);
    let words: Vec<&str> = street.split_whitespace().collect();
    let last = words.len().saturating_sub(1);
    words.iter().enumerate().skip(1).any(|(i, w)| {
        let bare = w.trim_end_matches(['.', ';']).to_ascii_lowercase();
        let sentence = i < last && w.ends_with('.') && crate::text::ends_sentence(&bare);
        sentence || matches!(bare.as_str(), "am" | "pm" | "a.m" | "p.m" | "at")
    })
}

#[cfg(test)]
mod prose_tests;
#[cfg(test)]
mod tests;
