//! Periodic jobs over the API: list, add or replace, remove, and run one
//! now (`deckhand schedule list|add|remove|run` do the same from the CLI).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::json;

use super::{ApiError, ApiResult, ApiState, ok, parse_body};
use crate::queue::QueueError;
use crate::schedule::Schedule;

/// `GET /v1/schedules`: every schedule with the last tick it fired and
/// its next tick (Unix ms, Redis' clock).
pub(super) async fn list(State(state): State<Arc<ApiState>>) -> ApiResult {
    let (now, schedules) = state.worker.queue().schedules().await?;
    let list: Vec<serde_json::Value> = schedules
        .into_values()
        .map(|stored| {
            let next = stored.schedule.check().ok().and_then(|p| p.next_after(now));
            json!({
                "schedule": stored.schedule,
                "last_tick": stored.last_tick,
                "next_tick": next,
            })
        })
        .collect();
    ok(StatusCode::OK, json!({ "schedules": list, "now": now }))
}

/// `PUT /v1/schedules/{name}` with the schedule (its `name` may be left
/// out; if given it must match): adds or replaces it.
pub(super) async fn put(
    State(state): State<Arc<ApiState>>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let name = name(path)?;
    let mut body: serde_json::Value = parse_body(body)?;
    let Some(fields) = body.as_object_mut() else {
        return Err(ApiError::bad_request("the body must be a JSON object"));
    };
    match fields.get("name") {
        None => {
            fields.insert("name".into(), name.clone().into());
        }
        Some(given) if given.as_str() == Some(&name) => {}
        Some(given) => {
            return Err(ApiError::bad_request(format!(
                "name {given} does not match the path's {name:?}"
            )));
        }
    }
    let schedule: Schedule = serde_json::from_value(body)
        .map_err(|e| ApiError::bad_request(format!("not a schedule: {e}")))?;
    // A schedule of a type no host offers would only warn at every tick.
    let queue = state.worker.queue();
    if schedule.check().is_ok() && !queue.type_known(&schedule.job_type).await? {
        return Err(QueueError::UnknownJobType(schedule.job_type).into());
    }
    queue.put_schedule(&schedule).await?;
    ok(StatusCode::OK, json!({ "schedule": schedule }))
}

/// `DELETE /v1/schedules/{name}`: 404 when there is none by that name.
pub(super) async fn remove(
    State(state): State<Arc<ApiState>>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let name = name(path)?;
    if !state.worker.queue().remove_schedule(&name).await? {
        return Err(unknown(&name));
    }
    ok(StatusCode::OK, json!({ "name": name, "removed": true }))
}

/// `POST /v1/schedules/{name}/run`: submits the schedule's job now; its
/// ticks are not touched.
pub(super) async fn run(
    State(state): State<Arc<ApiState>>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let name = name(path)?;
    match state.worker.queue().run_schedule_now(&name).await? {
        Some(submitted) => ok(StatusCode::CREATED, submitted),
        None => Err(unknown(&name)),
    }
}

fn unknown(name: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("no schedule named {name:?}"),
    )
}

fn name(path: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    let Path(name) = path.map_err(|e| ApiError::bad_request(e.body_text()))?;
    crate::job::valid_job_type_name(&name)
        .map_err(|r| ApiError::bad_request(format!("schedule name: {r}")))?;
    Ok(name)
}
