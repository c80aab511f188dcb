//! The SchemaConverter: HSDS JSON Schemas into the strict structured-output
//! schema an LLM answers to.
//!
//! Strict structured output (OpenAI's `strict: true`, llama.cpp grammars)
//! wants a closed, shallow schema: every object lists all its keys as
//! required and forbids others, optional values are expressed as nullable,
//! and providers cap nesting depth, property count, enum size and schema
//! length. HSDS as published is the opposite: open objects, deep `$ref`s,
//! and required keys spread over 25 files. The converter keeps the core
//! fields (`"core": "Y"`) of the objects a food-pantry record needs:
//!
//! ```text
//! { organization: [ {core fields, phones: [..]} ],
//!   service:      [ {core fields, phones, schedules, organization_name, location_names} ],
//!   location:     [ {core fields, addresses, phones, schedules, organization_name} ] }
//! ```
//!
//! Ids and link fields (`id`, `*_id`) are left out: the host assigns
//! deterministic ids and fills the links afterwards ([`crate::repair`]).
//! Two helper keys that are not HSDS (`organization_name` on services and
//! locations, `location_names` on services) let the model say which records
//! belong together without inventing ids; repair turns them into links.

use serde_json::{Map, Value, json};

use crate::schemas;

/// Provider limits the converted schema must stay within. The defaults are
/// the tighter of OpenAI's published strict-mode limits and what small local
/// models handle well.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Object nesting levels, the root object being 1.
    pub max_depth: usize,
    /// Properties across all objects.
    pub max_properties: usize,
    /// Enum values across all enums.
    pub max_enum_values: usize,
    /// Length of the schema as compact JSON text.
    pub max_chars: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 5,
            max_properties: 100,
            max_enum_values: 500,
            max_chars: 15_000,
        }
    }
}

/// What a schema measures against [`Limits`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Measure {
    pub depth: usize,
    pub properties: usize,
    pub enum_values: usize,
    pub chars: usize,
}

impl Measure {
    pub fn of(schema: &Value) -> Measure {
        let mut m = Measure {
            chars: schema.to_string().len(),
            ..Measure::default()
        };
        walk(schema, 0, &mut m);
        m
    }

    /// The first limit broken, named; None when all hold.
    pub fn exceeds(&self, limits: &Limits) -> Option<String> {
        let checks = [
            ("nesting depth", self.depth, limits.max_depth),
            ("properties", self.properties, limits.max_properties),
            ("enum values", self.enum_values, limits.max_enum_values),
            ("characters", self.chars, limits.max_chars),
        ];
        checks
            .iter()
            .find(|(_, got, max)| got > max)
            .map(|(what, got, max)| format!("{got} {what}, over the limit of {max}"))
    }
}

fn walk(schema: &Value, depth: usize, m: &mut Measure) {
    let Some(map) = schema.as_object() else {
        return;
    };
    let mut depth = depth;
    if let Some(props) = map.get("properties").and_then(Value::as_object) {
        depth += 1;
        m.depth = m.depth.max(depth);
        m.properties += props.len();
        for p in props.values() {
            walk(p, depth, m);
        }
    }
    if let Some(values) = map.get("enum").and_then(Value::as_array) {
        m.enum_values += values.len();
    }
    if let Some(items) = map.get("items") {
        walk(items, depth, m);
    }
}

/// Items an array may hold. One scraped record describes a handful of
/// places and services; a bound also stops a small model that would repeat
/// an item until it runs out of tokens (grammar-constrained decoding honours
/// `maxItems`, and strict-mode providers accept it).
fn max_items(array: &str) -> u64 {
    match array {
        "organization" | "addresses" => 2,
        "phones" => 3,
        "schedules" => 7,
        _ => 4,
    }
}

/// Nested arrays each top-level object carries: (property, HSDS object).
const NESTED: &[(&str, &[(&str, &str)])] = &[
    ("organization", &[("phones", "phone")]),
    ("service", &[("phones", "phone"), ("schedules", "schedule")]),
    (
        "location",
        &[
            ("addresses", "address"),
            ("phones", "phone"),
            ("schedules", "schedule"),
        ],
    ),
];

/// Descriptions are cut to this many characters (whole schema permitting).
const DESCRIPTION_CHARS: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConvertError {
    /// An HSDS file the converter needs is missing or has no properties.
    Schema(String),
    /// Even without descriptions the schema breaks a limit.
    Limits(String),
}

impl std::fmt::Display for ConvertError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConvertError::Schema(m) => write!(f, "HSDS schema: {m}"),
            ConvertError::Limits(m) => write!(f, "converted schema too large: {m}"),
        }
    }
}

/// The structured-output schema for HSDS alignment, within `limits`.
/// Descriptions are kept when they fit and dropped when they do not.
pub fn alignment_schema(limits: &Limits) -> Result<Value, ConvertError> {
    for with_descriptions in [true, false] {
        let schema = build(with_descriptions)?;
        match Measure::of(&schema).exceeds(limits) {
            None => return Ok(schema),
            Some(problem) if !with_descriptions => return Err(ConvertError::Limits(problem)),
            Some(_) => {}
        }
    }
    unreachable!("the loop returns on its second pass")
}

fn build(with_descriptions: bool) -> Result<Value, ConvertError> {
    let mut top = Map::new();
    for (kind, nested) in NESTED {
        let mut object = core_object(kind, with_descriptions)?;
        let props = object["properties"]
            .as_object_mut()
            .ok_or_else(|| ConvertError::Schema(format!("{kind} has no properties")))?;
        for (property, child) in *nested {
            let mut child = core_object(child, with_descriptions)?;
            close(&mut child);
            props.insert(
                (*property).into(),
                json!({"type": "array", "items": child, "maxItems": max_items(property)}),
            );
        }
        if *kind != "organization" {
            props.insert(
                "organization_name".into(),
                json!({"type": ["string", "null"],
                       "description": "name of the organization (above) this belongs to"}),
            );
        }
        if *kind == "service" {
            props.insert(
                "location_names".into(),
                json!({"type": "array", "items": {"type": "string"}, "maxItems": max_items("location_names"),
                       "description": "names of the locations (below) where this service is offered"}),
            );
        }
        close(&mut object);
        top.insert(
            (*kind).to_string(),
            json!({"type": "array", "items": object, "minItems": usize::from(*kind == "organization"), "maxItems": max_items(kind)}),
        );
    }
    let mut root = json!({"type": "object", "properties": top});
    close(&mut root);
    Ok(root)
}

/// Lists every property as required and forbids others (strict mode).
fn close(object: &mut Value) {
    let keys: Vec<Value> = object["properties"]
        .as_object()
        .map(|p| p.keys().map(|k| json!(k)).collect())
        .unwrap_or_default();
    object["required"] = Value::Array(keys);
    object["additionalProperties"] = json!(false);
}

/// The core scalar fields of one HSDS object, ids and links left out;
/// optional ones nullable, enums kept.
fn core_object(name: &str, with_descriptions: bool) -> Result<Value, ConvertError> {
    let schema =
        schemas::object(name).ok_or_else(|| ConvertError::Schema(format!("no {name}.json")))?;
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let props = schema["properties"]
        .as_object()
        .ok_or_else(|| ConvertError::Schema(format!("{name}.json has no properties")))?;
    let mut out = Map::new();
    for (key, prop) in props {
        let is_link = key == "id" || key.ends_with("_id");
        let core = prop["core"] == "Y";
        let scalar = matches!(prop["type"].as_str(), Some("string" | "number" | "integer"));
        if is_link || !core || !scalar {
            continue;
        }
        let ty = prop["type"].as_str().unwrap_or("string");
        let nullable = !required.contains(&key.as_str());
        let mut field = Map::new();
        field.insert(
            "type".into(),
            if nullable {
                json!([ty, "null"])
            } else {
                json!(ty)
            },
        );
        if let Some(values) = prop["enum"].as_array() {
            let mut values = values.clone();
            if nullable {
                values.push(Value::Null);
            }
            field.insert("enum".into(), Value::Array(values));
        }
        if with_descriptions && let Some(d) = prop["description"].as_str() {
            field.insert("description".into(), json!(shorten(d)));
        }
        out.insert(key.clone(), Value::Object(field));
    }
    Ok(json!({"type": "object", "properties": out}))
}

fn shorten(text: &str) -> String {
    let first = text.split(". ").next().unwrap_or(text);
    let mut cut: String = first.chars().take(DESCRIPTION_CHARS).collect();
    if cut.len() < first.len() {
        cut.push('…');
    }
    cut
}
