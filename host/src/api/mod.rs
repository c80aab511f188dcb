//! The HTTP API `deckhand serve` offers: submit (one or a batch, all or
//! nothing), read, wait for and cancel jobs; the dead-letter queue; the loaded
//! plugins; job-type controls; schedules; `/health` and `/metrics`.
//!
//! Every error is JSON, `{"error": {"code": "...", "message": "..."}}`, with a
//! stable code. Bad input is answered 4xx and writes nothing. With a token
//! configured, `/v1/*` needs `Authorization: Bearer <token>` or a dashboard
//! session (`ui/session.rs`, with its CSRF rules); `/health` and `/metrics`
//! stay open. Wrong tokens hold up their client's address for a while
//! (`guesses.rs`). Without a token, only requests addressed to a loopback
//! name are served (`rebinding.rs`). The dashboard (`ui/`) is served at `/ui`.

mod browse;
mod controls;
mod dlq;
pub mod guesses;
mod jobs;
pub mod listener;
mod ops;
pub mod rebinding;
mod rows;
mod schedules;
pub mod ui;

pub use jobs::{SubmitBody, parse_submit};

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::job::{NewJob, Payload};
use crate::metrics::{QueueFigures, resident_bytes};
use crate::queue::{BatchError, Cancel, JobStatus, Queue, QueueError, Resumed};
use crate::worker::Worker;

/// What the handlers share.
pub struct ApiState {
    pub worker: Arc<Worker>,
    /// The API token's checks and the dashboard's sessions (an empty
    /// token: no authentication).
    pub sessions: ui::session::Sessions,
    /// Wrong tokens per client address (`guesses.rs`).
    pub guesses: guesses::Guesses,
    /// Host names served without a token besides loopback ones
    /// (`api.allowed_hosts`, `rebinding.rs`).
    pub allowed_hosts: Vec<String>,
    /// Why the embedded Redis last stopped, if this host runs one.
    pub embedded: Option<crate::redis_server::LastFailure>,
}

/// Longest `wait` a client may ask for.
const MAX_WAIT: Duration = Duration::from_secs(3600);
/// Most jobs one `wait` may name.
const MAX_WAIT_IDS: usize = 10_000;
/// Largest `offset` a page of the dead-letter queue may start at.
const MAX_OFFSET: usize = 100_000_000;

/// A wait's timeout, range-checked before it becomes a `Duration` (which
/// panics on values it cannot hold).
fn wait_timeout(secs: f64) -> Result<Duration, ApiError> {
    if !(secs > 0.0 && secs <= MAX_WAIT.as_secs_f64()) {
        return Err(ApiError::bad_request(format!(
            "timeout_secs must be > 0 and ≤ {} (got {secs})",
            MAX_WAIT.as_secs()
        )));
    }
    Ok(Duration::from_secs_f64(secs))
}

pub fn router(state: Arc<ApiState>, max_body_bytes: usize) -> Router {
    let v1 = Router::new()
        .route("/jobs/batch", post(jobs::submit_batch))
        .route("/jobs/wait", post(jobs::wait))
        .route("/jobs", get(browse::list).post(jobs::submit))
        .route("/jobs/{id}", get(jobs::get_job))
        .route("/jobs/{id}/children", get(browse::children))
        .route("/overview", get(browse::overview))
        .route("/bulk/{id}", get(browse::bulk))
        .route("/bulk/{id}/results.jsonl", get(browse::bulk_download))
        .route("/jobs/{id}/cancel", post(jobs::cancel))
        .route("/tokens/{token}", post(jobs::resume_wait))
        .route("/dlq", get(dlq::dlq_list))
        .route("/dlq/replay", post(dlq::dlq_replay))
        .route("/dlq/purge", post(dlq::dlq_purge))
        .route("/dlq/{id}", get(jobs::get_job))
        .route("/plugins", get(ops::plugins))
        .route("/hosts", get(ops::hosts))
        .route("/job-types", get(ops::job_types))
        .route("/job-types/{job_type}/pause", post(controls::pause))
        .route("/job-types/{job_type}/resume", post(controls::resume))
        .route("/job-types/{job_type}/cap", post(controls::cap))
        .route("/job-types/{job_type}/rate", post(controls::rate))
        .route("/schedules", get(schedules::list))
        .route(
            "/schedules/{name}",
            axum::routing::put(schedules::put).delete(schedules::remove),
        )
        .route("/schedules/{name}/run", post(schedules::run))
        .layer(middleware::from_fn(json_only))
        .layer(middleware::from_fn_with_state(state.clone(), authenticate));
    Router::new()
        .nest("/v1", v1)
        .merge(ui::routes())
        .route("/health", get(ops::health))
        .route("/metrics", get(ops::metrics))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::max(max_body_bytes))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            rebinding::guard,
        ))
        .with_state(state)
}

/// An API error: HTTP status, stable code, human message.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": { "code": self.code, "message": self.message } });
        if self.status == StatusCode::PAYLOAD_TOO_LARGE {
            // The rest of the body was never read, so the connection cannot
            // carry another request; saying so keeps clients from reusing it.
            return (
                self.status,
                [(axum::http::header::CONNECTION, "close")],
                axum::Json(body),
            )
                .into_response();
        }
        (self.status, axum::Json(body)).into_response()
    }
}

impl From<QueueError> for ApiError {
    fn from(e: QueueError) -> ApiError {
        let message = e.to_string();
        let (status, code) = match &e {
            QueueError::Redis(_) => (StatusCode::SERVICE_UNAVAILABLE, "redis_unavailable"),
            QueueError::Invalid { .. } => (StatusCode::BAD_REQUEST, "invalid_request"),
            QueueError::UnknownJobType(_) => (StatusCode::UNPROCESSABLE_ENTITY, "unknown_job_type"),
            QueueError::UnknownDependency(_) => {
                (StatusCode::UNPROCESSABLE_ENTITY, "unknown_dependency")
            }
            QueueError::SelfDependency(_) => (StatusCode::UNPROCESSABLE_ENTITY, "self_dependency"),
            QueueError::TooManyChildren { .. } => {
                (StatusCode::UNPROCESSABLE_ENTITY, "too_many_children")
            }
            QueueError::TooManyInRun { .. } => {
                (StatusCode::UNPROCESSABLE_ENTITY, "too_many_in_run")
            }
            QueueError::CannotExtend { .. } => (StatusCode::CONFLICT, "cannot_extend"),
            QueueError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            QueueError::WaitTimeout(_) => (StatusCode::REQUEST_TIMEOUT, "wait_timeout"),
            QueueError::Protocol(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            QueueError::NotReplicated { .. } => (StatusCode::SERVICE_UNAVAILABLE, "not_replicated"),
        };
        ApiError::new(status, code, message)
    }
}

type ApiResult = Result<Response, ApiError>;

fn ok(status: StatusCode, body: impl Serialize) -> ApiResult {
    Ok((status, axum::Json(body)).into_response())
}

/// Reads a JSON body, with errors in the API's shape (not axum's plain text).
fn parse_body<T: serde::de::DeserializeOwned>(
    body: Result<Bytes, BytesRejection>,
) -> Result<T, ApiError> {
    let bytes = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                e.body_text(),
            )
        } else {
            ApiError::bad_request(e.body_text())
        }
    })?;
    serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            format!("request body: {e}"),
        )
    })
}

async fn authenticate(
    State(state): State<Arc<ApiState>>,
    from: Option<guesses::Client>,
    headers: HeaderMap,
    request: Request,
    next: Next,
) -> Response {
    let now = crate::queue::now_ms();
    let addr = guesses::address(from);
    // Only a bearer token is a guess of the token; a session cookie is not.
    let bearer = headers.contains_key(header::AUTHORIZATION) && !state.sessions.open();
    if bearer && let Err(held) = state.guesses.check(addr, now) {
        return too_many_guesses(held);
    }
    if let Err(e) = ui::refuse_ended(&state, &headers).await {
        return e.into_response();
    }
    match state.sessions.admit(&headers, request.method(), now) {
        Err(e) => {
            if bearer && e.status == StatusCode::UNAUTHORIZED {
                state.guesses.wrong(addr, now);
            }
            return e.into_response();
        }
        Ok(()) if bearer => state.guesses.right(addr, now),
        Ok(()) => {}
    }
    next.run(request).await
}

/// 429 for an address held for its wrong tokens, with `Retry-After`.
fn too_many_guesses(held: guesses::Held) -> Response {
    held.answer(
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_wrong_tokens",
            held.message(),
        )
        .into_response(),
    )
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route")
}

async fn method_not_allowed(request: Request) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!(
            "{} is not served at {}",
            request.method(),
            request.uri().path()
        ),
    )
}

/// Refuses a body that says it is not JSON (`text/plain`, a form): every
/// body of the API is JSON, and those are the types a page on another site
/// may send without asking the browser first. A body without a type is
/// read as JSON (curl's `--data-binary`, say, when told nothing).
async fn json_only(request: Request, next: Next) -> Response {
    let media = request
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or("?"))
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
    if let Some(media) = media
        && media != "application/json"
        && !(media.starts_with("application/") && media.ends_with("+json"))
    {
        return ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!(
                "Content-Type {:?}: send application/json",
                media.chars().take(100).collect::<String>()
            ),
        )
        .into_response();
    }
    next.run(request).await
}

/// The `{id}` of a route, with errors in the API's shape (a path that is
/// not UTF-8, such as `%FF`, is answered as JSON like every other error).
fn path_id(path: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    let Path(id) = path.map_err(|e| ApiError::bad_request(format!("job id: {}", e.body_text())))?;
    Ok(id)
}
