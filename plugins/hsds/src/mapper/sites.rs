//! Records that list several sites: one location per site.
//!
//! A food bank's record may hold its distribution sites as a list of
//! objects (`"sites": [{"site_name": ..., "addr": ..., "hours": ...}, ...]`,
//! or an HSDS export's `locations`). Read as one record, the second site's
//! hours would land on the first site's address; read site by site, each
//! location keeps its own.

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::How;
use super::fields::escape;
use super::gather::{Found, gather_at, src};
use crate::classify::{self, Role};

/// Splits off the record's list of sites, if it has one: the rest of the
/// record (shared by every site: the organization, its services) and what
/// was found in each site (its sources point into the list). A list counts
/// as sites when at least two of its objects have an address or
/// coordinates of their own; lists of a site's parts (phones, hours,
/// addresses, services) never do.
pub(super) fn split(record: &Map<String, Value>, prefix: &str) -> (Map<String, Value>, Vec<Found>) {
    let found = record.iter().find_map(|(key, value)| {
        let items = site_items(value)?;
        let parts = matches!(
            classify::role_of(key),
            Role::Hours
                | Role::Services
                | Role::Phone
                | Role::Email
                | Role::Website
                | Role::Address
                | Role::Address2
                | Role::Ignore
        );
        if parts {
            return None;
        }
        let sites: Vec<Found> = items
            .into_iter()
            .filter_map(|(at, item)| {
                // (The sites of a list that is the whole record sit at
                // `/0`, `/1`: their key is empty.)
                let pointer = match key.as_str() {
                    "" => format!("{prefix}/{}", escape(&at)),
                    key => format!("{prefix}/{}/{}", escape(key), escape(&at)),
                };
                let mut found = gather_at(item.as_object()?, &pointer);
                // `"sites": {"Harbor Pantry": {...}}`: the key names the site.
                if found.name.is_none() && at.parse::<usize>().is_err() {
                    found.name = Some((at, src(&pointer, How::Inferred)));
                }
                Some(found)
            })
            .collect();
        let placed = sites
            .iter()
            .filter(|f| f.street.is_some() || (f.latitude.is_some() && f.longitude.is_some()))
            .count();
        (placed >= 2).then(|| (key.clone(), sites))
    });
    match found {
        Some((key, sites)) => {
            let mut shared = record.clone();
            shared.remove(&key);
            (shared, sites)
        }
        None => (record.clone(), Vec::new()),
    }
}

/// A value's items as sites might be: a list's (by index), or an object's
/// whose values are all objects (by key: `{"Harbor Pantry": {...}, "Hill
/// Pantry": {...}}`).
fn site_items(value: &Value) -> Option<Vec<(String, &Value)>> {
    match value {
        Value::Array(items) => Some(
            items
                .iter()
                .enumerate()
                .map(|(i, v)| (i.to_string(), v))
                .collect(),
        ),
        Value::Object(map) if map.len() >= 2 && map.values().all(Value::is_object) => {
            Some(map.iter().map(|(k, v)| (k.clone(), v)).collect())
        }
        _ => None,
    }
}

/// The record a raw value holds and the pointer it sits at: an object as
/// it is, a search engine's hit by its `_source` (`{"_id": ..., "_source":
/// {...}}`), a list of one object by that object. A list of several is
/// read as a record whose sites they are (`{"": [...]}`, its sites at
/// `/0`, `/1`, ...).
/// The record is borrowed where it stands; only a list of several is
/// wrapped.
pub(super) fn record_at(raw: &Value) -> Option<(Cow<'_, Map<String, Value>>, &'static str)> {
    match raw {
        Value::Object(map) => match map.get("_source") {
            Some(Value::Object(inner)) => Some((Cow::Borrowed(inner), "/_source")),
            _ => Some((Cow::Borrowed(map), "")),
        },
        Value::Array(items) => match items.as_slice() {
            [Value::Object(one)] => Some((Cow::Borrowed(one), "/0")),
            many if many.len() >= 2 && many.iter().all(Value::is_object) => {
                let mut listed = Map::new();
                listed.insert(String::new(), raw.clone());
                Some((Cow::Owned(listed), ""))
            }
            _ => None,
        },
        _ => None,
    }
}

/// Sites at one place (a food bank's events, each giving the same
/// address) are one location: a later one's hours and phones go to the
/// first one's.
pub(super) fn merge_same_place(sites: &mut Vec<Found>) {
    let place = |s: &Found| {
        let part = |v: &Option<(String, super::Source)>| {
            v.as_ref()
                .map(|(t, _)| t.to_lowercase())
                .unwrap_or_default()
        };
        (part(&s.street), part(&s.city), part(&s.zip))
    };
    let mut kept: Vec<Found> = Vec::with_capacity(sites.len());
    for site in sites.drain(..) {
        let here = place(&site);
        match kept
            .iter_mut()
            .find(|k| !here.0.is_empty() && place(k) == here)
        {
            Some(first) => {
                first.hours.extend(site.hours);
                first.phones.extend(site.phones);
            }
            None => kept.push(site),
        }
    }
    *sites = kept;
}

/// What a site leaves out, from the record's own values: the city, state
/// and ZIP code of a site given by its street alone, and the record's
/// phones and hours for a site without any.
pub(super) fn fill_from(site: &mut Found, shared: &Found) {
    for (slot, from) in [
        (&mut site.city, &shared.city),
        (&mut site.state, &shared.state),
        (&mut site.zip, &shared.zip),
    ] {
        if slot.is_none() && site.street.is_some() {
            slot.clone_from(from);
        }
    }
    if site.phones.is_empty() {
        site.phones.clone_from(&shared.phones);
        site.extensions.clone_from(&shared.extensions);
        site.faxes.clone_from(&shared.faxes);
    }
    if site.hours.is_empty() {
        site.hours.clone_from(&shared.hours);
    }
}

#[cfg(test)]
mod tests {
    use super::super::map_record;
    use serde_json::{Value, json};

    /// Each location's name and where the draft says it came from.
    fn names(raw: Value) -> Vec<(String, String)> {
        let m = map_record(&raw).expect("a mapping");
        let doc = m.draft.value().clone();
        let locations = doc["location"].as_array().cloned().unwrap_or_default();
        (0..locations.len())
            .map(|i| {
                let name = locations[i]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                let from = m.draft.provenance()[&format!("/location/{i}/name")]
                    .source
                    .clone();
                (name, from)
            })
            .collect()
    }

    #[test]
    fn a_search_hit_and_lists_are_read_where_they_are() {
        let hit = json!({"_id": "1", "_source": {"name": "Hit Pantry", "address": "7 Hit St, Denver, CO 80202"}});
        assert_eq!(
            names(hit),
            [("Hit Pantry".into(), "raw:/_source/name".into())]
        );
        let one = json!([{"name": "Only Pantry", "address": "13 Item St, Reno, NV 89501"}]);
        assert_eq!(names(one), [("Only Pantry".into(), "raw:/0/name".into())]);
        let two = json!([
            {"name": "A Pantry", "address": "1 A St, Reno, NV 89501"},
            {"name": "B Pantry", "address": "2 B St, Reno, NV 89502"}
        ]);
        assert_eq!(
            names(two),
            [
                ("A Pantry".into(), "raw:/0/name".into()),
                ("B Pantry".into(), "raw:/1/name".into())
            ]
        );
        // A list of texts, or of nothing, is no record.
        assert!(map_record(&json!(["Pantry", "Other"])).is_none());
        assert!(map_record(&json!([])).is_none());
    }

    #[test]
    fn sites_keyed_by_their_names() {
        let raw = json!({"food_bank": "Coastal", "sites": {
            "Harbor Pantry": {"address": "11 Harbor Rd, Mystic, CT 06355"},
            "Hill Pantry": {"address": "12 Hill Rd, Mystic, CT 06355"}}});
        assert_eq!(
            names(raw),
            [
                ("Harbor Pantry".into(), "raw:/sites/Harbor Pantry".into()),
                ("Hill Pantry".into(), "raw:/sites/Hill Pantry".into())
            ]
        );
        // One object under a key is a part of the record, not a site.
        let raw = json!({"name": "Solo", "location": {"a": {"address": "1 A St, Reno, NV 89501"}}});
        assert_eq!(names(raw).len(), 1);
    }
}
