//! One value given in several fields of one object: a street as its parts
//! (address registers' `"street_dir": "N", "street_name": "Main",
//! "street_suffix": "St"`), a phone as its area code and its local number
//! (`{"area_code": "317", "number": "555-0123"}`). Each is read as one
//! field, at the pointer of the part that carries most of it. And what a
//! field's sibling says of it: a phone typed as a fax.

use serde_json::{Map, Value};

use crate::classify::{self, Role};

/// One value made of several fields.
pub(super) struct Joined {
    /// The key the value is read at (the street's name, the number).
    pub(super) key: String,
    pub(super) role: Role,
    pub(super) text: String,
    /// Every key the value was made of (`key` among them).
    pub(super) used: Vec<String>,
}

/// A street part's keys, each spelling as lower-case letters and digits.
const STREET_NAME: [&str; 5] = ["streetname", "stname", "strname", "roadname", "streetnm"];
const BEFORE: [&str; 9] = [
    "predir",
    "prefixdir",
    "predirection",
    "prefixdirection",
    "streetdir",
    "streetdirection",
    "stpredir",
    "streetprefix",
    "directionprefix",
];
const STREET_TYPE: [&str; 8] = [
    "streettype",
    "sttype",
    "streetsuffix",
    "stsuffix",
    "suffix",
    "roadtype",
    "suffixtype",
    "posttype",
];
const AFTER: [&str; 6] = [
    "postdir",
    "suffixdir",
    "postdirection",
    "suffixdirection",
    "stpostdir",
    "directionsuffix",
];

/// The values of several fields read as one.
pub(super) fn joined(record: &Map<String, Value>, parent: Option<Role>) -> Vec<Joined> {
    street(record)
        .into_iter()
        .chain(phone(record, parent))
        .chain(labelled(record))
        .collect()
}

/// A field given as its label and its value (`{"label": "Street Address",
/// "value": "410 Grace Ln"}`, a CMS's `meta_key` and `meta_value`, a
/// form's `question` and `answer`): the value, with the role its label
/// names. Only an object of those two fields, whose label names a role.
fn labelled(record: &Map<String, Value>) -> Option<Joined> {
    const LABELS: [&str; 6] = ["label", "key", "metakey", "question", "field", "fieldname"];
    const VALUES: [&str; 5] = ["value", "metavalue", "answer", "text", "fieldvalue"];
    if record.len() != 2 {
        return None;
    }
    let (label_key, label) = part(record, &LABELS)?;
    let (value_key, _) = record
        .iter()
        .find(|(k, v)| VALUES.contains(&spelled(k).as_str()) && v.is_string())?;
    let text = record.get(value_key)?.as_str()?.trim().to_string();
    let role = classify::role_of(label);
    let known = !matches!(role, Role::Unknown | Role::Ignore) && !text.is_empty();
    known.then(|| Joined {
        key: value_key.clone(),
        role,
        text,
        used: vec![label_key.clone(), value_key.clone()],
    })
}

/// A key as lower-case letters and digits ("start_time" is "starttime").
pub(super) fn spelled(key: &str) -> String {
    key.chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_ascii_lowercase()
}

/// The key spelled as one of `names` whose value is a short text.
fn part<'r>(record: &'r Map<String, Value>, names: &[&str]) -> Option<(&'r String, &'r str)> {
    record.iter().find_map(|(k, v)| {
        let text = v
            .as_str()
            .map(str::trim)
            .filter(|t| !t.is_empty() && t.len() <= 60)?;
        names.contains(&spelled(k).as_str()).then_some((k, text))
    })
}

/// "N" + "Main" + "St": the street's name with the parts around it; only
/// where a name and at least one other part are given.
fn street(record: &Map<String, Value>) -> Option<Joined> {
    let (name_key, name) = part(record, &STREET_NAME)?;
    let others = [
        part(record, &BEFORE),
        part(record, &STREET_TYPE),
        part(record, &AFTER),
    ];
    if others.iter().all(Option::is_none) {
        return None;
    }
    let [before, kind, after] = others;
    let text = [
        before.map(|p| p.1),
        Some(name),
        kind.map(|p| p.1),
        after.map(|p| p.1),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" ");
    let used = [before, Some((name_key, name)), kind, after]
        .into_iter()
        .flatten()
        .map(|(k, _)| k.clone())
        .collect();
    Some(Joined {
        key: name_key.clone(),
        role: Role::Address,
        text,
        used,
    })
}

/// "317" + "555-0123": an area code of its own beside a local number (in
/// a phone object, or a record's phone fields) as "(317) 555-0123".
fn phone(record: &Map<String, Value>, parent: Option<Role>) -> Option<Joined> {
    let (area_key, area) = record.iter().find_map(|(k, v)| {
        let text = v.as_str().map(str::trim)?;
        let area = classify::words(k)
            .iter()
            .any(|w| w == "area" || w == "areacode");
        let digits = text.len() == 3 && text.bytes().all(|b| b.is_ascii_digit());
        (area && digits && !text.starts_with(['0', '1'])).then_some((k, text))
    })?;
    let (number_key, number) = record.iter().find_map(|(k, v)| {
        let text = v.as_str().map(str::trim)?;
        let role = classify::role_of(k);
        let phone_key =
            role == Role::Phone || (parent == Some(Role::Phone) && spelled(k) == "number");
        (k != area_key && phone_key && classify::local_phone(text)).then_some((k, text))
    })?;
    let text = format!("({area}) {}-{}", &number[..3], &number[4..]);
    Some(Joined {
        key: number_key.clone(),
        role: Role::Phone,
        text,
        used: vec![area_key.clone(), number_key.clone()],
    })
}

/// Whether the field at `pointer` (under `prefix` in `record`) sits in an
/// object whose type says it is a fax: `{"number": "815-555-0171",
/// "type": "Fax"}` in a list of typed phones.
pub(super) fn typed_fax(record: &Map<String, Value>, prefix: &str, pointer: &str) -> bool {
    let Some(rest) = pointer.strip_prefix(prefix) else {
        return false;
    };
    let steps: Vec<String> = rest
        .split('/')
        .skip(1)
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect();
    let Some((_, parents)) = steps.split_last() else {
        return false;
    };
    let mut at: Option<&Value> = None;
    for step in parents {
        at = match at {
            None => record.get(step),
            Some(Value::Object(o)) => o.get(step),
            // A list's item by its index.
            Some(Value::Array(items)) => step.parse::<usize>().ok().and_then(|i| items.get(i)),
            Some(_) => None,
        };
        if at.is_none() {
            return false;
        }
    }
    let Some(Value::Object(at)) = at else {
        return false;
    };
    at.iter().any(|(k, v)| {
        let k = k.to_ascii_lowercase();
        let says = k.contains("type") || matches!(k.as_str(), "kind" | "label" | "description");
        says && v
            .as_str()
            .is_some_and(|t| t.to_ascii_lowercase().contains("fax"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(v: Value, parent: Option<Role>) -> Vec<(String, Role, String, usize)> {
        let Value::Object(m) = v else { unreachable!() };
        joined(&m, parent)
            .into_iter()
            .map(|j| (j.key, j.role, j.text, j.used.len()))
            .collect()
    }

    #[test]
    fn a_street_in_parts_is_one_street() {
        let r = read(
            json!({"house_number": "123", "street_dir": "N", "street_name": "Main",
                   "street_suffix": "St", "post_dir": "SW"}),
            None,
        );
        assert_eq!(
            r,
            vec![(
                "street_name".into(),
                Role::Address,
                "N Main St SW".into(),
                4
            )]
        );
        let r = read(json!({"StName": "Oak", "StType": "Ave"}), None);
        assert_eq!(r[0].2, "Oak Ave");
        // A name alone, or parts without a name: nothing joined.
        assert!(read(json!({"street_name": "Main St"}), None).is_empty());
        assert!(read(json!({"street_dir": "N", "street_suffix": "St"}), None).is_empty());
    }

    #[test]
    fn an_area_code_apart_joins_its_local_number() {
        let r = read(
            json!({"area_code": "317", "number": "555-0123"}),
            Some(Role::Phone),
        );
        assert_eq!(
            r,
            vec![("number".into(), Role::Phone, "(317) 555-0123".into(), 2)]
        );
        let r = read(json!({"phoneAreaCode": "574", "phone": "555.0160"}), None);
        assert_eq!(r[0].2, "(574) 555-0160");
        // Outside a phone object a bare `number` is no phone; an area code
        // starting with 1, or a number that is not local, joins nothing.
        assert!(read(json!({"area_code": "317", "number": "555-0123"}), None).is_empty());
        assert!(read(json!({"area_code": "117", "phone": "555-0123"}), None).is_empty());
        assert!(read(json!({"area_code": "317", "phone": "(317) 555-0123"}), None).is_empty());
    }
}
