//! Reading a record's fields: each by its key's role, or by its content
//! when the key says nothing useful or the content contradicts it.

use serde_json::{Map, Value};

use super::{How, Source};
use crate::classify::{self, Rank, Role};
use crate::{geo, hours};

/// One raw field: its pointer, role and value, how deep it sits and how
/// surely its key says its role.
struct Field {
    pointer: String,
    role: Role,
    value: Value,
    depth: usize,
    rank: Rank,
}

/// How deep into nested objects and lists fields are read (an HSDS
/// document nests `organization > locations > addresses`).
const MAX_DEPTH: usize = 3;
/// Items of one list read at most.
const MAX_ITEMS: usize = 20;

/// Collects the record's fields, nested ones too, in the order they are
/// placed: shallow before deep, then those whose key says their role (an
/// exact spelling first) before those placed by content, so `name` wins
/// over `alternate_name` and `website` over a URL in some other field.
fn fields(record: &Map<String, Value>) -> Vec<Field> {
    let mut out = Vec::new();
    walk(record, "", None, 0, &mut out);
    out.sort_by_key(|f| (f.depth, f.rank));
    out
}

fn walk(
    record: &Map<String, Value>,
    prefix: &str,
    parent: Option<Role>,
    depth: usize,
    out: &mut Vec<Field>,
) {
    for (key, value) in record {
        let pointer = format!("{prefix}/{}", escape(key));
        let (own, rank) = classify::rank_role(key);
        let role = in_context(parent, own);
        if role == Role::Ignore {
            continue;
        }
        let objects = |items: &Vec<Value>| items.iter().any(Value::is_object);
        match value {
            Value::Object(inner) if depth < MAX_DEPTH => {
                nested(inner, &pointer, role, depth, out);
            }
            Value::Array(items) if depth < MAX_DEPTH && objects(items) => {
                for (i, item) in items.iter().enumerate().take(MAX_ITEMS) {
                    if let Value::Object(inner) = item {
                        nested(inner, &format!("{pointer}/{i}"), role, depth, out);
                    }
                }
            }
            _ => out.push(Field {
                pointer,
                role,
                value: value.clone(),
                depth,
                rank,
            }),
        }
    }
}

/// An object inside the record: a structured opening time (an HSDS
/// schedule, say) is read as one text; anything else field by field.
fn nested(
    inner: &Map<String, Value>,
    pointer: &str,
    role: Role,
    depth: usize,
    out: &mut Vec<Field>,
) {
    if role == Role::Hours
        && let Some(text) = schedule_text(inner)
    {
        out.push(Field {
            pointer: pointer.to_string(),
            role,
            value: Value::String(text),
            depth: depth + 1,
            rank: Rank::Exact,
        });
        return;
    }
    walk(inner, pointer, Some(role), depth + 1, out);
}

/// `{byday: "TH,FR", opens_at: "10:00", closes_at: "18:00"}` as the text
/// "TH,FR 10:00-18:00"; None for an object without opening times.
fn schedule_text(object: &Map<String, Value>) -> Option<String> {
    let text = |k: &str| object.get(k).and_then(Value::as_str).map(str::trim);
    let (opens, closes) = (text("opens_at")?, text("closes_at")?);
    let days = text("byday").unwrap_or_default();
    Some(format!("{days} {opens}-{closes}").trim().to_string())
}

/// A field's role inside an object whose own key has a role: a `name`
/// inside `services` is a service, inside `organization` the
/// organization's; a `number` inside `phones` a phone.
fn in_context(parent: Option<Role>, own: Role) -> Role {
    match (parent, own) {
        (Some(Role::Services), Role::Name) => Role::Services,
        (Some(Role::OrgName), Role::Name) => Role::OrgName,
        (Some(p @ (Role::Phone | Role::Email | Role::Website)), Role::Unknown) => p,
        _ => own,
    }
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
pub(super) struct Found {
    pub(super) name: Option<(String, Source)>,
    pub(super) org_name: Option<(String, Source)>,
    pub(super) place: Option<(String, Source)>,
    pub(super) street: Option<(String, Source)>,
    pub(super) street2: Option<(String, Source)>,
    pub(super) city: Option<(String, Source)>,
    pub(super) state: Option<(String, Source)>,
    pub(super) zip: Option<(String, Source)>,
    pub(super) latitude: Option<(f64, Source)>,
    pub(super) longitude: Option<(f64, Source)>,
    pub(super) phones: Vec<(String, Source)>,
    pub(super) email: Option<(String, Source)>,
    pub(super) website: Option<(String, Source)>,
    /// Texts with opening hours, and where they came from.
    pub(super) hours: Vec<(String, String)>,
    pub(super) notes: Vec<(String, String)>,
    pub(super) description: Option<(String, Source)>,
    pub(super) services: Vec<(String, Source)>,
}

pub(super) fn src(pointer: &str, how: How) -> Source {
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
pub(super) fn gather(record: &Map<String, Value>) -> Found {
    let mut found = Found::default();
    for Field {
        pointer,
        role,
        value,
        ..
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
            // A list: each item from its place; a text listing several
            // ("Food Pantry, Hot Meals"): each from the text, split.
            let items: Vec<(String, Source)> = match &value {
                Value::Array(items) => items
                    .iter()
                    .enumerate()
                    .filter_map(|(i, v)| {
                        Some((unescape(v.as_str()?), src(&format!("{p}/{i}"), How::Copied)))
                    })
                    .collect(),
                Value::String(s) => {
                    let parts: Vec<String> = s
                        .split([',', ';'])
                        .map(unescape)
                        .filter(|s| !s.is_empty())
                        .collect();
                    let how = if parts.len() > 1 {
                        How::Normalised
                    } else {
                        How::Copied
                    };
                    parts.into_iter().map(|t| (t, src(p, how))).collect()
                }
                _ => vec![],
            };
            found
                .services
                .extend(items.into_iter().filter(|(s, _)| !s.is_empty()));
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
