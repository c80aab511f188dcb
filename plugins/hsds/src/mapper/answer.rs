//! Answers placed in the draft: a value `known_fields` gives that the
//! mapper did not place, the LLM's choice or a person's answer to a
//! [`Question`], each with its provenance. A known field without a value
//! the draft lacks becomes a question about the whole record (`from: ""`).

use serde_json::{Map, Value, json};

use super::doc::{Address, Phone, Schedule};
use super::{How, Mapping, Question, Source};
use crate::answer::{self, Answer};
use crate::classify;
use crate::known::{self, Kind};

/// The record's text for questions about the whole record: its string
/// values, one a line (free text as it is).
pub fn record_text(record: &Value) -> String {
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) if !s.trim().is_empty() => out.push(s.trim().to_string()),
            Value::Number(n) => out.push(n.to_string()),
            Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            Value::Object(m) => m.values().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut lines = Vec::new();
    walk(record, &mut lines);
    lines.join("\n")
}

impl Mapping {
    /// The known fields the draft lacks: a value given that reads as its
    /// kind is placed (`known:<key>`); any other becomes a question about
    /// the whole record (`text`) when an answer could be placed and no
    /// question of the mapper asks it already. Returns the ones left
    /// neither placed nor asked.
    pub fn settle_known(&mut self, known: &Map<String, Value>, text: &str) -> Vec<known::Missing> {
        let mut left = Vec::new();
        for m in known::missing(known, self.draft.value()) {
            let source = |how| Source {
                source: format!("known:{}", m.field),
                how,
            };
            if let Some(value) = &m.value
                && let Some(a) = answer::read(m.kind, value)
            {
                let how = if answer_text(&a).as_deref() == Some(value.trim()) {
                    How::Copied
                } else {
                    How::Normalised
                };
                let from = source(how);
                if !self.place(0, a, |_| from.clone()).is_empty() {
                    continue;
                }
            }
            let asked = self.questions.iter().any(|q| q.kind == m.kind.label());
            if m.value.is_none() && !asked && self.can_place(0, m.kind) {
                self.questions.push(Question {
                    kind: m.kind.label(),
                    location: 0,
                    from: String::new(),
                    text: text.to_string(),
                });
            } else if !asked {
                left.push(m);
            }
        }
        left
    }

    /// Whether an answer of `kind` would have a place at `location`: a ZIP
    /// code only in an address without one, an address only where there
    /// is none; a city or a name never (neither makes a field alone).
    pub fn can_place(&self, location: usize, kind: Kind) -> bool {
        let Some(loc) = self.draft.value().pointer(&format!("/location/{location}")) else {
            return false;
        };
        let first = loc.pointer("/addresses/0");
        match kind {
            Kind::Address => first.is_none(),
            Kind::PostalCode => first.is_some_and(|a| a["postal_code"].as_str() == Some("")),
            Kind::City | Kind::Name => false,
            Kind::Hours | Kind::Phone | Kind::Email | Kind::Website => true,
        }
    }

    /// Places `answer` at the draft's location `location` as typed parts,
    /// each value's provenance what `source` gives for its key; returns the
    /// pointers placed (none when the field has no room: the value is held
    /// already, or there is no address for a ZIP code).
    pub fn place(
        &mut self,
        location: usize,
        answer: Answer,
        source: impl Fn(&str) -> Source,
    ) -> Vec<String> {
        let at = format!("/location/{location}");
        match answer {
            Answer::Email(v) => self.organization_field("email", v, source),
            Answer::Website(v) => self.organization_field("website", v, source),
            Answer::Schedules(list) => list
                .into_iter()
                .flat_map(|s| {
                    self.draft
                        .append(&at, "schedules", Schedule::read(s, &source))
                })
                .collect(),
            Answer::Phone(n) => {
                let mut phone = Phone::default();
                phone.number(n, source("number"));
                self.draft.append(&at, "phones", phone)
            }
            Answer::Address(a) if self.can_place(location, Kind::Address) => {
                self.draft.append(&at, "addresses", address(a, &source))
            }
            Answer::PostalCode(zip) => {
                let value = (json!(zip), source("postal_code"));
                let blank = |held: Option<&Value>| held.and_then(Value::as_str) == Some("");
                let at = format!("{at}/addresses/0");
                self.draft
                    .fill(&at, "postal_code", value, blank)
                    .into_iter()
                    .collect()
            }
            Answer::Address(_) | Answer::City(_) | Answer::Name(_) => Vec::new(),
        }
    }
}

impl Mapping {
    /// Sets the organization's `key` to `value` when it has none; the
    /// pointer set, if any.
    fn organization_field(
        &mut self,
        key: &str,
        value: String,
        source: impl Fn(&str) -> Source,
    ) -> Vec<String> {
        let absent = |held: Option<&Value>| held.is_none();
        let value = (json!(value), source(key));
        self.draft
            .fill("/organization/0", key, value, absent)
            .into_iter()
            .collect()
    }
}

/// A street address answer as the draft's address, each field from the
/// source `source` gives for its key.
fn address(a: classify::Address, source: &impl Fn(&str) -> Source) -> Address {
    let mut item = Address::default();
    item.address_1(a.street, source("address_1"));
    if let Some(unit) = a.street2 {
        item.address_2(unit, source("address_2"));
    }
    item.city(a.city, source("city"));
    item.state_province(a.state, source("state_province"));
    item.postal_code(a.zip.unwrap_or_default(), source("postal_code"));
    item.country("US", source("country"));
    item.address_type("physical", source("address_type"));
    item
}

/// The text an answer holds, for comparing with what was given.
fn answer_text(a: &Answer) -> Option<String> {
    match a {
        Answer::Phone(v)
        | Answer::Email(v)
        | Answer::Website(v)
        | Answer::City(v)
        | Answer::PostalCode(v)
        | Answer::Name(v) => Some(v.clone()),
        Answer::Schedules(_) | Answer::Address(_) => None,
    }
}
