//! Placing a record's fields (walked by `fields`): each by its key's role,
//! or by its content when the key says nothing useful or the content
//! contradicts it.

use serde_json::{Map, Value};

use super::address_field::{place_address, place_second_line};
use super::fields::{Field, fields};
use super::parts::typed_fax;
use super::prose::{embedded, labelled_lines, place_name};
use super::values::{field_text, services};
use super::{How, Source};
use crate::classify::{self, Role};
use crate::{geo, hours};

/// The values gathered for each part of the record, with their sources.
#[derive(Default)]
pub(super) struct Found {
    pub(super) name: Option<(String, Source)>,
    pub(super) org_name: Option<(String, Source)>,
    pub(super) place: Option<(String, Source)>,
    pub(super) street: Option<(String, Source)>,
    pub(super) street2: Option<(String, Source)>,
    /// The number before the street, given in a field of its own.
    pub(super) house_number: Option<(String, Source)>,
    pub(super) city: Option<(String, Source)>,
    /// The city field broke after a leading compass word with a
    /// zero-width character ("North\u{200b} Semmes"): two lines joined.
    pub(super) city_break: bool,
    pub(super) state: Option<(String, Source)>,
    pub(super) zip: Option<(String, Source)>,
    pub(super) latitude: Option<(f64, Source)>,
    pub(super) longitude: Option<(f64, Source)>,
    pub(super) phones: Vec<(String, Source)>,
    /// Extensions of the phones above, by number.
    pub(super) extensions: Vec<(String, u64)>,
    /// Numbers of the phones above that are faxes.
    pub(super) faxes: Vec<String>,
    /// A PO box: the address only when the record gives no street, else
    /// the mailing address beside it.
    pub(super) postal: Option<(String, classify::Address)>,
    pub(super) email: Option<(String, Source)>,
    pub(super) website: Option<(String, Source)>,
    /// Texts with opening hours, and where they came from.
    pub(super) hours: Vec<(String, String)>,
    pub(super) notes: Vec<(String, String)>,
    /// Every text of a description, notes or unknown field, wherever it
    /// was placed: where a record no field names may name itself.
    pub(super) prose: Vec<(String, String)>,
    pub(super) description: Option<(String, Source)>,
    /// Who may come, what to bring.
    pub(super) eligibility: Option<(String, Source)>,
    pub(super) services: Vec<(String, Source)>,
}

pub(super) fn src(pointer: &str, how: How) -> Source {
    Source {
        source: format!("raw:{pointer}"),
        how,
    }
}

pub(super) fn set<T>(slot: &mut Option<(T, Source)>, value: T, source: Source) {
    if slot.is_none() {
        *slot = Some((value, source));
    }
}

/// Places one text value by its content, for a field whose key says
/// nothing useful or something the content contradicts. Returns whether it
/// found a home.
pub(super) fn place_by_content(found: &mut Found, pointer: &str, text: &str, how: How) -> bool {
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
    // "Springfield, IL 62701": the city, state and ZIP code of a street
    // given elsewhere.
    if let Some(line) = classify::city_line(text) {
        put_address(found, pointer, &line, how);
        return true;
    }
    // A street number alone ("30 days ...") is not an address: it also
    // needs a state or a ZIP code; and a "street" that speaks of hours
    // ("2024 Distribution Dates: Jan 20, ... 9am to 11am at Lakeview School,
    // 100 Lake Rd") is prose holding an address, not one.
    let whole = |a: &classify::Address| {
        (a.state.is_some() || a.zip.is_some())
            && !a.street.as_deref().is_some_and(hours::mentions_hours)
    };
    if let Some(address) = classify::address(text).filter(whole) {
        put_address(found, pointer, &address, how);
        return true;
    }
    if hours::looks_like_hours(text) {
        found.hours.push((pointer.to_string(), text.to_string()));
        return true;
    }
    // "40.1, -75.2": a latitude and a longitude in one text.
    if let Some((lat, lon)) = geo::pair(text) {
        set(&mut found.latitude, lat, src(pointer, How::Normalised));
        set(&mut found.longitude, lon, src(pointer, How::Normalised));
        return true;
    }
    false
}

pub(super) fn put_address(found: &mut Found, pointer: &str, a: &classify::Address, how: How) {
    let s = || src(pointer, how);
    if let Some(place) = &a.place {
        set(&mut found.place, place.clone(), s());
    }
    if let Some(street) = &a.street {
        // "Trinity Church basement" in a `location` field, then "300 Church
        // St, Lititz, ..." elsewhere: the text without a number named the
        // place; the whole address gives the street.
        let numbered = |t: &str| t.chars().any(|c| c.is_ascii_digit());
        let worded = found.street.as_ref().is_some_and(|(t, _)| !numbered(t));
        if worded
            && numbered(street)
            && a.city.is_some()
            && let Some((text, from)) = found.street.take()
        {
            set(&mut found.place, text, from);
        }
        set(&mut found.street, street.clone(), s());
    }
    if let Some(unit) = &a.street2 {
        set(&mut found.street2, unit.clone(), s());
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

/// Reads every field of an object found at `prefix` (a JSON pointer into
/// the raw value: "" for the record itself, one site of several, or the
/// record inside a search hit) into [`Found`].
pub(super) fn gather_at(record: &Map<String, Value>, prefix: &str) -> Found {
    let mut found = Found::default();
    let mut mailing = Vec::new();
    for Field {
        pointer,
        role,
        value,
        ..
    } in fields(record, prefix)
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
            let items = services(&value, p);
            found
                .services
                .extend(items.into_iter().filter(|(s, _)| !s.is_empty()));
            continue;
        }
        let Some(text) = field_text(role, &value) else {
            continue;
        };
        if role == Role::City
            && let Value::String(raw) = &value
        {
            found.city_break |= super::tidy::broken_after_compass(raw);
        }
        if mailing_part(p, role) {
            mailing.push((pointer, role, text));
            continue;
        }
        // `{"number": ..., "type": "Fax"}`: the number placed is a fax.
        let fax = role == Role::Phone && typed_fax(record, prefix, p);
        let placed = found.phones.len();
        if matches!(role, Role::Description | Role::Notes | Role::Unknown) {
            found.prose.push((pointer.clone(), text.clone()));
        }
        place_field(&mut found, p, role, text);
        if fax {
            let numbers: Vec<String> = found.phones[placed..]
                .iter()
                .map(|(n, _)| n.clone())
                .collect();
            found.faxes.extend(numbers);
        }
    }
    place_mailing(&mut found, mailing);
    super::text_name::name_from_text(&mut found);
    found
}

/// Whether a field is a part of a mailing address (`"mailing_address":
/// {"street": "PO Box 9", "zip": "29602"}`, `"mailing_zip"`, a CRM's
/// `"BillingCity"`): its city, state or ZIP code yields to the record's
/// own address.
fn mailing_part(pointer: &str, role: Role) -> bool {
    let under_mailing = pointer.split('/').any(|step| {
        let step = step.to_ascii_lowercase();
        step.contains("mailing")
            || step.starts_with("mail_")
            || step.starts_with("mailaddress")
            || step.starts_with("billing")
    });
    under_mailing && matches!(role, Role::City | Role::State | Role::Zip)
}

/// A mailing address's parts (see [`mailing_part`]) fill only what the
/// record's own address left empty (its PO box is placed as the mailing
/// address after).
fn place_mailing(found: &mut Found, mailing: Vec<(String, Role, String)>) {
    for (pointer, role, text) in mailing {
        // The PO box's own city, state and ZIP code ("BillingStreet": "PO
        // Box 310", "BillingPostalCode": "97440").
        if let Some((_, postal)) = found.postal.as_mut() {
            let slot = match role {
                Role::City => Some(&mut postal.city),
                Role::State => Some(&mut postal.state),
                Role::Zip => Some(&mut postal.zip),
                _ => None,
            };
            if let Some(slot) = slot.filter(|s| s.is_none()) {
                let code = crate::geo::us_state_code(&text).filter(|_| role == Role::State);
                *slot = Some(code.map_or_else(|| text.clone(), str::to_string));
            }
        }
        let empty = match role {
            Role::City => found.city.is_none(),
            Role::State => found.state.is_none(),
            Role::Zip => found.zip.is_none(),
            _ => true,
        };
        if empty {
            place_field(found, &pointer, role, text);
        }
    }
}

/// A description: what it holds besides its prose (an address, a phone),
/// and hours where it reads as hours ("Open the second Friday of the
/// month.", dates with their times).
fn place_description(found: &mut Found, p: &str, text: String) {
    if hours::looks_like_hours(&text)
        || hours::names_monthly_days(&text)
        || hours::names_dated_openings(&text)
    {
        found.hours.push((p.to_string(), text.clone()));
    }
    embedded(found, p, &text);
    set(&mut found.description, text, src(p, How::Copied));
}

/// Places one text field: by its key when the content agrees, else by its
/// content (a misfiled value), else as notes.
fn place_field(found: &mut Found, p: &str, role: Role, text: String) {
    let copied = || src(p, How::Copied);
    // "RRULE:FREQ=WEEKLY;BYDAY=TU,TH": the days of an opening, whatever
    // its key.
    if let Some(days) = hours::rrule_days(&text) {
        found.hours.push((p.to_string(), days));
        return;
    }
    // A map link to the place: its address, whatever its key.
    if let Some(a) = classify::map_link_address(&text) {
        put_address(found, p, &a, How::Normalised);
        return;
    }
    match role {
        Role::Name if classify::phone(&text).is_none() => place_name(found, p, text),
        Role::OrgName => set(&mut found.org_name, text, copied()),
        Role::City | Role::State | Role::Zip => place_area(found, p, role, text),
        Role::Address2 => place_second_line(found, p, text),
        Role::HouseNumber => set(&mut found.house_number, text, copied()),
        Role::Phone => place_phone(found, p, text),
        Role::Email => match classify::email(&text) {
            Some(e) => set(&mut found.email, e, copied()),
            None => {
                place_by_content(found, p, &text, How::Inferred);
            }
        },
        Role::Website => match classify::url(&text) {
            Some((u, false)) => set(&mut found.website, u, copied()),
            Some((u, true)) => set(&mut found.website, u, src(p, How::Normalised)),
            None => match classify::site(&text) {
                Some(u) => set(&mut found.website, u, src(p, How::Normalised)),
                None => drop(place_by_content(found, p, &text, How::Inferred)),
            },
        },
        Role::Hours => {
            // "By appointment: call (518) 555-0111".
            for number in classify::phones_in(&text) {
                found.phones.push((number, src(p, How::Inferred)));
            }
            if hours::looks_like_hours(&text) {
                found.hours.push((p.to_string(), text));
            } else if !place_by_content(found, p, &text, How::Inferred) {
                // Hours the parser may still not read: a question.
                found.hours.push((p.to_string(), text));
            }
        }
        Role::Address => place_address(found, p, text),
        Role::Eligibility => {
            embedded(found, p, &text);
            set(&mut found.eligibility, text, copied());
        }
        Role::Description => place_description(found, p, text),
        // "Name: ...; Address: ...; Phone: ...": each line by its label;
        // else placed by content when it reads as something; notes
        // otherwise.
        Role::Notes | Role::Unknown => match labelled_lines(&text) {
            Some(lines) => {
                for (role, value) in lines {
                    place_field(found, p, role, value);
                }
            }
            None => {
                embedded(found, p, &text);
                if !place_by_content(found, p, &text, How::Inferred) {
                    found.notes.push((p.to_string(), text));
                }
            }
        },
        // A name field holding a phone number (say).
        Role::Name => drop(place_by_content(found, p, &text, How::Inferred)),
        _ => {}
    }
}

/// A city, state or ZIP code field: `city_state_zip` ("Springfield, IL
/// 62701") and `city_state` ("Greenville, SC") give all they hold, a city
/// may hold its ZIP code ("Hudson 12534"), and a city or ZIP field holding
/// something else (a phone, say) is placed by its content.
fn place_area(found: &mut Found, p: &str, role: Role, text: String) {
    let copied = || src(p, How::Copied);
    if let Some(line) = classify::city_line(&text) {
        put_address(found, p, &line, How::Normalised);
        return;
    }
    match role {
        Role::City => match classify::city_zip(&text) {
            Some((city, zip)) => {
                set(&mut found.city, city, src(p, How::Normalised));
                set(&mut found.zip, zip, src(p, How::Normalised));
            }
            None if classify::phone(&text).is_none() => set(&mut found.city, text, copied()),
            None => drop(place_by_content(found, p, &text, How::Inferred)),
        },
        Role::State => match geo::us_state_code(&text) {
            Some(code) if code == text => set(&mut found.state, text, copied()),
            Some(code) => set(&mut found.state, code.to_string(), src(p, How::Normalised)),
            None => found.notes.push((p.to_string(), text)),
        },
        _ if text.chars().filter(char::is_ascii_digit).count() >= 5 => {
            // "19380", "19380-1234"; "PA 19380": a state before it too.
            let words: Vec<&str> = text.split_whitespace().collect();
            let state = match words.as_slice() {
                [state, _] => geo::us_state_code(state.trim_end_matches(',')),
                _ => None,
            };
            match (state, words.as_slice()) {
                (Some(code), [_, zip]) => {
                    set(&mut found.state, code.to_string(), src(p, How::Normalised));
                    set(&mut found.zip, zip.to_string(), src(p, How::Normalised));
                }
                _ => {
                    let zip: String = text.chars().take_while(|c| *c != ' ').collect();
                    set(&mut found.zip, zip, copied());
                }
            }
        }
        _ => drop(place_by_content(found, p, &text, How::Inferred)),
    }
}

/// A phone field: one number (a label or an extension beside it at most),
/// else each number the text holds ("555.123.4567 (Main), 555.123.9999
/// (Fax)"), a fax marked as one; a local number as written; else by its
/// content, or notes.
fn place_phone(found: &mut Found, p: &str, text: String) {
    let fax_field = p.to_ascii_lowercase().contains("fax");
    // One number (a label or an extension beside it at most), else
    // each number the text holds ("555.123.4567 (Main),
    // 555.123.9999 (Fax)"), a fax marked as one.
    let numbers: Vec<(String, bool, How)> = match classify::phone(&text) {
        Some(n) => {
            if let Some(ext) = classify::extension(&text) {
                found.extensions.push((n.clone(), ext));
            }
            let how = if n == text {
                How::Copied
            } else {
                How::Normalised
            };
            vec![(n, false, how)]
        }
        None => classify::labelled_phones(&text)
            .into_iter()
            .map(|(n, fax)| (n, fax, How::Normalised))
            .collect(),
    };
    for (number, fax, how) in &numbers {
        if *fax || fax_field {
            found.faxes.push(number.clone());
        }
        found.phones.push((number.clone(), src(p, *how)));
    }
    if numbers.is_empty() {
        if classify::local_phone(&text) {
            // A local number without its area code, as written.
            found.phones.push((text, src(p, How::Copied)));
        } else if !place_by_content(found, p, &text, How::Inferred) {
            found.notes.push((p.to_string(), text));
        }
    }
}
