//! An LLM's answer (shaped by [`crate::convert::alignment_schema`]) into
//! HSDS that passes the real schemas, deterministically:
//!
//! - nulls and empty strings become absent, strings are trimmed;
//! - every object gets a UUIDv5 id from a seed (the content hash of the raw
//!   input) and its path in the document, so the same input gives the same
//!   ids on every run and every host;
//! - links are filled: `organization_id` on services and locations (by the
//!   helper `organization_name`, else the first organization), `service_id`,
//!   `location_id` and `organization_id` on nested phones, schedules and
//!   addresses, and one `service_at_location` per service and location it is
//!   offered at (by the helper `location_names`, else every location);
//! - Web-Mercator metres become degrees; an address without the parts HSDS
//!   requires, or a phone without a number, is dropped (an address lacking
//!   only its ZIP code keeps an empty one: it still says where to go); a
//!   missing country
//!   becomes `US` when the state is a US state.
//!
//! Every change beyond clean-up is reported as a repair, so nothing is
//! silently invented or lost.

use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::geo::{self, Coordinates};

/// What repair made of an answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Repaired {
    /// `{organization, service, location, service_at_location}`.
    pub document: Value,
    /// One line per repair beyond clean-up.
    pub repairs: Vec<String>,
}

/// The namespace of every id Deckhand derives for HSDS records.
pub fn namespace() -> Uuid {
    Uuid::new_v5(&Uuid::NAMESPACE_URL, b"https://deckhand.dev/hsds")
}

/// A deterministic id for the object at `path` in the document for `seed`.
pub fn id_for(seed: &str, path: &str) -> String {
    Uuid::new_v5(&namespace(), format!("{seed}/{path}").as_bytes()).to_string()
}

/// Repairs `answer`. Errors name what no repair can fix (not an object, no
/// organization); everything else is fixed or left for validation to name.
pub fn repair(answer: &Value, seed: &str) -> Result<Repaired, String> {
    let Value::Object(top) = clean(answer.clone()).unwrap_or(Value::Null) else {
        return Err("the answer is not a JSON object".into());
    };
    let list = |key: &str| -> Vec<Map<String, Value>> {
        match top.get(key) {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|v| v.as_object().cloned())
                .collect(),
            Some(Value::Object(one)) => vec![one.clone()],
            _ => vec![],
        }
    };
    let mut organizations = list("organization");
    let mut services = list("service");
    let mut locations = list("location");
    if organizations.is_empty() {
        return Err(
            "the answer has no organization; every record needs the organization that runs it"
                .into(),
        );
    }
    let mut links = Links {
        seed,
        organizations: Vec::new(),
        locations: Vec::new(),
        service_at_location: Vec::new(),
        repairs: Vec::new(),
    };
    links.organizations(&mut organizations);
    links.locations(&mut locations);
    links.services(&mut services);
    let objects =
        |v: Vec<Map<String, Value>>| Value::Array(v.into_iter().map(Value::Object).collect());
    Ok(Repaired {
        document: json!({
            "organization": objects(organizations),
            "service": objects(services),
            "location": objects(locations),
            "service_at_location": links.service_at_location,
        }),
        repairs: links.repairs,
    })
}

/// The ids given so far and the links made, while a document is repaired.
struct Links<'s> {
    seed: &'s str,
    /// (id, normalised name) of each organization, in order.
    organizations: Vec<(String, String)>,
    /// (id, normalised name) of each location, in order.
    locations: Vec<(String, String)>,
    service_at_location: Vec<Value>,
    repairs: Vec<String>,
}

/// An object's id and its normalised name.
fn named(id: String, item: &Map<String, Value>) -> (String, String) {
    let name = item.get("name").and_then(Value::as_str).map(normalise);
    (id, name.unwrap_or_default())
}

impl Links<'_> {
    fn organizations(&mut self, organizations: &mut [Map<String, Value>]) {
        for (i, org) in organizations.iter_mut().enumerate() {
            let path = format!("organization/{i}");
            let id = id_for(self.seed, &path);
            org.insert("id".into(), json!(id));
            let links: &[(&str, &str)] = &[("organization_id", &id)];
            nested(org, "phones", &path, self.seed, links, &mut self.repairs);
            self.organizations.push(named(id, org));
        }
    }

    /// The organization `item` names (`organization_name`, removed), else
    /// the first one.
    fn owner(&mut self, item: &mut Map<String, Value>, what: &str) -> String {
        let named = item
            .remove("organization_name")
            .and_then(|v| v.as_str().map(normalise));
        let found = named
            .as_ref()
            .and_then(|n| self.organizations.iter().find(|(_, name)| name == n));
        if let (Some(n), None) = (&named, found)
            && self.organizations.len() > 1
        {
            self.repairs.push(format!(
                "{what}: organization {n:?} is not in the answer; linked to the first organization"
            ));
        }
        found.unwrap_or(&self.organizations[0]).0.clone()
    }

    fn locations(&mut self, locations: &mut [Map<String, Value>]) {
        for (i, loc) in locations.iter_mut().enumerate() {
            let path = format!("location/{i}");
            let id = id_for(self.seed, &path);
            loc.insert("id".into(), json!(id));
            let org_id = self.owner(loc, &path);
            loc.insert("organization_id".into(), json!(org_id));
            coordinates(loc, &path, &mut self.repairs);
            let links: &[(&str, &str)] = &[("location_id", &id)];
            for key in ["addresses", "phones", "schedules"] {
                nested(loc, key, &path, self.seed, links, &mut self.repairs);
            }
            self.locations.push(named(id, loc));
        }
    }

    fn services(&mut self, services: &mut [Map<String, Value>]) {
        for (i, svc) in services.iter_mut().enumerate() {
            let path = format!("service/{i}");
            let id = id_for(self.seed, &path);
            svc.insert("id".into(), json!(id));
            let org_id = self.owner(svc, &path);
            svc.insert("organization_id".into(), json!(org_id));
            let links: &[(&str, &str)] = &[("service_id", &id)];
            for key in ["phones", "schedules"] {
                nested(svc, key, &path, self.seed, links, &mut self.repairs);
            }
            self.link_service(svc, &path, &id);
        }
    }

    /// A `service_at_location` for each location the service names
    /// (`location_names`, removed), or for every location when it names none.
    fn link_service(&mut self, svc: &mut Map<String, Value>, path: &str, id: &str) {
        let names: Vec<String> = match svc.remove("location_names") {
            Some(Value::Array(n)) => n.iter().filter_map(Value::as_str).map(normalise).collect(),
            _ => vec![],
        };
        let mut at: Vec<String> = Vec::new();
        for name in &names {
            match self.locations.iter().find(|(_, n)| n == name) {
                Some((lid, _)) if !at.contains(lid) => at.push(lid.clone()),
                Some(_) => {}
                None => self.repairs.push(format!(
                    "{path}: location {name:?} is not in the answer; no link made to it"
                )),
            }
        }
        if names.is_empty() {
            at = self.locations.iter().map(|(lid, _)| lid.clone()).collect();
        }
        for lid in at {
            let sal_path = format!("service_at_location/{}", self.service_at_location.len());
            self.service_at_location.push(json!({
                "id": id_for(self.seed, &sal_path),
                "service_id": id,
                "location_id": lid,
            }));
        }
    }
}

/// Gives ids and links to the objects in `parent[key]`, dropping those that
/// cannot be valid HSDS.
fn nested(
    parent: &mut Map<String, Value>,
    key: &str,
    parent_path: &str,
    seed: &str,
    links: &[(&str, &str)],
    repairs: &mut Vec<String>,
) {
    let Some(Value::Array(items)) = parent.remove(key) else {
        return;
    };
    let mut kept = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let Value::Object(mut item) = item else {
            continue;
        };
        let path = format!("{parent_path}/{key}/{i}");
        match key {
            "addresses" => {
                if item.get("country").is_none()
                    && let Some(code) = item
                        .get("state_province")
                        .and_then(Value::as_str)
                        .and_then(geo::us_state_code)
                {
                    item.insert("country".into(), json!("US"));
                    item.insert("state_province".into(), json!(code));
                    repairs.push(format!("{path}: country set to US (state {code})"));
                }
                // What HSDS requires of an address, from its schema (the id
                // is given below).
                let required = crate::schemas::object("address")
                    .and_then(|a| a["required"].as_array().cloned())
                    .unwrap_or_default();
                let missing: Vec<&str> = required
                    .iter()
                    .filter_map(Value::as_str)
                    .filter(|k| *k != "id")
                    .filter(|k| !item.contains_key(*k))
                    .collect();
                // A street and a city without a state or a ZIP code: still
                // where the pantry is; they are left empty, never invented.
                let unknown = |k: &&str| matches!(*k, "state_province" | "postal_code");
                if !missing.is_empty() && missing.iter().all(unknown) {
                    for field in &missing {
                        item.insert((*field).into(), json!(""));
                        repairs.push(format!("{path}: {field} left empty, the record gives none"));
                    }
                } else if !missing.is_empty() {
                    repairs.push(format!(
                        "{path}: address dropped, HSDS requires {} and the answer has none",
                        missing.join(", ")
                    ));
                    continue;
                }
            }
            "phones" if !item.contains_key("number") => {
                repairs.push(format!("{path}: phone without a number dropped"));
                continue;
            }
            _ => {}
        }
        item.insert("id".into(), json!(id_for(seed, &path)));
        for (field, value) in links {
            item.insert((*field).into(), json!(value));
        }
        kept.push(Value::Object(item));
    }
    parent.insert(key.into(), Value::Array(kept));
}

fn coordinates(loc: &mut Map<String, Value>, path: &str, repairs: &mut Vec<String>) {
    let (Some(lat), Some(lon)) = (
        loc.get("latitude").and_then(Value::as_f64),
        loc.get("longitude").and_then(Value::as_f64),
    ) else {
        return;
    };
    match geo::classify(lat, lon) {
        Coordinates::Degrees => {}
        Coordinates::Mercator {
            latitude,
            longitude,
        } => {
            loc.insert("latitude".into(), json!(latitude));
            loc.insert("longitude".into(), json!(longitude));
            repairs.push(format!(
                "{path}: coordinates ({lat}, {lon}) were Web-Mercator metres; now ({latitude}, {longitude})"
            ));
        }
        Coordinates::OutOfRange => {
            loc.remove("latitude");
            loc.remove("longitude");
            repairs.push(format!(
                "{path}: coordinates ({lat}, {lon}) are not on Earth; removed"
            ));
        }
    }
}

/// Drops nulls and empty strings (and so emptied objects' keys), trims.
fn clean(value: Value) -> Option<Value> {
    match value {
        Value::Null => None,
        Value::String(s) => {
            let t = s.trim();
            (!t.is_empty()).then(|| Value::String(t.to_string()))
        }
        Value::Array(items) => Some(Value::Array(items.into_iter().filter_map(clean).collect())),
        Value::Object(map) => Some(Value::Object(
            map.into_iter()
                .filter_map(|(k, v)| clean(v).map(|v| (k, v)))
                .collect(),
        )),
        other => Some(other),
    }
}

/// Lower case, letters and digits only, single spaces: how names are
/// compared.
pub fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&word.to_lowercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer() -> Value {
        json!({
            "organization": [{"name": "Chicopee Pantry", "description": "Food pantry", "email": "", "phones": [{"number": "(413) 437-8071"}, {"number": null}]}],
            "service": [{"name": "Food Pantry", "status": "active", "description": null,
                         "organization_name": "chicopee pantry", "location_names": [],
                         "schedules": [{"freq": "MONTHLY", "byday": "4SA", "opens_at": "09:45", "closes_at": "10:30"}]}],
            "location": [{"name": "Dream Center", "location_type": "physical", "latitude": 4689967.66, "longitude": -8543312.0,
                          "organization_name": null,
                          "addresses": [{"address_1": "938 Chicopee St", "city": "Chicopee", "state_province": "Massachusetts", "postal_code": "01013", "address_type": "physical"},
                                        {"address_1": "somewhere", "city": "", "state_province": "MA", "postal_code": "", "country": "US", "address_type": "physical"}]}]
        })
    }

    #[test]
    fn same_input_same_ids_and_links_filled() {
        let a = repair(&answer(), "seed-1").unwrap();
        let b = repair(&answer(), "seed-1").unwrap();
        assert_eq!(a, b);
        let c = repair(&answer(), "seed-2").unwrap();
        assert_ne!(
            a.document["organization"][0]["id"],
            c.document["organization"][0]["id"]
        );
        let d = &a.document;
        let org = d["organization"][0]["id"].as_str().unwrap();
        assert!(Uuid::parse_str(org).is_ok());
        assert_eq!(d["service"][0]["organization_id"], org);
        assert_eq!(d["location"][0]["organization_id"], org);
        assert_eq!(
            d["service_at_location"][0]["service_id"],
            d["service"][0]["id"]
        );
        assert_eq!(
            d["service_at_location"][0]["location_id"],
            d["location"][0]["id"]
        );
        assert_eq!(
            d["service"][0]["schedules"][0]["service_id"],
            d["service"][0]["id"]
        );
        assert!(d["organization"][0].get("email").is_none());
        assert!(d["service"][0].get("organization_name").is_none());
        assert_eq!(d["organization"][0]["phones"].as_array().unwrap().len(), 1);
        let addresses = d["location"][0]["addresses"].as_array().unwrap();
        assert_eq!(addresses.len(), 1, "the incomplete address is dropped");
        assert_eq!(addresses[0]["country"], "US");
        assert_eq!(addresses[0]["state_province"], "MA");
        assert!(d["location"][0]["latitude"].as_f64().unwrap() < 90.0);
        assert!(
            a.repairs.iter().any(|r| r.contains("Web-Mercator")),
            "{:?}",
            a.repairs
        );
        assert!(a.repairs.iter().any(|r| r.contains("address dropped")));
    }

    #[test]
    fn an_address_without_only_its_zip_code_keeps_an_empty_one() {
        let doc = |zip: Value, city: Value| {
            json!({"organization": [{"name": "P", "description": "d"}],
                   "location": [{"name": "P", "location_type": "physical", "addresses": [
                       {"address_1": "9016 Gap Newport Pike", "city": city, "state_province": "PA",
                        "postal_code": zip, "address_type": "physical"}]}]})
        };
        let a = repair(&doc(Value::Null, json!("Avondale")), "s").unwrap();
        let address = &a.document["location"][0]["addresses"][0];
        assert_eq!(address["postal_code"], "");
        assert_eq!(address["address_1"], "9016 Gap Newport Pike");
        assert!(
            a.repairs
                .iter()
                .any(|r| r.contains("postal_code left empty"))
        );
        // Without its state too (a places API's "402 Oak St, Springfield"):
        // both left empty.
        let mut no_state = doc(Value::Null, json!("Avondale"));
        let address = &mut no_state["location"][0]["addresses"][0];
        if let Some(a) = address.as_object_mut() {
            a.remove("state_province");
            a.insert("country".into(), json!("US"));
        }
        let a = repair(&no_state, "s").unwrap();
        let address = &a.document["location"][0]["addresses"][0];
        assert_eq!(address["state_province"], "");
        assert_eq!(address["postal_code"], "");
        assert_eq!(address["city"], "Avondale");
        // Without its city too, it is dropped as before.
        let b = repair(&doc(Value::Null, Value::Null), "s").unwrap();
        let kept = b.document["location"][0]["addresses"]
            .as_array()
            .map_or(0, Vec::len);
        assert_eq!(kept, 0, "{:#}", b.document);
    }

    #[test]
    fn no_organization_is_an_error() {
        assert!(repair(&json!({"organization": [], "service": []}), "s").is_err());
        assert!(repair(&json!([1, 2]), "s").is_err());
    }
}
