//! The HTTP API `deckhand serve` offers: submit (one or a batch, all or
//! nothing), read, wait for and cancel jobs; the dead-letter queue; the loaded
//! plugins; `/health` and `/metrics`.
//!
//! Every error is JSON, `{"error": {"code": "...", "message": "..."}}`, with a
//! stable code. Bad input is answered 4xx and writes nothing. With a token
//! configured, `/v1/*` needs `Authorization: Bearer <token>`; `/health` and
//! `/metrics` stay open.

mod controls;

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

use crate::metrics::{QueueFigures, resident_bytes};
use crate::queue::{BatchError, Cancel, JobStatus, QueueError, SubmitRequest};
use crate::worker::Worker;

/// What the handlers share.
pub struct ApiState {
    pub worker: Arc<Worker>,
    /// Empty: no authentication.
    pub token: String,
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
        .route("/jobs", post(submit))
        .route("/jobs/batch", post(submit_batch))
        .route("/jobs/wait", post(wait))
        .route("/jobs/{id}", get(get_job))
        .route("/jobs/{id}/cancel", post(cancel))
        .route("/dlq", get(dlq_list))
        .route("/dlq/replay", post(dlq_replay))
        .route("/dlq/purge", post(dlq_purge))
        .route("/dlq/{id}", get(get_job))
        .route("/plugins", get(plugins))
        .route("/hosts", get(hosts))
        .route("/job-types", get(job_types))
        .route("/job-types/{job_type}/pause", post(controls::pause))
        .route("/job-types/{job_type}/resume", post(controls::resume))
        .layer(middleware::from_fn_with_state(state.clone(), authenticate));
    Router::new()
        .nest("/v1", v1)
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .layer(axum::extract::DefaultBodyLimit::max(max_body_bytes))
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
            QueueError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            QueueError::WaitTimeout(_) => (StatusCode::REQUEST_TIMEOUT, "wait_timeout"),
            QueueError::Protocol(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
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
    headers: HeaderMap,
    request: Request,
    next: Next,
) -> Response {
    if !state.token.is_empty() {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(bearer_token);
        if !given.is_some_and(|g| constant_time_eq(g.as_bytes(), state.token.as_bytes())) {
            return ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "missing or wrong bearer token (Authorization: Bearer <token>)",
            )
            .into_response();
        }
    }
    next.run(request).await
}

/// The token of an `Authorization: Bearer <token>` value; the scheme is
/// matched without regard to case (RFC 9110, 11.1).
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim_start())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route")
}

/// One job in a submit request. `payload` is any JSON value.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmitBody {
    pub job_type: String,
    pub payload: Value,
    #[serde(default)]
    pub priority: i32,
    #[serde(default)]
    pub depends_on: Vec<String>,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub max_retries: Option<u32>,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    #[serde(default)]
    pub force: bool,
    #[serde(default)]
    pub run_after_failure: bool,
    /// RFC 3339: run no earlier than this.
    #[serde(default)]
    pub run_at: Option<String>,
    /// Or: run no earlier than this many milliseconds from now.
    #[serde(default)]
    pub delay_ms: Option<u64>,
}

impl SubmitBody {
    /// The request, or why the body cannot be one (a `run_at` that is not
    /// RFC 3339).
    pub fn into_request(self) -> Result<SubmitRequest, String> {
        let run_at = match &self.run_at {
            Some(text) => {
                Some(crate::job::parse_rfc3339_ms(text).map_err(|e| format!("run_at: {e}"))?)
            }
            None => None,
        };
        Ok(SubmitRequest {
            job_type: self.job_type,
            payload: self.payload.to_string(),
            priority: self.priority,
            depends_on: self.depends_on,
            id: self.id,
            max_retries: self.max_retries,
            metadata: self.metadata,
            parent: None,
            force: self.force,
            run_after_failure: self.run_after_failure,
            run_at,
            delay_ms: self.delay_ms,
        })
    }
}

/// Parses a submit body from raw bytes (what the fuzz test drives).
pub fn parse_submit(bytes: &[u8]) -> Result<SubmitRequest, String> {
    serde_json::from_slice::<SubmitBody>(bytes)
        .map_err(|e| e.to_string())?
        .into_request()
}

async fn submit(
    State(state): State<Arc<ApiState>>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let body: SubmitBody = parse_body(body)?;
    let queue = state.worker.queue();
    let job_type = body.job_type.clone();
    let request = body.into_request().map_err(ApiError::bad_request)?;
    let submitted = queue.submit(request).await?;
    let status = if submitted.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let mut reply = serde_json::to_value(&submitted).unwrap_or_default();
    if !submitted.status.is_finished() && !queue.type_is_live(&job_type).await.unwrap_or(true) {
        reply["warning"] = json!(no_live_host(&job_type));
    }
    ok(status, reply)
}

/// What a client is told when it queues a job no live host can run.
pub fn no_live_host(job_type: &str) -> String {
    format!(
        "no live host runs job type {job_type:?} (its last host stopped beating); the job waits in the queue until one starts"
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchBody {
    jobs: Vec<SubmitBody>,
}

async fn submit_batch(
    State(state): State<Arc<ApiState>>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let body: BatchBody = parse_body(body)?;
    if body.jobs.is_empty() {
        return Err(ApiError::bad_request("jobs is empty"));
    }
    let cap = state.worker.queue().config().max_batch_jobs;
    if body.jobs.len() > cap {
        return Err(ApiError::bad_request(format!(
            "{} jobs in one batch; at most {cap} (queue.max_batch_jobs): split the batch; nothing was submitted",
            body.jobs.len()
        )));
    }
    let requests = body
        .jobs
        .into_iter()
        .enumerate()
        .map(|(index, job)| {
            job.into_request().map_err(|e| {
                ApiError::bad_request(format!(
                    "job {index} of the batch: {e}; nothing was submitted"
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    match state.worker.queue().submit_batch(requests).await {
        Ok(submitted) => ok(StatusCode::CREATED, json!({ "jobs": submitted })),
        Err(BatchError { index, error }) => {
            let mut e = ApiError::from(error);
            e.message = format!(
                "job {index} of the batch: {}; nothing was submitted",
                e.message
            );
            Err(e)
        }
    }
}

/// The `{id}` of a route, with errors in the API's shape (a path that is
/// not UTF-8, such as `%FF`, is answered as JSON like every other error).
fn path_id(path: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    let Path(id) = path.map_err(|e| ApiError::bad_request(format!("job id: {}", e.body_text())))?;
    Ok(id)
}

async fn get_job(
    State(state): State<Arc<ApiState>>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let id = path_id(path)?;
    match state.worker.queue().get(&id).await? {
        Some(job) => ok(StatusCode::OK, job),
        None => Err(QueueError::NotFound(id).into()),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WaitBody {
    ids: Vec<String>,
    #[serde(default = "default_wait")]
    timeout_secs: f64,
}

fn default_wait() -> f64 {
    30.0
}

async fn wait(
    State(state): State<Arc<ApiState>>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let body: WaitBody = parse_body(body)?;
    let timeout = wait_timeout(body.timeout_secs)?;
    if body.ids.is_empty() || body.ids.len() > MAX_WAIT_IDS {
        return Err(ApiError::bad_request(format!(
            "ids must name 1 to {MAX_WAIT_IDS} jobs (got {})",
            body.ids.len()
        )));
    }
    let jobs = state
        .worker
        .queue()
        .wait_for_jobs(&body.ids, timeout)
        .await?;
    ok(StatusCode::OK, json!({ "jobs": jobs }))
}

async fn cancel(
    State(state): State<Arc<ApiState>>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let id = path_id(path)?;
    match state.worker.queue().cancel(&id).await? {
        Cancel::Cancelled => ok(
            StatusCode::OK,
            json!({ "id": id, "status": JobStatus::Cancelled }),
        ),
        Cancel::AlreadyFinished(status) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "already_finished",
            format!("job {id} already finished ({status})"),
        )),
    }
}

#[derive(Deserialize)]
struct Page {
    #[serde(default)]
    offset: usize,
    #[serde(default = "default_limit")]
    limit: usize,
}

fn default_limit() -> usize {
    100
}

async fn dlq_list(
    State(state): State<Arc<ApiState>>,
    page: Result<Query<Page>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let Query(page) = page.map_err(|e| ApiError::bad_request(e.body_text()))?;
    if page.offset > MAX_OFFSET || !(1..=1000).contains(&page.limit) {
        return Err(ApiError::bad_request(format!(
            "offset must be ≤ {MAX_OFFSET} and limit 1 to 1000 (got offset {}, limit {})",
            page.offset, page.limit
        )));
    }
    let queue = state.worker.queue();
    let jobs = queue.dlq_list(page.offset, page.limit).await?;
    ok(
        StatusCode::OK,
        json!({ "total": queue.dlq_len().await?, "jobs": jobs }),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Selection {
    #[serde(default)]
    ids: Vec<String>,
    #[serde(default)]
    all: bool,
}

fn selection(body: Result<Bytes, BytesRejection>) -> Result<Vec<String>, ApiError> {
    let s: Selection = parse_body(body)?;
    match (s.ids.is_empty(), s.all) {
        (true, false) => Err(ApiError::bad_request(
            "name the jobs in ids, or set all: true",
        )),
        (false, true) => Err(ApiError::bad_request("give ids or all, not both")),
        _ => Ok(s.ids),
    }
}

async fn dlq_replay(
    State(state): State<Arc<ApiState>>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let ids = selection(body)?;
    let replayed = state.worker.queue().dlq_replay(&ids).await?;
    let missing: Vec<&String> = ids.iter().filter(|id| !replayed.contains(id)).collect();
    ok(
        StatusCode::OK,
        json!({ "replayed": replayed, "not_in_dlq": missing }),
    )
}

async fn dlq_purge(
    State(state): State<Arc<ApiState>>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let ids = selection(body)?;
    let purged = state.worker.queue().dlq_purge(&ids).await?;
    ok(StatusCode::OK, json!({ "purged": purged }))
}

async fn plugins(State(state): State<Arc<ApiState>>) -> ApiResult {
    let registry = state.worker.registry();
    let snapshot = registry.snapshot();
    let plugins: Vec<Value> = snapshot
        .plugins()
        .map(|p| {
            let types: Vec<Value> = p
                .info
                .job_types
                .iter()
                .map(|t| {
                    let limits = registry.runtime().limits_for(t);
                    json!({
                        "name": t.name,
                        "description": t.description,
                        "needs_llm": t.needs_llm,
                        "timeout_ms": limits.timeout.as_millis() as u64,
                        "memory_limit_bytes": limits.memory_bytes,
                    })
                })
                .collect();
            json!({
                "name": p.info.name,
                "version": p.info.version,
                "version_id": p.version_id,
                "path": p.path,
                "job_types": types,
            })
        })
        .collect();
    let errors: Vec<Value> = snapshot
        .errors()
        .map(|e| json!({ "path": e.path(), "error": e.to_string() }))
        .collect();
    ok(
        StatusCode::OK,
        json!({ "plugins": plugins, "errors": errors }),
    )
}

async fn hosts(State(state): State<Arc<ApiState>>) -> ApiResult {
    ok(StatusCode::OK, state.worker.queue().hosts().await?)
}

async fn job_types(State(state): State<Arc<ApiState>>) -> ApiResult {
    let types = state.worker.queue().type_infos().await?;
    ok(StatusCode::OK, json!({ "job_types": types }))
}

async fn health(State(state): State<Arc<ApiState>>) -> Response {
    let worker = &state.worker;
    let redis = match tokio::time::timeout(Duration::from_secs(2), worker.queue().ping()).await {
        Ok(Ok(())) => json!({ "reachable": true }),
        Ok(Err(e)) => json!({ "reachable": false, "error": e.to_string() }),
        Err(_) => json!({ "reachable": false, "error": "no answer within 2 s" }),
    };
    let mut redis = redis;
    let durability = worker.presence().durability();
    redis["appendonly"] = json!(durability.appendonly);
    redis["maxmemory_policy"] = json!(durability.maxmemory_policy);
    redis["risks"] = json!(durability.risks());
    let presence = worker.presence();
    let data_lost = presence.recently_lost();
    let unserved: Vec<String> =
        match tokio::time::timeout(Duration::from_secs(2), worker.queue().type_infos()).await {
            Ok(Ok(types)) => types
                .into_iter()
                .filter(|t| !t.live)
                .map(|t| t.job_type)
                .collect(),
            _ => vec![],
        };
    let over_memory = worker.over_memory();
    let status = if redis["reachable"] != true {
        "unhealthy"
    } else if over_memory || data_lost {
        "degraded"
    } else {
        "healthy"
    };
    let metrics = worker.metrics();
    let snapshot = worker.registry().snapshot();
    let body = json!({
        "status": status,
        "worker_id": worker.host_id(),
        "processed_jobs": metrics.processed("completed"),
        "failed_jobs": metrics.processed("retried") + metrics.processed("dead"),
        "current_memory": resident_bytes() as f64 / (1024.0 * 1024.0),
        "max_memory_mb": worker.config().max_memory_mb,
        "claims_paused": over_memory,
        "uptime": metrics.uptime().as_secs_f64(),
        "running_jobs": worker.running(),
        "redis": redis,
        "queue_data_lost": {
            "count": worker.metrics().queue_data_lost.load(Ordering::Relaxed),
            "last_at_ms": presence.data_lost_at.load(Ordering::Relaxed),
            "degraded": data_lost,
        },
        "job_types_without_live_host": unserved,
        "plugins": snapshot.plugins().map(|p| json!({
            "name": p.info.name,
            "version_id": p.short_version(),
            "job_types": p.info.job_types.iter().map(|t| t.name.clone()).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "plugin_errors": snapshot.errors().map(|e| e.to_string()).collect::<Vec<_>>(),
    });
    let code = if status == "unhealthy" {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (code, axum::Json(body)).into_response()
}

async fn metrics(State(state): State<Arc<ApiState>>) -> Response {
    let queue =
        match tokio::time::timeout(Duration::from_secs(2), state.worker.queue().figures()).await {
            Ok(Ok(figures)) => figures,
            _ => QueueFigures::default(),
        };
    let text = state.worker.metrics().render(&queue);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}
