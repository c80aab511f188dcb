//! The draft as the mapper builds it, as types: [`Organization`],
//! [`Location`], [`Service`], [`Address`], [`Phone`], [`Schedule`], each
//! with a setter per HSDS field it fills, and every setter takes the
//! value's [`Source`]: no value reaches the draft without its provenance,
//! and no provenance is written beside a value by hand. Under each type is
//! a [`Part`] (fields in order, each with its source); its JSON pointer is
//! given once, when the document is finished, so a value's place and its
//! provenance's pointer cannot disagree.

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

/// An HSDS object type of the draft: a [`Part`] whose setters are the
/// type's own fields (`method = "key"` where the key is no Rust name), and
/// whose lists hold the types they name.
macro_rules! hsds_type {
    (
        $(#[$doc:meta])* $name:ident {
            $($field:ident $(= $key:literal)?),* $(,)?
        }
        $(lists { $($list:ident: $item:ident),* $(,)? })?
    ) => {
        $(#[$doc])*
        #[derive(Debug, Default)]
        pub(in crate::mapper) struct $name(Part);

        impl $name {
            $(
                #[doc = concat!("Sets `", hsds_type!(@key $field $(= $key)?), "` from `source`.")]
                pub(in crate::mapper) fn $field(&mut self, value: impl Into<Value>, source: Source) {
                    self.0.set(hsds_type!(@key $field $(= $key)?), value, source);
                }
            )*
            $($(
                #[doc = concat!("Sets the `", stringify!($list), "` list (none: nothing set).")]
                pub(in crate::mapper) fn $list(&mut self, items: Vec<$item>) {
                    self.0.set_parts(stringify!($list), items.into_iter().map(|i| i.0).collect());
                }
            )*)?
        }

        impl From<$name> for Part {
            fn from(typed: $name) -> Part {
                typed.0
            }
        }
    };
    (@key $field:ident = $key:literal) => { $key };
    (@key $field:ident) => { stringify!($field) };
}

hsds_type!(
    /// The record's organization.
    Organization { name, description, email, website }
);
hsds_type!(
    /// One site: its place, addresses, phones and opening hours.
    Location { name, location_type, latitude, longitude }
    lists { addresses: Address, phones: Phone, schedules: Schedule }
);
hsds_type!(
    /// One thing the organization offers.
    Service { name, status, description, eligibility_description }
);
hsds_type!(
    /// A street or postal address.
    Address { address_1, address_2, city, state_province, postal_code, country, address_type }
);
hsds_type!(
    /// A phone number, its extension, and whether it is a fax.
    Phone { number, extension, kind = "type" }
);
hsds_type!(
    /// An opening time as the hours parser read it.
    Schedule { description }
);

impl Schedule {
    /// Every field of a schedule the hours parser read, each from the
    /// source `source` gives for its key.
    pub(in crate::mapper) fn read(object: Value, source: impl Fn(&str) -> Source) -> Schedule {
        Schedule(Part::from_object(object, source))
    }
}

/// `parts` as a JSON list at pointer `at`, each at its index.
pub(super) fn finish_all<T: Into<Part>>(
    parts: Vec<T>,
    at: &str,
    provenance: &mut BTreeMap<String, Source>,
) -> Value {
    Value::Array(
        parts
            .into_iter()
            .enumerate()
            .map(|(i, part)| part.into().finish(&format!("{at}/{i}"), provenance))
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
        let mut phone = Phone::default();
        phone.number("555-0100", copied("/phone"));
        phone.kind("fax", copied("/phone"));
        let mut loc = Location::default();
        loc.name("A", copied("/name"));
        loc.name("B", copied("/title"));
        loc.phones(vec![phone]);
        loc.addresses(vec![]);
        let mut prov = BTreeMap::new();
        let value = Part::from(loc).finish("/location/2", &mut prov);
        assert_eq!(
            value,
            json!({"name": "B", "phones": [{"number": "555-0100", "type": "fax"}]})
        );
        assert_eq!(prov["/location/2/name"].source, "raw:/title");
        assert_eq!(prov["/location/2/phones/0/number"].source, "raw:/phone");
        assert_eq!(prov["/location/2/phones/0/type"].source, "raw:/phone");
        assert_eq!(prov.len(), 3);
        let s = Schedule::read(json!({"byday": "MO", "freq": "WEEKLY"}), |_| derived());
        let value = Part::from(s).finish("/s", &mut prov);
        assert_eq!(value["byday"], "MO");
        assert_eq!(prov["/s/freq"].how, How::Derived);
    }
}
