//! What the dashboard reads, as API calls anyone may make: the overview,
//! jobs listed by state, a job's children, a bulk run's rows (as its result
//! describes them: `rows.rs`) and their results as JSON lines.

use axum::body::Body;

use super::rows::Rows;
use super::*;
use crate::queue::{JobFilter, MAX_SCAN};

/// Most jobs (or bulk rows) one page holds.
const MAX_PAGE: usize = 500;
/// Bulk records read per pipelined round trip.
const BULK_CHUNK: usize = 500;

/// `GET /v1/overview`: the queue at a glance, with the LLM bill (`bill`:
/// micro-units ever and today by scope, re-asks by job type and model).
pub(super) async fn overview(State(state): State<Arc<ApiState>>) -> ApiResult {
    let queue = state.worker.queue();
    let (overview, bill) = tokio::try_join!(queue.overview(), queue.bill())?;
    let mut body = serde_json::to_value(overview).unwrap_or_default();
    body["bill"] = serde_json::to_value(bill).unwrap_or_default();
    ok(StatusCode::OK, body)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ListQuery {
    status: String,
    #[serde(default, rename = "type")]
    job_type: Option<String>,
    #[serde(default)]
    group: Option<String>,
    #[serde(default)]
    offset: usize,
    #[serde(default = "default_limit")]
    limit: usize,
}

fn default_limit() -> usize {
    50
}

/// `offset` and `limit` in range, or the error naming them.
fn page_bounds(offset: usize, limit: usize) -> Result<(), ApiError> {
    if offset > MAX_OFFSET || !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "offset must be ≤ {MAX_OFFSET} and limit 1 to {MAX_PAGE} (got offset {offset}, limit {limit})"
        )));
    }
    Ok(())
}

/// A query string in the API's error shape.
fn query<T: serde::de::DeserializeOwned>(
    q: Result<Query<T>, axum::extract::rejection::QueryRejection>,
) -> Result<T, ApiError> {
    q.map(|Query(q)| q)
        .map_err(|e| ApiError::bad_request(e.body_text()))
}

/// `GET /v1/jobs?status=S[&type=T][&group=G][&offset=N][&limit=N]`.
pub(super) async fn list(
    State(state): State<Arc<ApiState>>,
    q: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let q = query(q)?;
    page_bounds(q.offset, q.limit)?;
    let status: JobStatus = q.status.parse().map_err(ApiError::bad_request)?;
    let nonempty = |v: Option<String>| v.filter(|v| !v.is_empty());
    let filter = JobFilter {
        status,
        job_type: nonempty(q.job_type),
        group: nonempty(q.group),
    };
    if let Some(t) = &filter.job_type {
        crate::job::valid_job_type_name(t).map_err(ApiError::bad_request)?;
    }
    if let Some(g) = &filter.group {
        crate::job::valid_group(g).map_err(|e| ApiError::bad_request(format!("group {e}")))?;
    }
    let page = state
        .worker
        .queue()
        .list_jobs(&filter, q.offset, q.limit)
        .await?;
    ok(
        StatusCode::OK,
        json!({
            "jobs": page.jobs,
            "total": page.total,
            "offset": q.offset,
            "next_offset": page.next_offset,
            "max_scan": MAX_SCAN,
        }),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PageQuery {
    #[serde(default)]
    offset: usize,
    #[serde(default = "default_limit")]
    limit: usize,
    /// Bulk rows only: keep the rows in this state.
    #[serde(default)]
    state: Option<String>,
}

/// `GET /v1/jobs/{id}/children`: the jobs it submitted, in order.
pub(super) async fn children(
    State(state): State<Arc<ApiState>>,
    path: Result<Path<String>, PathRejection>,
    q: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let id = path_id(path)?;
    let q = query(q)?;
    page_bounds(q.offset, q.limit)?;
    let queue = state.worker.queue();
    if queue.get(&id).await?.is_none() {
        return Err(QueueError::NotFound(id).into());
    }
    let (total, jobs) = queue.children(&id, q.offset, q.limit).await?;
    ok(
        StatusCode::OK,
        json!({ "total": total, "offset": q.offset, "jobs": jobs }),
    )
}

/// The rows of run `id`, as its result describes them (see `rows.rs`);
/// none until it has a result. Reads the result only, not the whole record:
/// a bulk job's payload carries every record.
async fn run_rows(state: &ApiState, id: &str) -> Result<Option<Rows>, ApiError> {
    let ids = [id.to_string()];
    let Some(Some(outcome)) = state.worker.queue().outcomes(&ids).await?.pop() else {
        return Err(QueueError::NotFound(id.to_string()).into());
    };
    let Some(result) = outcome.result.as_deref() else {
        return Ok(None);
    };
    let result: Value = serde_json::from_str(result).unwrap_or(Value::Null);
    match Rows::of_result(&result) {
        Ok(Some(rows)) => Ok(Some(rows)),
        Ok(None) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "not_a_bulk_run",
            format!("job {id} is not a bulk run: its result describes no `rows`"),
        )),
        Err(e) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "not_a_bulk_run",
            format!("job {id} is not a bulk run the host can read: {e}"),
        )),
    }
}

/// Rows `range` of a run, their jobs read pipelined.
async fn rows_at(
    state: &ApiState,
    rows: &Rows,
    range: std::ops::Range<usize>,
    with_results: bool,
) -> Result<Vec<Value>, ApiError> {
    let per_row = rows.names().len();
    let ids: Vec<String> = range.clone().flat_map(|i| rows.ids(i)).collect();
    let outcomes = state.worker.queue().outcomes(&ids).await?;
    Ok(range
        .zip(outcomes.chunks(per_row))
        .map(|(i, out)| rows.row(i, out, with_results))
        .collect())
}

/// `GET /v1/bulk/{id}?offset&limit&state`: a page of a bulk run's records
/// with each record's state and validation score; with `state`, only the
/// rows in it (looking at most `MAX_SCAN` records; `next_offset` goes on).
pub(super) async fn bulk(
    State(state): State<Arc<ApiState>>,
    path: Result<Path<String>, PathRejection>,
    q: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let id = path_id(path)?;
    let q = query(q)?;
    page_bounds(q.offset, q.limit)?;
    let run = run_rows(&state, &id).await?;
    let records = run.as_ref().map_or(0, |r| r.count);
    let wanted = q.state.filter(|s| !s.is_empty());
    let mut rows = Vec::new();
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    let (mut at, end) = (
        q.offset.min(records),
        q.offset.saturating_add(MAX_SCAN).min(records),
    );
    while let Some(run) = run.as_ref().filter(|_| at < end && rows.len() < q.limit) {
        let chunk = at..(at + BULK_CHUNK).min(end);
        for row in rows_at(&state, run, chunk, false).await? {
            at = row["index"].as_u64().unwrap_or(0) as usize + 1;
            let s = row["state"].as_str().unwrap_or("").to_string();
            *counts.entry(s.clone()).or_default() += 1;
            if wanted.as_ref().is_none_or(|w| *w == s) {
                rows.push(row);
                if rows.len() == q.limit {
                    break;
                }
            }
        }
    }
    let next = (at < records).then_some(at);
    let spend = state.worker.queue().ledger(Some(&id)).await?;
    ok(
        StatusCode::OK,
        json!({
            "bulk": id,
            "llm_spend_micros": spend,
            "records": records,
            "columns": run.as_ref().map_or(Vec::new(), |r| r.names()),
            "offset": q.offset,
            "next_offset": next,
            "rows": rows,
            "states_seen": counts,
        }),
    )
}

/// `GET /v1/bulk/{id}/results.jsonl`: every record of the run, one JSON
/// line each, with the validation's result; streamed `BULK_CHUNK` records at a time.
pub(super) async fn bulk_download(
    State(state): State<Arc<ApiState>>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let id = path_id(path)?;
    let run = run_rows(&state, &id).await?;
    let records = run.as_ref().map_or(0, |r| r.count);
    // The file name keeps the id's safe characters only.
    let safe: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let disposition = format!("attachment; filename=\"{safe}.jsonl\"");
    let stream = futures::stream::unfold(0usize, move |at| {
        let (state, run) = (state.clone(), run.clone());
        async move {
            let run = run.filter(|_| at < records)?;
            let end = (at + BULK_CHUNK).min(records);
            let chunk = match rows_at(&state, &run, at..end, true).await {
                Ok(rows) => rows.iter().map(|r| format!("{r}\n")).collect::<String>(),
                Err(e) => return Some((Err(std::io::Error::other(e.message)), records)),
            };
            Some((Ok::<_, std::io::Error>(chunk), end))
        }
    });
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-ndjson".to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}
