//! Which days a piece of hours text names: day words in English,
//! Spanish and French, ranges ("mon-fri"), words for several days ("weekdays"), and
//! ordinals ("2nd", "last") for monthly schedules.

use super::patterns;

pub(super) const ORDER: [&str; 7] = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"];
// English, then Spanish, then French (whole words only: "mar" is March,
// "sam" a name).
pub(super) const DAY_PATTERNS: [&str; 7] = [
    r"mon(?:day)?s?|mo|m|lun(?:es)?|lundis?",
    r"tue(?:s(?:day)?)?s?|tu|t|martes|mardis?",
    r"wed(?:nesday)?s?|we|w|mi[ée](?:rcoles)?|mercredis?",
    r"thu(?:r(?:s(?:day)?)?)?s?|th|jue(?:ves)?|jeudis?",
    r"fri(?:day)?s?|fr|f|vie(?:rnes)?|vendredis?",
    r"sat(?:urday)?s?|sa|s[áa]b(?:ados?)?|samedis?",
    r"sun(?:day)?s?|su|dom(?:ingos?)?|dimanches?",
];

/// The letters of a compact run of days ("MWF", "TTh", "MTWRF"), longest
/// first, with the day each stands for.
const LETTERS: [(&str, usize); 9] = [
    ("th", 3),
    ("tu", 1),
    ("sa", 5),
    ("su", 6),
    ("m", 0),
    ("t", 1),
    ("w", 2),
    ("r", 3),
    ("f", 4),
];

/// The days a compact run of day letters names ("mwf", "tth", "mtwtf"):
/// at least two days, each later in the week than the one before, the
/// whole word read. Two letters only for "mw", "mf" and "wf", so that "mt"
/// (Mount) or "tr" (Trail) is not read as days.
pub(super) fn compact(word: &str) -> Option<Vec<usize>> {
    if word.len() < 3 && !matches!(word, "mw" | "mf" | "wf") {
        return None;
    }
    let mut days: Vec<usize> = Vec::new();
    let mut rest = word;
    while !rest.is_empty() {
        let (letters, mut day) = *LETTERS.iter().find(|(l, _)| rest.starts_with(l))?;
        // "MTWTF": a T after Tuesday is Thursday's.
        if letters == "t" && days.last().is_some_and(|&last| last >= 1) {
            day = 3;
        }
        if days.last().is_some_and(|&last| last >= day) {
            return None;
        }
        days.push(day);
        rest = &rest[letters.len()..];
    }
    (days.len() >= 2).then_some(days)
}

/// Whether a short day word is a word of a sentence instead, by what
/// follows it (`rest`): "we are open", "we're open", "su despensa" (a
/// pronoun), "Fr. Mike" (a title), "W Main St" (a direction), "MO 64075"
/// (a state before its ZIP code). A day, a joining word or a time after
/// it keeps it a day ("M W F", "Fr. and Sa.", "W 9-11").
fn not_a_day(word: &str, rest: &str) -> bool {
    const GOES_ON: [&str; 16] = [
        "and",
        "or",
        "to",
        "thru",
        "through",
        "till",
        "until",
        "y",
        "et",
        "a",
        "from",
        "at",
        "only",
        "evenings",
        "mornings",
        "afternoons",
    ];
    let next = rest
        .strip_prefix('.')
        .unwrap_or(rest)
        .strip_prefix(' ')
        .and_then(|r| r.split(|c: char| !c.is_alphanumeric()).next())
        .filter(|w| w.starts_with(|c: char| c.is_alphabetic()));
    let a_word = next.is_some_and(|w| !GOES_ON.contains(&w) && !patterns().day.is_match(w));
    match word {
        "we" | "su" => rest.starts_with(['\'', '\u{2019}']) || next.is_some(),
        "mo" => rest.strip_prefix([' ', ',']).is_some_and(|r| {
            let zip = r.trim_start().as_bytes().get(..5);
            zip.is_some_and(|z| z.iter().all(u8::is_ascii_digit))
        }),
        "m" | "t" | "w" | "f" | "fr" => a_word,
        _ => false,
    }
}

/// Whether `text` holds a compact run of day letters.
pub(super) fn has_compact(text: &str) -> bool {
    words(text).any(|w| compact(w).is_some())
}

fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
}
/// Day codes named in `text`, ranges ("mon-fri", "m - th") expanded, in
/// week order.
pub(super) fn parse_days(text: &str) -> Vec<&'static str> {
    let p = patterns();
    let matches: Vec<(usize, usize, usize)> = p
        .day
        .captures_iter(text)
        .filter_map(|c| {
            let whole = c.get(0)?;
            let day = (0..7).find(|i| c.name(&format!("d{i}")).is_some())?;
            let word_of_a_sentence = not_a_day(whole.as_str(), &text[whole.end()..]);
            (!word_of_a_sentence).then_some((day, whole.start(), whole.end()))
        })
        .collect();
    let mut found = [false; 7];
    // Words for several days at once.
    let words: Vec<&str> = words(text).collect();
    let phrase = |a: &str, b: &str| words.windows(2).any(|w| w[0] == a && w[1] == b);
    let nightly =
        words.contains(&"nightly") || phrase("every", "night") || phrase("every", "evening");
    if words.contains(&"daily") || phrase("every", "day") || phrase("7", "days") || nightly {
        found = [true; 7];
    }
    if words.iter().any(|w| matches!(*w, "weekday" | "weekdays")) {
        found[..5].fill(true);
    }
    if words.iter().any(|w| matches!(*w, "weekend" | "weekends")) {
        found[5..].fill(true);
    }
    for day in words.iter().filter_map(|w| compact(w)).flatten() {
        found[day] = true;
    }
    let mut i = 0;
    while i < matches.len() {
        let (day, _, end) = matches[i];
        // "mon-wed-fri": days joined by dashes three or more in a row are
        // a list, not a range.
        let chain = |j: usize| {
            matches.get(j + 1).is_some_and(|&(_, start, _)| {
                let between = &text[matches[j].2..start];
                between.trim() == "-" && p.between_days.is_match(between)
            })
        };
        let listed = chain(i) && (chain(i + 1) || (i > 0 && chain(i - 1)));
        if let Some(&(next, next_start, _)) = matches.get(i + 1)
            && !listed
            && p.between_days.is_match(&text[end..next_start])
        {
            let mut d = day;
            loop {
                found[d] = true;
                if d == next {
                    break;
                }
                d = (d + 1) % 7;
            }
            i += 2;
            continue;
        }
        // A lone letter (m, t, w, f) counts only next to other day words,
        // or as all a part says before its range ("Hours: M 9-11, W 9-11",
        // "M: 9-12").
        let (start, end) = (matches[i].1, matches[i].2);
        let part_start = text[..start].trim_end();
        let alone = text[end..].trim().trim_start_matches(':').trim().is_empty()
            && (part_start.is_empty() || part_start.ends_with([':', ',', ';', '/']));
        if end - start > 1 || matches.len() > 1 || alone {
            found[day] = true;
        }
        i += 1;
    }
    for day in excepted(text) {
        if let Some(i) = ORDER.iter().position(|d| *d == day) {
            found[i] = false;
        }
    }
    (0..7).filter(|d| found[*d]).map(|d| ORDER[d]).collect()
}

/// The last sentence of `before` (the text before a time range) that
/// names days, when an earlier one ends (`text::ends_sentence`: "choir
/// practice moves to thursday at 7 pm. the pantry is open mondays " is
/// "the pantry is open mondays "): another sentence's days are not the
/// range's. A day's or a street's abbreviation ("tues. & thurs. ", "st.
/// vincent") ends no sentence.
pub(super) fn own_sentence(before: &str) -> &str {
    crate::text::sentence_stops(before)
        .find(|&at| {
            let word = before[..at].rsplit(' ').next().unwrap_or_default();
            let word = word.trim_matches(|c: char| !c.is_ascii_alphanumeric());
            let a_day = !parse_days(word).is_empty() || compact(word).is_some();
            !a_day && !parse_days(&before[at + 2..]).is_empty()
        })
        .map_or(before, |at| &before[at + 2..])
}

/// The days an exception leaves out ("weekdays except wednesday", "9-4
/// (closed wednesday)",
/// "mon-fri excluding thursday"): those named after an exception word, up
/// to the clause's end. None when an ordinal stands among them ("except
/// the last thursday" leaves out one Thursday a month, not the day).
pub(super) fn excepted(text: &str) -> Vec<&'static str> {
    let at = ["except", "excluding", "but not", "(closed"]
        .iter()
        .filter_map(|w| text.find(w).map(|i| i + w.len()))
        .min();
    let Some(at) = at else {
        return Vec::new();
    };
    let clause = text[at..].split([',', ';', ')', '.']).next().unwrap_or("");
    if patterns().ordinal.is_match(clause) {
        return Vec::new();
    }
    parse_days(clause)
}

/// The ordinal word the parser reads for the `n`th of the month's days
/// (1 to 5, -1 for the last): "2nd", "last"; `None` for any other `n`.
pub(crate) fn ordinal_word(n: i32) -> Option<&'static str> {
    match n {
        1 => Some("1st"),
        2 => Some("2nd"),
        3 => Some("3rd"),
        4 => Some("4th"),
        5 => Some("5th"),
        -1 => Some("last"),
        _ => None,
    }
}

pub(super) fn ordinal(word: &str) -> i32 {
    match word {
        "1st" | "first" | "primer" | "primero" | "primera" => 1,
        "2nd" | "second" | "segundo" | "segunda" => 2,
        "3rd" | "third" | "tercer" | "tercero" | "tercera" => 3,
        "4th" | "fourth" | "cuarto" | "cuarta" => 4,
        "5th" | "fifth" | "quinto" | "quinta" => 5,
        // "last", "último", "última".
        _ => -1,
    }
}
