//! Operator controls over the API: pausing and resuming a job type on every
//! host at once (`deckhand pause` / `resume` do the same from the CLI).

use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::json;

use super::{ApiError, ApiResult, ApiState, ok};

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
