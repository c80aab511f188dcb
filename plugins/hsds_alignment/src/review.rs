//! Review: the opening hours code could not read, put to a person through
//! the host's durable wait (`jobs.suspend`) instead of being dropped, and
//! their answers applied when the job runs again.
//!
//! The question (a wait named `review`) is JSON the dashboard's Review page
//! reads: `{"kind": "hsds_review", "prompt", "context": <the raw record>,
//! "questions": [{"key", "prompt", "text", "candidates": [...]}]}`, each
//! question's candidates the pieces of the record's own text that speak of
//! times. The answer comes back as `{"answers": {<key>: <text> | null}}`: a
//! text is read by the same hours parser as the record, so "Tue 10-12"
//! becomes a schedule with provenance `how: reviewed`; `null` says the
//! record gives no such value; a text the parser cannot read stays
//! unsettled, with the answer beside it. The attempt that asks returns the
//! document as it stands, which is what the job completes with if nobody
//! answers in time (`review_timeout_ms`, 7 days by default).

use serde_json::{Map, Value, json};

use deckhand_guest::JobError;
use deckhand_guest::jobs;
use hsds::answer::Answer;
use hsds::known::Kind;
use hsds::mapper::{How, Mapping, Question};

/// The wait's name: what the dashboard's Review page lists.
pub const WAIT_NAME: &str = "review";
/// How long a record waits for a person by default: 7 days.
const DEFAULT_TIMEOUT_MS: u64 = 7 * 24 * 3600 * 1000;
/// The longest wait the host allows: 30 days.
const MAX_TIMEOUT_MS: u64 = 30 * 24 * 3600 * 1000;
/// The raw record shown beside the questions, at most (characters).
const MAX_CONTEXT_CHARS: usize = 8_000;

/// A review asked for in the payload, and the answers a resume brought.
pub struct Review {
    raw: String,
    timeout_ms: u64,
    /// Present on the attempt a person's answer resumed.
    pub answers: Option<Map<String, Value>>,
}

impl Review {
    /// `review: true` in the payload (and `review_timeout_ms`, 1 ms to 30
    /// days); none when not asked. `feedback` is the attempt's: a resume
    /// of the `review` wait carries the answers.
    pub fn read(p: &Value, raw: &str, feedback: Option<&str>) -> Result<Option<Review>, JobError> {
        if !crate::flag(p, "review")? {
            return Ok(None);
        }
        let timeout_ms = match p.get("review_timeout_ms") {
            None | Some(Value::Null) => DEFAULT_TIMEOUT_MS,
            Some(v) => v
                .as_u64()
                .filter(|ms| (1..=MAX_TIMEOUT_MS).contains(ms))
                .ok_or_else(|| {
                    JobError::Fail(format!(
                        "`review_timeout_ms` must be 1 to {MAX_TIMEOUT_MS} (30 days), not {v}"
                    ))
                })?,
        };
        let resumed: Option<Value> = feedback.and_then(|f| serde_json::from_str(f).ok());
        let answers = resumed
            .as_ref()
            .map(|f| &f["resume"])
            .filter(|r| r["name"] == WAIT_NAME)
            .map(|r| {
                r["value"]["answers"]
                    .as_object()
                    .cloned()
                    .unwrap_or_default()
            });
        Ok(Some(Review {
            raw: raw.to_string(),
            timeout_ms,
            answers,
        }))
    }
}

impl Review {
    /// The name a person gave a record no code could name (the answer to
    /// its `name` question), when it reads as one.
    pub fn given_name(&self) -> Option<String> {
        let answer = self.answers.as_ref()?.get(&key(&name_question("")))?;
        match hsds::answer::read(Kind::Name, answer.as_str()?) {
            Some(Answer::Name(name)) => Some(name),
            _ => None,
        }
    }
}

/// Whether an attempt's feedback is a resume (a wait's answer), not the
/// errors of a previous answer.
pub fn is_resume(feedback: &str) -> bool {
    serde_json::from_str::<Value>(feedback).is_ok_and(|f| f.get("resume").is_some())
}

/// The question about a record's name (`text`: the record's text).
fn name_question(text: &str) -> Question {
    Question {
        kind: Kind::Name.label(),
        location: 0,
        from: String::new(),
        text: text.to_string(),
    }
}

/// Asks a person to name a record no code (or model) could name, its short
/// texts as candidates. There is no document to complete with until it has
/// a name, so a wait that runs out sends the job to the dead letters (a
/// replay asks again). Returns this attempt's result.
pub fn suspend_for_name(review: &Review, text: &str) -> Result<String, JobError> {
    let wait = jobs::Wait {
        name: WAIT_NAME.into(),
        question: question(review, &[name_question(text)]).to_string(),
        timeout_ms: review.timeout_ms,
        on_timeout: jobs::OnTimeout::DeadLetter,
    };
    jobs::suspend(&wait).map_err(|m| JobError::Retry(format!("cannot ask for review: {m}")))?;
    Ok(json!({ "path": "mapper", "hsds": null, "awaiting_review": true }).to_string())
}

/// The key of a question: what it asks, of which location, about which
/// raw field (none: the whole record).
fn key(q: &Question) -> String {
    format!("{}:{}:{}", q.kind, q.location, q.from)
}

/// Applies the answers to the questions they answer: those leave
/// `mapping.questions` (with their schedules placed, or none when the
/// record has no such value); the rest stay. Returns what was reviewed.
pub fn apply(mapping: &mut Mapping, answers: &Map<String, Value>) -> Vec<Value> {
    let mut reviewed = Vec::new();
    let mut open = Vec::new();
    for q in std::mem::take(&mut mapping.questions) {
        let k = key(&q);
        let Some(answer) = answers.get(&k) else {
            open.push(q);
            continue;
        };
        let Some(text) = answer.as_str() else {
            reviewed.push(json!({ "key": k, "answer": null, "settled": "no such value" }));
            continue;
        };
        let settled = hsds::answer::read(crate::mapped::kind(&q), text)
            .is_some_and(|a| crate::mapped::settle(mapping, &q, a, How::Reviewed));
        if !settled {
            open.push(q);
        }
        reviewed.push(json!({ "key": k, "answer": text, "settled": settled }));
    }
    mapping.questions = open;
    reviewed
}

/// What one question asks a person.
fn prompt(q: &Question) -> String {
    let kind = crate::mapped::kind(q);
    if kind == Kind::Name {
        return "Code could not tell this record's name. What is it?".to_string();
    }
    if q.from.is_empty() {
        return format!(
            "The record is said to give its {}, but code found none. What is it?",
            kind.noun()
        );
    }
    format!(
        "Opening hours of location {}: the record says {:?}. When is it open?",
        q.location + 1,
        q.text
    )
}

/// The question a person sees for `questions`.
fn question(review: &Review, questions: &[Question]) -> Value {
    let context: String = review.raw.chars().take(MAX_CONTEXT_CHARS).collect();
    let items: Vec<Value> = questions
        .iter()
        .map(|q| {
            json!({
                "key": key(q),
                "prompt": prompt(q),
                "text": q.text,
                "candidates": hsds::answer::pieces(crate::mapped::kind(q), &q.text),
            })
        })
        .collect();
    json!({
        "kind": "hsds_review",
        "prompt": "Code could not settle these fields. Pick what the record says, type it \
                   (hours as \"Tue, Thu 10:00-12:00\"), or say it gives none.",
        "context": context,
        "questions": items,
    })
}

/// Asks the host to suspend this job on the review of `questions` once
/// this attempt returns.
pub fn suspend(review: &Review, questions: &[Question]) -> Result<(), JobError> {
    let wait = jobs::Wait {
        name: WAIT_NAME.into(),
        question: question(review, questions).to_string(),
        timeout_ms: review.timeout_ms,
        on_timeout: jobs::OnTimeout::Complete,
    };
    jobs::suspend(&wait)
        .map(drop)
        .map_err(|m| JobError::Retry(format!("cannot ask for review: {m}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOURS: &str = "Monday: 3rd Monday of the Month, 10am or 11am (except holidays)";

    fn mapping_with_question() -> Mapping {
        let record = json!({ "name": "Pantry", "address": "1 Main St, Camden, NJ 08102",
                             "hours": HOURS });
        hsds::mapper::map_record(&record).expect("a mapping")
    }

    #[test]
    fn an_answer_the_parser_reads_becomes_a_reviewed_schedule() {
        let mut m = mapping_with_question();
        assert_eq!(m.questions.len(), 1, "{:?}", m.questions);
        let k = key(&m.questions[0]);
        let answers = json!({ k.clone(): "3rd Monday 10:00-11:00" });
        let reviewed = apply(&mut m, answers.as_object().unwrap());
        assert!(m.questions.is_empty());
        assert_eq!(reviewed[0]["settled"], true);
        let s = &m.draft.value()["location"][0]["schedules"][0];
        assert_eq!(
            (s["byday"].as_str(), s["opens_at"].as_str()),
            (Some("3MO"), Some("10:00"))
        );
        let how = &m.draft.provenance()["/location/0/schedules/0/opens_at"];
        assert_eq!(how.how, How::Reviewed);
    }

    #[test]
    fn none_settles_and_an_unreadable_answer_stays_open() {
        let mut m = mapping_with_question();
        let k = key(&m.questions[0]);
        let none = json!({ k.clone(): null });
        assert_eq!(
            apply(&mut m, none.as_object().unwrap())[0]["settled"],
            "no such value"
        );
        assert!(m.questions.is_empty());
        let mut m = mapping_with_question();
        let vague = json!({ k: "mornings" });
        assert_eq!(
            apply(&mut m, vague.as_object().unwrap())[0]["settled"],
            false
        );
        assert_eq!(m.questions.len(), 1);
    }

    #[test]
    fn the_question_offers_the_records_own_pieces() {
        let m = mapping_with_question();
        let review = Review {
            raw: "raw".into(),
            timeout_ms: 1,
            answers: None,
        };
        let q = question(&review, &m.questions);
        assert_eq!(q["questions"][0]["candidates"], json!([HOURS]));
        assert_eq!(q["context"], "raw");
    }

    #[test]
    fn a_resume_is_told_from_validation_feedback() {
        assert!(is_resume(r#"{"resume": {"name": "review", "value": {}}}"#));
        assert!(!is_resume("- at /organization: missing name"));
        assert!(!is_resume(r#"{"errors": []}"#));
    }
}
