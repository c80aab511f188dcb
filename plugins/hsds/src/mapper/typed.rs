//! Typed JSON as the plain JSON it types: a Firestore document (`{"name":
//! "projects/...", "fields": {"phone": {"stringValue": "..."}}}`, lists as
//! `{"arrayValue": {"values": [...]}}`) and a DynamoDB item (`{"zip":
//! {"N": "58102"}, "hours": {"L": [{"S": "..."}]}}`), with where in the raw
//! record each plain value stands, for its provenance.

use serde_json::{Map, Value};

use super::fields::escape;

/// Firestore's value types, each an object of one key.
const FIRESTORE: &[&str] = &[
    "stringValue",
    "integerValue",
    "doubleValue",
    "booleanValue",
    "timestampValue",
    "referenceValue",
    "nullValue",
    "geoPointValue",
    "arrayValue",
    "mapValue",
];

/// DynamoDB's attribute types.
const DYNAMO: &[&str] = &["S", "N", "BOOL", "NULL", "L", "M", "SS", "NS"];

/// A record in typed JSON, untyped: the plain record and, for each of its
/// pointers, the raw one. `None` for a record that is not typed JSON.
pub(super) fn untyped(raw: &Value) -> Option<(Value, Vec<(String, String)>)> {
    let Value::Object(map) = raw else {
        return None;
    };
    let typed = |tags: &[&str], m: &Map<String, Value>| {
        !m.is_empty() && m.values().all(|v| tag(v, tags).is_some())
    };
    let (fields, at, tags) = match map.get("fields") {
        // A Firestore document: its fields, under `fields`.
        Some(Value::Object(f)) if typed(FIRESTORE, f) => (f, "/fields", FIRESTORE),
        _ if typed(DYNAMO, map) => (map, "", DYNAMO),
        _ => return None,
    };
    let mut table = Vec::new();
    let mut plain = Map::new();
    for (key, value) in fields {
        let step = escape(key);
        let v = plainly(
            value,
            tags,
            &format!("/{step}"),
            &format!("{at}/{step}"),
            &mut table,
        );
        plain.insert(key.clone(), v);
    }
    Some((Value::Object(plain), table))
}

/// The type tag of a typed value and what it holds.
fn tag<'v>(value: &'v Value, tags: &[&str]) -> Option<(&'v str, &'v Value)> {
    let Value::Object(m) = value else {
        return None;
    };
    let mut entries = m.iter();
    let (key, inner) = entries.next()?;
    (entries.next().is_none() && tags.contains(&key.as_str())).then_some((key.as_str(), inner))
}

/// One typed value as plain JSON at `at` (its raw pointer `raw`), each
/// pointer's raw one noted in `table`.
fn plainly(
    value: &Value,
    tags: &[&str],
    at: &str,
    raw: &str,
    table: &mut Vec<(String, String)>,
) -> Value {
    let Some((kind, inner)) = tag(value, tags) else {
        table.push((at.to_string(), raw.to_string()));
        return value.clone();
    };
    let raw = format!("{raw}/{kind}");
    match (kind, inner) {
        ("arrayValue", Value::Object(a)) => {
            let items = a.get("values").and_then(Value::as_array);
            let list = items.into_iter().flatten().enumerate().map(|(i, item)| {
                let raw = format!("{raw}/values/{i}");
                plainly(item, tags, &format!("{at}/{i}"), &raw, table)
            });
            Value::Array(list.collect())
        }
        ("L", Value::Array(items)) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    plainly(
                        item,
                        tags,
                        &format!("{at}/{i}"),
                        &format!("{raw}/{i}"),
                        table,
                    )
                })
                .collect(),
        ),
        ("mapValue" | "M", Value::Object(m)) => {
            let (fields, raw) = match m.get("fields") {
                Some(Value::Object(f)) if kind == "mapValue" => (f, format!("{raw}/fields")),
                _ => (m, raw),
            };
            let object = fields.iter().map(|(k, v)| {
                let step = escape(k);
                let v = plainly(
                    v,
                    tags,
                    &format!("{at}/{step}"),
                    &format!("{raw}/{step}"),
                    table,
                );
                (k.clone(), v)
            });
            Value::Object(object.collect())
        }
        _ => {
            table.push((at.to_string(), raw));
            inner.clone()
        }
    }
}

/// A source's pointers (`raw:/a`, several joined by `+`) as the raw
/// record's, by `table`.
pub(super) fn raw_source(source: &str, table: &[(String, String)]) -> String {
    source
        .split('+')
        .map(|part| match part.strip_prefix("raw:") {
            Some(pointer) => {
                let raw = table
                    .iter()
                    .find(|(plain, _)| plain == pointer)
                    .map_or(pointer, |(_, raw)| raw.as_str());
                format!("raw:{raw}")
            }
            None => part.to_string(),
        })
        .collect::<Vec<_>>()
        .join("+")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_firestore_document_and_a_dynamodb_item_untyped() {
        let doc = json!({"name": "projects/p/databases/(default)/documents/pantries/a",
            "fields": {"name": {"stringValue": "Riverbend"},
                       "hours": {"arrayValue": {"values": [{"stringValue": "Mon 3-6pm"}]}},
                       "site": {"mapValue": {"fields": {"zip": {"integerValue": "05602"}}}}}});
        let (plain, table) = untyped(&doc).expect("typed");
        assert_eq!(
            plain,
            json!({"name": "Riverbend", "hours": ["Mon 3-6pm"], "site": {"zip": "05602"}})
        );
        assert_eq!(
            raw_source("raw:/hours/0+raw:/name", &table),
            "raw:/fields/hours/arrayValue/values/0/stringValue+raw:/fields/name/stringValue"
        );
        let item = json!({"name": {"S": "Prairie"}, "zip": {"N": "58102"},
                          "hours": {"L": [{"S": "Wed 1-4pm"}]}});
        let (plain, table) = untyped(&item).expect("typed");
        assert_eq!(
            plain,
            json!({"name": "Prairie", "zip": "58102", "hours": ["Wed 1-4pm"]})
        );
        assert_eq!(raw_source("raw:/hours/0", &table), "raw:/hours/L/0/S");
        // Plain JSON, and a record with one typed-looking field, are not.
        assert!(untyped(&json!({"name": "A", "zip": {"N": "1"}})).is_none());
        assert!(untyped(&json!({"name": "A"})).is_none());
    }
}
