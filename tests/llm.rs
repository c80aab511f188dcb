//! The host's LLM client against a scripted fake OpenAI-compatible server
//! (standing in for a paid remote API), plus an opt-in run against a real
//! local LLM server.

use crate::common;

use std::time::Duration;

use common::fake_llm::{Answer, FakeLlm};
use common::redis::TestRedis;
use deckhand::llm::{Dialect, LlmClient, LlmConfig, Provider};
use deckhand::queue::{Queue, QueueConfig};
use deckhand::runtime::{LlmError, LlmMessage, LlmRequest};
use serde_json::{Value, json};

mod shared;

fn config(fake: &FakeLlm, provider: Provider) -> LlmConfig {
    LlmConfig {
        provider,
        base_url: if provider == Provider::Ollama {
            fake.root_url()
        } else {
            fake.url()
        },
        model: "test-model".into(),
        api_key_env: String::new(),
        timeout_secs: 5.0,
        max_http_attempts: 4,
        max_schema_attempts: 3,
        ..LlmConfig::default()
    }
}

fn client(fake: &FakeLlm) -> LlmClient {
    LlmClient::new(config(fake, Provider::Openai), None).unwrap()
}

fn schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "name": { "type": "string", "minLength": 1 },
            "email": { "type": "string", "format": "email" }
        },
        "required": ["name"],
        "additionalProperties": false
    })
}

fn request(with_schema: bool) -> LlmRequest {
    LlmRequest {
        messages: vec![LlmMessage {
            role: "user".into(),
            content: "Extract the pantry.".into(),
        }],
        model: None,
        temperature: Some(0.0),
        max_tokens: Some(200),
        response_schema: with_schema.then(|| schema().to_string()),
    }
}

#[tokio::test]
async fn valid_structured_output_is_returned_with_its_usage() {
    let fake = FakeLlm::start().await;
    fake.script([Answer::content(r#"{"name":"Food Bank"}"#)]);
    let r = client(&fake).generate(&request(true)).await.unwrap();
    assert_eq!(r.content, r#"{"name":"Food Bank"}"#);
    assert_eq!((r.prompt_tokens, r.completion_tokens), (11, 7));
    assert_eq!(r.model, "fake-model");
    assert!(!r.cached);
    assert_eq!(fake.calls(), 1);
}

#[tokio::test]
async fn fenced_json_is_unwrapped() {
    let fake = FakeLlm::start().await;
    fake.script([Answer::content("```json\n{\"name\": \"Pantry\"}\n```")]);
    let r = client(&fake).generate(&request(true)).await.unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&r.content).unwrap(),
        json!({"name": "Pantry"})
    );
}

#[tokio::test]
async fn invalid_json_is_asked_again_with_the_error_as_feedback() {
    let fake = FakeLlm::start().await;
    fake.script([
        Answer::content(r#"{"name": "Pantry""#),
        Answer::content(r#"{"name":"Pantry"}"#),
    ]);
    let r = client(&fake).generate(&request(true)).await.unwrap();
    assert_eq!(r.content, r#"{"name":"Pantry"}"#);
    assert_eq!(
        (r.prompt_tokens, r.completion_tokens),
        (22, 14),
        "usage of both asks"
    );
    let seen = fake.seen();
    assert_eq!(seen.len(), 2);
    let messages = seen[1].body["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 3);
    assert_eq!(messages[1]["role"], "assistant");
    assert_eq!(messages[1]["content"], r#"{"name": "Pantry""#);
    assert!(
        messages[2]["content"]
            .as_str()
            .unwrap()
            .contains("not valid JSON")
    );
}

#[tokio::test]
async fn schema_violations_are_asked_again_and_formats_are_checked() {
    let fake = FakeLlm::start().await;
    fake.script([
        Answer::content(r#"{"name":"Pantry","email":"not-an-email"}"#),
        Answer::content(r#"{"name":"Pantry","email":"help@pantry.org"}"#),
    ]);
    let r = client(&fake).generate(&request(true)).await.unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&r.content).unwrap()["email"],
        "help@pantry.org"
    );
    let feedback = fake.seen()[1].body["messages"][2]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        feedback.contains("/email") && feedback.contains("email"),
        "{feedback}"
    );

    // Always wrong: a typed error after the bound, never a result.
    let fake = FakeLlm::start().await;
    fake.always(Answer::content(r#"{"nome":"typo"}"#));
    let err = client(&fake).generate(&request(true)).await.unwrap_err();
    assert!(
        matches!(&err, LlmError::InvalidResponse(m) if m.contains("after 3 attempts")),
        "{err}"
    );
    assert_eq!(fake.calls(), 3);
}

#[tokio::test]
async fn a_truncated_answer_is_an_error() {
    let fake = FakeLlm::start().await;
    fake.script([Answer::finish(r#"{"name":"Pan"#, "length")]);
    let err = client(&fake).generate(&request(false)).await.unwrap_err();
    assert!(
        matches!(&err, LlmError::InvalidResponse(m) if m.contains("cut off")),
        "{err}"
    );
    assert_eq!(fake.calls(), 1);
}

#[tokio::test]
async fn an_error_body_with_http_200_is_an_error() {
    let fake = FakeLlm::start().await;
    fake.script([Answer::json(
        json!({"error": {"message": "upstream overloaded", "code": 502}}),
    )]);
    let err = client(&fake).generate(&request(false)).await.unwrap_err();
    assert!(
        matches!(&err, LlmError::Unavailable(m) if m.contains("upstream overloaded")),
        "{err}"
    );
}

#[tokio::test]
async fn rate_limits_honour_retry_after_and_cool_down_every_host() {
    let redis = TestRedis::start();
    let queue = Queue::connect(&redis.url(), QueueConfig::default())
        .await
        .unwrap();
    let fake = FakeLlm::start().await;
    fake.script([
        Answer::status(429, r#"{"error":{"message":"slow down"}}"#).header("retry-after", "1"),
        Answer::content("hello"),
    ]);
    let host_a = LlmClient::new(config(&fake, Provider::Openai), Some(queue.clone())).unwrap();
    let r = host_a.generate(&request(false)).await.unwrap();
    assert_eq!(r.content, "hello");
    let seen = fake.seen();
    assert_eq!(seen.len(), 2);
    let waited = seen[1].at - seen[0].at;
    assert!(
        waited >= Duration::from_millis(950),
        "waited only {waited:?}"
    );
    assert_eq!(queue.stats().await.unwrap()["llm_rate_limited"], 1);

    // A cooldown set by one host pauses the others' calls until it passes.
    fake.script([Answer::content("after the cooldown")]);
    queue
        .set_cooldown("openai", Duration::from_millis(800))
        .await
        .unwrap();
    let set_at = std::time::Instant::now();
    let host_b = LlmClient::new(config(&fake, Provider::Openai), Some(queue.clone())).unwrap();
    host_b.generate(&request(false)).await.unwrap();
    let arrived = fake.seen()[2].at;
    assert!(
        arrived.duration_since(set_at) >= Duration::from_millis(700),
        "called during the cooldown"
    );
}

#[tokio::test]
async fn server_errors_are_retried_then_given_up() {
    let fake = FakeLlm::start().await;
    fake.script([
        Answer::status(500, "boom"),
        Answer::status(503, "busy"),
        Answer::content("ok"),
    ]);
    assert_eq!(
        client(&fake)
            .generate(&request(false))
            .await
            .unwrap()
            .content,
        "ok"
    );
    assert_eq!(fake.calls(), 3);

    let fake = FakeLlm::start().await;
    fake.always(Answer::status(502, "bad gateway"));
    let err = client(&fake).generate(&request(false)).await.unwrap_err();
    assert!(
        matches!(&err, LlmError::Unavailable(m) if m.contains("after 4 attempts") && m.contains("502")),
        "{err}"
    );
    assert_eq!(fake.calls(), 4);
}

#[tokio::test]
async fn a_hang_past_the_timeout_is_unavailable() {
    let fake = FakeLlm::start().await;
    fake.always(Answer::content("too late").after(Duration::from_secs(5)));
    let mut cfg = config(&fake, Provider::Openai);
    cfg.timeout_secs = 0.3;
    cfg.max_http_attempts = 2;
    let err = LlmClient::new(cfg, None)
        .unwrap()
        .generate(&request(false))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, LlmError::Unavailable(m) if m.contains("no answer within")),
        "{err}"
    );
    assert_eq!(fake.calls(), 2);
}

#[tokio::test]
async fn refused_credentials_fail_fast() {
    let fake = FakeLlm::start().await;
    fake.always(Answer::status(401, r#"{"error":{"message":"bad key"}}"#));
    // SAFETY: set before the client reads it; no other thread reads this variable.
    unsafe { std::env::set_var("DECKHAND_TEST_KEY_401", "sk-test") };
    let mut cfg = config(&fake, Provider::Openai);
    cfg.api_key_env = "DECKHAND_TEST_KEY_401".into();
    let err = LlmClient::new(cfg, None)
        .unwrap()
        .generate(&request(false))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, LlmError::NotConfigured(m) if m.contains("401") && m.contains("DECKHAND_TEST_KEY_401")),
        "{err}"
    );
    assert_eq!(fake.calls(), 1, "no retries on 401");
    assert_eq!(
        fake.seen()[0].authorization.as_deref(),
        Some("Bearer sk-test")
    );
}

#[tokio::test]
async fn a_bad_schema_is_refused_before_any_call() {
    let fake = FakeLlm::start().await;
    let mut req = request(false);
    req.response_schema = Some(r#"{"type": "no-such-type"}"#.into());
    let err = client(&fake).generate(&req).await.unwrap_err();
    assert!(matches!(err, LlmError::InvalidRequest(_)), "{err}");
    assert_eq!(fake.calls(), 0);
}

/// Each dialect's request body, field by field.
#[tokio::test]
async fn each_dialect_sends_the_request_it_should() {
    let fake = FakeLlm::start().await;
    fake.always(Answer::content(r#"{"name":"x"}"#));

    let cases = [
        (Provider::Openai, Dialect::JsonSchema),
        (Provider::Llamacpp, Dialect::JsonObjectSchema),
        (Provider::OpenaiCompatible, Dialect::PromptOnly),
    ];
    for (n, (provider, dialect)) in cases.into_iter().enumerate() {
        let c = LlmClient::new(config(&fake, provider), None).unwrap();
        assert_eq!(c.dialect(), dialect);
        c.generate(&request(true)).await.unwrap();
        let seen = &fake.seen()[n];
        assert_eq!(seen.path, "/v1/chat/completions");
        let body = &seen.body;
        assert_eq!(body["model"], "test-model");
        assert_eq!(body["temperature"], 0.0);
        assert_eq!(body["max_tokens"], 200);
        match dialect {
            Dialect::JsonSchema => {
                assert_eq!(body["messages"].as_array().unwrap().len(), 1);
                assert_eq!(body["response_format"]["type"], "json_schema");
                assert_eq!(body["response_format"]["json_schema"]["name"], "response");
                assert_eq!(body["response_format"]["json_schema"]["strict"], true);
                assert_eq!(body["response_format"]["json_schema"]["schema"], schema());
            }
            Dialect::JsonObjectSchema => {
                assert_eq!(body["messages"].as_array().unwrap().len(), 1);
                assert_eq!(
                    body["response_format"],
                    json!({"type": "json_object", "schema": schema()})
                );
            }
            Dialect::PromptOnly => {
                assert_eq!(body["response_format"], json!({"type": "json_object"}));
                let messages = body["messages"].as_array().unwrap();
                assert_eq!(messages.len(), 2);
                assert_eq!(messages[0]["role"], "system");
                let system = messages[0]["content"].as_str().unwrap();
                assert!(
                    system.contains("JSON Schema") && system.contains("\"required\":[\"name\"]")
                );
                assert_eq!(messages[1]["content"], "Extract the pantry.");
            }
            Dialect::Ollama => unreachable!(),
        }
        assert_eq!(body.as_object().unwrap().len(), 5, "{body}");
    }

    // Ollama: its own path, body and answer shape.
    let fake = FakeLlm::start().await;
    fake.script([Answer::json(json!({
        "model": "llama3",
        "message": {"role": "assistant", "content": "{\"name\":\"y\"}"},
        "done": true,
        "done_reason": "stop",
        "prompt_eval_count": 5,
        "eval_count": 3,
    }))]);
    let c = LlmClient::new(config(&fake, Provider::Ollama), None).unwrap();
    assert_eq!(c.dialect(), Dialect::Ollama);
    let r = c.generate(&request(true)).await.unwrap();
    assert_eq!(r.content, r#"{"name":"y"}"#);
    assert_eq!((r.prompt_tokens, r.completion_tokens), (5, 3));
    let seen = &fake.seen()[0];
    assert_eq!(seen.path, "/api/chat");
    assert_eq!(
        seen.body,
        json!({
            "model": "test-model",
            "messages": [{"role": "user", "content": "Extract the pantry."}],
            "stream": false,
            "format": schema(),
            "options": {"temperature": 0.0, "num_predict": 200},
        })
    );
}

/// A client of the real local LLM server at `url` (`local-llm.sh`'s
/// llama.cpp), asking at most `max_schema_attempts` times for an answer
/// that fits the schema.
fn real_llm(url: String, max_schema_attempts: u32) -> LlmClient {
    let cfg = LlmConfig {
        provider: Provider::Llamacpp,
        base_url: url,
        model: std::env::var("DECKHAND_TEST_LLM_MODEL").unwrap_or_else(|_| "local".into()),
        api_key_env: String::new(),
        timeout_secs: 300.0,
        max_schema_attempts,
        ..LlmConfig::default()
    };
    LlmClient::new(cfg, None).unwrap()
}

/// The json_object+schema dialect against a real local LLM server
/// (`../shared/tools/local-llm.sh`), when `DECKHAND_TEST_LLM_URL` names it.
#[tokio::test]
async fn json_object_schema_dialect_against_a_real_local_llm() {
    let Ok(url) = std::env::var("DECKHAND_TEST_LLM_URL") else {
        eprintln!(
            "skipped: set DECKHAND_TEST_LLM_URL (e.g. http://127.0.0.1:8080/v1) to run against a real LLM"
        );
        return;
    };
    let c = real_llm(url, 3);
    let mut req = request(false);
    // The server's grammar enforces structure, not string formats (a tiny
    // model will put anything in an `email`), so this schema has none.
    req.response_schema = Some(
        json!({
            "type": "object",
            "properties": { "name": { "type": "string", "minLength": 1 } },
            "required": ["name"],
            "additionalProperties": false
        })
        .to_string(),
    );
    req.messages[0].content =
        "Give the name of a food pantry in JSON, as {\"name\": \"...\"}.".into();
    let r = c.generate(&req).await.unwrap();
    let value: Value = serde_json::from_str(&r.content).unwrap();
    assert!(
        value["name"].as_str().is_some_and(|n| !n.is_empty()),
        "{value}"
    );
}

/// A nullable enum (`"type": ["string", "null"]` with `enum`), as the HSDS
/// schema converter writes optional enums, is enforced by the real
/// llama.cpp server once the dialect lists `null` in the enum: asked for a
/// value outside it, the model can only answer one of the enum's. Runs when
/// `DECKHAND_TEST_LLM_URL` names a server (`../shared/tools/local-llm.sh`).
#[tokio::test]
async fn a_nullable_enum_is_enforced_by_a_real_local_llm() {
    let Ok(url) = std::env::var("DECKHAND_TEST_LLM_URL") else {
        eprintln!("skipped: set DECKHAND_TEST_LLM_URL to run against a real LLM");
        return;
    };
    let c = real_llm(url, 1);
    let allowed = [json!("WEEKLY"), json!("MONTHLY"), Value::Null];
    for tempting in ["Hourly", "daily", ");"] {
        let mut req = request(false);
        req.max_tokens = Some(40);
        req.response_schema = Some(
            json!({
                "type": "object",
                "properties": {
                    "freq": { "type": ["string", "null"], "enum": ["WEEKLY", "MONTHLY"] }
                },
                "required": ["freq"],
                "additionalProperties": false
            })
            .to_string(),
        );
        req.messages[0].content =
            format!("Reply with exactly this JSON and nothing else: {{\"freq\": \"{tempting}\"}}");
        let r = c.generate(&req).await.unwrap();
        let value: Value = serde_json::from_str(&r.content).unwrap();
        assert!(
            allowed.contains(&value["freq"]),
            "asked for {tempting:?}, the server let through {value}"
        );
    }
}
