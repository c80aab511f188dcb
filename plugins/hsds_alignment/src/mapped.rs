//! The mapper-first path: the deterministic mapping, small LLM questions for
//! what it left (opening hours it could not read), repair, validation, and
//! the provenance of every value.

use serde_json::{Value, json};

use crate::deckhand::plugin::llm::{self, Message, Request};
use crate::deckhand::plugin::types::JobError;
use crate::review::Review;
use hsds::mapper::{How, Mapping, Question, Source};

/// Tokens one hours answer may take: four schedules fit in well under this.
const HOURS_MAX_TOKENS: u32 = 300;
/// Schedules one answer may hold.
const HOURS_MAX_ITEMS: usize = 4;

const HOURS_PROMPT: &str = "You read the opening hours of a food pantry. Answer with JSON only: \
{\"schedules\": [...]}, one item per regular opening. freq is WEEKLY, or MONTHLY for \
\"1st/2nd/3rd/4th/last <day>\". byday: two-letter days (MO,TU,WE,TH,FR,SA,SU) joined by \
commas; for MONTHLY put the week number before the day (1MO, 3TU, -1FR for the last Friday). \
opens_at and closes_at: 24-hour HH:MM. Use only times the text gives; if it gives none, \
answer {\"schedules\": []}.";

/// The answer schema for an hours question: a few small fields.
fn hours_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "schedules": {
                "type": "array",
                "maxItems": HOURS_MAX_ITEMS,
                "items": {
                    "type": "object",
                    "properties": {
                        "freq": { "type": "string", "enum": ["WEEKLY", "MONTHLY"] },
                        "byday": { "type": "string", "maxLength": 40 },
                        "opens_at": { "type": "string", "pattern": "^[0-2][0-9]:[0-5][0-9]$" },
                        "closes_at": { "type": "string", "pattern": "^[0-2][0-9]:[0-5][0-9]$" }
                    },
                    "required": ["freq", "byday", "opens_at", "closes_at"],
                    "additionalProperties": false
                }
            }
        },
        "required": ["schedules"],
        "additionalProperties": false
    })
}

/// Whether a byday list is RFC 5545 days, with week numbers only for MONTHLY.
fn valid_byday(byday: &str, monthly: bool) -> bool {
    !byday.is_empty()
        && byday.split(',').all(|token| {
            let t = token.trim();
            let (num, day) = t.split_at(t.len().saturating_sub(2));
            ["MO", "TU", "WE", "TH", "FR", "SA", "SU"].contains(&day)
                && (num.is_empty()
                    || (monthly && matches!(num, "1" | "2" | "3" | "4" | "5" | "-1")))
        })
}

/// Asks the LLM the hours question; returns the schedules it gave that hold
/// up (valid days, opening before closing), and the tokens it spent.
fn ask_hours(q: &Question) -> Result<(Vec<Value>, u32, u32), JobError> {
    let answer = llm::generate(&Request {
        messages: vec![
            Message {
                role: "system".into(),
                content: HOURS_PROMPT.into(),
            },
            Message {
                role: "user".into(),
                content: format!("Opening hours: {}", q.text),
            },
        ],
        model: None,
        temperature: Some(0.0),
        max_tokens: Some(HOURS_MAX_TOKENS),
        response_schema: Some(hours_schema().to_string()),
    })
    .map_err(|e| {
        use crate::deckhand::plugin::llm::LlmError;
        match e {
            LlmError::Unavailable(m) => JobError::Retry(format!("LLM unavailable: {m}")),
            LlmError::NotConfigured(_) => {
                JobError::Fail("no LLM configured to read these hours".into())
            }
            LlmError::InvalidRequest(m) | LlmError::InvalidResponse(m) => {
                JobError::Retry(format!("the hours question failed: {m}"))
            }
        }
    })?;
    let value: Value = serde_json::from_str(&answer.content).unwrap_or_default();
    let kept = value["schedules"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| {
            let monthly = s["freq"] == "MONTHLY";
            let opens = s["opens_at"].as_str().unwrap_or_default();
            let closes = s["closes_at"].as_str().unwrap_or_default();
            valid_byday(s["byday"].as_str().unwrap_or_default(), monthly)
                && !opens.is_empty()
                && opens < closes
        })
        .take(HOURS_MAX_ITEMS)
        .map(|s| {
            json!({
                "freq": s["freq"], "byday": s["byday"], "opens_at": s["opens_at"],
                "closes_at": s["closes_at"], "description": q.text,
            })
        })
        .collect();
    Ok((
        kept,
        answer.usage.prompt_tokens,
        answer.usage.completion_tokens,
    ))
}

/// The schedules list of the draft's location `i` (made when missing).
pub(crate) fn schedules_at(draft: &mut Value, i: usize) -> Option<&mut Vec<Value>> {
    draft
        .get_mut("location")?
        .get_mut(i)?
        .as_object_mut()?
        .entry("schedules")
        .or_insert_with(|| json!([]))
        .as_array_mut()
}

/// Hours code could not read, unasked: their text as a schedule's
/// description (what a reader can still use), and an `unsettled` entry.
fn keep_unsettled(mapping: &mut Mapping) -> Vec<Value> {
    let mut unsettled = Vec::new();
    for q in std::mem::take(&mut mapping.questions) {
        if let Some(list) = schedules_at(&mut mapping.draft, q.location) {
            mapping.provenance.insert(
                format!(
                    "/location/{}/schedules/{}/description",
                    q.location,
                    list.len()
                ),
                Source {
                    source: format!("raw:{}", q.from),
                    how: How::Copied,
                },
            );
            list.push(json!({ "description": q.text }));
        }
        unsettled.push(
            json!({ "kind": q.kind, "location": q.location, "from": q.from, "text": q.text }),
        );
    }
    unsettled
}

/// The mapper path, from mapping to result; `ask` puts what code could not
/// read to the LLM, `review` (when not asking the LLM) to a person. A field `known` says the record holds that the
/// document lacks is listed as unsettled (`kind: known_field`), never
/// silently absent.
pub fn align(
    mut mapping: Mapping,
    seed: &str,
    (ask, review): (bool, Option<&Review>),
    known: Option<&serde_json::Map<String, Value>>,
) -> Result<String, JobError> {
    let (mut prompt_tokens, mut completion_tokens) = (0, 0);
    // A person's answers first; what they leave open stays unsettled.
    let reviewed = match review.and_then(|r| r.answers.as_ref()) {
        Some(answers) => crate::review::apply(&mut mapping, answers),
        None => Vec::new(),
    };
    let to_review = review.filter(|r| r.answers.is_none() && !ask && !mapping.questions.is_empty());
    if let Some(review) = to_review {
        crate::review::suspend(review, &mapping.questions)?;
    }
    let mut unsettled = if ask {
        Vec::new()
    } else {
        keep_unsettled(&mut mapping)
    };
    let asked = mapping.questions.len();
    for q in mapping.questions.clone() {
        let (schedules, p, c) = ask_hours(&q)?;
        prompt_tokens += p;
        completion_tokens += c;
        if let Some(list) = schedules_at(&mut mapping.draft, q.location) {
            for s in schedules {
                let i = list.len();
                for key in ["freq", "byday", "opens_at", "closes_at", "description"] {
                    let how = if key == "description" {
                        How::Copied
                    } else {
                        How::Llm
                    };
                    mapping.provenance.insert(
                        format!("/location/{}/schedules/{i}/{key}", q.location),
                        Source {
                            source: format!("raw:{}", q.from),
                            how,
                        },
                    );
                }
                list.push(s);
            }
        }
    }
    let repaired = hsds::repair::repair(&mapping.draft, seed).map_err(JobError::Fail)?;
    if let Some((count, errors)) = crate::hsds_errors(&repaired.document)? {
        return Err(JobError::Fail(format!(
            "the mapped record is not valid HSDS ({count} problems):\n{errors}"
        )));
    }
    if let Some(known) = known {
        for m in hsds::known::missing(known, &repaired.document) {
            unsettled.push(json!({ "kind": "known_field", "field": m.field, "text": m.value }));
        }
    }
    // Only values that made it into the document.
    let provenance: serde_json::Map<String, Value> = mapping
        .provenance
        .into_iter()
        .filter(|(pointer, _)| repaired.document.pointer(pointer).is_some())
        .map(|(pointer, source)| (pointer, json!(source)))
        .collect();
    Ok(json!({
        "hsds": repaired.document,
        "provenance": provenance,
        "path": "mapper",
        "llm_questions": asked,
        "unsettled": unsettled,
        "reviewed": reviewed,
        "awaiting_review": to_review.is_some(),
        "repairs": repaired.repairs,
        "usage": { "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens },
    })
    .to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byday_lists() {
        assert!(valid_byday("MO,WE", false));
        assert!(valid_byday("1SA,3SA", true));
        assert!(!valid_byday("1SA", false));
        assert!(!valid_byday("Hourly", false));
        assert!(!valid_byday("", false));
    }
}
