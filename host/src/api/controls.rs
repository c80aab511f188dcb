//! Operator controls over the API: pausing and resuming a job type on every
//! host at once, capping how many of its jobs run at once across all hosts,
//! and limiting how many start per interval (`deckhand pause` / `resume` /
//! `cap` / `rate` do the same from the CLI).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::json;

use super::{ApiError, ApiResult, ApiState, ok, parse_body};
use crate::queue::{MAX_RUNNING_CAP, RateLimit};

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CapBody {
    /// Required; `null` lifts the cap (an empty body must not).
    #[serde(default, deserialize_with = "given")]
    max_running: Option<Option<u64>>,
}

/// A field that must be given, `null` included: `Some(None)` for `null`,
/// and (through `default`) `None` when it is missing.
fn given<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(d).map(Some)
}

/// The error for a body without its one field.
fn missing(field: &str, lifts: &str) -> ApiError {
    ApiError::bad_request(format!(
        "{field} is required (null lifts the {lifts}); an empty body changes nothing"
    ))
}

/// `POST /v1/job-types/{job_type}/cap` `{"max_running": N}` (1 to
/// 1,000,000; `null` lifts it): at most N jobs of the type run at once
/// across all hosts. Running jobs are not stopped when it is lowered.
pub(super) async fn cap(
    State(state): State<Arc<ApiState>>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let job_type = job_type(path)?;
    let body: CapBody = parse_body(body)?;
    let max_running = body
        .max_running
        .ok_or_else(|| missing("max_running", "cap"))?;
    if let Some(n) = max_running
        && !(1..=MAX_RUNNING_CAP).contains(&n)
    {
        return Err(ApiError::bad_request(format!(
            "max_running {n} is outside 1..={MAX_RUNNING_CAP} (null lifts the cap)"
        )));
    }
    state.worker.queue().set_cap(&job_type, max_running).await?;
    ok(
        StatusCode::OK,
        json!({ "job_type": job_type, "max_running": max_running }),
    )
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RateBody {
    /// `"<jobs>/<interval>"` (`"100/1m"`); required, `null` lifts the limit.
    #[serde(default, deserialize_with = "given")]
    rate_limit: Option<Option<String>>,
}

/// `POST /v1/job-types/{job_type}/rate` `{"rate_limit": "100/1m"}` (jobs 1
/// to 1,000,000, interval 1 ms to 1 day; `null` lifts it): at most that many
/// jobs of the type start per interval across all hosts.
pub(super) async fn rate(
    State(state): State<Arc<ApiState>>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let job_type = job_type(path)?;
    let body: RateBody = parse_body(body)?;
    let limit = body
        .rate_limit
        .ok_or_else(|| missing("rate_limit", "limit"))?
        .as_deref()
        .map(RateLimit::parse)
        .transpose()
        .map_err(ApiError::bad_request)?;
    state.worker.queue().set_rate(&job_type, limit).await?;
    ok(
        StatusCode::OK,
        json!({ "job_type": job_type, "rate_limit": limit }),
    )
}

/// `POST /v1/job-types/{job_type}/pause`: no host claims the type until it
/// is resumed; running jobs finish and submissions still queue.
pub(super) async fn pause(
    State(state): State<Arc<ApiState>>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let job_type = job_type(path)?;
    let changed = state.worker.queue().pause(&job_type).await?;
    ok(
        StatusCode::OK,
        json!({ "job_type": job_type, "paused": true, "changed": changed }),
    )
}

/// `POST /v1/job-types/{job_type}/resume`.
pub(super) async fn resume(
    State(state): State<Arc<ApiState>>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let job_type = job_type(path)?;
    let changed = state.worker.queue().resume(&job_type).await?;
    ok(
        StatusCode::OK,
        json!({ "job_type": job_type, "paused": false, "changed": changed }),
    )
}

fn job_type(path: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    let Path(job_type) = path.map_err(|e| ApiError::bad_request(e.body_text()))?;
    crate::job::valid_job_type_name(&job_type).map_err(ApiError::bad_request)?;
    Ok(job_type)
}
