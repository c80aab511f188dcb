//! The dead-letter queue over HTTP: list, replay, purge.

use super::*;

#[derive(Deserialize)]
pub(super) struct Page {
    #[serde(default)]
    offset: usize,
    #[serde(default = "default_limit")]
    limit: usize,
}

fn default_limit() -> usize {
    100
}

pub(super) async fn dlq_list(
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
pub(super) struct Selection {
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

pub(super) async fn dlq_replay(
    State(state): State<Arc<ApiState>>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let ids = selection(body)?;
    let replayed = state.worker.queue().dlq_replay(&ids).await?;
    let done: std::collections::HashSet<&String> = replayed.iter().collect();
    let missing: Vec<&String> = ids.iter().filter(|id| !done.contains(id)).collect();
    ok(
        StatusCode::OK,
        json!({ "replayed": replayed, "not_in_dlq": missing }),
    )
}

pub(super) async fn dlq_purge(
    State(state): State<Arc<ApiState>>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let ids = selection(body)?;
    let purged = state.worker.queue().dlq_purge(&ids).await?;
    ok(StatusCode::OK, json!({ "purged": purged }))
}
