//! The mapper-first path: the deterministic mapping; for what it left
//! (opening hours it could not read, a field `known_fields` names that it
//! did not place) a choice put to the LLM among the record's own pieces,
//! then a person's review; repair, validation, and the provenance of every
//! value.

use serde_json::{Map, Value, json};

use crate::review::Review;
use deckhand_guest::JobError;
use deckhand_guest::llm::{self, Message, Request};
use hsds::answer::{self, Answer};
use hsds::known::Kind;
use hsds::mapper::{How, Mapping, Question, Source};

/// Tokens one answer may take: a choice is a few words.
const CHOICE_MAX_TOKENS: u32 = 60;
/// Questions asked, prompt tokens and completion tokens.
pub(crate) type Spent = (usize, u32, u32);
/// What the model answers when no candidate is right.
const NONE: &str = "none";
/// The record's text quoted in a question, at most (characters).
const MAX_QUOTE_CHARS: usize = 4_000;

/// The system prompt for a question of `kind`.
fn choice_prompt(kind: Kind) -> String {
    let what = match kind {
        Kind::Hours => "says when the pantry is open".to_string(),
        other => format!("is the pantry's {}", other.noun()),
    };
    format!(
        "You read a food pantry's record, quoted below. Choose the candidate that {what}, \
         copied exactly; answer \"none\" if no candidate does. Answer with JSON only: \
         {{\"choice\": ...}}."
    )
}

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

/// What `q` asks for.
pub(crate) fn kind(q: &Question) -> Kind {
    Kind::from_label(q.kind).unwrap_or(Kind::Hours)
}

/// The candidates for `q`: the pieces of the record's text that read as
/// its kind (none: nothing to choose from).
pub(crate) fn candidates(q: &Question) -> Vec<String> {
    answer::candidates(kind(q), &q.text)
}

/// Asks the LLM to choose among `candidates` for `q`; returns what its
/// choice reads as (none for "none" or an answer outside the candidates),
/// and the tokens it spent.
fn ask_choice(q: &Question, candidates: &[String]) -> Result<(Option<Answer>, u32, u32), JobError> {
    let listed: String = candidates.iter().map(|c| format!("- {c}\n")).collect();
    let quoted: String = q.text.chars().take(MAX_QUOTE_CHARS).collect();
    let answer = llm::generate(&Request {
        messages: vec![
            Message {
                role: "system".into(),
                content: choice_prompt(kind(q)),
            },
            Message {
                role: "user".into(),
                content: format!("The record: {quoted:?}\nCandidates:\n{listed}- {NONE}"),
            },
        ],
        model: None,
        temperature: Some(0.0),
        max_tokens: Some(CHOICE_MAX_TOKENS),
        response_schema: Some(choice_schema(candidates).to_string()),
    })
    .map_err(|e| {
        use deckhand_guest::llm::LlmError;
        match e {
            LlmError::Unavailable(m) => JobError::Retry(format!("LLM unavailable: {m}")),
            LlmError::NotConfigured(_) => {
                JobError::Fail("no LLM configured to answer the record's questions".into())
            }
            LlmError::InvalidRequest(m) | LlmError::InvalidResponse(m) => {
                JobError::Retry(format!("the {} question failed: {m}", q.kind))
            }
        }
    })?;
    let value: Value = serde_json::from_str(&answer.content).unwrap_or_default();
    let choice = value["choice"].as_str().unwrap_or(NONE);
    // Checked again here: only a candidate, and only what reads as its kind.
    let kept = candidates
        .iter()
        .any(|c| c == choice)
        .then(|| answer::read(kind(q), choice))
        .flatten();
    Ok((
        kept,
        answer.usage.prompt_tokens,
        answer.usage.completion_tokens,
    ))
}

/// Places an answer to `q` (the LLM's or a person's, `how`): its values
/// with the raw field asked about as their source; a schedule read from
/// a field of hours keeps that field's text as its description. Returns
/// whether anything was placed.
pub(crate) fn settle(mapping: &mut Mapping, q: &Question, answer: Answer, how: How) -> bool {
    let from_field = !q.from.is_empty();
    let answer = match answer {
        Answer::Schedules(list) if from_field => Answer::Schedules(
            list.into_iter()
                .map(|mut s| {
                    s["description"] = json!(q.text);
                    s
                })
                .collect(),
        ),
        other => other,
    };
    // The text of a field of hours is copied; the rest is read as `how`.
    let source = |key: &str| Source {
        source: format!("raw:{}", q.from),
        how: if key == "description" {
            How::Copied
        } else {
            how
        },
    };
    let placed = mapping.place(q.location, answer, source);
    !placed.is_empty()
}

/// Questions nobody settled, each an `unsettled` entry; the text of
/// hours code could not read in a field stays as a schedule's description
/// (what a reader can still use).
fn keep_unsettled(mapping: &mut Mapping) -> Vec<Value> {
    let mut unsettled = Vec::new();
    for q in std::mem::take(&mut mapping.questions) {
        if q.from.is_empty() {
            // About the whole record: a known field nobody found.
            unsettled.push(json!({ "kind": "known_field", "field": q.kind, "text": null }));
            continue;
        }
        let text = Answer::Schedules(vec![json!({ "description": q.text })]);
        let copied = |_: &str| Source {
            source: format!("raw:{}", q.from),
            how: How::Copied,
        };
        mapping.place(q.location, text, copied);
        unsettled.push(
            json!({ "kind": q.kind, "location": q.location, "from": q.from, "text": q.text }),
        );
    }
    unsettled
}

/// Puts the questions that have candidates to the LLM as a choice; what it
/// does not settle stays in `mapping.questions`. Returns the questions
/// asked and the tokens spent.
fn ask_llm(mapping: &mut Mapping) -> Result<Spent, JobError> {
    let (mut asked, mut prompt_tokens, mut completion_tokens) = (0, 0, 0);
    for q in std::mem::take(&mut mapping.questions) {
        let candidates = candidates(&q);
        if candidates.is_empty() {
            // Nothing in the record to choose from: nothing to ask.
            mapping.questions.push(q);
            continue;
        }
        asked += 1;
        let (answer, p, c) = ask_choice(&q, &candidates)?;
        prompt_tokens += p;
        completion_tokens += c;
        let placed = answer.is_some_and(|a| settle(mapping, &q, a, How::Llm));
        if !placed {
            mapping.questions.push(q);
        }
    }
    Ok((asked, prompt_tokens, completion_tokens))
}

/// Who is asked what code left, and what the caller says the record holds.
pub struct Asks<'a> {
    /// The LLM, as a choice among the record's pieces (`ask_llm`).
    pub ask: bool,
    /// A person (`review`), and the answers a resume brought.
    pub review: Option<Review>,
    /// `known_fields`.
    pub known: Option<&'a Map<String, Value>>,
    /// The record's text, for questions about the whole record.
    pub text: String,
    /// Questions already asked for this record, and their tokens.
    pub spent: Spent,
}

/// A record the mapper cannot name: its name chosen by the LLM among the
/// record's own short texts, and the mapping of the record with that name
/// (the name's provenance `raw:`, `how: llm`), with what the question
/// cost. `Ok(None)` when nothing is offered or the model answers "none".
pub(crate) fn named_by_choice(record: &Value) -> Result<Option<(Mapping, Spent)>, JobError> {
    let q = Question {
        kind: Kind::Name.label(),
        location: 0,
        from: String::new(),
        text: hsds::mapper::record_text(record),
    };
    let options = candidates(&q);
    if options.is_empty() {
        return Ok(None);
    }
    let (answer, p, c) = ask_choice(&q, &options)?;
    let Some(Answer::Name(name)) = answer else {
        return Ok(None);
    };
    Ok(map_named(record, &name, How::Llm).map(|m| (m, (1, p, c))))
}

/// The mapping of `record` with `name` (the LLM's choice or a person's
/// answer, `how`): the name's provenance is the whole record, `raw:`.
pub(crate) fn map_named(record: &Value, name: &str, how: How) -> Option<Mapping> {
    let mut named = record.clone();
    named["name"] = json!(name);
    let mut mapping = hsds::mapper::map_record(&named)?;
    mapping.draft.restate_sources(|source| {
        if source.source == "raw:/name" {
            *source = Source {
                source: "raw:".into(),
                how,
            };
        }
    });
    Some(mapping)
}

/// The mapper path, from mapping to result. A known field the mapping
/// lacks is placed from its given value, or asked about; what code could
/// not settle goes to the LLM as a choice among the record's own pieces
/// (`ask`), then what is still open to a person (`review`); what nobody
/// settled is listed as unsettled (hours as their text), never silently
/// absent.
pub fn align(mut mapping: Mapping, seed: &str, asks: Asks) -> Result<String, JobError> {
    let mut unsettled: Vec<Value> = match asks.known {
        Some(known) => mapping
            .settle_known(known, &asks.text)
            .into_iter()
            .map(|m| json!({ "kind": "known_field", "field": m.field, "text": m.value }))
            .collect(),
        None => Vec::new(),
    };
    // A person's answers first: a resumed attempt asks nobody again.
    let review = asks.review.as_ref();
    let reviewed = match review.and_then(|r| r.answers.as_ref()) {
        Some(answers) => crate::review::apply(&mut mapping, answers),
        None => Vec::new(),
    };
    let resumed = review.is_some_and(|r| r.answers.is_some());
    let (mut asked, mut prompt_tokens, mut completion_tokens) = if asks.ask && !resumed {
        ask_llm(&mut mapping)?
    } else {
        (0, 0, 0)
    };
    asked += asks.spent.0;
    prompt_tokens += asks.spent.1;
    completion_tokens += asks.spent.2;
    let to_review = review.filter(|r| r.answers.is_none() && !mapping.questions.is_empty());
    if let Some(review) = to_review {
        crate::review::suspend(review, &mapping.questions)?;
    }
    unsettled.extend(keep_unsettled(&mut mapping));
    let repaired = hsds::repair::repair(mapping.draft.value(), seed).map_err(JobError::Fail)?;
    if let Some((count, errors)) = crate::hsds_errors(&repaired.document)? {
        return Err(JobError::Fail(format!(
            "the mapped record is not valid HSDS ({count} problems):\n{errors}"
        )));
    }
    if let Some(known) = asks.known {
        // What repair dropped, once per kind.
        let listed = |u: &Value| u["field"].as_str().and_then(Kind::of);
        let kinds: Vec<Kind> = unsettled.iter().filter_map(listed).collect();
        for m in hsds::known::missing(known, &repaired.document) {
            if !kinds.contains(&m.kind) {
                unsettled.push(json!({ "kind": "known_field", "field": m.field, "text": m.value }));
            }
        }
    }
    // Only values that made it into the document.
    let provenance: serde_json::Map<String, Value> = mapping
        .draft
        .provenance()
        .iter()
        .filter(|(pointer, _)| repaired.document.pointer(pointer).is_some())
        .map(|(pointer, source)| (pointer.clone(), json!(source)))
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
        assert_eq!(candidates(&q), ["tuesday and thursday 10am - noon"]);
    }

    #[test]
    fn a_known_field_nobody_placed_is_given_or_asked_and_settled() {
        let record = json!({ "name": "Grace Pantry", "notes": "Dates at grace.org/food" });
        let mut mapping = hsds::mapper::map_record(&record).expect("a mapping");
        let known = json!({ "website": true, "email": "help@grace.org", "colour": "blue" });
        let text = hsds::mapper::record_text(&record);
        let left = mapping.settle_known(known.as_object().unwrap(), &text);
        assert!(left.is_empty(), "{left:?}");
        // The given email is placed; the website is a question offering the record's own.
        assert_eq!(
            mapping.draft.value()["organization"][0]["email"],
            "help@grace.org"
        );
        assert_eq!(
            mapping.draft.provenance()["/organization/0/email"].source,
            "known:email"
        );
        let q = mapping
            .questions
            .iter()
            .find(|q| q.kind == "website")
            .cloned();
        let q = q.expect("a website question");
        assert_eq!(candidates(&q), ["grace.org/food"]);
        let answer = answer::read(Kind::Website, "grace.org/food").unwrap();
        assert!(settle(&mut mapping, &q, answer, How::Llm));
        assert_eq!(
            mapping.draft.value()["organization"][0]["website"],
            "https://grace.org/food"
        );
        assert_eq!(
            mapping.draft.provenance()["/organization/0/website"].how,
            How::Llm
        );
        // A phone answer lands at the location, once.
        let phone = || answer::read(Kind::Phone, "856-555-0142").unwrap();
        assert!(settle(&mut mapping, &q, phone(), How::Reviewed));
        assert!(!settle(&mut mapping, &q, phone(), How::Reviewed));
        assert_eq!(
            mapping.draft.value()["location"][0]["phones"][0]["number"],
            "(856) 555-0142"
        );
    }

    #[test]
    fn a_nameless_record_offers_its_short_texts_as_names() {
        let record = json!({ "Address": "12 Oak St, Camden, NJ 08102", "Hours": "Tue 10-12",
                             "Phone": "856-555-0142", "Line 1": "Hope Pantry" });
        assert!(
            hsds::mapper::map_record(&record).is_none(),
            "no name by code"
        );
        let q = Question {
            kind: Kind::Name.label(),
            location: 0,
            from: String::new(),
            text: hsds::mapper::record_text(&record),
        };
        assert_eq!(candidates(&q), ["Hope Pantry"]);
    }

    #[test]
    fn free_text_that_names_no_pantry_is_read_once_named() {
        let text = json!({ "text": "Our food pantry is open every Saturday 9-11am at 14 Main St, \
            Medina, OH 44256. Questions? Call 330-555-0162" });
        assert!(hsds::mapper::map_record(&text).is_none(), "no name by code");
        assert!(hsds::mapper::has_content(&text));
        let mut m = map_named(&text, "Medina Food Pantry", How::Reviewed).expect("named");
        m.whole_text();
        let doc = m.draft.value();
        let location = &doc["location"][0];
        assert_eq!(location["addresses"][0]["address_1"], "14 Main St");
        assert_eq!(location["addresses"][0]["city"], "Medina");
        assert_eq!(location["phones"][0]["number"], "(330) 555-0162");
        assert_eq!(location["schedules"][0]["byday"], "SA");
        let name = &m.draft.provenance()["/organization/0/name"];
        assert_eq!((name.source.as_str(), name.how), ("raw:", How::Reviewed));
        let street = &m.draft.provenance()["/location/0/addresses/0/address_1"];
        assert_eq!(street.source, "raw:");
    }
}
