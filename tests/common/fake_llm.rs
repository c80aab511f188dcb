//! A scripted OpenAI-compatible (and Ollama) HTTP server, standing in for a
//! paid remote LLM API. Each request takes the next scripted answer; every
//! request is recorded (path, body, arrival time) for the test to inspect.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

#[derive(Clone, Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub delay: Duration,
}

impl Answer {
    /// A chat completion whose message content is `content`.
    pub fn content(content: &str) -> Answer {
        Answer::finish(content, "stop")
    }

    /// The answer to a choice question (`{"choice": <enum>}` in the
    /// request's response schema): its first option.
    pub fn first_choice(body: &Value) -> Answer {
        let options =
            &body["response_format"]["json_schema"]["schema"]["properties"]["choice"]["enum"];
        Answer::content(&json!({ "choice": options[0] }).to_string())
    }

    pub fn finish(content: &str, finish_reason: &str) -> Answer {
        Answer::json(json!({
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "model": "fake-model",
            "choices": [{
                "index": 0,
                "message": { "role": "assistant", "content": content },
                "finish_reason": finish_reason,
            }],
            "usage": { "prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18 },
        }))
    }

    pub fn json(body: Value) -> Answer {
        Answer {
            status: 200,
            headers: vec![],
            body: body.to_string(),
            delay: Duration::ZERO,
        }
    }

    pub fn status(status: u16, body: &str) -> Answer {
        Answer {
            status,
            headers: vec![],
            body: body.to_string(),
            delay: Duration::ZERO,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Answer {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn after(mut self, delay: Duration) -> Answer {
        self.delay = delay;
        self
    }
}

#[derive(Clone, Debug)]
pub struct Seen {
    pub path: String,
    pub body: Value,
    pub authorization: Option<String>,
    pub at: Instant,
}

#[derive(Default)]
struct Inner {
    script: VecDeque<Answer>,
    /// Answer given when the script is empty (None: HTTP 500 "script exhausted").
    fallback: Option<Answer>,
    /// Answers computed from the request body, after the script runs out.
    responder: Option<Responder>,
    seen: Vec<Seen>,
}

/// Computes an answer from a request's JSON body.
pub type Responder = Arc<dyn Fn(&Value) -> Answer + Send + Sync>;

#[derive(Clone)]
pub struct FakeLlm {
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
}

impl FakeLlm {
    pub async fn start() -> FakeLlm {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = axum::Router::new()
            .fallback(answer)
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        FakeLlm { addr, inner }
    }

    /// Base URL in the OpenAI style (`.../v1`).
    pub fn url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Base URL for Ollama (no `/v1`).
    pub fn root_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn script(&self, answers: impl IntoIterator<Item = Answer>) {
        self.inner.lock().unwrap().script.extend(answers);
    }

    pub fn always(&self, answer: Answer) {
        self.inner.lock().unwrap().fallback = Some(answer);
    }

    /// Answer every request (once the script is used up) by what it asks:
    /// concurrent jobs each get the answer meant for their own input.
    pub fn respond_with(&self, f: impl Fn(&Value) -> Answer + Send + Sync + 'static) {
        self.inner.lock().unwrap().responder = Some(Arc::new(f));
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.inner.lock().unwrap().seen.clone()
    }

    pub fn calls(&self) -> usize {
        self.inner.lock().unwrap().seen.len()
    }
}

async fn answer(
    State(inner): State<Arc<Mutex<Inner>>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let next = {
        let mut inner = inner.lock().unwrap();
        let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let computed = inner.responder.clone();
        inner.seen.push(Seen {
            path: uri.path().to_string(),
            body: body.clone(),
            authorization: headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
            at: Instant::now(),
        });
        inner
            .script
            .pop_front()
            .or_else(|| computed.map(|f| f(&body)))
            .or_else(|| inner.fallback.clone())
    };
    let Some(a) = next else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "script exhausted").into_response();
    };
    if !a.delay.is_zero() {
        tokio::time::sleep(a.delay).await;
    }
    let mut response = Response::builder().status(a.status);
    response = response.header("content-type", "application/json");
    for (k, v) in &a.headers {
        response = response.header(k, v);
    }
    response.body(axum::body::Body::from(a.body)).unwrap()
}
