//! Records out of a locator's answers: a JSON API's array, a page's
//! JSON-LD blocks, or a page's text.

use serde_json::{Value, json};

/// Keys a locator API keeps its records under, most common first.
const RECORD_KEYS: &[&str] = &[
    "locations",
    "data",
    "results",
    "items",
    "records",
    "features",
];

/// The records of a JSON answer.
pub fn from_json(body: &str) -> Result<Vec<Value>, String> {
    let value: Value = serde_json::from_str(body).map_err(|e| format!("not JSON: {e}"))?;
    match value {
        Value::Array(items) => Ok(items),
        Value::Object(map) => {
            let named = RECORD_KEYS.iter().find_map(|k| match map.get(*k) {
                Some(Value::Array(items)) => Some(items.clone()),
                _ => None,
            });
            let first = || {
                map.values().find_map(|v| match v {
                    Value::Array(items) => Some(items.clone()),
                    _ => None,
                })
            };
            named
                .or_else(first)
                .ok_or_else(|| "no array of records in the answer".to_string())
        }
        _ => Err("the answer is neither an array nor an object".into()),
    }
}

/// The records of an HTML page: its JSON-LD blocks, or its text as one.
pub fn from_html(html: &str, url: &str) -> Vec<Value> {
    let mut found = Vec::new();
    let lower = html.to_ascii_lowercase();
    let mut at = 0;
    while let Some(start) = lower[at..].find("application/ld+json").map(|i| at + i) {
        let Some(open) = lower[start..].find('>').map(|i| start + i + 1) else {
            break;
        };
        let Some(close) = lower[open..].find("</script").map(|i| open + i) else {
            break;
        };
        if let Ok(value) = serde_json::from_str::<Value>(html[open..close].trim()) {
            match value {
                Value::Array(items) => found.extend(items),
                Value::Object(ref map) if map.get("@graph").is_some_and(Value::is_array) => {
                    if let Some(Value::Array(items)) = map.get("@graph") {
                        found.extend(items.iter().cloned());
                    }
                }
                other => found.push(other),
            }
        }
        at = close;
    }
    if found.is_empty() {
        let text = visible_text(html);
        if !text.is_empty() {
            found.push(json!({ "source_url": url, "text": text }));
        }
    }
    found
}

/// A page's text: tags, scripts and styles dropped, spaces folded.
fn visible_text(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        out.push_str(&rest[..lt]);
        out.push(' ');
        let tag = rest[lt..].to_ascii_lowercase();
        let skip_to = ["script", "style"]
            .iter()
            .find(|t| tag.starts_with(&format!("<{t}")))
            .and_then(|t| tag.find(&format!("</{t}>")).map(|i| i + t.len() + 3));
        let end = skip_to
            .or_else(|| tag.find('>').map(|i| i + 1))
            .unwrap_or(tag.len());
        rest = &rest[lt + end..];
    }
    out.push_str(rest);
    let decoded = out
        .replace("&amp;", "&")
        .replace("&nbsp;", " ")
        .replace("&#39;", "'")
        .replace("&quot;", "\"");
    decoded.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_answers_give_their_records() {
        assert_eq!(from_json(r#"[{"a":1},{"a":2}]"#).unwrap().len(), 2);
        assert_eq!(
            from_json(r#"{"count":1,"locations":[{"a":1}]}"#)
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            from_json(r#"{"meta":{},"stores":[{"a":1},{"b":2}]}"#)
                .unwrap()
                .len(),
            2
        );
        assert!(from_json(r#"{"a":1}"#).unwrap_err().contains("no array"));
        assert!(from_json("nope").unwrap_err().contains("not JSON"));
    }

    #[test]
    fn pages_give_json_ld_or_their_text() {
        let page = r#"<html><script type="application/ld+json">{"@graph":[{"name":"A"},{"name":"B"}]}</script>
            <script type="application/ld+json">{"name":"C"}</script></html>"#;
        assert_eq!(from_html(page, "u").len(), 3);
        let plain = "<html><style>x{}</style><p>Open Mon&amp;Tue</p><script>var x;</script></html>";
        let records = from_html(plain, "http://p");
        assert_eq!(
            records,
            vec![json!({"source_url": "http://p", "text": "Open Mon&Tue"})]
        );
    }
}
