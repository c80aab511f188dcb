//! How complete and how right a document is, measured against what a
//! person took from the raw record by hand: per field, how many of the
//! person's values the document holds (recall) and how many of the
//! document's values the person also took (precision).
//!
//! An [`Answer`] is one record's hand-made answer (`tests/fixtures/
//! answers.jsonl`): its schedules written as `"<byday> <opens>-<closes>"`
//! (`"TU,TH 12:00-14:00"`, `"-1WE 09:00-"` with no closing time, `"2FR"`
//! with no times, `"2024-06-01 10:00-12:00"` for one dated opening), its
//! phones as digits, its addresses' line, city, state and ZIP code.
//!
//! A schedule counts when its days and times match: each schedule is
//! spread into (day, opens, closes) slots, an answer's schedule is found
//! when the document holds all its slots, and a document's schedule is
//! right when the answer holds all of its own; one with no day and no time
//! (a description only) claims nothing and is not counted. Recurrence (`interval`,
//! `freq`) is not compared. Text is compared without case, punctuation
//! or repeated spaces; a ZIP code by its first five digits; a name also
//! without a leading "The". A name is scored only on records whose answer
//! holds one: the document's organization name is found, and right when
//! it is one of the answer's spellings.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde_json::Value;

/// The fields scored, in report order.
pub const FIELDS: [&str; 7] = [
    "name",
    "schedules",
    "phones",
    "address_1",
    "city",
    "state",
    "postal_code",
];

/// One address as a person wrote it down; any part may be missing.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AnswerAddress {
    pub address_1: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postal_code: Option<String>,
}

/// What a person took from one raw record.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Answer {
    #[serde(default)]
    pub schedules: Vec<String>,
    #[serde(default)]
    pub phones: Vec<String>,
    #[serde(default)]
    pub addresses: Vec<AnswerAddress>,
    /// The spellings of the place's name a person accepts; empty when the
    /// answer names none (the name is then not scored).
    #[serde(default, deserialize_with = "spellings")]
    pub name: Vec<String>,
}

/// `"name"` as one string or a list of strings.
fn spellings<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<OneOrMany>::deserialize(d)? {
        None => Vec::new(),
        Some(OneOrMany::One(s)) => vec![s],
        Some(OneOrMany::Many(v)) => v,
    })
}

/// One line of an answers file (`tests/fixtures/answers.jsonl`): which
/// input and record it answers, and the answer.
#[derive(Deserialize)]
struct Row {
    input: String,
    record: usize,
    #[serde(flatten)]
    answer: Answer,
}

/// The answers a JSON-lines answers file holds for one input (`sample`,
/// `other`), as (record number, answer), in record order.
pub fn answers(jsonl: &str, input: &str) -> Result<Vec<(usize, Answer)>, serde_json::Error> {
    let mut rows = Vec::new();
    for line in jsonl.lines().filter(|l| !l.trim().is_empty()) {
        let row: Row = serde_json::from_str(line)?;
        if row.input == input {
            rows.push((row.record, row.answer));
        }
    }
    rows.sort_by_key(|(record, _)| *record);
    Ok(rows)
}

/// Counts for one field: values the answer holds, values the document
/// holds, and values both hold.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub expected: usize,
    pub found: usize,
    /// Answer values the document holds.
    pub recalled: usize,
    /// Document values the answer holds.
    pub right: usize,
}

impl Counts {
    /// Recall in [0, 1]; 1 when nothing was expected.
    pub fn recall(&self) -> f64 {
        ratio(self.recalled, self.expected)
    }

    /// Precision in [0, 1]; 1 when nothing was found.
    pub fn precision(&self) -> f64 {
        ratio(self.right, self.found)
    }

    /// Document values the record does not support.
    pub fn unsupported(&self) -> usize {
        self.found - self.right
    }

    fn add(&mut self, other: Counts) {
        self.expected += other.expected;
        self.found += other.found;
        self.recalled += other.recalled;
        self.right += other.right;
    }
}

fn ratio(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        1.0
    } else {
        part as f64 / whole as f64
    }
}

/// Counts per field, summed over records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally(pub BTreeMap<&'static str, Counts>);

impl Tally {
    pub fn field(&self, name: &str) -> Counts {
        self.0.get(name).copied().unwrap_or_default()
    }

    pub fn add(&mut self, other: &Tally) {
        for (k, v) in &other.0 {
            self.0.entry(k).or_default().add(*v);
        }
    }

    /// One line per field: counts, recall and precision.
    pub fn report(&self) -> String {
        FIELDS
            .iter()
            .map(|f| {
                let c = self.field(f);
                format!(
                    "{f:<12} expected {:>3} found {:>3} recall {:>5.1}% precision {:>5.1}% unsupported {}",
                    c.expected,
                    c.found,
                    100.0 * c.recall(),
                    100.0 * c.precision(),
                    c.unsupported()
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Scores `document` (an HSDS document, or the mapper's draft: anything
/// holding `schedules`, `phones` and `addresses` lists) against `answer`.
pub fn score(document: &Value, answer: &Answer) -> Tally {
    let mut tally = Tally::default();
    if !answer.name.is_empty() {
        tally.0.insert("name", name_counts(document, &answer.name));
    }
    // A schedule with no day and no time (its text only) claims nothing.
    let found: Vec<Vec<Slot>> = lists(document, "schedules")
        .iter()
        .map(|s| document_slots(s))
        .filter(|slots| {
            slots
                .iter()
                .any(|(d, o, c)| !(d.is_empty() && o.is_empty() && c.is_empty()))
        })
        .collect();
    let expected: Vec<Vec<Slot>> = answer.schedules.iter().map(|s| answer_slots(s)).collect();
    let all_found: BTreeSet<&Slot> = found.iter().flatten().collect();
    let all_expected: BTreeSet<&Slot> = expected.iter().flatten().collect();
    let held = |slots: &[Slot], set: &BTreeSet<&Slot>| slots.iter().all(|s| set.contains(s));
    tally.0.insert(
        "schedules",
        Counts {
            expected: expected.len(),
            found: found.len(),
            recalled: expected.iter().filter(|s| held(s, &all_found)).count(),
            right: found.iter().filter(|s| held(s, &all_expected)).count(),
        },
    );
    let phones: BTreeSet<String> = lists(document, "phones")
        .iter()
        .filter_map(|p| p.get("number").and_then(Value::as_str))
        .map(digits)
        .collect();
    let wanted: BTreeSet<String> = answer.phones.iter().map(|p| digits(p)).collect();
    tally.0.insert("phones", counts(&wanted, &phones));
    let addresses = lists(document, "addresses");
    for field in ["address_1", "city", "state", "postal_code"] {
        let key = if field == "state" {
            "state_province"
        } else {
            field
        };
        let have: BTreeSet<String> = addresses
            .iter()
            .filter_map(|a| a.get(key).and_then(Value::as_str))
            .map(|v| text(field, v))
            .filter(|v| !v.is_empty())
            .collect();
        let want: BTreeSet<String> = answer
            .addresses
            .iter()
            .filter_map(|a| match field {
                "address_1" => a.address_1.as_deref(),
                "city" => a.city.as_deref(),
                "state" => a.state.as_deref(),
                _ => a.postal_code.as_deref(),
            })
            .map(|v| text(field, v))
            .collect();
        tally.0.insert(field, counts(&want, &have));
    }
    tally
}

/// The document's organization name against a person's spellings: one
/// expected; found when the document names its organization; recalled and
/// right when that name is one of the spellings.
fn name_counts(document: &Value, spellings: &[String]) -> Counts {
    let found = lists(document, "organization")
        .first()
        .and_then(|o| o.get("name"))
        .and_then(Value::as_str)
        .map(|n| text("name", n))
        .filter(|n| !n.is_empty());
    let hit = found
        .as_ref()
        .is_some_and(|n| spellings.iter().any(|s| text("name", s) == *n));
    Counts {
        expected: 1,
        found: usize::from(found.is_some()),
        recalled: usize::from(hit),
        right: usize::from(hit),
    }
}

fn counts(want: &BTreeSet<String>, have: &BTreeSet<String>) -> Counts {
    let both = want.intersection(have).count();
    Counts {
        expected: want.len(),
        found: have.len(),
        recalled: both,
        right: both,
    }
}

/// Every item of every list named `key`, anywhere in `value`.
fn lists<'v>(value: &'v Value, key: &str) -> Vec<&'v Value> {
    let mut out = Vec::new();
    match value {
        Value::Object(m) => {
            for (k, v) in m {
                match v.as_array() {
                    Some(items) if k == key => out.extend(items.iter()),
                    _ => out.extend(lists(v, key)),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| out.extend(lists(v, key))),
        _ => {}
    }
    out
}

fn digits(s: &str) -> String {
    let d: String = s.chars().filter(char::is_ascii_digit).collect();
    // A leading country code 1 on an 11-digit number is the same number.
    match d.strip_prefix('1') {
        Some(rest) if d.len() == 11 => rest.to_string(),
        _ => d,
    }
}

/// A value as compared: lower case, words only; a ZIP code's first five.
fn text(field: &str, v: &str) -> String {
    // A dot joins ("P.O. Box" is "PO Box"); other punctuation parts words.
    let t: String = v
        .chars()
        .filter(|c| *c != '.')
        .map(|c| {
            if c.is_alphanumeric() || c == '#' {
                c.to_ascii_lowercase()
            } else {
                ' '
            }
        })
        .collect();
    let t = t.split_whitespace().collect::<Vec<_>>().join(" ");
    match field {
        "postal_code" => t.chars().take(5).collect(),
        "name" => t.strip_prefix("the ").map(str::to_string).unwrap_or(t),
        _ => t,
    }
}

/// (day, opens, closes): a day is a byday token (`TU`, `2FR`, `-1WE`) or
/// a date; a missing time is empty.
type Slot = (String, String, String);

fn hhmm(t: Option<&str>) -> String {
    t.map(|t| t.get(..5).unwrap_or(t).to_string())
        .unwrap_or_default()
}

const WEEK: [&str; 7] = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"];

fn document_slots(s: &Value) -> Vec<Slot> {
    let field = |k: &str| s.get(k).and_then(Value::as_str);
    let opens = hhmm(field("opens_at"));
    let closes = hhmm(field("closes_at"));
    let once = s.get("count").and_then(Value::as_i64) == Some(1);
    let days: Vec<String> = match (field("dtstart"), field("byday")) {
        (Some(date), _) if once => vec![date.to_string()],
        (_, Some(byday)) => byday.split(',').map(|d| d.trim().to_string()).collect(),
        _ if field("freq") == Some("DAILY") => WEEK.iter().map(|d| d.to_string()).collect(),
        _ => vec![String::new()],
    };
    days.into_iter()
        .map(|d| (d, opens.clone(), closes.clone()))
        .collect()
}

fn answer_slots(s: &str) -> Vec<Slot> {
    let (days, times) = s.split_once(' ').unwrap_or((s, ""));
    let (opens, closes) = times.split_once('-').unwrap_or((times, ""));
    let days: Vec<String> = if days.len() == 10 && days.as_bytes().get(4) == Some(&b'-') {
        vec![days.to_string()]
    } else {
        days.split(',').map(str::to_string).collect()
    };
    days.into_iter()
        .map(|d| (d, opens.to_string(), closes.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn answer(v: Value) -> Answer {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn a_schedule_counts_when_its_days_and_times_match() {
        let doc = json!({"location": [{"schedules": [
            {"byday": "TU,TH", "opens_at": "12:00", "closes_at": "14:00"},
            {"byday": "SA", "opens_at": "09:00", "closes_at": "10:00"},
        ]}]});
        let a =
            answer(json!({"schedules": ["TU 12:00-14:00", "TH 12:00-14:00", "FR 09:00-11:00"]}));
        let c = score(&doc, &a).field("schedules");
        assert_eq!((c.expected, c.found, c.recalled, c.right), (3, 2, 2, 1));
        assert_eq!(c.unsupported(), 1);
    }

    #[test]
    fn times_without_seconds_ordinals_open_ends_and_dates_compare() {
        let doc = json!({"location": [{"schedules": [
            {"freq": "MONTHLY", "byday": "-1WE", "opens_at": "09:00:00"},
            {"freq": "MONTHLY", "byday": "2FR"},
            {"dtstart": "2024-06-01", "count": 1, "byday": "SA", "opens_at": "10:00", "closes_at": "12:00"},
        ]}]});
        let a = answer(json!({"schedules": ["-1WE 09:00-", "2FR", "2024-06-01 10:00-12:00"]}));
        let c = score(&doc, &a).field("schedules");
        assert_eq!((c.recalled, c.right), (3, 3));
        // A time the record does not give is wrong.
        let doc =
            json!({"schedules": [{"byday": "2FR", "opens_at": "09:00", "closes_at": "17:00"}]});
        let c = score(&doc, &answer(json!({"schedules": ["2FR"]}))).field("schedules");
        assert_eq!((c.recalled, c.right), (0, 0));
        // Text alone claims no day or time.
        let doc =
            json!({"schedules": [{"description": "Pantry on 1st Saturday after 3rd Thursday"}]});
        assert_eq!(score(&doc, &Answer::default()).field("schedules").found, 0);
    }

    #[test]
    fn phones_by_digits_addresses_without_case_or_punctuation() {
        let doc = json!({"location": [{
            "phones": [{"number": "(610) 268-3365"}, {"number": "+1 800 555 0142"}],
            "addresses": [{"address_1": "140 Waterloo Ave", "city": "BERWYN", "state_province": "PA", "postal_code": "19312-1234"}]
        }]});
        let a = answer(json!({
            "phones": ["6102683365"],
            "addresses": [{"address_1": "140 Waterloo Ave.", "city": "Berwyn", "state": "PA", "postal_code": "19312"}]
        }));
        let t = score(&doc, &a);
        let p = t.field("phones");
        assert_eq!((p.expected, p.found, p.recalled), (1, 2, 1));
        for f in ["address_1", "city", "state", "postal_code"] {
            assert_eq!(t.field(f).recalled, 1, "{f}");
        }
        // "P.O. Box" is "PO Box".
        let doc = json!({"location": [{"addresses": [{"address_1": "P.O. Box 12"}]}]});
        let a = answer(json!({"addresses": [{"address_1": "PO Box 12"}]}));
        assert_eq!(score(&doc, &a).field("address_1").recalled, 1);
        // Nothing expected and nothing found: both ratios are 1.
        let none = score(&json!({}), &Answer::default());
        assert_eq!(none.field("phones").recall(), 1.0);
        assert_eq!(none.field("phones").precision(), 1.0);
    }

    #[test]
    fn a_name_is_scored_only_where_the_answer_gives_one() {
        let doc = json!({"organization": [{"name": "The Giving Shelf"}]});
        let c = |a: Value| score(&doc, &answer(a)).field("name");
        // Case, punctuation and a leading "The" aside; any spelling given.
        let hit = c(json!({"name": "giving shelf"}));
        assert_eq!(
            (hit.expected, hit.found, hit.recalled, hit.right),
            (1, 1, 1, 1)
        );
        let hit = c(json!({"name": ["Giving Shelf Pantry", "Giving Shelf!"]}));
        assert_eq!(hit.recalled, 1);
        // Another name is found and wrong.
        let miss = c(json!({"name": "Hope Pantry"}));
        assert_eq!(
            (miss.expected, miss.found, miss.recalled, miss.right),
            (1, 1, 0, 0)
        );
        // No name in the answer: not scored.
        assert_eq!(c(json!({"phones": []})), Counts::default());
        // No organization name: expected and not found.
        let none = score(&json!({}), &answer(json!({"name": "Hope Pantry"}))).field("name");
        assert_eq!((none.expected, none.found), (1, 0));
    }
}
