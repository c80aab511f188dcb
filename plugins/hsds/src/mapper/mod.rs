//! A scraped record (a JSON object) into the HSDS draft that
//! [`crate::repair`] finishes, without an LLM: fields are placed by their
//! key's meaning and by their content, wherever the scraper put them, and
//! every value carries its provenance (the raw field it came from and how).
//!
//! What code cannot decide is returned as [`Question`]s for an LLM, each
//! small: today, opening hours the parser cannot read.
//!
//! - `cards`: a vCard or an iCalendar event as the record it makes;
//! - `day_fields`: a day's opening and closing times in fields of their own,
//!   paired;
//! - `fields`: the record's fields walked (nested objects and lists), each
//!   with its role from its key and its parent's key, in placing order;
//! - `gather`: every field of the record into `Found`, by key and content;
//! - `name_tidy`: a name as text gives it, without the labels, headings and
//!   marks around it;
//! - `opening`: opening times given as objects, as texts the hours parser reads;
//! - `prose`: what free text holds besides its prose (an address and the
//!   name before it, phones, an email);
//! - `schedules`: every hours text of a site into schedules, a day in one
//!   field and the time in another joined;
//! - `reshape`: a record in a shape of its own (a card, typed JSON, a
//!   spreadsheet's rows) as the plain record it makes;
//! - `sites`: a record that lists several sites, one location each;
//! - `text_name`: a pantry's name in free text, for a record no field names;
//! - `tidy`: an address's parts checked against each other.

use serde::Serialize;
use serde_json::Value;

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
    /// A person's answer to a question about the raw field (review).
    Reviewed,
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
    /// The draft's location the answer belongs to.
    pub location: usize,
    /// The raw field: a JSON pointer into the record.
    pub from: String,
    pub text: String,
}

/// What the mapper made of a record.
#[derive(Debug, Clone, PartialEq)]
pub struct Mapping {
    /// The document and each value's provenance.
    pub draft: Draft,
    pub questions: Vec<Question>,
}

mod address_field;
mod addresses;
mod answer;
mod cards;
#[cfg(test)]
mod contact_tests;
mod day_fields;
mod doc;
mod draft;
mod fields;
mod gather;
#[cfg(test)]
mod hours_tests;
mod name_tidy;
mod opening;
mod parts;
mod prose;
mod reshape;
mod schedules;
mod sites;
#[cfg(test)]
mod tests;
mod text_name;
mod tidy;
mod typed;
mod values;

pub use answer::record_text;
use doc::{Location, Organization, Phone, Service};
pub use draft::Draft;
use gather::{Found, gather_at, src};

impl Mapping {
    /// For a mapping of free text read as `{"text": <the text>}`: every
    /// source names the whole raw text (`raw:`), not a field it never had.
    pub fn whole_text(&mut self) {
        self.draft.restate_sources(|source| {
            if let Some(rest) = source.source.strip_prefix("raw:/text") {
                source.source = format!("raw:{rest}");
            }
        });
        for q in &mut self.questions {
            if let Some(rest) = q.from.strip_prefix("/text") {
                q.from = rest.to_string();
            }
        }
    }
}

/// The JSON pointer of every leaf value in `value` (what provenance is
/// given for), in document order.
pub fn leaf_pointers(value: &Value) -> Vec<String> {
    fn walk(v: &Value, path: String, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => m
                .iter()
                .for_each(|(k, v)| walk(v, format!("{path}/{k}"), out)),
            Value::Array(a) => a
                .iter()
                .enumerate()
                .for_each(|(i, v)| walk(v, format!("{path}/{i}"), out)),
            _ => out.push(path),
        }
    }
    let mut out = Vec::new();
    walk(value, String::new(), &mut out);
    out
}

/// Whether a record holds anything a pantry record is made of: a name, an
/// address, a phone, an email, a website or opening hours (by key or by
/// content). A record without any (`{"test": "data"}`) has nothing to
/// align, and no LLM should be paid to invent it.
pub fn has_content(raw: &Value) -> bool {
    if let Some((record, _)) = reshape::reshaped(raw) {
        return has_content(&record);
    }
    let Some((record, prefix)) = sites::record_at(raw) else {
        return false;
    };
    let f = gather_at(&record, prefix);
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
/// least a name (`hsds_alignment` reads free text as `{"text": ...}`). A record that lists
/// several sites (`"sites": [{...}, {...}]`, each with its own address)
/// gives one location per site, each with only its own address, phones
/// and hours (the record's own filling what a site leaves out).
pub fn map_record(raw: &Value) -> Option<Mapping> {
    // A vCard or an iCalendar event, typed JSON, a spreadsheet's rows:
    // mapped as the plain record they make, sources naming the raw one.
    match reshape::reshaped(raw) {
        Some((record, restate)) => {
            let mut mapping = map_fields(&record)?;
            restate.apply(&mut mapping);
            Some(mapping)
        }
        None => map_fields(raw),
    }
}

/// [`map_record`] of a record as its fields give it.
fn map_fields(raw: &Value) -> Option<Mapping> {
    let (record, prefix) = sites::record_at(raw)?;
    let (shared, sites) = sites::split(&record, prefix);
    let mut f = gather_at(&shared, prefix);
    tidy::address(&mut f);
    let mut sites: Vec<Found> = sites
        .into_iter()
        .map(|mut found| {
            sites::fill_from(&mut found, &f);
            tidy::address(&mut found);
            found
        })
        .collect();
    sites::merge_same_place(&mut sites);
    let first_site = sites
        .first()
        .and_then(|s| s.name.clone().or(s.place.clone()));
    let (name, name_src) = f
        .name
        .clone()
        .or_else(|| f.org_name.clone())
        .or_else(|| f.place.clone())
        .or(first_site)
        // A calendar event's `summary` ("Mobile Food Distribution"): a
        // short description that reads as a name stands for the missing one.
        .or_else(|| {
            f.description
                .clone()
                .filter(|(d, _)| prose::names_a_place(d) && !hours::has_days(d))
        })?;
    let mut questions = Vec::new();

    let org_name = f
        .org_name
        .clone()
        .unwrap_or((name.clone(), name_src.clone()));
    let mut org = Organization::default();
    org.name(org_name.0, org_name.1);
    let description = match f.description.clone() {
        Some(d) => d,
        None => derived_description(sites.first().unwrap_or(&f), &f, &name),
    };
    org.description(description.0, description.1);
    if let Some((email, s)) = f.email.clone() {
        org.email(email, s);
    }
    if let Some((url, s)) = f.website.clone() {
        org.website(url, s);
    }

    let locations: Vec<Location> = if sites.is_empty() {
        vec![location(0, &mut f, (&name, &name_src), &mut questions)]
    } else {
        sites
            .iter_mut()
            .enumerate()
            .map(|(i, site)| location(i, site, (&name, &name_src), &mut questions))
            .collect()
    };

    let services = services(&f, &name, &name_src);
    Some(Mapping {
        draft: Draft::finish(org, locations, services),
        questions,
    })
}

/// Location `i` of the draft, from what was found for it; `name` names it
/// when nothing else does.
fn location(
    i: usize,
    f: &mut Found,
    name: (&String, &Source),
    questions: &mut Vec<Question>,
) -> Location {
    let mut loc = Location::default();
    let (loc_name, loc_src) = f
        .place
        .clone()
        .or_else(|| f.name.clone())
        .unwrap_or((name.0.clone(), name.1.clone()));
    loc.name(loc_name, loc_src);
    loc.location_type("physical", derived());
    if let (Some((lat, ls)), Some((lon, os))) = (f.latitude.clone(), f.longitude.clone()) {
        let how = match geo::classify(lat, lon) {
            geo::Coordinates::Mercator { .. } => How::Normalised,
            _ => How::Copied,
        };
        loc.latitude(lat, Source { how, ..ls });
        loc.longitude(lon, Source { how, ..os });
    }
    let addresses = addresses::street(f)
        .into_iter()
        .chain(addresses::mailing(f))
        .collect();
    loc.addresses(addresses);
    let mut seen = Vec::new();
    f.phones.retain(|(n, _)| {
        let first = !seen.contains(n);
        seen.push(n.clone());
        first
    });
    let phones = f.phones.iter().take(3).map(|(number, s)| {
        let mut phone = Phone::default();
        phone.number(number.clone(), s.clone());
        if let Some((_, ext)) = f.extensions.iter().find(|(n, _)| n == number) {
            phone.extension(*ext, s.clone());
        }
        if f.faxes.contains(number) {
            phone.kind("fax", s.clone());
        }
        phone
    });
    loc.phones(phones.collect());
    loc.schedules(schedules::schedules(f, i, questions));
    loc
}

pub(super) fn derived() -> Source {
    Source {
        source: "derived".into(),
        how: How::Derived,
    }
}

/// "Food Pantry at 938 Kaiser Road, Napa, CA": from the record's own
/// values, for records without a description.
fn derived_description(place: &Found, f: &Found, name: &str) -> (String, Source) {
    let what: Vec<&str> = f.services.iter().map(|(s, _)| s.as_str()).take(3).collect();
    let mut text = if what.is_empty() {
        name.to_string()
    } else {
        what.join(", ")
    };
    let place: Vec<&str> = [&place.street, &place.city, &place.state]
        .iter()
        .filter_map(|v| v.as_ref().map(|(s, _)| s.as_str()))
        .collect();
    if !place.is_empty() {
        text.push_str(&format!(" at {}", place.join(", ")));
    }
    (text, derived())
}

/// One service per offering the record lists (up to four), else one named
/// after the record.
fn services(f: &Found, name: &str, name_src: &Source) -> Vec<Service> {
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
        .map(|(service, s)| {
            let mut svc = Service::default();
            svc.name(service, s);
            svc.status("active", derived());
            if let Some((p, text)) = notes.first() {
                svc.description(text.clone(), src(p, How::Copied));
            }
            if let Some((text, s)) = &f.eligibility {
                svc.eligibility_description(text.clone(), s.clone());
            }
            svc
        })
        .collect()
}
