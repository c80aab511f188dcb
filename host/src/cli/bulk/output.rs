//! `deckhand bulk`'s output: one JSON line per record, in input order,
//! written as the front of the run finishes, and a line for every record
//! on any exit.

use super::*;

impl Run<'_> {
    /// Writes the finished records at the front of the output order. A
    /// record marked finished whose job Redis no longer has (it came back
    /// empty between the message and this read), or has again unfinished,
    /// is not written: it is followed again, and submitted again if lost.
    pub(super) async fn write_finished(&mut self, out: &mut impl Write) -> Result<(), QueueError> {
        loop {
            let end = (self.written..self.ids.len())
                .take(WRITE_CHUNK)
                .take_while(|&i| self.done[i])
                .last()
                .map_or(self.written, |i| i + 1);
            if end == self.written {
                return Ok(());
            }
            let records = self
                .queue
                .outcomes(&self.followed[self.written..end])
                .await?;
            let (mut stalled, mut lost) = (false, Vec::new());
            for (i, record) in (self.written..end).zip(records) {
                match record {
                    Some(job) if job.status.is_finished() => {
                        if !stalled {
                            let line = self.line(i, Some(&job));
                            writeln!(out, "{line}")
                                .map_err(|e| QueueError::Protocol(e.to_string()))?;
                            self.written = i + 1;
                        }
                    }
                    unfinished => {
                        stalled = true;
                        self.reopen(i);
                        if unfinished.is_none() {
                            lost.push(i);
                        }
                    }
                }
            }
            out.flush()
                .map_err(|e| QueueError::Protocol(e.to_string()))?;
            if !lost.is_empty() {
                eprintln!(
                    "deckhand: Redis no longer has {} finished jobs of this run (it lost data); submitting them again",
                    lost.len()
                );
                return self
                    .submit_indices(&lost)
                    .await
                    .map_err(QueueError::Protocol);
            }
            if stalled {
                return Ok(());
            }
        }
    }

    /// Follows record `i` again: it was marked finished, but is not.
    fn reopen(&mut self, i: usize) {
        self.front = self.front.min(i);
        if self.done[i] {
            self.done[i] = false;
            self.finished -= 1;
        }
    }

    /// Writes a line for every record not written yet: the finished ones
    /// with their outcome, the rest with the status they have now (or
    /// `unknown` when Redis cannot be read).
    pub(super) async fn write_rest(&mut self, out: &mut impl Write) -> anyhow::Result<()> {
        while self.written < self.ids.len() {
            let end = (self.written + WRITE_CHUNK).min(self.ids.len());
            let records = match self.queue.outcomes(&self.followed[self.written..end]).await {
                Ok(r) => r,
                Err(_) => vec![None; end - self.written],
            };
            for (i, record) in (self.written..end).zip(records) {
                writeln!(out, "{}", self.line(i, record.as_ref()))?;
            }
            self.written = end;
        }
        Ok(())
    }

    /// One output line; counts the outcome.
    fn line(&mut self, i: usize, job: Option<&Outcome>) -> String {
        if let Some(line) = job.and_then(|job| completed_line(&self.followed[i], job)) {
            self.counts.completed += 1;
            return line;
        }
        self.value_line(i, job).to_string()
    }

    fn value_line(&mut self, i: usize, job: Option<&Outcome>) -> serde_json::Value {
        let id = self.followed[i].clone();
        let Some(job) = job else {
            self.counts.unfinished += 1;
            return serde_json::json!({ "id": id, "status": "unknown" });
        };
        match job.status {
            JobStatus::Completed => {
                self.counts.completed += 1;
                let result: serde_json::Value = job
                    .result
                    .as_deref()
                    .and_then(|r| serde_json::from_str(r).ok())
                    .unwrap_or(serde_json::Value::Null);
                serde_json::json!({ "id": id, "status": job.status, "result": result })
            }
            JobStatus::Dead | JobStatus::Cancelled => {
                self.counts.failed += 1;
                let error = job
                    .last_error
                    .as_ref()
                    .map(|e| format!("[{}] {}", e.kind, e.message));
                serde_json::json!({ "id": id, "status": job.status, "error": error })
            }
            status => {
                self.counts.unfinished += 1;
                self.counts.waiting += usize::from(status == JobStatus::Suspended);
                serde_json::json!({ "id": id, "status": status })
            }
        }
    }
}

/// A completed job's line with its result written as Redis holds it (the
/// plugin's key order and number spelling kept), not parsed into a tree and
/// printed again: one line per record costs the follower a check, not a
/// parse and a print. `None` (take the tree) when the result is not JSON
/// on one line.
fn completed_line(id: &str, job: &Outcome) -> Option<String> {
    let result = job.result.as_deref()?;
    if job.status != JobStatus::Completed
        || result.contains(['\n', '\r'])
        || serde_json::from_str::<serde::de::IgnoredAny>(result).is_err()
    {
        return None;
    }
    let id = serde_json::to_string(id).ok()?;
    Some(format!(
        r#"{{"id":{id},"result":{result},"status":"completed"}}"#
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn completed(result: &str) -> Outcome {
        Outcome {
            status: JobStatus::Completed,
            result: Some(result.to_string()),
            last_error: None,
        }
    }

    #[test]
    fn a_completed_line_is_the_line_the_parsed_result_gives() {
        for result in [r#"{"a":[1,2,{"b":"x\"y"}]}"#, "null", "3", r#""text""#] {
            let tree: serde_json::Value = serde_json::from_str(result).unwrap();
            let expected =
                serde_json::json!({ "id": "bulk-k-1", "status": "completed", "result": tree });
            let line = completed_line("bulk-k-1", &completed(result));
            assert_eq!(line, Some(expected.to_string()), "{result}");
        }
    }

    #[test]
    fn a_result_that_is_not_one_line_of_json_takes_the_tree() {
        for result in ["{\n  \"a\": 1\n}", "not json", "{\"a\": 1} trailing"] {
            assert_eq!(
                completed_line("bulk-k-1", &completed(result)),
                None,
                "{result}"
            );
        }
    }
}
