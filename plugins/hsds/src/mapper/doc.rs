//! The draft as the mapper builds it. Each object of the document (an
//! organization, a location, a service, an address, a phone, a schedule)
//! is a [`Part`], and a value goes into a part only with its [`Source`]:
//! no value reaches the draft without its provenance, and no provenance
//! is written beside a value by hand. A part's JSON pointer is given once,
//! when the document is finished, so a part's place and its provenance's
//! pointers cannot disagree.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::Source;

/// One object of the draft being built.
#[derive(Debug, Default)]
pub(super) struct Part {
    fields: Vec<(String, Field)>,
}

#[derive(Debug)]
enum Field {
    /// A value and where it came from.
    Value(Value, Source),
    /// A list of parts (a location's addresses, phones, schedules).
    Parts(Vec<Part>),
}

impl Part {
    /// Sets `key` to `value` from `source` (replacing what it held).
    pub(super) fn set(&mut self, key: &str, value: impl Into<Value>, source: Source) {
        let field = Field::Value(value.into(), source);
        match self.fields.iter_mut().find(|(k, _)| k == key) {
            Some((_, held)) => *held = field,
            None => self.fields.push((key.to_string(), field)),
        }
    }

    /// Sets `key` to a list of parts; an empty list sets nothing.
    pub(super) fn set_parts(&mut self, key: &str, parts: Vec<Part>) {
        if !parts.is_empty() {
            self.fields.push((key.to_string(), Field::Parts(parts)));
        }
    }

    /// A part of every field of `object` (a schedule the hours parser
    /// read), each from the source `source` gives for its key.
    pub(super) fn from_object(object: Value, source: impl Fn(&str) -> Source) -> Part {
        let mut part = Part::default();
        if let Value::Object(map) = object {
            for (key, value) in map {
                let from = source(&key);
                part.set(&key, value, from);
            }
        }
        part
    }

    /// The part as JSON at pointer `at`, its values' sources written into
    /// `provenance` at their pointers.
    pub(super) fn finish(self, at: &str, provenance: &mut BTreeMap<String, Source>) -> Value {
        let mut object = Map::new();
        for (key, field) in self.fields {
            let pointer = format!("{at}/{key}");
            let value = match field {
                Field::Value(value, source) => {
                    provenance.insert(pointer, source);
                    value
                }
                Field::Parts(parts) => finish_all(parts, &pointer, provenance),
            };
            object.insert(key, value);
        }
        Value::Object(object)
    }
}

/// `parts` as a JSON list at pointer `at`, each at its index.
pub(super) fn finish_all(
    parts: Vec<Part>,
    at: &str,
    provenance: &mut BTreeMap<String, Source>,
) -> Value {
    Value::Array(
        parts
            .into_iter()
            .enumerate()
            .map(|(i, part)| part.finish(&format!("{at}/{i}"), provenance))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::super::{How, derived};
    use super::*;
    use serde_json::json;

    #[test]
    fn every_value_finishes_with_its_source_at_its_pointer() {
        let copied = |p: &str| Source {
            source: format!("raw:{p}"),
            how: How::Copied,
        };
        let mut phone = Part::default();
        phone.set("number", "555-0100", copied("/phone"));
        let mut loc = Part::default();
        loc.set("name", "A", copied("/name"));
        loc.set("name", "B", copied("/title"));
        loc.set_parts("phones", vec![phone]);
        loc.set_parts("addresses", vec![]);
        let mut prov = BTreeMap::new();
        let value = loc.finish("/location/2", &mut prov);
        assert_eq!(
            value,
            json!({"name": "B", "phones": [{"number": "555-0100"}]})
        );
        assert_eq!(prov["/location/2/name"].source, "raw:/title");
        assert_eq!(prov["/location/2/phones/0/number"].source, "raw:/phone");
        assert_eq!(prov.len(), 2);
        let s = Part::from_object(json!({"byday": "MO", "freq": "WEEKLY"}), |_| derived());
        let value = s.finish("/s", &mut prov);
        assert_eq!(value["byday"], "MO");
        assert_eq!(prov["/s/freq"].how, How::Derived);
    }
}
