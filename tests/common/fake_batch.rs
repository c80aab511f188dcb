//! A fake OpenAI-compatible server with the Batch API, standing in for a
//! paid provider: files (upload, content), batches (create, list, status
//! that moves over time, output and error files, expiry), and live chat
//! completions. Answers are computed from each request by the test's
//! function, so a call answered through a batch or live gets the same.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

/// The content an answer carries for a request body (batch or live).
pub type Answerer = Arc<dyn Fn(&Value, Lane) -> String + Send + Sync>;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Lane {
    Batch,
    Live,
}

struct Batch {
    id: String,
    input: String,
    metadata: Value,
    created: Instant,
}

#[derive(Default)]
struct Inner {
    files: HashMap<String, String>,
    batches: Vec<Batch>,
    live: Vec<Value>,
    uploads: usize,
    /// Batches stay `in_progress` while held.
    held: bool,
    complete_after: Duration,
    /// Batches end `expired`, with output for the first half of their lines.
    expire: bool,
}

#[derive(Clone)]
pub struct FakeBatch {
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
    answer: Answerer,
}

impl FakeBatch {
    pub async fn start(
        answer: impl Fn(&Value, Lane) -> String + Send + Sync + 'static,
    ) -> FakeBatch {
        let fake = FakeBatch {
            addr: "127.0.0.1:0".parse().unwrap(),
            inner: Arc::new(Mutex::new(Inner::default())),
            answer: Arc::new(answer),
        };
        let app = axum::Router::new()
            .route("/v1/files", post(upload))
            .route("/v1/files/{id}/content", get(content))
            .route("/v1/batches", post(create).get(list))
            .route("/v1/batches/{id}", get(status))
            .route("/v1/chat/completions", post(live))
            .with_state(fake.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeBatch { addr, ..fake }
    }

    pub fn url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    pub fn hold(&self, held: bool) {
        self.inner.lock().unwrap().held = held;
    }

    pub fn expire(&self) {
        self.inner.lock().unwrap().expire = true;
    }

    /// Batches made so far, and the custom ids each one carried.
    pub fn batches(&self) -> Vec<Vec<String>> {
        let inner = self.inner.lock().unwrap();
        inner
            .batches
            .iter()
            .map(|b| lines(&inner.files, &b.input).map(|(id, _)| id).collect())
            .collect()
    }

    /// The prompts of batch `k`'s lines, in its order.
    pub fn batch_prompts(&self, k: usize) -> Vec<String> {
        let inner = self.inner.lock().unwrap();
        lines(&inner.files, &inner.batches[k].input)
            .map(|(_, body)| {
                body["messages"][0]["content"]
                    .as_str()
                    .unwrap_or("")
                    .to_string()
            })
            .collect()
    }

    pub fn uploads(&self) -> usize {
        self.inner.lock().unwrap().uploads
    }

    /// The live calls' request bodies.
    pub fn live(&self) -> Vec<Value> {
        self.inner.lock().unwrap().live.clone()
    }
}

/// A file's lines as (custom id, request body).
fn lines<'a>(
    files: &'a HashMap<String, String>,
    file: &str,
) -> impl Iterator<Item = (String, Value)> + 'a {
    files
        .get(file)
        .map(|t| t.as_str())
        .unwrap_or("")
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|l| {
            (
                l["custom_id"].as_str().unwrap_or("").to_string(),
                l["body"].clone(),
            )
        })
}

fn completion(content: &str) -> Value {
    json!({
        "id": "chatcmpl-fake", "object": "chat.completion", "model": "fake",
        "choices": [{ "index": 0, "message": { "role": "assistant", "content": content },
                      "finish_reason": "stop" }],
        "usage": { "prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18 },
    })
}

/// The file part of a multipart upload.
fn file_part(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let start = text
        .find("filename=")
        .and_then(|at| text[at..].find("\r\n\r\n").map(|s| at + s + 4))
        .unwrap_or(0);
    let end = text.rfind("\r\n--").unwrap_or(text.len()).max(start);
    text[start..end].to_string()
}

async fn upload(State(f): State<FakeBatch>, body: Bytes) -> Response {
    let mut inner = f.inner.lock().unwrap();
    inner.uploads += 1;
    let id = format!("file-{}", inner.uploads);
    inner.files.insert(id.clone(), file_part(&body));
    axum::Json(json!({ "id": id, "object": "file", "purpose": "batch" })).into_response()
}

async fn create(State(f): State<FakeBatch>, axum::Json(req): axum::Json<Value>) -> Response {
    let mut inner = f.inner.lock().unwrap();
    let id = format!("batch-{}", inner.batches.len() + 1);
    inner.batches.push(Batch {
        id: id.clone(),
        input: req["input_file_id"].as_str().unwrap_or("").to_string(),
        metadata: req["metadata"].clone(),
        created: Instant::now(),
    });
    axum::Json(json!({ "id": id, "status": "validating", "metadata": req["metadata"] }))
        .into_response()
}

async fn list(State(f): State<FakeBatch>) -> Response {
    let inner = f.inner.lock().unwrap();
    let data: Vec<Value> = inner
        .batches
        .iter()
        .rev()
        .map(|b| json!({ "id": b.id, "metadata": b.metadata }))
        .collect();
    axum::Json(json!({ "object": "list", "data": data })).into_response()
}

async fn status(State(f): State<FakeBatch>, Path(id): Path<String>) -> Response {
    let inner = f.inner.lock().unwrap();
    let Some(b) = inner.batches.iter().find(|b| b.id == id) else {
        return (axum::http::StatusCode::NOT_FOUND, "no such batch").into_response();
    };
    let status = if inner.held || b.created.elapsed() < inner.complete_after {
        "in_progress"
    } else if inner.expire {
        "expired"
    } else {
        "completed"
    };
    let files = status != "in_progress";
    axum::Json(json!({
        "id": id, "status": status,
        "output_file_id": files.then(|| format!("out-{id}")),
        "error_file_id": files.then(|| format!("err-{id}")),
    }))
    .into_response()
}

/// `out-<batch>`: answers (the first half only when expiring; none for a
/// request whose prompt says `fail-me`); `err-<batch>`: those failed.
async fn content(State(f): State<FakeBatch>, Path(id): Path<String>) -> Response {
    let inner = f.inner.lock().unwrap();
    let (errors, batch) = match (id.strip_prefix("out-"), id.strip_prefix("err-")) {
        (Some(b), _) => (false, b),
        (_, Some(b)) => (true, b),
        _ => return (axum::http::StatusCode::NOT_FOUND, "no such file").into_response(),
    };
    let Some(b) = inner.batches.iter().find(|b| b.id == batch) else {
        return (axum::http::StatusCode::NOT_FOUND, "no such batch").into_response();
    };
    let all: Vec<(String, Value)> = lines(&inner.files, &b.input).collect();
    let answered = if inner.expire {
        all.len() / 2
    } else {
        all.len()
    };
    let mut out = String::new();
    for (custom_id, body) in all.into_iter().take(answered) {
        let failed = body.to_string().contains("fail-me");
        let line = match (failed, errors) {
            (true, true) => json!({ "custom_id": custom_id,
                "response": { "status_code": 400, "body": {} },
                "error": { "code": "invalid_request", "message": "fail-me was refused" } }),
            (false, false) => json!({ "custom_id": custom_id, "error": null,
                "response": { "status_code": 200,
                              "body": completion(&(f.answer)(&body, Lane::Batch)) } }),
            _ => continue,
        };
        out.push_str(&line.to_string());
        out.push('\n');
    }
    out.into_response()
}

async fn live(State(f): State<FakeBatch>, axum::Json(body): axum::Json<Value>) -> Response {
    f.inner.lock().unwrap().live.push(body.clone());
    axum::Json(completion(&(f.answer)(&body, Lane::Live))).into_response()
}
