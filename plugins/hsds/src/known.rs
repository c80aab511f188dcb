//! `known_fields` against a document: what the caller says the record
//! holds that the document does not. A string value is a value that must
//! appear (compared without case or punctuation; a phone by its digits);
//! any other value says only that the field is present. Keys are read by
//! meaning: `name`, `phone`, `email`, `website`, `address` (or `address_1`,
//! `city`, `postal_code`, `zip`) and `hours` (or `schedule`, `schedules`,
//! `opening_hours`); other keys are not checked.

use serde_json::{Map, Value};

/// One known field the document lacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    /// The `known_fields` key.
    pub field: String,
    /// The value it must have, when one was given.
    pub value: Option<String>,
}

/// The document's fields a `known_fields` key means.
fn fields_of(key: &str) -> Option<&'static [&'static str]> {
    Some(match key {
        "name" | "organization_name" | "location_name" => &["name"],
        "phone" | "phones" | "number" | "telephone" => &["number"],
        "email" => &["email"],
        "website" | "url" => &["website", "url"],
        "address" | "address_1" | "street" => &["address_1"],
        "city" => &["city"],
        "postal_code" | "zip" | "zip_code" => &["postal_code"],
        "hours" | "schedule" | "schedules" | "opening_hours" => &["byday", "opens_at", "dtstart"],
        _ => return None,
    })
}

/// Every known field of `known` the document does not hold.
pub fn missing(known: &Map<String, Value>, document: &Value) -> Vec<Missing> {
    let mut out = Vec::new();
    for (key, value) in known {
        let Some(fields) = fields_of(&key.to_ascii_lowercase()) else {
            continue;
        };
        let mut held = Vec::new();
        collect(document, fields, &mut held);
        let wanted = value.as_str().map(str::trim).filter(|v| !v.is_empty());
        let found = match wanted {
            Some(v) if fields == ["number"] => {
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
