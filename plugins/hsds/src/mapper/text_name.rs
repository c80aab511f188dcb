//! A pantry's name in text, for a record no field names: a part of its own
//! that names a place ("St. Paul's Community Pantry", "MERCY PANTRY",
//! "FOOD PANTRY - SALVATION ARMY OF DANVILLE"), else a name in a sentence
//! ("... the Riverside Church Food Pantry is open ...", "The Bethany Food
//! Pantry, located at ..."). A name is capitalised, ends in or holds a
//! word a pantry is named by, and holds a word of its own besides them
//! ("Food Pantry" alone names no one). A text that names no pantry may
//! still name the place that hosts it ("... hands out groceries at Willow
//! Creek Community Center", "Calvary Chapel"): that is the second choice.

use super::How;
use super::gather::{Found, src};

/// A record that nothing named so far: the first name its description,
/// notes or other prose hold, as the place's (`how: inferred`).
pub(super) fn name_from_text(found: &mut Found) {
    if found.name.is_some() || found.org_name.is_some() || found.place.is_some() {
        return;
    }
    found.place = found.prose.iter().find_map(|(pointer, text)| {
        let name = super::name_tidy::tidy(&name_in_text(text)?)?;
        Some((name, src(pointer, How::Inferred)))
    });
}

/// Words a pantry's name is made around.
pub(super) const PLACE_WORDS: &[&str] = &[
    "pantry",
    "pantries",
    "shelf",
    "closet",
    "cupboard",
    "basket",
    "locker",
    "kitchen",
    "ministry",
    "ministries",
    "mission",
    "outreach",
    "despensa",
    "comedor",
];

/// Words a hosting place's name is made around: a name with one of these
/// is taken when no text names a pantry.
pub(super) const HOST_WORDS: &[&str] = &[
    "church",
    "chapel",
    "center",
    "centre",
    "temple",
    "parish",
    "cathedral",
    "synagogue",
    "mosque",
    "lodge",
    "bank",
    "army",
    "iglesia",
    "parroquia",
    "fellowship",
    "lutheran",
    "baptist",
    "methodist",
    "episcopal",
    "presbyterian",
    "catholic",
    "pentecostal",
    "umc",
    "ame",
    "library",
    "hall",
    "grange",
    "legion",
    "park",
    "school",
    "elementary",
    "college",
    "university",
    "ymca",
    "ywca",
    "vfw",
    "firehouse",
];

/// Words any pantry's name may hold: with only these, a text names a
/// kind of place, not one place.
pub(super) const GENERIC: &[&str] = &[
    "food",
    "community",
    "emergency",
    "free",
    "the",
    "our",
    "a",
    "of",
    "and",
    "bank",
    "de",
    "la",
    "del",
    "el",
    "los",
    "las",
    "y",
    "gratis",
    "gratuita",
    "comida",
    "alimentos",
    "comunitaria",
    "comunitario",
];

/// Words a heading is made of ("Food Pantry News", "Hours", "Mobile
/// Pantry Schedule", "NOW OPEN"): no word of a name of its own.
pub(super) const HEADINGS: &[&str] = &[
    "news",
    "hours",
    "hour",
    "schedule",
    "schedules",
    "update",
    "updates",
    "info",
    "information",
    "announcement",
    "announcements",
    "notice",
    "reminder",
    "alert",
    "calendar",
    "days",
    "dates",
    "open",
    "closed",
    "now",
    "today",
    "welcome",
    "location",
    "locations",
    "horario",
    "horarios",
    "noticias",
];

/// Whether a lower-case word may stand in a name: one that joins its
/// words ("Pantry at St. Mark's"), or says what kind of place it is ("Main
/// pantry", "food bank").
pub(super) fn names_a_kind(word: &str) -> bool {
    joining(word)
        || matches!(word, "at" | "on" | "for" | "in")
        || PLACE_WORDS.contains(&word)
        || GENERIC.contains(&word)
        || HOST_WORDS.contains(&word)
}

/// Words that join a name's capitalised words ("House of Hope").
const JOINING: &[&str] = &["of", "the", "de", "la", "del", "and", "&"];

/// The first name in `text` (a record's free text, its parts parted by
/// lines, bars, bullets and "; "): a pantry's, else a hosting place's.
pub(super) fn name_in_text(text: &str) -> Option<String> {
    [PLACE_WORDS, HOST_WORDS]
        .into_iter()
        .find_map(|kind| name_of_kind(text, kind))
}

/// The first pantry's name in `text` (not a hosting place's), tidied.
pub(super) fn pantry_name(text: &str) -> Option<String> {
    super::name_tidy::tidy(&name_of_kind(text, PLACE_WORDS)?)
}

/// Whether a name holds a word a pantry is named by ("Hope Pantry", not
/// "Jefferson Middle School").
pub(super) fn names_a_pantry(name: &str) -> bool {
    name.split_whitespace()
        .any(|w| PLACE_WORDS.contains(&bare(w).as_str()))
}

/// The first name made around a word of `kind` in `text`: a part that is
/// the name alone, else a name in a sentence.
fn name_of_kind(text: &str, kind: &[&str]) -> Option<String> {
    let parts = || {
        text.split(['|', '\u{2022}', '\u{b7}', '\n'])
            .flat_map(|p| p.split("; "))
            .map(|p| p.trim_matches(|c: char| c.is_whitespace() || c == '"' || c == '\''))
    };
    parts()
        .find(|p| names_one_place(p, kind))
        .map(str::to_string)
        .or_else(|| parts().find_map(|p| name_in_sentence(p, kind)))
}

/// A word without the marks around it and a possessive's "'s", in lower
/// case ("Pantry," is "pantry", "Chapel's" is "chapel").
pub(super) fn bare(word: &str) -> String {
    without_possessive(word.trim_matches(|c: char| !c.is_alphanumeric())).to_lowercase()
}

/// `text` without a possessive's "'s" (straight or curly) at its end.
fn without_possessive(text: &str) -> &str {
    text.strip_suffix("'s")
        .or_else(|| text.strip_suffix("\u{2019}s"))
        .unwrap_or(text)
}

/// Whether a word joins a name's capitalised words ("of", "de", "&").
fn joining(word: &str) -> bool {
    JOINING.contains(&word.to_lowercase().as_str())
}

/// A part that is a name and nothing else: one to eight words, each
/// capitalised or joining ("House of Hope"), no digits, no label, no
/// exclamation.
fn names_one_place(part: &str, kind: &[&str]) -> bool {
    let words: Vec<&str> = part.split_whitespace().collect();
    (1..=8).contains(&words.len())
        && !part
            .chars()
            .any(|c| c.is_ascii_digit() || matches!(c, ':' | '!' | '?'))
        && !part.ends_with(['.', ','])
        && words.iter().all(|w| {
            w.chars().next().is_some_and(char::is_uppercase)
                || joining(w)
                || !w.chars().any(char::is_alphabetic)
        })
        && is_name(&words, kind)
}

/// Whether `words` make a name: a word of `kind` (a pantry's, or a
/// hosting place's) among them written capitalised, and a word of their own.
fn is_name(words: &[&str], kind: &[&str]) -> bool {
    let place = words.iter().any(|w| {
        kind.contains(&bare(w).as_str()) && w.chars().next().is_some_and(char::is_uppercase)
    });
    let own = words.iter().any(|w| {
        let b = bare(w);
        !b.is_empty()
            && !kind.contains(&b.as_str())
            && !GENERIC.contains(&b.as_str())
            && !HEADINGS.contains(&b.as_str())
    });
    place && own
}

/// A name within a sentence: the capitalised words (and the words that
/// join them) around a capitalised place's word, up to a word that ends a
/// clause; a leading "The" is no part of it. Each such word is tried in
/// turn ("Pantry hours are ... Good Shepherd Pantry, ...": the first makes
/// no name).
fn name_in_sentence(part: &str, kind: &[&str]) -> Option<String> {
    let words: Vec<&str> = part.split_whitespace().collect();
    (0..words.len())
        .filter(|&at| kind.contains(&bare(words[at]).as_str()) && capital(words[at]))
        // "15 Chapel St": a street's name, not a place's.
        .filter(|&at| {
            !words
                .get(at + 1)
                .is_some_and(|w| crate::classify::is_street_type(w))
        })
        .find_map(|at| name_around(&words, at, kind))
}

/// Whether a word starts with a capital (after an opening quote or
/// bracket).
fn capital(w: &str) -> bool {
    w.trim_start_matches(['"', '\'', '('])
        .chars()
        .next()
        .is_some_and(char::is_uppercase)
}

/// Whether a word ends a clause ("Pantry,", "open.", not "St.").
fn ends_clause(w: &str) -> bool {
    w.ends_with([',', ';', ':', '!', '?', '"', ')'])
        || (w.ends_with('.') && w.trim_end_matches('.').chars().count() > 3)
}

/// Whether `word` is the number of the post, lodge or chapter before it
/// ("Post 44", "Lodge #1371").
fn numbered(before: &str, word: &str) -> bool {
    let number = word
        .trim_start_matches('#')
        .trim_end_matches(|c: char| !c.is_alphanumeric());
    ["post", "lodge", "chapter", "unit", "council", "local"].contains(&bare(before).as_str())
        && !number.is_empty()
        && number.bytes().all(|b| b.is_ascii_digit())
}

/// The name grown around `words[at]`, if it makes one.
fn name_around(words: &[&str], at: usize, kind: &[&str]) -> Option<String> {
    let mut start = at;
    while start > 0 {
        let before = words[start - 1];
        let joins = joining(before) && start >= 2 && capital(words[start - 2]);
        if ends_clause(before) || !(capital(before) || joins) {
            break;
        }
        start -= 1;
    }
    // Rightwards too: "Despensa de Alimentos San José.", and the number
    // of a post or lodge ("American Legion Post 44").
    let mut end = at + 1;
    while end < words.len() && !ends_clause(words[end - 1]) {
        // "Community Cupboard at St. Paul's": "at" joins a place's name too.
        let joins = (joining(words[end]) || words[end] == "at")
            && words.get(end + 1).is_some_and(|w| capital(w));
        if !(capital(words[end]) || joins || numbered(words[end - 1], words[end])) {
            break;
        }
        end += 1;
    }
    let mut name = &words[start..end];
    if name
        .first()
        .is_some_and(|w| ["the", "our", "this"].contains(&w.to_lowercase().as_str()))
    {
        name = &name[1..];
    }
    let joined = name.join(" ");
    let text = joined
        .trim_matches(|c: char| !c.is_alphanumeric() && c != '.' && c != '\'')
        .trim_end_matches('.');
    // "Hope Chapel's pantry": the place, not its possessive (but "... at
    // St. Paul's." ends with its own name's "'s").
    let before_a_word = end < words.len() && !ends_clause(words[end - 1]);
    let text = match before_a_word {
        true => without_possessive(text),
        false => text,
    }
    .to_string();
    (name.len() <= 8 && is_name(name, kind)).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::name_in_text;

    #[test]
    fn a_part_that_names_a_place_else_a_name_in_a_sentence() {
        let named = |t: &str| name_in_text(t);
        assert_eq!(
            named("FREE FOOD! St. Paul's Community Pantry; Every Wednesday").as_deref(),
            Some("St. Paul's Community Pantry")
        );
        assert_eq!(
            named("MERCY PANTRY; 104 Chestnut St.").as_deref(),
            Some("MERCY PANTRY")
        );
        assert_eq!(
            named("Just a reminder that the Riverside Church Food Pantry is open").as_deref(),
            Some("Riverside Church Food Pantry")
        );
        assert_eq!(
            named("The Bethany Food Pantry, located at 300 Church St").as_deref(),
            Some("Bethany Food Pantry")
        );
        assert_eq!(
            named("ST. JOHN'S PANTRY is OPEN this Friday").as_deref(),
            Some("ST. JOHN'S PANTRY")
        );
        assert_eq!(
            named("Hope Pantry open 2day & every Tue").as_deref(),
            Some("Hope Pantry")
        );
        assert_eq!(
            named("Come to the House of Hope Pantry today").as_deref(),
            Some("House of Hope Pantry")
        );
        assert_eq!(
            named("Pantry hours are Monday 9-11. Good Shepherd Pantry, 19 Shepherd Way").as_deref(),
            Some("Good Shepherd Pantry")
        );
        assert_eq!(
            named("Despensa de Alimentos San José. Abierto los miércoles").as_deref(),
            Some("Despensa de Alimentos San José")
        );
    }

    #[test]
    fn a_hosting_place_when_no_pantry_is_named() {
        let named = |t: &str| name_in_text(t);
        assert_eq!(
            named(
                "The Senior Brown Bag pantry at Willow Creek Community Center hands out groceries"
            )
            .as_deref(),
            Some("Willow Creek Community Center")
        );
        assert_eq!(
            named("Friday Food Box at Calvary Chapel every friday 10-noon").as_deref(),
            Some("Calvary Chapel")
        );
        assert_eq!(
            named("Grace Fellowship pantry this week: Sat 10-12.").as_deref(),
            Some("Grace Fellowship")
        );
        assert_eq!(
            named("open every Tuesday 4-6p @ First UMC, 201 S Main St").as_deref(),
            Some("First UMC")
        );
        assert_eq!(
            named("American Legion Post 44 hosts the monthly food share").as_deref(),
            Some("American Legion Post 44")
        );
        // A possessive's place; a street named for a chapel is no place; a
        // park hosts.
        assert_eq!(
            named("Hope Chapel's pantry is open Tuesday nights at 15 Chapel St").as_deref(),
            Some("Hope Chapel")
        );
        assert_eq!(
            named("Our mobile pantry visits Riverside Park on the fourth Tuesday").as_deref(),
            Some("Riverside Park")
        );
        // "at" joins a place's name; its own "'s" stays.
        assert_eq!(
            named("You've reached the Community Cupboard at St. Paul's. We're open").as_deref(),
            Some("Community Cupboard at St. Paul's")
        );
        // A pantry's name is still first, wherever it stands.
        assert_eq!(
            named("Grace Church; Hope Pantry open Tuesdays").as_deref(),
            Some("Hope Pantry")
        );
        // A kind of place, not one: nothing.
        for text in [
            "Our food pantry is open every Saturday 9-11am",
            "FREE FOOD!",
            "Food Pantry; Tuesdays 10-12",
            "Pantry | Address | City",
            "Visit our pantry.",
            "Food Bank; Community Center",
        ] {
            assert_eq!(named(text), None, "{text}");
        }
    }
}
