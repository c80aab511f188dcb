//! `known_fields` against a document: what the caller says the record
//! holds that the document does not. A string value is a value that must
//! appear (compared without case or punctuation; a phone by its digits);
//! any other value says only that the field is present. Keys are read by
//! meaning: `name`, `phone`, `email`, `website`, `address` (or `address_1`,
//! `city`, `postal_code`, `zip`) and `hours` (or `schedule`, `schedules`,
//! `opening_hours`); other keys are not checked.

use serde_json::{Map, Value};

/// What a known field is: the document's fields it means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Name,
    Phone,
    Email,
    Website,
    /// The street address (with its city and state).
    Address,
    City,
    PostalCode,
    Hours,
}

impl Kind {
    /// The kind a `known_fields` key means (in any case); `None` for keys
    /// that are not checked.
    pub fn of(key: &str) -> Option<Kind> {
        Some(match key.to_ascii_lowercase().as_str() {
            "name" | "organization_name" | "location_name" => Kind::Name,
            "phone" | "phones" | "number" | "telephone" => Kind::Phone,
            "email" => Kind::Email,
            "website" | "url" => Kind::Website,
            "address" | "address_1" | "street" => Kind::Address,
            "city" => Kind::City,
            "postal_code" | "zip" | "zip_code" => Kind::PostalCode,
            "hours" | "schedule" | "schedules" | "opening_hours" => Kind::Hours,
            _ => return None,
        })
    }

    /// The kind a [`Kind::label`] names.
    pub fn from_label(label: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.label() == label)
    }

    const ALL: [Kind; 8] = [
        Kind::Name,
        Kind::Phone,
        Kind::Email,
        Kind::Website,
        Kind::Address,
        Kind::City,
        Kind::PostalCode,
        Kind::Hours,
    ];

    /// Its name in questions and results: `phone`, `postal_code`, ...
    pub fn label(self) -> &'static str {
        match self {
            Kind::Name => "name",
            Kind::Phone => "phone",
            Kind::Email => "email",
            Kind::Website => "website",
            Kind::Address => "address",
            Kind::City => "city",
            Kind::PostalCode => "postal_code",
            Kind::Hours => "hours",
        }
    }

    /// What a person (or a model) is asked for.
    pub fn noun(self) -> &'static str {
        match self {
            Kind::Name => "name",
            Kind::Phone => "phone number",
            Kind::Email => "email address",
            Kind::Website => "website",
            Kind::Address => "street address (with city and state)",
            Kind::City => "city",
            Kind::PostalCode => "ZIP code",
            Kind::Hours => "opening hours",
        }
    }

    /// The document's fields it means.
    fn fields(self) -> &'static [&'static str] {
        match self {
            Kind::Name => &["name"],
            Kind::Phone => &["number"],
            Kind::Email => &["email"],
            Kind::Website => &["website", "url"],
            Kind::Address => &["address_1"],
            Kind::City => &["city"],
            Kind::PostalCode => &["postal_code"],
            Kind::Hours => &["byday", "opens_at", "dtstart"],
        }
    }
}

/// One known field the document lacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    /// The `known_fields` key.
    pub field: String,
    pub kind: Kind,
    /// The value it must have, when one was given.
    pub value: Option<String>,
}

/// Every known field of `known` the document does not hold.
pub fn missing(known: &Map<String, Value>, document: &Value) -> Vec<Missing> {
    let mut out = Vec::new();
    for (key, value) in known {
        let Some(kind) = Kind::of(key) else {
            continue;
        };
        let mut held = Vec::new();
        collect(document, kind.fields(), &mut held);
        let wanted = value.as_str().map(str::trim).filter(|v| !v.is_empty());
        let found = match wanted {
            Some(v) if kind == Kind::Phone => {
                let digits =
                    |s: &str| -> String { s.chars().filter(char::is_ascii_digit).collect() };
                let want = digits(v);
                held.iter().any(|h| {
                    let h = digits(h);
                    !want.is_empty() && (h.ends_with(&want) || want.ends_with(&h))
                })
            }
            Some(v) => held
                .iter()
                .any(|h| crate::repair::normalise(h).contains(&crate::repair::normalise(v))),
            None => !held.is_empty(),
        };
        if !found {
            out.push(Missing {
                field: key.clone(),
                kind,
                value: wanted.map(str::to_string),
            });
        }
    }
    out
}

/// The text of every value under one of `fields`, anywhere in `value`.
fn collect(value: &Value, fields: &[&str], out: &mut Vec<String>) {
    match value {
        Value::Object(m) => {
            for (k, v) in m {
                match v {
                    Value::String(s) if fields.contains(&k.as_str()) && !s.trim().is_empty() => {
                        out.push(s.clone())
                    }
                    _ => collect(v, fields, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect(v, fields, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn known(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn a_known_field_the_document_lacks_is_missing() {
        let doc = json!({"organization": [{"name": "Grace Pantry"}], "location": [{
            "phones": [{"number": "(610) 268-3365"}],
            "addresses": [{"address_1": "9016 Gap Newport Pike", "city": "Avondale"}],
            "schedules": [{"description": "Call first"}]
        }]});
        let m = missing(
            &known(json!({
                "name": "grace pantry", "phone": "610-268-3365", "city": true,
                "hours": true, "email": "a@example.org", "colour": "blue"
            })),
            &doc,
        );
        let fields: Vec<&str> = m.iter().map(|m| m.field.as_str()).collect();
        // A schedule that is text only holds no opening; the email is not
        // there; an unknown key is not checked.
        assert_eq!(fields, ["email", "hours"]);
        assert_eq!(m[0].value.as_deref(), Some("a@example.org"));
        assert_eq!(m[1].value, None);
        // A different phone, or a name that is not there: missing.
        let m = missing(
            &known(json!({"phone": "215 555 0100", "name": "Hope"})),
            &doc,
        );
        assert_eq!(m.len(), 2);
    }
}
