//! How each provider is asked for structured output, and how its answer is
//! read back. One request builder and one response parser per dialect.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::runtime::LlmMessage;

/// The wire protocols Deckhand speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dialect {
    /// OpenAI chat completions with
    /// `response_format: {type: "json_schema", json_schema: {name, schema, strict: true}}`.
    JsonSchema,
    /// OpenAI-compatible chat completions with
    /// `response_format: {type: "json_object", schema}`: what llama-cpp-python's
    /// server accepts (it answers `json_schema` with HTTP 500).
    JsonObjectSchema,
    /// Ollama's `/api/chat` with `format: <schema>` and `stream: false`.
    Ollama,
    /// OpenAI-compatible chat completions without schema support: the schema
    /// goes into the system prompt and `response_format: {type: "json_object"}`.
    PromptOnly,
}

/// Which provider a host talks to; decides the dialect unless overridden.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Provider {
    Openai,
    Openrouter,
    Vllm,
    /// llama.cpp's or llama-cpp-python's OpenAI-compatible server.
    Llamacpp,
    Ollama,
    /// Any other OpenAI-compatible server; assumed to lack schema support.
    OpenaiCompatible,
}

impl Provider {
    /// The capability table.
    pub fn dialect(self) -> Dialect {
        match self {
            Provider::Openai | Provider::Openrouter | Provider::Vllm => Dialect::JsonSchema,
            Provider::Llamacpp => Dialect::JsonObjectSchema,
            Provider::Ollama => Dialect::Ollama,
            Provider::OpenaiCompatible => Dialect::PromptOnly,
        }
    }

    /// Where the provider usually listens.
    pub fn default_base_url(self) -> &'static str {
        match self {
            Provider::Openai => "https://api.openai.com/v1",
            Provider::Openrouter => "https://openrouter.ai/api/v1",
            Provider::Vllm => "http://127.0.0.1:8000/v1",
            Provider::Llamacpp | Provider::OpenaiCompatible => "http://127.0.0.1:8080/v1",
            Provider::Ollama => "http://127.0.0.1:11434",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Openai => "openai",
            Provider::Openrouter => "openrouter",
            Provider::Vllm => "vllm",
            Provider::Llamacpp => "llamacpp",
            Provider::Ollama => "ollama",
            Provider::OpenaiCompatible => "openai-compatible",
        }
    }
}

impl std::str::FromStr for Provider {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "openai" => Provider::Openai,
            "openrouter" => Provider::Openrouter,
            "vllm" => Provider::Vllm,
            "llamacpp" | "llama-cpp" | "llama.cpp" => Provider::Llamacpp,
            "ollama" => Provider::Ollama,
            "openai-compatible" => Provider::OpenaiCompatible,
            other => {
                return Err(format!(
                    "unknown LLM provider {other:?} (openai, openrouter, vllm, llamacpp, ollama, openai-compatible)"
                ));
            }
        })
    }
}

/// One call's parameters, after the host's defaults were applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Call<'a> {
    pub model: &'a str,
    pub messages: &'a [LlmMessage],
    pub temperature: Option<f32>,
    pub max_tokens: Option<u32>,
    pub schema: Option<&'a Value>,
}

impl Dialect {
    /// The path under the base URL.
    pub fn path(self) -> &'static str {
        match self {
            Dialect::Ollama => "/api/chat",
            _ => "/chat/completions",
        }
    }

    /// The request body for `call`.
    pub fn body(self, call: &Call<'_>) -> Value {
        let mut messages: Vec<Value> = call
            .messages
            .iter()
            .map(|m| json!({ "role": m.role, "content": m.content }))
            .collect();
        if let (Dialect::PromptOnly, Some(schema)) = (self, call.schema) {
            let instruction = format!(
                "Reply with a single JSON value and nothing else. It must validate against this JSON Schema:\n{schema}"
            );
            messages.insert(0, json!({ "role": "system", "content": instruction }));
        }
        let mut body = json!({ "model": call.model, "messages": messages });
        match self {
            Dialect::Ollama => {
                body["stream"] = json!(false);
                if let Some(schema) = call.schema {
                    body["format"] = schema.clone();
                }
                let mut options = serde_json::Map::new();
                if let Some(t) = call.temperature {
                    options.insert("temperature".into(), json!(t));
                }
                if let Some(n) = call.max_tokens {
                    options.insert("num_predict".into(), json!(n));
                }
                if !options.is_empty() {
                    body["options"] = Value::Object(options);
                }
            }
            _ => {
                if let Some(t) = call.temperature {
                    body["temperature"] = json!(t);
                }
                if let Some(n) = call.max_tokens {
                    body["max_tokens"] = json!(n);
                }
                if let Some(schema) = call.schema {
                    body["response_format"] = match self {
                        Dialect::JsonSchema => json!({
                            "type": "json_schema",
                            "json_schema": { "name": "response", "schema": schema, "strict": true },
                        }),
                        Dialect::JsonObjectSchema => {
                            json!({ "type": "json_object", "schema": enforceable_enums(schema) })
                        }
                        _ => json!({ "type": "json_object" }),
                    };
                }
            }
        }
        body
    }

    /// Reads a 200 answer. Error bodies, missing content and truncation are
    /// errors, never a result.
    pub fn parse(self, body: &Value) -> Result<Reply, ReplyError> {
        if let Some(error) = body.get("error").filter(|e| !e.is_null()) {
            let message = error
                .get("message")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| error.to_string());
            return Err(ReplyError::ErrorBody(message));
        }
        let (content, finish, prompt, completion, model) = match self {
            Dialect::Ollama => (
                body.pointer("/message/content").and_then(Value::as_str),
                body.get("done_reason").and_then(Value::as_str),
                body.get("prompt_eval_count").and_then(Value::as_u64),
                body.get("eval_count").and_then(Value::as_u64),
                body.get("model").and_then(Value::as_str),
            ),
            _ => (
                body.pointer("/choices/0/message/content")
                    .and_then(Value::as_str),
                body.pointer("/choices/0/finish_reason")
                    .and_then(Value::as_str),
                body.pointer("/usage/prompt_tokens").and_then(Value::as_u64),
                body.pointer("/usage/completion_tokens")
                    .and_then(Value::as_u64),
                body.get("model").and_then(Value::as_str),
            ),
        };
        let usage = (
            prompt.unwrap_or(0).min(u64::from(u32::MAX)) as u32,
            completion.unwrap_or(0).min(u64::from(u32::MAX)) as u32,
        );
        if finish == Some("length") {
            return Err(ReplyError::Truncated { usage });
        }
        let Some(content) = content else {
            return Err(ReplyError::NoContent(truncate(&body.to_string(), 300)));
        };
        let cached = body
            .pointer("/usage/prompt_tokens_details/cached_tokens")
            .and_then(Value::as_u64)
            .unwrap_or(0)
            .min(u64::from(usage.0)) as u32;
        Ok(Reply {
            content: content.to_string(),
            model: model.map(str::to_string),
            prompt_tokens: usage.0,
            cached_tokens: cached,
            completion_tokens: usage.1,
        })
    }
}

/// What a provider answered.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub content: String,
    pub model: Option<String>,
    pub prompt_tokens: u32,
    /// Of `prompt_tokens`, those served from the provider's prompt cache.
    pub cached_tokens: u32,
    pub completion_tokens: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ReplyError {
    /// HTTP 200 with an `error` object.
    ErrorBody(String),
    /// The answer stopped at max_tokens (prompt, completion tokens spent).
    Truncated { usage: (u32, u32) },
    /// No message content where the dialect puts it.
    NoContent(String),
}

pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// The schema with every nullable enum (`"type": ["string", "null"]` with
/// an `enum`) written as an enum that lists `null`, without the type list.
/// llama-cpp-python's grammar builder reads a list-valued `type` before it
/// looks at `enum`, so a nullable enum there constrains nothing (an answer
/// gave `freq: ");"`); an enum alone it enforces, `null` included.
pub fn enforceable_enums(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => {
            let mut out: serde_json::Map<String, Value> = map
                .iter()
                .map(|(k, v)| (k.clone(), enforceable_enums(v)))
                .collect();
            let nullable = out
                .get("type")
                .and_then(Value::as_array)
                .is_some_and(|t| t.iter().any(|x| x == "null"));
            if nullable && let Some(Value::Array(values)) = out.get_mut("enum") {
                if !values.contains(&Value::Null) {
                    values.push(Value::Null);
                }
                out.remove("type");
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(enforceable_enums).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nullable_enums_become_enums_that_list_null() {
        let schema = json!({
            "type": "object",
            "properties": {
                "freq": { "type": ["string", "null"], "enum": ["WEEKLY", "MONTHLY"] },
                "kind": { "type": "string", "enum": ["a"] },
                "name": { "type": ["string", "null"] }
            }
        });
        let out = enforceable_enums(&schema);
        assert_eq!(
            out["properties"]["freq"],
            json!({ "enum": ["WEEKLY", "MONTHLY", null] })
        );
        assert_eq!(out["properties"]["kind"], schema["properties"]["kind"]);
        assert_eq!(out["properties"]["name"], schema["properties"]["name"]);
        let call = Call {
            model: "m",
            messages: &[],
            temperature: None,
            max_tokens: None,
            schema: Some(&schema),
        };
        let body = Dialect::JsonObjectSchema.body(&call);
        assert_eq!(
            body["response_format"]["schema"]["properties"]["freq"]["enum"],
            json!(["WEEKLY", "MONTHLY", null])
        );
    }
}
