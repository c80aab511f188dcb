//! The finished draft: the HSDS document the mapper made and every value's
//! provenance, kept together behind one type. Its fields are private: a
//! value is added only as a typed part ([`Draft::append`], [`Draft::fill`]),
//! whose sources become the provenance at the pointers the value lands on,
//! so nothing placed after mapping (a known field, the LLM's choice, a
//! person's answer, hours text kept as a description) can lack one.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::Source;
use super::doc::{self, Location, Organization, Part, Service};

/// `{organization, service, location}` in the shape repair takes, and
/// JSON pointer in it (and in the repaired document) -> source.
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    value: Value,
    provenance: BTreeMap<String, Source>,
}

impl Draft {
    /// The document of the parts the mapper built, each value's source
    /// written at its pointer.
    pub(super) fn finish(
        organization: Organization,
        locations: Vec<Location>,
        services: Vec<Service>,
    ) -> Draft {
        let mut provenance = BTreeMap::new();
        let mut value = Map::new();
        let lists = [
            (
                "organization",
                doc::finish_all(vec![organization], "/organization", &mut provenance),
            ),
            (
                "location",
                doc::finish_all(locations, "/location", &mut provenance),
            ),
            (
                "service",
                doc::finish_all(services, "/service", &mut provenance),
            ),
        ];
        for (key, list) in lists {
            value.insert(key.to_string(), list);
        }
        Draft {
            value: Value::Object(value),
            provenance,
        }
    }

    /// The document, to read.
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// Every value's source by its JSON pointer.
    pub fn provenance(&self) -> &BTreeMap<String, Source> {
        &self.provenance
    }

    /// Restates sources (where a value came from is said another way: the
    /// whole text rather than a field of it); the values and their
    /// pointers stay.
    pub fn restate_sources(&mut self, mut restate: impl FnMut(&mut Source)) {
        self.provenance.values_mut().for_each(&mut restate);
    }

    /// Appends `part` to the list `key` of the object at `at` (the list
    /// made when missing) unless an equal item is there. Returns the
    /// pointers placed: none when there is no object at `at` or the item
    /// is held already.
    pub(super) fn append(&mut self, at: &str, key: &str, part: impl Into<Part>) -> Vec<String> {
        let Some(object) = self.value.pointer_mut(at).and_then(Value::as_object_mut) else {
            return Vec::new();
        };
        let Some(list) = object
            .entry(key)
            .or_insert_with(|| Value::Array(Vec::new()))
            .as_array_mut()
        else {
            return Vec::new();
        };
        let mut sources = BTreeMap::new();
        let item = part
            .into()
            .finish(&format!("{at}/{key}/{}", list.len()), &mut sources);
        if list.contains(&item) {
            return Vec::new();
        }
        list.push(item);
        let placed = sources.keys().cloned().collect();
        self.provenance.extend(sources);
        placed
    }

    /// Sets `key` of the object at `at` to `value` from `source` when
    /// `room` says the field has room for it (given what it holds, if
    /// anything). Returns the pointer set.
    pub(super) fn fill(
        &mut self,
        at: &str,
        key: &str,
        (value, source): (Value, Source),
        room: impl Fn(Option<&Value>) -> bool,
    ) -> Option<String> {
        let object = self.value.pointer_mut(at)?.as_object_mut()?;
        if !room(object.get(key)) {
            return None;
        }
        object.insert(key.to_string(), value);
        let pointer = format!("{at}/{key}");
        self.provenance.insert(pointer.clone(), source);
        Some(pointer)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{How, doc::Phone};
    use super::*;
    use serde_json::json;

    fn copied(p: &str) -> Source {
        Source {
            source: format!("raw:{p}"),
            how: How::Copied,
        }
    }

    fn draft() -> Draft {
        let mut org = Organization::default();
        org.name("Pantry", copied("/name"));
        Draft::finish(org, vec![Location::default()], Vec::new())
    }

    #[test]
    fn an_appended_part_lands_with_its_sources_once() {
        let mut d = draft();
        let mut phone = Phone::default();
        phone.number("555-0100", copied("/note"));
        let placed = d.append("/location/0", "phones", phone);
        assert_eq!(placed, vec!["/location/0/phones/0/number".to_string()]);
        assert_eq!(d.value()["location"][0]["phones"][0]["number"], "555-0100");
        assert_eq!(
            d.provenance()["/location/0/phones/0/number"].source,
            "raw:/note"
        );
        let mut again = Phone::default();
        again.number("555-0100", copied("/other"));
        assert!(d.append("/location/0", "phones", again).is_empty());
        assert_eq!(
            d.provenance()["/location/0/phones/0/number"].source,
            "raw:/note"
        );
        assert!(
            d.append("/location/3", "phones", Phone::default())
                .is_empty()
        );
    }

    #[test]
    fn a_field_is_filled_only_where_there_is_room() {
        let mut d = draft();
        let empty = |held: Option<&Value>| held.is_none();
        let email = (json!("a@b.org"), copied("/email"));
        let at = d.fill("/organization/0", "email", email.clone(), empty);
        assert_eq!(at.as_deref(), Some("/organization/0/email"));
        assert_eq!(d.provenance()["/organization/0/email"].source, "raw:/email");
        assert_eq!(
            d.fill("/organization/0", "email", email.clone(), empty),
            None
        );
        assert_eq!(d.fill("/organization/9", "email", email, empty), None);
        assert_eq!(d.provenance().len(), 2);
    }
}
