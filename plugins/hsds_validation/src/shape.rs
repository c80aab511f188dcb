//! Reading HSDS documents of any common shape as one collection:
//! `{"organization": [...], "service": [...], "location": [...], ...}`.

use serde_json::{Map, Value, json};

use crate::{Finding, Severity};

/// The kinds a document may hold at its top level, in tie-break order.
const KINDS: [&str; 6] = [
    "organization",
    "service",
    "location",
    "service_at_location",
    "taxonomy",
    "taxonomy_term",
];

/// The document as a collection, and what was noticed about its shape.
/// Unknown top-level keys are kept, so the schema names them.
pub fn to_collection(doc: &Value) -> (Value, Vec<Finding>) {
    let mut findings = Vec::new();
    let Value::Object(map) = doc else {
        findings.push(Finding::new(
            Severity::Error,
            "shape",
            "",
            "the document is not a JSON object".into(),
        ));
        return (json!({}), findings);
    };
    if let Some(Value::Array(items)) = map.get("contents") {
        let mut out = Map::new();
        for item in items {
            let kind = guess(item);
            push(&mut out, kind, item.clone());
        }
        findings.push(Finding::new(
            Severity::Info,
            "shape.list",
            "/contents",
            format!(
                "a paged list of {} items; each checked as its own record",
                items.len()
            ),
        ));
        return (Value::Object(out), findings);
    }
    let by_kind = map.keys().any(|k| kind_of_key(k).is_some()) && !map.contains_key("id");
    if !by_kind {
        let kind = guess(doc);
        findings.push(Finding::new(
            Severity::Info,
            "shape.single",
            "",
            format!("one object, checked as an HSDS {kind}"),
        ));
        return (json!({ kind: [doc.clone()] }), findings);
    }
    let mut out = Map::new();
    for (key, value) in map {
        match kind_of_key(key) {
            Some(kind) => {
                if kind != key {
                    findings.push(Finding::new(
                        Severity::Warning,
                        "shape.key",
                        &format!("/{key}"),
                        format!("top-level key `{key}` read as `{kind}`; HSDS documents here use `{kind}`"),
                    ));
                }
                match value {
                    Value::Array(items) => {
                        items.iter().for_each(|i| push(&mut out, kind, i.clone()))
                    }
                    other => push(&mut out, kind, other.clone()),
                }
            }
            None => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    (Value::Object(out), findings)
}

fn push(out: &mut Map<String, Value>, kind: &str, item: Value) {
    if let Value::Array(list) = out.entry(kind).or_insert_with(|| json!([])) {
        list.push(item);
    }
}

fn kind_of_key(key: &str) -> Option<&'static str> {
    KINDS.iter().copied().find(|k| {
        *k == key || key.strip_suffix('s') == Some(k) || (*k == "taxonomy" && key == "taxonomies")
    })
}

/// The kind whose schema best explains the object's keys.
fn guess(item: &Value) -> &'static str {
    let Some(keys) = item.as_object() else {
        return "organization";
    };
    let mut best = ("organization", i64::MIN);
    for kind in KINDS {
        let Some(schema) = hsds::schemas::object(kind) else {
            continue;
        };
        let props = schema["properties"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        let required: Vec<&str> = schema["required"]
            .as_array()
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let known = keys.keys().filter(|k| props.contains_key(*k)).count() as i64;
        let unknown = keys.len() as i64 - known;
        let missing = required.iter().filter(|r| !keys.contains_key(**r)).count() as i64;
        let score = known - unknown - 2 * missing;
        if score > best.1 {
            best = (kind, score);
        }
    }
    best.0
}
