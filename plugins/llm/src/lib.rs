//! `llm`: one LLM generation as a job.
//!
//! Payload: `{"prompt": "..."}` or `{"messages": [{"role", "content"}, ...]}`,
//! optionally `"system"`, `"schema"` (a JSON Schema: the answer is structured
//! and validated by the host), `"model"`, `"temperature"`, `"max_tokens"`.
//! Result: `{"content", "model", "usage": {"prompt_tokens", "completion_tokens"}}`,
//! where `content` is the parsed JSON value when a schema was given and the
//! text otherwise. The job type declares `needs-llm`, so the host's content
//! store answers a repeated payload without calling the provider again.

use deckhand_guest::llm::{self, Message, Request};
use deckhand_guest::{Guest, Job, JobError, JobTypeInfo, PluginInfo, llm_error, payload};
use serde_json::{Value, json};

struct LlmJob;

impl Guest for LlmJob {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "llm".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            job_types: vec![JobTypeInfo {
                name: "llm".into(),
                description: "A prompt or chat messages (and an optional JSON Schema) in, the LLM's answer out.".into(),
                needs_llm: true,
                timeout_ms: Some(300_000),
                memory_limit_bytes: None,
            }],
        }
    }

    fn process(job: Job) -> Result<String, JobError> {
        let p: Value = payload(&job)?;
        let request = request(&p).map_err(JobError::Fail)?;
        let structured = request.response_schema.is_some();
        let answer = llm::generate(&request).map_err(llm_error)?;
        let content = if structured {
            serde_json::from_str(&answer.content).map_err(|e| {
                JobError::Retry(format!(
                    "the host returned structured output that is not JSON: {e}"
                ))
            })?
        } else {
            Value::String(answer.content)
        };
        Ok(json!({
            "content": content,
            "model": answer.model,
            "usage": {
                "prompt_tokens": answer.usage.prompt_tokens,
                "completion_tokens": answer.usage.completion_tokens,
            },
        })
        .to_string())
    }
}

/// The payload as an LLM request; errors name the field that is wrong.
fn request(p: &Value) -> Result<Request, String> {
    let mut messages = Vec::new();
    if let Some(system) = p.get("system") {
        let system = system.as_str().ok_or("`system` must be a string")?;
        messages.push(Message {
            role: "system".into(),
            content: system.into(),
        });
    }
    match (p.get("prompt"), p.get("messages")) {
        (Some(prompt), None) => {
            let prompt = prompt.as_str().ok_or("`prompt` must be a string")?;
            messages.push(Message {
                role: "user".into(),
                content: prompt.into(),
            });
        }
        (None, Some(Value::Array(list))) => {
            for (i, m) in list.iter().enumerate() {
                let role = m["role"]
                    .as_str()
                    .ok_or(format!("messages[{i}].role must be a string"))?;
                if !matches!(role, "system" | "user" | "assistant") {
                    return Err(format!(
                        "messages[{i}].role is {role:?}; use system, user or assistant"
                    ));
                }
                let content = m["content"]
                    .as_str()
                    .ok_or(format!("messages[{i}].content must be a string"))?;
                messages.push(Message {
                    role: role.into(),
                    content: content.into(),
                });
            }
            if list.is_empty() {
                return Err("`messages` is empty".into());
            }
        }
        (None, Some(_)) => return Err("`messages` must be an array".into()),
        (Some(_), Some(_)) => return Err("give `prompt` or `messages`, not both".into()),
        (None, None) => {
            return Err("the payload needs `prompt` (a string) or `messages` (an array)".into());
        }
    }
    let response_schema = match p.get("schema") {
        None | Some(Value::Null) => None,
        Some(s @ Value::Object(_)) => Some(s.to_string()),
        Some(_) => return Err("`schema` must be a JSON Schema object".into()),
    };
    let number = |key: &str| p.get(key).and_then(Value::as_f64);
    Ok(Request {
        messages,
        model: p.get("model").and_then(Value::as_str).map(String::from),
        temperature: number("temperature").map(|t| t as f32),
        max_tokens: number("max_tokens").map(|t| t as u32),
        response_schema,
    })
}

deckhand_guest::export!(LlmJob);
