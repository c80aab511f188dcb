//! The rows of a fan-out run, as its job's result describes them: the host
//! knows no plugin's naming. A job that fans out (the `bulk` plugin's, or
//! any other) says in its result
//!
//! ```json
//! "rows": {"count": 120, "offset": 0,
//!          "jobs": [{"name": "alignment", "id": "run.align.{i}"},
//!                   {"name": "validation", "id": "run.validate.{i}"}],
//!          "verdict": "validation"}
//! ```
//!
//! Row `i` (0 to `count`) is made of the named jobs, `{i}` in each id
//! replaced by `offset + i`; its state is the verdict job's result `status`
//! when it gives one, else the status of the first of its jobs that did not
//! complete, else the verdict job's (the last job's when no verdict is
//! named); its score is the verdict's result `score`.

use serde_json::{Value, json};

use crate::queue::Outcome;

/// Rows one run may say it has at most.
const MAX_ROWS: u64 = 10_000_000;
/// Jobs one row is made of at most.
const MAX_ROW_JOBS: usize = 8;
/// The longest name or id template.
const MAX_NAME_LEN: usize = 64;
const MAX_TEMPLATE_LEN: usize = 256;
/// What an id template marks the row's index with.
const INDEX: &str = "{i}";

/// A run's rows.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Rows {
    pub count: usize,
    offset: usize,
    /// (name, id template) of each job of a row, in order.
    jobs: Vec<(String, String)>,
    /// The job whose result gives the row's state and score.
    verdict: usize,
}

impl Rows {
    /// The rows a job's result describes: `Ok(None)` when it describes
    /// none, an error naming what is wrong when its `rows` cannot be read.
    pub fn of_result(result: &Value) -> Result<Option<Rows>, String> {
        let Some(rows) = result.get("rows").filter(|r| !r.is_null()) else {
            return Ok(None);
        };
        let number = |key: &str| match rows.get(key) {
            None | Some(Value::Null) if key == "offset" => Ok(0),
            Some(v) => v
                .as_u64()
                .filter(|n| *n <= MAX_ROWS)
                .and_then(|n| usize::try_from(n).ok())
                .ok_or(format!("rows.{key} must be 0 to {MAX_ROWS}, not {v}")),
            None => Err(format!("rows.{key} is missing")),
        };
        let (count, offset) = (number("count")?, number("offset")?);
        let listed = rows["jobs"].as_array().ok_or("rows.jobs must be a list")?;
        if listed.is_empty() || listed.len() > MAX_ROW_JOBS {
            return Err(format!("rows.jobs must list 1 to {MAX_ROW_JOBS} jobs"));
        }
        let mut jobs = Vec::with_capacity(listed.len());
        for job in listed {
            let (Some(name), Some(id)) = (job["name"].as_str(), job["id"].as_str()) else {
                return Err(format!("rows.jobs: {job} needs a `name` and an `id`"));
            };
            let named = !name.is_empty()
                && name.len() <= MAX_NAME_LEN
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
            if !named {
                return Err(format!(
                    "rows.jobs: {name:?} is not a name (letters, digits, _)"
                ));
            }
            if id.len() > MAX_TEMPLATE_LEN || id.matches(INDEX).count() != 1 {
                return Err(format!("rows.jobs: the id {id:?} must hold {INDEX} once"));
            }
            jobs.push((name.to_string(), id.to_string()));
        }
        let verdict = match rows["verdict"].as_str() {
            None => jobs.len() - 1,
            Some(v) => jobs
                .iter()
                .position(|(name, _)| name == v)
                .ok_or(format!("rows.verdict {v:?} is none of the jobs"))?,
        };
        Ok(Some(Rows {
            count,
            offset,
            jobs,
            verdict,
        }))
    }

    /// The names of a row's jobs, in order: the columns of a page.
    pub fn names(&self) -> Vec<&str> {
        self.jobs.iter().map(|(name, _)| name.as_str()).collect()
    }

    /// The ids of row `i`'s jobs, in order.
    pub fn ids(&self, i: usize) -> Vec<String> {
        let index = (self.offset + i).to_string();
        self.jobs
            .iter()
            .map(|(_, template)| template.replacen(INDEX, &index, 1))
            .collect()
    }

    /// Row `i`, from its jobs' outcomes (in the order of [`Rows::ids`]);
    /// with the verdict's result when `with_result`.
    pub fn row(&self, i: usize, out: &[Option<Outcome>], with_result: bool) -> Value {
        let ids = self.ids(i);
        let outcome = |k: usize| out.get(k).and_then(Option::as_ref);
        let status = |k: usize| outcome(k).map_or("missing", |o| o.status.as_str());
        let verdict: Option<Value> = outcome(self.verdict)
            .and_then(|o| o.result.as_deref())
            .and_then(|r| serde_json::from_str(r).ok());
        let state = match &verdict {
            Some(r) if r["status"].is_string() => r["status"].clone(),
            _ => match (0..ids.len()).find(|&k| status(k) != "completed") {
                Some(k) if k != self.verdict => json!(status(k)),
                _ => json!(status(self.verdict)),
            },
        };
        let mut row = json!({
            "index": i,
            "state": state,
            "score": verdict.as_ref().map_or(Value::Null, |r| r["score"].clone()),
        });
        for (k, ((name, _), id)) in self.jobs.iter().zip(&ids).enumerate() {
            let mut job = json!({ "id": id, "status": status(k) });
            if let Some(e) = outcome(k).and_then(|o| o.last_error.as_ref()) {
                job["error"] = json!(format!("[{}] {}", e.kind, e.message));
            }
            if with_result && k == self.verdict {
                job["result"] = verdict.clone().unwrap_or(Value::Null);
            }
            row[name.as_str()] = job;
        }
        row
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::JobStatus;

    fn bulk(rows: Value) -> Result<Option<Rows>, String> {
        Rows::of_result(&json!({ "records": 2, "rows": rows }))
    }

    fn two_jobs() -> Value {
        json!({ "count": 2, "offset": 10, "verdict": "validation", "jobs": [
            { "name": "alignment", "id": "r.align.{i}" },
            { "name": "validation", "id": "r.validate.{i}" } ] })
    }

    #[test]
    fn a_result_describes_its_rows_or_says_what_is_wrong() {
        assert_eq!(Rows::of_result(&json!({ "n": 3 })), Ok(None));
        let rows = bulk(two_jobs()).unwrap().unwrap();
        assert_eq!(rows.ids(1), ["r.align.11", "r.validate.11"]);
        assert_eq!(rows.names(), ["alignment", "validation"]);
        for (bad, word) in [
            (json!({ "count": -1, "jobs": [] }), "rows.count"),
            (json!({ "count": 1 }), "rows.jobs"),
            (
                json!({ "count": 1, "jobs": [{ "name": "a", "id": "x" }] }),
                "{i}",
            ),
            (
                json!({ "count": 1, "jobs": [{ "name": "a b", "id": "{i}" }] }),
                "not a name",
            ),
            (
                json!({ "count": 1, "jobs": [{ "name": "a", "id": "{i}" }], "verdict": "b" }),
                "none of the jobs",
            ),
        ] {
            let e = bulk(bad.clone()).expect_err("refused");
            assert!(e.contains(word), "{bad}: {e}");
        }
    }

    #[test]
    fn a_rows_state_comes_from_the_verdict_else_the_first_unfinished_job() {
        let rows = bulk(two_jobs()).unwrap().unwrap();
        let done = |result: Option<&str>| {
            Some(Outcome {
                status: JobStatus::Completed,
                result: result.map(String::from),
                last_error: None,
            })
        };
        let verdict = rows.row(
            0,
            &[
                done(None),
                done(Some(r#"{"status":"verified","score":97}"#)),
            ],
            true,
        );
        assert_eq!(
            (&verdict["state"], &verdict["score"]),
            (&json!("verified"), &json!(97))
        );
        assert_eq!(verdict["validation"]["result"]["score"], 97);
        let suspended = Some(Outcome {
            status: JobStatus::Suspended,
            result: None,
            last_error: None,
        });
        let waiting = rows.row(0, &[suspended, None], false);
        assert_eq!(waiting["state"], "suspended");
        assert_eq!(waiting["validation"]["status"], "missing");
    }
}
