//! The mapper-first path: the deterministic mapping; for what it left
//! (opening hours it could not read) a choice put to the LLM among the
//! record's own pieces, then a person's review; repair, validation, and the
//! provenance of every value.

use serde_json::{Value, json};

use crate::deckhand::plugin::llm::{self, Message, Request};
use crate::deckhand::plugin::types::JobError;
use crate::review::Review;
use hsds::mapper::{How, Mapping, Question, Source};

/// Tokens one answer may take: a choice is a few words.
const CHOICE_MAX_TOKENS: u32 = 60;
/// What the model answers when no candidate is right.
const NONE: &str = "none";

const CHOICE_PROMPT: &str = "You read the opening hours of a food pantry. The record says \
what is quoted below. Choose the candidate that says when the pantry is open, copied exactly; \
answer \"none\" if no candidate does. Answer with JSON only: {\"choice\": ...}.";

/// The answer schema for a choice: one of `candidates`, or "none". The
/// server enforces it, so the model cannot write a value the record lacks.
fn choice_schema(candidates: &[String]) -> Value {
    let mut options: Vec<Value> = candidates.iter().map(|c| json!(c)).collect();
    options.push(json!(NONE));
    json!({
        "type": "object",
        "properties": { "choice": { "type": "string", "enum": options } },
        "required": ["choice"],
        "additionalProperties": false
    })
}

/// The candidates for `q` that the hours parser reads: what the model may
/// choose among (none: nothing to ask).
pub(crate) fn readable_candidates(q: &Question) -> Vec<String> {
    hsds::hours::candidates(&q.text)
        .into_iter()
        .filter(|c| !hsds::hours::parse(c).schedules.is_empty())
        .collect()
}

/// Asks the LLM to choose among `candidates` for the hours question `q`;
/// returns the schedules of its choice (none for "none" or an answer
/// outside the candidates), and the tokens it spent.
fn ask_choice(q: &Question, candidates: &[String]) -> Result<(Vec<Value>, u32, u32), JobError> {
    let listed: String = candidates.iter().map(|c| format!("- {c}\n")).collect();
    let answer = llm::generate(&Request {
        messages: vec![
            Message {
                role: "system".into(),
                content: CHOICE_PROMPT.into(),
            },
            Message {
                role: "user".into(),
                content: format!("The record: {:?}\nCandidates:\n{listed}- {NONE}", q.text),
            },
        ],
        model: None,
        temperature: Some(0.0),
        max_tokens: Some(CHOICE_MAX_TOKENS),
        response_schema: Some(choice_schema(candidates).to_string()),
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
    let choice = value["choice"].as_str().unwrap_or(NONE);
    // Checked again here: only a candidate, and only what the parser reads.
    let kept = if candidates.iter().any(|c| c == choice) {
        hsds::hours::parse(choice).schedules
    } else {
        Vec::new()
    };
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

/// Puts the hours questions that have readable candidates to the LLM as a
/// choice; what it does not settle stays in `mapping.questions`. Returns
/// the questions asked and the tokens spent.
fn ask_llm(mapping: &mut Mapping) -> Result<(usize, u32, u32), JobError> {
    let (mut asked, mut prompt_tokens, mut completion_tokens) = (0, 0, 0);
    for q in std::mem::take(&mut mapping.questions) {
        let candidates = readable_candidates(&q);
        if candidates.is_empty() {
            // Nothing in the record to choose from: nothing to ask.
            mapping.questions.push(q);
            continue;
        }
        asked += 1;
        let (schedules, p, c) = ask_choice(&q, &candidates)?;
        prompt_tokens += p;
        completion_tokens += c;
        if schedules.is_empty() {
            mapping.questions.push(q);
        } else {
            place_chosen(mapping, &q, schedules);
        }
    }
    Ok((asked, prompt_tokens, completion_tokens))
}

/// The LLM's chosen schedules at the question's location: the values its
/// choice gave (`how: llm`), the record's text as their description.
fn place_chosen(mapping: &mut Mapping, q: &Question, schedules: Vec<Value>) {
    let Some(list) = schedules_at(&mut mapping.draft, q.location) else {
        return;
    };
    for mut s in schedules {
        let i = list.len();
        s["description"] = json!(q.text);
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

/// The mapper path, from mapping to result. What code could not read goes
/// to the LLM as a choice among the record's own pieces (`ask`), then what
/// is still open to a person (`review`); what nobody settled stays as text
/// and is listed as unsettled. A field `known` says the record holds that
/// the document lacks is listed as unsettled too (`kind: known_field`),
/// never silently absent.
pub fn align(
    mut mapping: Mapping,
    seed: &str,
    (ask, review): (bool, Option<&Review>),
    known: Option<&serde_json::Map<String, Value>>,
) -> Result<String, JobError> {
    // A person's answers first: a resumed attempt asks nobody again.
    let reviewed = match review.and_then(|r| r.answers.as_ref()) {
        Some(answers) => crate::review::apply(&mut mapping, answers),
        None => Vec::new(),
    };
    let resumed = review.is_some_and(|r| r.answers.is_some());
    let (asked, prompt_tokens, completion_tokens) = if ask && !resumed {
        ask_llm(&mut mapping)?
    } else {
        (0, 0, 0)
    };
    let to_review = review.filter(|r| r.answers.is_none() && !mapping.questions.is_empty());
    if let Some(review) = to_review {
        crate::review::suspend(review, &mapping.questions)?;
    }
    let mut unsettled = keep_unsettled(&mut mapping);
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
    fn the_choice_schema_lists_the_candidates_and_none() {
        let schema = choice_schema(&["Tue 10-12".to_string()]);
        assert_eq!(
            schema["properties"]["choice"]["enum"],
            json!(["Tue 10-12", "none"])
        );
        assert_eq!(schema["required"], json!(["choice"]));
    }

    #[test]
    fn only_candidates_the_parser_reads_are_offered() {
        let q = Question {
            kind: "hours",
            location: 0,
            from: "/hours".into(),
            text: "Hours: 10am - noon | Days: Tuesday and Thursday when school is in session"
                .into(),
        };
        assert_eq!(
            readable_candidates(&q),
            ["tuesday and thursday 10am - noon"]
        );
    }
}
