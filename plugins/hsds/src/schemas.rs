//! The HSDS JSON Schemas, embedded and bundled.
//!
//! The files reference each other by relative name (`"$ref": "phone.json"`)
//! and have no `$id`, so a validator cannot resolve them alone. [`bundle`]
//! puts all of them under `$defs` of one 2020-12 document and rewrites the
//! references to `#/$defs/<name>`; the result validates anywhere, including
//! through the host's `schema.validate` import.

use serde_json::{Map, Value, json};

macro_rules! schema_files {
    ($($name:literal),* $(,)?) => {
        /// Every HSDS object schema: (name, JSON text).
        pub const FILES: &[(&str, &str)] = &[
            $(($name, include_str!(concat!("../schema/", $name, ".json")))),*
        ];
    };
}

schema_files!(
    "accessibility",
    "address",
    "attribute",
    "contact",
    "cost_option",
    "funding",
    "language",
    "location",
    "meta_table_description",
    "metadata",
    "organization",
    "organization_identifier",
    "phone",
    "program",
    "required_document",
    "schedule",
    "service",
    "service_area",
    "service_at_location",
    "service_capacity",
    "taxonomy",
    "taxonomy_term",
    "unit",
    "url",
);

/// One HSDS object schema, parsed. None for a name that is not one.
pub fn object(name: &str) -> Option<Value> {
    FILES
        .iter()
        .find(|(n, _)| *n == name)
        .and_then(|(_, text)| serde_json::from_str(text).ok())
}

/// All schemas under `$defs`, references rewritten. `strict` closes every
/// object schema with `additionalProperties: false`.
pub fn bundle(strict: bool) -> Value {
    let mut defs = Map::new();
    for (name, text) in FILES {
        // The files are part of this crate and checked by its tests.
        let mut schema: Value = serde_json::from_str(text).unwrap_or(Value::Null);
        // HSDS's API serves some objects with their relations expanded
        // (`GET /organizations/{id}` with its services,
        // `GET /service_at_locations/{id}` with its service), and the
        // official examples `organization_full.json` and
        // `service_at_location_full.json` have them; the table schemas do not
        // list those keys. Allow them, typed.
        match *name {
            "organization" => {
                schema["properties"]["services"] =
                    json!({ "type": "array", "items": { "$ref": "service.json" } });
            }
            "service_at_location" => {
                schema["properties"]["service"] = json!({ "$ref": "service.json" });
            }
            _ => {}
        }
        rewrite(&mut schema, strict);
        defs.insert((*name).to_string(), schema);
    }
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$defs": defs,
    })
}

/// A schema for a document holding HSDS objects by kind at its top level:
/// `{"organization": [...], "service": [...], "location": [...],
/// "service_at_location": [...]}` (plus `taxonomy` and `taxonomy_term`).
/// Every key is optional; nothing else is allowed at the top level.
pub fn collection(strict: bool) -> Value {
    let mut doc = bundle(strict);
    let mut properties = Map::new();
    for kind in crate::TOP_LEVEL
        .iter()
        .chain(&["taxonomy", "taxonomy_term"])
    {
        properties.insert(
            (*kind).to_string(),
            json!({"type": "array", "items": {"$ref": format!("#/$defs/{kind}")}}),
        );
    }
    doc["type"] = json!("object");
    doc["properties"] = Value::Object(properties);
    doc["additionalProperties"] = json!(false);
    doc
}

fn rewrite(value: &mut Value, strict: bool) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get_mut("$ref")
                && let Some(name) = r.strip_suffix(".json")
            {
                *r = format!("#/$defs/{name}");
            }
            if strict && map.contains_key("properties") {
                map.entry("additionalProperties").or_insert(json!(false));
            }
            for v in map.values_mut() {
                rewrite(v, strict);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| rewrite(v, strict)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_parses_and_every_ref_resolves() {
        let doc = bundle(true);
        let defs = doc["$defs"].as_object().unwrap();
        assert_eq!(defs.len(), FILES.len());
        let text = doc.to_string();
        for r in text.split("\"$ref\":\"").skip(1) {
            let target = r.split('"').next().unwrap();
            let name = target.strip_prefix("#/$defs/").expect(target);
            assert!(defs.contains_key(name), "dangling {target}");
        }
    }
}
