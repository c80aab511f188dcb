//! A scraped record (a JSON object) into the HSDS draft that
//! [`crate::repair`] finishes, without an LLM: fields are placed by their
//! key's meaning and by their content, wherever the scraper put them, and
//! every value carries its provenance (the raw field it came from and how).
//!
//! What code cannot decide is returned as [`Question`]s for an LLM, each
//! small: today, opening hours the parser cannot read.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::classify::{self, Role};
use crate::{geo, hours};

/// How a value was obtained from the raw record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum How {
    /// Taken as written.
    Copied,
    /// Taken and reformatted (phone format, state name to code, a URL
    /// scheme, hours into schedule fields).
    Normalised,
    /// Found by its content in a field meant for something else.
    Inferred,
    /// Composed from other values or a fixed default (`status: active`).
    Derived,
    /// An LLM's answer to a question about the raw field.
    Llm,
}

/// Where one value of the document came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Source {
    /// `raw:<pointer>` (several joined by `+`), or `derived`.
    pub source: String,
    pub how: How,
}

/// A question for an LLM about a raw value code could not place.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Question {
    /// `hours`.
    pub kind: &'static str,
    /// The raw field: a JSON pointer into the record.
    pub from: String,
    pub text: String,
}

/// What the mapper made of a record.
#[derive(Debug, Clone, PartialEq)]
pub struct Mapping {
    /// `{organization, service, location}` in the shape repair takes.
    pub draft: Value,
    /// JSON pointer in the draft (and the repaired document) -> source.
    pub provenance: BTreeMap<String, Source>,
    pub questions: Vec<Question>,
}

/// One raw field: its pointer, role and value.
struct Field {
    pointer: String,
    role: Role,
    value: Value,
}

/// Collects the record's fields, one level of nesting deep.
fn fields(record: &Map<String, Value>) -> Vec<Field> {
    let mut out = Vec::new();
    for (key, value) in record {
        let pointer = format!("/{}", escape(key));
        match value {
            Value::Object(inner) => {
                for (k, v) in inner {
                    out.push(Field {
                        pointer: format!("{pointer}/{}", escape(k)),
                        role: classify::role_of(k),
                        value: v.clone(),
                    });
                }
            }
            _ => out.push(Field {
                pointer,
                role: classify::role_of(key),
                value: value.clone(),
            }),
        }
    }
    out
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// Decodes HTML entities scrapers leave in names (`&#8217;`, `&amp;`).
fn unescape(text: &str) -> String {
    let mut t = text
        .replace("&amp;", "&")
        .replace("&#8217;", "\u{2019}")
        .replace("&#039;", "'")
        .replace("&#39;", "'")
        .replace("&quot;", "\"");
    t = t.split_whitespace().collect::<Vec<_>>().join(" ");
    t
}

/// The values gathered for each part of the record, with their sources.
#[derive(Default)]
struct Found {
    name: Option<(String, Source)>,
    org_name: Option<(String, Source)>,
    place: Option<(String, Source)>,
    street: Option<(String, Source)>,
    street2: Option<(String, Source)>,
    city: Option<(String, Source)>,
    state: Option<(String, Source)>,
    zip: Option<(String, Source)>,
    latitude: Option<(f64, Source)>,
    longitude: Option<(f64, Source)>,
    phones: Vec<(String, Source)>,
    email: Option<(String, Source)>,
    website: Option<(String, Source)>,
    /// Texts with opening hours, and where they came from.
    hours: Vec<(String, String)>,
    notes: Vec<(String, String)>,
    description: Option<(String, Source)>,
    services: Vec<(String, Source)>,
}

fn src(pointer: &str, how: How) -> Source {
    Source {
        source: format!("raw:{pointer}"),
        how,
    }
}

fn set<T>(slot: &mut Option<(T, Source)>, value: T, source: Source) {
    if slot.is_none() {
        *slot = Some((value, source));
    }
}

/// Places one text value by its content, for a field whose key says
/// nothing useful or something the content contradicts. Returns whether it
/// found a home.
fn place_by_content(found: &mut Found, pointer: &str, text: &str, how: How) -> bool {
    if let Some(number) = classify::phone(text) {
        found.phones.push((number, src(pointer, how)));
        return true;
    }
    if let Some(email) = classify::email(text).filter(|e| e.len() + 10 >= text.trim().len()) {
        set(&mut found.email, email, src(pointer, how));
        return true;
    }
    if let Some((url, _)) = classify::url(text) {
        set(&mut found.website, url, src(pointer, how));
        return true;
    }
    // A street number alone ("30 days ...") is not an address: it also
    // needs a state or a ZIP code.
    if let Some(address) = classify::address(text).filter(|a| a.state.is_some() || a.zip.is_some())
    {
        put_address(found, pointer, &address, how);
        return true;
    }
    if hours::looks_like_hours(text) {
        found.hours.push((pointer.to_string(), text.to_string()));
        return true;
    }
    false
}

fn put_address(found: &mut Found, pointer: &str, a: &classify::Address, how: How) {
    let s = || src(pointer, how);
    if let Some(place) = &a.place {
        set(&mut found.place, place.clone(), s());
    }
    if let Some(street) = &a.street {
        set(&mut found.street, street.clone(), s());
    }
    if let Some(city) = &a.city {
        set(&mut found.city, city.clone(), s());
    }
    if let Some(state) = &a.state {
        set(&mut found.state, state.clone(), s());
    }
    if let Some(zip) = &a.zip {
        set(&mut found.zip, zip.clone(), s());
    }
}

fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Reads every field into [`Found`].
fn gather(record: &Map<String, Value>) -> Found {
    let mut found = Found::default();
    for Field {
        pointer,
        role,
        value,
    } in fields(record)
    {
        let p = pointer.as_str();
        if role == Role::Latitude || role == Role::Longitude {
            if let Some(n) = number(&value) {
                let slot = if role == Role::Latitude {
                    &mut found.latitude
                } else {
                    &mut found.longitude
                };
                set(slot, n, src(p, How::Copied));
            }
            continue;
        }
        if role == Role::Services {
            let items: Vec<String> = match &value {
                Value::Array(items) => items
                    .iter()
                    .filter_map(Value::as_str)
                    .map(unescape)
                    .collect(),
                Value::String(s) => s.split([',', ';']).map(unescape).collect(),
                _ => vec![],
            };
            for (i, item) in items.into_iter().filter(|s| !s.is_empty()).enumerate() {
                found
                    .services
                    .push((item, src(&format!("{p}/{i}"), How::Copied)));
            }
            continue;
        }
        let text = match &value {
            Value::String(s) => unescape(s),
            Value::Number(n) if role == Role::Zip => n.to_string(),
            _ => continue,
        };
        if text.is_empty() || role == Role::Ignore {
            continue;
        }
        place_field(&mut found, p, role, text);
    }
    found
}

/// Places one text field: by its key when the content agrees, else by its
/// content (a misfiled value), else as notes.
fn place_field(found: &mut Found, p: &str, role: Role, text: String) {
    let copied = || src(p, How::Copied);
    match role {
        Role::Name if classify::phone(&text).is_none() => set(&mut found.name, text, copied()),
        Role::OrgName => set(&mut found.org_name, text, copied()),
        Role::City if classify::phone(&text).is_none() => set(&mut found.city, text, copied()),
        Role::State => match geo::us_state_code(&text) {
            Some(code) if code == text => set(&mut found.state, text, copied()),
            Some(code) => set(&mut found.state, code.to_string(), src(p, How::Normalised)),
            None => found.notes.push((p.to_string(), text)),
        },
        Role::Zip if text.chars().filter(char::is_ascii_digit).count() >= 5 => {
            let zip: String = text.chars().take_while(|c| *c != ' ').collect();
            set(&mut found.zip, zip, copied());
        }
        Role::Address2 => set(&mut found.street2, text, copied()),
        Role::Phone => match classify::phone(&text) {
            Some(n) if n == text => found.phones.push((n, copied())),
            Some(n) => found.phones.push((n, src(p, How::Normalised))),
            None if !place_by_content(found, p, &text, How::Inferred) => {
                found.notes.push((p.to_string(), text))
            }
            None => {}
        },
        Role::Email => match classify::email(&text) {
            Some(e) => set(&mut found.email, e, copied()),
            None => {
                place_by_content(found, p, &text, How::Inferred);
            }
        },
        Role::Website => match classify::url(&text) {
            Some((u, false)) => set(&mut found.website, u, copied()),
            Some((u, true)) => set(&mut found.website, u, src(p, How::Normalised)),
            None => {
                place_by_content(found, p, &text, How::Inferred);
            }
        },
        Role::Hours => {
            if hours::looks_like_hours(&text) {
                found.hours.push((p.to_string(), text));
            } else if !place_by_content(found, p, &text, How::Inferred) {
                // Hours the parser may still not read: a question.
                found.hours.push((p.to_string(), text));
            }
        }
        Role::Address => match classify::address(&text) {
            Some(a) => {
                let how = if a.city.is_some() || a.place.is_some() {
                    How::Normalised
                } else {
                    How::Copied
                };
                put_address(found, p, &a, how);
            }
            None if place_by_content(found, p, &text, How::Inferred) => {}
            None => set(&mut found.street, text, copied()),
        },
        Role::Description => {
            if hours::looks_like_hours(&text) {
                found.hours.push((p.to_string(), text.clone()));
            }
            set(&mut found.description, text, copied());
        }
        // Placed by content when it reads as something; notes otherwise.
        Role::Notes | Role::Unknown if !place_by_content(found, p, &text, How::Inferred) => {
            found.notes.push((p.to_string(), text));
        }
        // A name, city or ZIP field holding a phone number (say).
        Role::Name | Role::City | Role::Zip => {
            place_by_content(found, p, &text, How::Inferred);
        }
        _ => {}
    }
}

/// Whether a record holds anything a pantry record is made of: a name, an
/// address, a phone, an email, a website or opening hours (by key or by
/// content). A record without any (`{"test": "data"}`) has nothing to
/// align, and no LLM should be paid to invent it.
pub fn has_content(raw: &Value) -> bool {
    let Some(record) = raw.as_object() else {
        return false;
    };
    let f = gather(record);
    f.name.is_some()
        || f.org_name.is_some()
        || f.place.is_some()
        || f.street.is_some()
        || !f.phones.is_empty()
        || f.email.is_some()
        || f.website.is_some()
        || !f.hours.is_empty()
}

/// Maps a scraped record. `None` when `raw` is not a JSON object with at
/// least a name (free text goes to the LLM whole).
pub fn map_record(raw: &Value) -> Option<Mapping> {
    let record = raw.as_object()?;
    let mut f = gather(record);
    let (name, name_src) = f
        .name
        .clone()
        .or_else(|| f.org_name.clone())
        .or_else(|| f.place.clone())?;
    let mut prov = BTreeMap::new();
    let mut questions = Vec::new();

    let org_name = f
        .org_name
        .clone()
        .unwrap_or((name.clone(), name_src.clone()));
    let mut org = Map::new();
    org.insert("name".into(), json!(org_name.0));
    prov.insert("/organization/0/name".into(), org_name.1);
    let description = match f.description.clone() {
        Some(d) => d,
        None => derived_description(&f, &name),
    };
    org.insert("description".into(), json!(description.0));
    prov.insert("/organization/0/description".into(), description.1);
    if let Some((email, s)) = f.email.clone() {
        org.insert("email".into(), json!(email));
        prov.insert("/organization/0/email".into(), s);
    }
    if let Some((url, s)) = f.website.clone() {
        org.insert("website".into(), json!(url));
        prov.insert("/organization/0/website".into(), s);
    }

    let mut loc = Map::new();
    let (loc_name, loc_src) = f.place.clone().unwrap_or((name.clone(), name_src.clone()));
    loc.insert("name".into(), json!(loc_name));
    prov.insert("/location/0/name".into(), loc_src);
    loc.insert("location_type".into(), json!("physical"));
    prov.insert("/location/0/location_type".into(), derived());
    if let (Some((lat, ls)), Some((lon, os))) = (f.latitude.clone(), f.longitude.clone()) {
        loc.insert("latitude".into(), json!(lat));
        loc.insert("longitude".into(), json!(lon));
        let how = match geo::classify(lat, lon) {
            geo::Coordinates::Mercator { .. } => How::Normalised,
            _ => How::Copied,
        };
        prov.insert("/location/0/latitude".into(), Source { how, ..ls });
        prov.insert("/location/0/longitude".into(), Source { how, ..os });
    }
    if let Some(address) = address(&f, &mut prov) {
        loc.insert("addresses".into(), json!([address]));
    }
    let mut phones = Vec::new();
    f.phones.dedup_by(|a, b| a.0 == b.0);
    for (i, (number, s)) in f.phones.iter().take(3).enumerate() {
        phones.push(json!({ "number": number }));
        prov.insert(format!("/location/0/phones/{i}/number"), s.clone());
    }
    if !phones.is_empty() {
        loc.insert("phones".into(), Value::Array(phones));
    }
    let schedules = schedules(&f, &mut prov, &mut questions);
    if !schedules.is_empty() {
        loc.insert("schedules".into(), Value::Array(schedules));
    }

    let services = services(&f, &name, &name_src, &mut prov);
    let draft = json!({
        "organization": [org],
        "location": [loc],
        "service": services,
    });
    Some(Mapping {
        draft,
        provenance: prov,
        questions,
    })
}

fn derived() -> Source {
    Source {
        source: "derived".into(),
        how: How::Derived,
    }
}

/// "Food Pantry at 938 Kaiser Road, Napa, CA": from the record's own
/// values, for records without a description.
fn derived_description(f: &Found, name: &str) -> (String, Source) {
    let what: Vec<&str> = f.services.iter().map(|(s, _)| s.as_str()).take(3).collect();
    let mut text = if what.is_empty() {
        name.to_string()
    } else {
        what.join(", ")
    };
    let place: Vec<&str> = [&f.street, &f.city, &f.state]
        .iter()
        .filter_map(|v| v.as_ref().map(|(s, _)| s.as_str()))
        .collect();
    if !place.is_empty() {
        text.push_str(&format!(" at {}", place.join(", ")));
    }
    (text, derived())
}

/// The address, when HSDS' required parts are all there.
fn address(f: &Found, prov: &mut BTreeMap<String, Source>) -> Option<Value> {
    let (street, ss) = f.street.clone()?;
    let (city, cs) = f.city.clone()?;
    let (state, st) = f.state.clone()?;
    let (zip, zs) = f.zip.clone()?;
    let base = "/location/0/addresses/0";
    let mut a = json!({
        "address_1": street, "city": city, "state_province": state,
        "postal_code": zip, "country": "US", "address_type": "physical",
    });
    prov.insert(format!("{base}/address_1"), ss);
    prov.insert(format!("{base}/city"), cs);
    prov.insert(format!("{base}/state_province"), st);
    prov.insert(format!("{base}/postal_code"), zs);
    prov.insert(format!("{base}/country"), derived());
    prov.insert(format!("{base}/address_type"), derived());
    if let Some((street2, s2)) = f.street2.clone() {
        a["address_2"] = json!(street2);
        prov.insert(format!("{base}/address_2"), s2);
    }
    Some(a)
}

/// Schedules from every hours text (and notes that read as hours); what
/// the parser cannot read becomes a question.
fn schedules(
    f: &Found,
    prov: &mut BTreeMap<String, Source>,
    questions: &mut Vec<Question>,
) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    let texts = f
        .hours
        .iter()
        .chain(f.notes.iter().filter(|(_, t)| hours::mentions_hours(t)));
    for (pointer, text) in texts {
        let read = hours::parse(text);
        for s in read.schedules {
            if out.len() >= 7 {
                break;
            }
            let i = out.len();
            for key in ["freq", "byday", "opens_at", "closes_at", "description"] {
                let how = if key == "description" {
                    How::Copied
                } else {
                    How::Normalised
                };
                prov.insert(
                    format!("/location/0/schedules/{i}/{key}"),
                    src(pointer, how),
                );
            }
            out.push(s);
        }
        // Leftovers that still mention a day or a time are worth a question.
        let worth_asking = read.unparsed.iter().any(|u| {
            let l = u.to_lowercase();
            l.chars().any(|c| c.is_ascii_digit()) && classify::phone(u).is_none()
        });
        if worth_asking && out.is_empty() {
            questions.push(Question {
                kind: "hours",
                from: pointer.clone(),
                text: text.clone(),
            });
        }
    }
    out
}

/// One service per offering the record lists (up to four), else one named
/// after the record.
fn services(
    f: &Found,
    name: &str,
    name_src: &Source,
    prov: &mut BTreeMap<String, Source>,
) -> Vec<Value> {
    let offered: Vec<(String, Source)> = if f.services.is_empty() {
        vec![(name.to_string(), name_src.clone())]
    } else {
        f.services.iter().take(4).cloned().collect()
    };
    let notes: Vec<&(String, String)> = f
        .notes
        .iter()
        .filter(|(_, t)| !hours::looks_like_hours(t))
        .collect();
    offered
        .into_iter()
        .enumerate()
        .map(|(i, (service, s))| {
            let mut svc = json!({ "name": service, "status": "active" });
            prov.insert(format!("/service/{i}/name"), s);
            prov.insert(format!("/service/{i}/status"), derived());
            if let Some((p, text)) = notes.first() {
                svc["description"] = json!(text);
                prov.insert(format!("/service/{i}/description"), src(p, How::Copied));
            }
            svc
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn misfiled_fields_land_where_they_belong() {
        // A scraper put the address in `phone` and the phone in `hours`.
        let raw = json!({
            "name": "Avondale", "address": "", "city": "", "state": "PA", "zip": "",
            "phone": "St. Rocco Center \u{2014} 9016 Gap Newport Pike Avondale, PA",
            "hours": "(610) 268-3365", "latitude": 40.0066, "longitude": -75.7075,
            "source": "x", "food_bank": "Chester County Food Bank"
        });
        let m = map_record(&raw).unwrap();
        let loc = &m.draft["location"][0];
        assert_eq!(loc["name"], "St. Rocco Center");
        assert_eq!(loc["phones"][0]["number"], "(610) 268-3365");
        assert_eq!(
            m.provenance["/location/0/phones/0/number"].source,
            "raw:/hours"
        );
        assert_eq!(
            m.provenance["/location/0/phones/0/number"].how,
            How::Inferred
        );
        assert!(m.questions.is_empty());
        // No ZIP code: no address (HSDS requires one), nothing invented.
        assert!(loc.get("addresses").is_none());
    }

    #[test]
    fn a_complete_record_is_fully_mapped_with_provenance() {
        let raw = json!({
            "name": "Napa Food Pantry", "address": "938 Kaiser Road", "city": "Napa",
            "state": "CA", "zip": "94559", "phone": "707.555.0100",
            "hours": "Open Tuesday, Wednesday, & Thursday Hours: 9:00-1:00 PM",
            "services": ["Food Pantry"], "website": "https://www.canv.org/food-pantry/",
            "notes": "Bring ID.", "latitude": 38.25, "longitude": -122.27
        });
        let m = map_record(&raw).unwrap();
        assert!(m.questions.is_empty());
        let addr = &m.draft["location"][0]["addresses"][0];
        assert_eq!(addr["address_1"], "938 Kaiser Road");
        assert_eq!(addr["postal_code"], "94559");
        let s = &m.draft["location"][0]["schedules"][0];
        assert_eq!(s["byday"], "TU,WE,TH");
        assert_eq!(s["opens_at"], "09:00");
        assert_eq!(
            m.provenance["/location/0/addresses/0/city"].source,
            "raw:/city"
        );
        assert_eq!(
            m.provenance["/location/0/addresses/0/city"].how,
            How::Copied
        );
        assert_eq!(
            m.provenance["/location/0/phones/0/number"].how,
            How::Normalised
        );
        assert_eq!(m.draft["service"][0]["description"], "Bring ID.");
        // Every value in the draft has a source.
        fn leaves(v: &Value, path: String, out: &mut Vec<String>) {
            match v {
                Value::Object(m) => m
                    .iter()
                    .for_each(|(k, v)| leaves(v, format!("{path}/{k}"), out)),
                Value::Array(a) => a
                    .iter()
                    .enumerate()
                    .for_each(|(i, v)| leaves(v, format!("{path}/{i}"), out)),
                _ => out.push(path),
            }
        }
        let mut all = Vec::new();
        leaves(&m.draft, String::new(), &mut all);
        for p in all {
            assert!(m.provenance.contains_key(&p), "no provenance for {p}");
        }
    }

    #[test]
    fn hours_in_notes_and_unreadable_hours() {
        let raw = json!({"name": "A", "notes": "Sundays from 4:00 pm until 6:00 pm"});
        let m = map_record(&raw).unwrap();
        assert_eq!(m.draft["location"][0]["schedules"][0]["byday"], "SU");
        assert_eq!(
            m.provenance["/location/0/schedules/0/opens_at"].source,
            "raw:/notes"
        );
        let raw = json!({"name": "B", "hours": "Monday: 3rd Monday of the Month, 10am (except holidays)"});
        let m = map_record(&raw).unwrap();
        assert_eq!(m.questions.len(), 1);
        assert_eq!(m.questions[0].from, "/hours");
        let raw = json!({"name": "C", "notes": "Monday: 3rd Monday of the Month, 10am (except holidays)"});
        let m = map_record(&raw).unwrap();
        assert_eq!(m.questions.len(), 1, "hours in notes ask too");
        let raw = json!({"name": "D", "notes": "Bring two forms of ID, once every 30 days."});
        assert!(map_record(&raw).unwrap().questions.is_empty());
        assert!(!has_content(&json!({"test": "data"})));
        assert!(has_content(&json!({"contact": "(610) 268-3365"})));
    }
}
