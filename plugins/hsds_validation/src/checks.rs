//! The pantry checks beyond the schema, and the check against the raw input.

use serde_json::{Map, Value};

use hsds::geo::{self, Coordinates};
use hsds::repair::normalise;

use crate::{Finding, Severity};

/// Walks every object, deciding what it is by the key that holds it.
pub fn pantry(collection: &Value, findings: &mut Vec<Finding>) {
    visit(collection, "", "", findings);
}

fn visit(value: &Value, path: &str, holder: &str, findings: &mut Vec<Finding>) {
    match value {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                visit(item, &format!("{path}/{i}"), holder, findings);
            }
        }
        Value::Object(map) => {
            match holder {
                "location" | "locations" => location(map, path, findings),
                "addresses" | "address" => address(map, path, findings),
                "phones" | "phone" => phone(map, path, findings),
                "schedules" | "schedule" => schedule(map, path, findings),
                _ => {}
            }
            for (key, v) in map {
                let p = format!("{path}/{key}");
                match (key.as_str(), v) {
                    ("email" | "assurer_email", Value::String(s)) => email(s, &p, findings),
                    ("website" | "url" | "uri" | "schedule_link", Value::String(s)) => {
                        url(s, &p, findings)
                    }
                    _ => visit(v, &p, key, findings),
                }
            }
        }
        _ => {}
    }
}

fn location(map: &Map<String, Value>, path: &str, findings: &mut Vec<Finding>) {
    let lat = map.get("latitude").and_then(Value::as_f64);
    let lon = map.get("longitude").and_then(Value::as_f64);
    match (lat, lon) {
        (Some(lat), Some(lon)) => match geo::classify(lat, lon) {
            Coordinates::Degrees if lat == 0.0 && lon == 0.0 => findings.push(Finding::new(
                Severity::Warning,
                "coordinates.zero",
                path,
                "latitude and longitude are both 0: a missing value, not a place".into(),
            )),
            Coordinates::Degrees => {}
            Coordinates::Mercator { latitude, longitude } => findings.push(Finding::new(
                Severity::Error,
                "coordinates.web_mercator",
                path,
                format!(
                    "coordinates ({lat}, {lon}) are Web-Mercator metres, not degrees; in degrees: latitude {latitude}, longitude {longitude}"
                ),
            )),
            Coordinates::OutOfRange => findings.push(Finding::new(
                Severity::Error,
                "coordinates.range",
                path,
                format!("coordinates ({lat}, {lon}) are out of range (latitude -90..90, longitude -180..180)"),
            )),
        },
        (Some(_), None) | (None, Some(_)) => findings.push(Finding::new(
            Severity::Warning,
            "coordinates.half",
            path,
            "only one of latitude and longitude is given".into(),
        )),
        (None, None) => {}
    }
}

fn address(map: &Map<String, Value>, path: &str, findings: &mut Vec<Finding>) {
    let country = map.get("country").and_then(Value::as_str).unwrap_or("US");
    if !matches!(country.trim().to_ascii_uppercase().as_str(), "US" | "USA") {
        return;
    }
    if let Some(state) = map.get("state_province").and_then(Value::as_str) {
        match geo::us_state_code(state) {
            _ if state.trim().is_empty() => findings.push(Finding::new(
                Severity::Warning,
                "address.state_missing",
                &format!("{path}/state_province"),
                "the address has no state (the record gives none)".to_string(),
            )),
            Some(code) if code == state.trim() => {}
            Some(code) => findings.push(Finding::new(
                Severity::Warning,
                "address.state_name",
                &format!("{path}/state_province"),
                format!("state {state:?} should be the USPS code {code:?}"),
            )),
            None => findings.push(Finding::new(
                Severity::Warning,
                "address.state",
                &format!("{path}/state_province"),
                format!("state {state:?} is not a US state or territory code"),
            )),
        }
    }
    match map.get("postal_code").and_then(Value::as_str) {
        Some(zip) if zip.trim().is_empty() => findings.push(Finding::new(
            Severity::Warning,
            "address.postal_code_missing",
            &format!("{path}/postal_code"),
            "the address has no postal code (the record gives none)".to_string(),
        )),
        Some(zip) => postal_code(zip, path, findings),
        None => {}
    }
}

fn postal_code(zip: &str, path: &str, findings: &mut Vec<Finding>) {
    let z = zip.trim();
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let ok = match z.split_once('-') {
        Some((five, four)) => five.len() == 5 && digits(five) && four.len() == 4 && digits(four),
        None => z.len() == 5 && digits(z),
    };
    if !ok {
        findings.push(Finding::new(
            Severity::Warning,
            "address.postal_code",
            &format!("{path}/postal_code"),
            format!("postal code {zip:?} is not a US ZIP code (12345 or 12345-6789)"),
        ));
    }
}

fn phone(map: &Map<String, Value>, path: &str, findings: &mut Vec<Finding>) {
    let Some(number) = map.get("number").and_then(Value::as_str) else {
        return;
    };
    let trimmed = number.trim().trim_matches('"').trim();
    let digits: String = trimmed.chars().filter(char::is_ascii_digit).collect();
    let international = trimmed.starts_with('+') && !trimmed.starts_with("+1");
    let ok = if international {
        (7..=15).contains(&digits.len())
    } else {
        digits.len() == 10 || (digits.len() == 11 && digits.starts_with('1'))
    };
    if !ok {
        findings.push(Finding::new(
            Severity::Warning,
            "phone.number",
            &format!("{path}/number"),
            format!(
                "phone number {number:?} has {} digits; a US number has 10 (11 with a leading 1), an international one starts with +",
                digits.len()
            ),
        ));
    }
}

fn email(value: &str, path: &str, findings: &mut Vec<Finding>) {
    if let Some((_, domain)) = value.rsplit_once('@')
        && !domain.contains('.')
    {
        findings.push(Finding::new(
            Severity::Warning,
            "email.domain",
            path,
            format!("email {value:?} has no dot in its domain, so mail cannot reach it"),
        ));
    }
}

fn url(value: &str, path: &str, findings: &mut Vec<Finding>) {
    let lower = value.trim().to_ascii_lowercase();
    if lower.contains("://") && !(lower.starts_with("http://") || lower.starts_with("https://")) {
        findings.push(Finding::new(
            Severity::Warning,
            "url.scheme",
            path,
            format!("{value:?} is not a web address (http or https)"),
        ));
    }
}

fn schedule(map: &Map<String, Value>, path: &str, findings: &mut Vec<Finding>) {
    let time = |key: &str| -> Option<Result<u32, String>> {
        let text = map.get(key)?.as_str()?;
        Some(minutes(text).ok_or_else(|| text.to_string()))
    };
    let opens = time("opens_at");
    let closes = time("closes_at");
    for (key, t) in [("opens_at", &opens), ("closes_at", &closes)] {
        if let Some(Err(text)) = t {
            findings.push(Finding::new(
                Severity::Error,
                "schedule.time",
                &format!("{path}/{key}"),
                format!("{key} {text:?} is not a time of day (HH:MM or HH:MM:SS, 24-hour)"),
            ));
        }
    }
    if let (Some(Ok(o)), Some(Ok(c))) = (&opens, &closes)
        && c <= o
    {
        findings.push(Finding::new(
            Severity::Warning,
            "schedule.order",
            path,
            "closes_at is not after opens_at".into(),
        ));
    }
    if let Some(byday) = map.get("byday").and_then(Value::as_str) {
        for day in byday.split(',').map(str::trim) {
            if !valid_day(day) {
                findings.push(Finding::new(
                    Severity::Error,
                    "schedule.byday",
                    &format!("{path}/byday"),
                    format!("byday {day:?} is not an RFC 5545 day (MO..SU, optionally with an ordinal: 1TU, -1FR)"),
                ));
            }
        }
        if map.get("freq").is_none() {
            findings.push(Finding::new(
                Severity::Warning,
                "schedule.freq",
                path,
                "byday is given without freq (WEEKLY or MONTHLY)".into(),
            ));
        }
    }
    if let Some(days) = map.get("bymonthday").and_then(Value::as_str) {
        for d in days.split(',').map(str::trim) {
            let ok = d
                .parse::<i32>()
                .is_ok_and(|n| n != 0 && (-31..=31).contains(&n));
            if !ok {
                findings.push(Finding::new(
                    Severity::Error,
                    "schedule.bymonthday",
                    &format!("{path}/bymonthday"),
                    format!("bymonthday {d:?} is not a day of the month (1..31 or -31..-1)"),
                ));
            }
        }
    }
    if let (Some(from), Some(to)) = (
        map.get("valid_from").and_then(Value::as_str),
        map.get("valid_to").and_then(Value::as_str),
    ) && from > to
    {
        findings.push(Finding::new(
            Severity::Warning,
            "schedule.validity",
            path,
            format!("valid_from {from} is after valid_to {to}"),
        ));
    }
}

fn minutes(text: &str) -> Option<u32> {
    let mut parts = text.trim().split(':');
    let h: u32 = parts.next()?.parse().ok()?;
    let m: u32 = parts.next()?.parse().ok()?;
    let s: u32 = match parts.next() {
        Some(s) => s.parse().ok()?,
        None => 0,
    };
    (parts.next().is_none() && h < 24 && m < 60 && s < 60).then_some(h * 60 + m)
}

fn valid_day(token: &str) -> bool {
    let days = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"];
    let (ordinal, day) = token.split_at(token.len().saturating_sub(2));
    days.contains(&day)
        && (ordinal.is_empty()
            || ordinal
                .parse::<i32>()
                .is_ok_and(|n| n != 0 && (-5..=5).contains(&n)))
}

/// What a record field is, for the raw-input check.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Name,
    Phone,
    Email,
    Address,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Name => "name",
            Kind::Phone => "phone",
            Kind::Email => "email",
            Kind::Address => "address",
        }
    }

    /// The `known_fields` keys that mean this kind.
    fn from_known(key: &str) -> Option<Kind> {
        Some(match key {
            "name" | "organization_name" | "location_name" => Kind::Name,
            "phone" | "phones" | "number" => Kind::Phone,
            "email" => Kind::Email,
            "address" | "address_1" | "city" | "postal_code" | "zip" => Kind::Address,
            _ => return None,
        })
    }
}

/// Flags values in the document that the raw input does not contain, and
/// known fields the document lost.
pub fn against_raw(
    collection: &Value,
    raw: &str,
    known: &Map<String, Value>,
    from_raw: &std::collections::BTreeSet<String>,
    findings: &mut Vec<Finding>,
) {
    let raw_words = format!(" {} ", address_words(&normalise(raw)));
    let raw_digits: String = raw.chars().filter(char::is_ascii_digit).collect();
    let raw_lower = raw.to_lowercase();
    let mut known_kinds = Vec::new();
    for (key, value) in known {
        if let Some(kind) = Kind::from_known(key) {
            known_kinds.push(kind);
            if let Value::String(expected) = value {
                let wanted = normalise(expected);
                let mut present = false;
                values(collection, "", &mut |k, _, v| {
                    present |= k == kind && normalise(v).contains(&wanted);
                });
                if !wanted.is_empty() && !present {
                    let mut f = Finding::new(
                        Severity::Error,
                        "known_field.missing",
                        "",
                        format!("known field {key} = {expected:?} is not in the document"),
                    );
                    f.dedupe = format!("known:{key}");
                    f.weight = 20;
                    findings.push(f);
                }
            }
        }
    }
    values(collection, "", &mut |kind, path, value| {
        // A value the mapper took from the raw record (its provenance says
        // so) needs no search for it in the raw text.
        if from_raw.contains(path) {
            return;
        }
        let supported = match kind {
            Kind::Phone => {
                let digits: String = value.chars().filter(char::is_ascii_digit).collect();
                let tail = &digits[digits.len().saturating_sub(10)..];
                tail.len() < 7 || raw_digits.contains(tail)
            }
            Kind::Email => raw_lower.contains(&value.trim().to_lowercase()),
            Kind::Name | Kind::Address => {
                let words = address_words(&normalise(value));
                words.is_empty() || raw_words.contains(&format!(" {words} "))
            }
        };
        if !supported {
            let is_known = known_kinds.contains(&kind);
            let mut f = Finding::new(
                if is_known {
                    Severity::Error
                } else {
                    Severity::Warning
                },
                &format!("unsupported.{}", kind.as_str()),
                path,
                format!(
                    "{} {value:?} does not occur in the raw input{}",
                    kind.as_str(),
                    if is_known { " (a known field)" } else { "" }
                ),
            );
            f.dedupe = format!("unsupported:{path}");
            f.weight = if is_known { 20 } else { 10 };
            findings.push(f);
        }
    });
}

/// Calls `f(kind, path, value)` for every checked string in the document.
fn values(value: &Value, path: &str, f: &mut dyn FnMut(Kind, &str, &str)) {
    match value {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                values(item, &format!("{path}/{i}"), f);
            }
        }
        Value::Object(map) => {
            let holder = path.rsplit('/').nth(1).unwrap_or("");
            for (key, v) in map {
                let p = format!("{path}/{key}");
                let kind = match (key.as_str(), holder) {
                    ("name", "organization" | "location" | "locations") => Some(Kind::Name),
                    ("number", _) => Some(Kind::Phone),
                    ("email", _) => Some(Kind::Email),
                    ("address_1" | "city" | "postal_code", _) => Some(Kind::Address),
                    _ => None,
                };
                match (kind, v) {
                    (Some(kind), Value::String(s)) => f(kind, &p, s),
                    _ => values(v, &p, f),
                }
            }
        }
        _ => {}
    }
}

/// Common street-word abbreviations, so "123 Main Street" matches "123 main st".
fn address_words(normalised: &str) -> String {
    normalised
        .split(' ')
        .map(|w| match w {
            "street" => "st",
            "avenue" => "ave",
            "road" => "rd",
            "drive" => "dr",
            "boulevard" => "blvd",
            "lane" => "ln",
            "highway" => "hwy",
            "north" => "n",
            "south" => "s",
            "east" => "e",
            "west" => "w",
            "suite" => "ste",
            other => other,
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn an_empty_state_is_named_missing_not_wrong() {
        let mut findings = Vec::new();
        let a = json!({"address_1": "402 Oak St", "city": "Springfield", "state_province": "",
                       "postal_code": "", "country": "US"});
        super::address(a.as_object().unwrap(), "/a", &mut findings);
        let codes: Vec<&str> = findings.iter().map(|f| f.code.as_str()).collect();
        assert_eq!(
            codes,
            ["address.state_missing", "address.postal_code_missing"]
        );
    }
}
