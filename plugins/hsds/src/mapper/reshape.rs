//! Records in a shape of their own, made the plain record the mapper
//! reads, with how their values' sources are given back: a vCard or an
//! iCalendar event in a text (`cards`), typed JSON (`typed`), and a
//! spreadsheet's rows under a header row (`"values": [["Name",
//! "Address"], ["Hope Pantry", "12 Oak St"]]`).

use serde_json::{Map, Value};

use super::fields::escape;
use super::{Mapping, cards, typed};
use crate::classify::{self, Role};

/// How a reshaped record's sources name the raw record.
pub(super) enum Restate {
    /// Every value from one raw field (a card's text).
    Whole(String),
    /// Each plain pointer's raw pointer.
    Table(Vec<(String, String)>),
}

impl Restate {
    /// The mapping's sources and questions made to name the raw record.
    pub(super) fn apply(&self, mapping: &mut Mapping) {
        let raw = |source: &str| match self {
            Restate::Whole(at) if source.starts_with("raw:") => format!("raw:{at}"),
            Restate::Whole(_) => source.to_string(),
            Restate::Table(table) => typed::raw_source(source, table),
        };
        mapping.draft.restate_sources(|s| s.source = raw(&s.source));
        for q in &mut mapping.questions {
            let pointer = raw(&format!("raw:{}", q.from));
            q.from = pointer.strip_prefix("raw:").unwrap_or(&pointer).to_string();
        }
    }
}

/// The plain record `raw` makes and how its sources are given back;
/// `None` for a record the mapper reads as it is.
pub(super) fn reshaped(raw: &Value) -> Option<(Value, Restate)> {
    if let Some((at, card)) = cards::card_in(raw) {
        return Some((card, Restate::Whole(at)));
    }
    if let Some((plain, table)) = typed::untyped(raw) {
        return Some((plain, Restate::Table(table)));
    }
    rows(raw).map(|(plain, table)| (plain, Restate::Table(table)))
}

/// A list of rows whose first is a header naming at least two fields the
/// mapper knows: each row after it as an object by the header's names
/// (one row is the record; several, its sites).
fn rows(raw: &Value) -> Option<(Value, Vec<(String, String)>)> {
    let Value::Object(map) = raw else {
        return None;
    };
    let (key, rows) = map.iter().find_map(|(k, v)| {
        let rows = v.as_array()?;
        (rows.len() >= 2 && rows.iter().all(Value::is_array)).then_some((k, rows))
    })?;
    let header: Vec<&str> = rows[0]
        .as_array()?
        .iter()
        .map(Value::as_str)
        .collect::<Option<_>>()?;
    let known = header
        .iter()
        .filter(|h| !matches!(classify::role_of(h), Role::Unknown | Role::Ignore))
        .count();
    if known < 2 {
        return None;
    }
    let one = rows.len() == 2;
    let mut table = Vec::new();
    let objects = rows[1..].iter().enumerate().filter_map(|(i, row)| {
        let cells = row.as_array()?;
        let at = if one { String::new() } else { format!("/{i}") };
        let object: Map<String, Value> = header
            .iter()
            .zip(cells)
            .enumerate()
            .map(|(c, (h, cell))| {
                let raw = format!("/{}/{}/{c}", escape(key), i + 1);
                table.push((format!("{at}/{}", escape(h)), raw));
                (h.to_string(), cell.clone())
            })
            .collect();
        Some(Value::Object(object))
    });
    let mut objects: Vec<Value> = objects.collect();
    let plain = if one {
        objects.pop()?
    } else {
        Value::Array(objects)
    };
    Some((plain, table))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_header_row_names_the_cells_of_the_rows_after_it() {
        let sheet = json!({"range": "A1:C2", "values": [["Name", "Address", "Hours"],
            ["Elm Street Pantry", "12 Elm St, Hagerstown, MD 21740", "Sat 8-10am"]]});
        let (plain, table) = rows(&sheet).expect("rows");
        assert_eq!(
            plain,
            json!({"Name": "Elm Street Pantry", "Address": "12 Elm St, Hagerstown, MD 21740",
                   "Hours": "Sat 8-10am"})
        );
        assert_eq!(typed::raw_source("raw:/Hours", &table), "raw:/values/1/2");
        let two = json!({"values": [["Name", "Phone"], ["A", "1"], ["B", "2"]]});
        let (plain, table) = rows(&two).expect("rows");
        assert_eq!(
            plain,
            json!([{"Name": "A", "Phone": "1"}, {"Name": "B", "Phone": "2"}])
        );
        assert_eq!(typed::raw_source("raw:/1/Phone", &table), "raw:/values/2/1");
        // Rows without a header of known names are no table.
        assert!(
            rows(&json!({"open": [["Tuesday", "10:00", "12:00"], ["Friday", "1", "3"]]})).is_none()
        );
    }
}
