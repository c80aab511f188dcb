//! The secret values a job has read, blanked out of everything it says on
//! its way out: its log lines, its output, its result and its errors. A
//! secret reaches only where the plugin sends it (a request to a granted
//! host); never the host's log, the job's record, a trace or `/metrics`.

use std::borrow::Cow;

use crate::job::JobFailure;

/// What a secret is replaced with.
pub(crate) const BLANK: &str = "[secret]";

#[derive(Debug, Default)]
pub(crate) struct Secrets {
    values: Vec<String>,
}

impl Secrets {
    /// Remembers a secret the job read (empty ones blank nothing).
    pub(crate) fn add(&mut self, value: &str) {
        if !value.is_empty() && !self.values.iter().any(|v| v == value) {
            self.values.push(value.to_string());
            // The longest first, so a secret that holds another is
            // blanked whole.
            self.values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        }
    }

    pub(crate) fn scrub<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(text);
        for value in &self.values {
            if out.contains(value.as_str()) {
                out = Cow::Owned(out.replace(value.as_str(), BLANK));
            }
            // A secret in a JSON string is written with its escapes.
            let escaped = serde_json::to_string(value).unwrap_or_default();
            let escaped = escaped.trim_matches('"');
            if escaped != value && !escaped.is_empty() && out.contains(escaped) {
                out = Cow::Owned(out.replace(escaped, BLANK));
            }
        }
        out
    }

    fn owned(&self, text: String) -> String {
        match self.scrub(&text) {
            Cow::Borrowed(_) => text,
            Cow::Owned(t) => t,
        }
    }

    /// An attempt's outcome with every secret blanked out.
    pub(crate) fn scrub_outcome(
        &self,
        outcome: Result<String, JobFailure>,
    ) -> Result<String, JobFailure> {
        if self.values.is_empty() {
            return outcome;
        }
        match outcome {
            Ok(result) => Ok(self.owned(result)),
            Err(failure) => Err(match failure {
                JobFailure::Retry { message } => JobFailure::Retry {
                    message: self.owned(message),
                },
                JobFailure::Fail { message } => JobFailure::Fail {
                    message: self.owned(message),
                },
                JobFailure::RetryWithFeedback { message, feedback } => {
                    JobFailure::RetryWithFeedback {
                        message: self.owned(message),
                        feedback: self.owned(feedback),
                    }
                }
                JobFailure::Trap { message } => JobFailure::Trap {
                    message: self.owned(message),
                },
                JobFailure::BadResult { message } => JobFailure::BadResult {
                    message: self.owned(message),
                },
                JobFailure::Instantiate { message } => JobFailure::Instantiate {
                    message: self.owned(message),
                },
                other => other,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_blanked_whole_and_in_their_json_spelling() {
        let mut s = Secrets::default();
        s.add("tok\"en");
        s.add("tok");
        s.add("");
        assert_eq!(s.scrub("a tok\"en b tok"), "a [secret] b [secret]");
        assert_eq!(s.scrub(r#"{"k":"tok\"en"}"#), r#"{"k":"[secret]"}"#);
        let result = s.scrub_outcome(Ok(r#"{"k":"tok"}"#.into())).unwrap();
        assert_eq!(result, r#"{"k":"[secret]"}"#);
        let failed = s.scrub_outcome(Err(JobFailure::Fail {
            message: "bad tok".into(),
        }));
        assert_eq!(
            failed.unwrap_err(),
            JobFailure::Fail {
                message: "bad [secret]".into()
            }
        );
        assert_eq!(s.scrub("nothing here"), "nothing here");
    }
}
