//! Answers placed in the draft: a value `known_fields` gives that the
//! mapper did not place, the LLM's choice or a person's answer to a
//! [`Question`], each with its provenance. A known field without a value
//! the draft lacks becomes a question about the whole record (`from: ""`).

use serde_json::{Map, Value, json};

use super::{How, Mapping, Question, Source};
use crate::answer::{self, Answer};
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
        for m in known::missing(known, &self.draft) {
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
                if !self.place(0, a, &source(how)).is_empty() {
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
        let Some(loc) = self.draft.pointer(&format!("/location/{location}")) else {
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

    /// Places `answer` at the draft's location `location`, each value's
    /// provenance `source`; returns the pointers placed (none when the
    /// field has no room: the value is held already, or there is no address
    /// for a ZIP code).
    pub fn place(&mut self, location: usize, answer: Answer, source: &Source) -> Vec<String> {
        let base = format!("/location/{location}");
        let placed = match answer {
            Answer::Email(v) => self.organization_field("email", v).into_iter().collect(),
            Answer::Website(v) => self.organization_field("website", v).into_iter().collect(),
            answer => match self.draft.pointer_mut(&base).and_then(Value::as_object_mut) {
                Some(loc) => place_at(loc, &base, answer),
                None => Vec::new(),
            },
        };
        for pointer in &placed {
            self.provenance.insert(pointer.clone(), source.clone());
        }
        placed
    }

    /// Sets the organization's `key` when it has none.
    fn organization_field(&mut self, key: &str, value: String) -> Option<String> {
        let org = self
            .draft
            .pointer_mut("/organization/0")
            .and_then(Value::as_object_mut)?;
        if org.contains_key(key) {
            return None;
        }
        org.insert(key.into(), json!(value));
        Some(format!("/organization/0/{key}"))
    }
}

/// Places a location's answer in `loc` (at `base`); the pointers placed.
fn place_at(loc: &mut Map<String, Value>, base: &str, answer: Answer) -> Vec<String> {
    let items = match answer {
        Answer::Schedules(s) => ("schedules", s),
        Answer::Phone(n) => ("phones", vec![json!({ "number": n })]),
        Answer::Address(a) if !loc.contains_key("addresses") => {
            let mut item = json!({
                "address_1": a.street, "city": a.city, "state_province": a.state,
                "postal_code": a.zip.unwrap_or_default(), "country": "US",
                "address_type": "physical",
            });
            if let Some(unit) = a.street2 {
                item["address_2"] = json!(unit);
            }
            ("addresses", vec![item])
        }
        Answer::PostalCode(zip) => {
            let field = loc
                .get_mut("addresses")
                .and_then(|a| a.pointer_mut("/0/postal_code"));
            return match field {
                Some(field) if field.as_str() == Some("") => {
                    *field = json!(zip);
                    vec![format!("{base}/addresses/0/postal_code")]
                }
                _ => Vec::new(),
            };
        }
        _ => return Vec::new(),
    };
    let (key, new) = items;
    let mut placed = Vec::new();
    let Some(list) = loc.entry(key).or_insert_with(|| json!([])).as_array_mut() else {
        return placed;
    };
    for item in new {
        if list.contains(&item) {
            continue;
        }
        let at = format!("{base}/{key}/{}", list.len());
        if let Some(fields) = item.as_object() {
            placed.extend(fields.keys().map(|f| format!("{at}/{f}")));
        }
        list.push(item);
    }
    placed
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
