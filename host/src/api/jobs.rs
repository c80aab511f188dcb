//! Jobs over HTTP: submit one or a batch, read, wait for, cancel.

use super::*;

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
    /// Its fairness group within the job type.
    #[serde(default)]
    pub group: Option<String>,
    /// W3C `traceparent` of the trace it joins (or the request's
    /// `traceparent` header, which applies to every job without one).
    #[serde(default)]
    pub trace: Option<String>,
}

impl SubmitBody {
    /// The request, or why the body cannot be one (a `run_at` that is not
    /// RFC 3339).
    pub fn into_request(self) -> Result<NewJob, String> {
        let run_at = match &self.run_at {
            Some(text) => {
                Some(crate::job::parse_rfc3339_ms(text).map_err(|e| format!("run_at: {e}"))?)
            }
            None => None,
        };
        Ok(NewJob {
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
            group: self.group,
            trace: self.trace,
            ..NewJob::new(self.job_type, Payload::from_value(&self.payload))
        })
    }
}

/// Parses a submit body from raw bytes (what the fuzz test drives).
pub fn parse_submit(bytes: &[u8]) -> Result<NewJob, String> {
    serde_json::from_slice::<SubmitBody>(bytes)
        .map_err(|e| e.to_string())?
        .into_request()
}

/// The request's `traceparent` header, given to jobs that name no trace.
fn traced(headers: &HeaderMap, mut request: NewJob) -> Result<NewJob, ApiError> {
    if request.trace.is_none()
        && let Some(value) = headers.get("traceparent")
    {
        let text = value
            .to_str()
            .map_err(|_| ApiError::bad_request("traceparent header is not ASCII"))?;
        request.trace = Some(text.trim().to_string());
    }
    Ok(request)
}

pub(super) async fn submit(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let body: SubmitBody = parse_body(body)?;
    let queue = state.worker.queue();
    let job_type = body.job_type.clone();
    let request = traced(
        &headers,
        body.into_request().map_err(ApiError::bad_request)?,
    )?;
    let submitted = queue.submit(request).await?;
    let status = if submitted.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let mut reply = serde_json::to_value(&submitted).unwrap_or_default();
    if !submitted.status.is_finished() && !queue.type_is_live(&job_type).await.unwrap_or(true) {
        reply["warning"] = json!(Queue::no_live_host(&job_type));
    }
    ok(status, reply)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct BatchBody {
    jobs: Vec<SubmitBody>,
}

pub(super) async fn submit_batch(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
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
            job.into_request()
                .map_err(|e| {
                    ApiError::bad_request(format!(
                        "job {index} of the batch: {e}; nothing was submitted"
                    ))
                })
                .and_then(|r| traced(&headers, r))
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

pub(super) async fn get_job(
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
pub(super) struct WaitBody {
    ids: Vec<String>,
    #[serde(default = "default_wait")]
    timeout_secs: f64,
}

fn default_wait() -> f64 {
    30.0
}

pub(super) async fn wait(
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

pub(super) async fn cancel(
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

/// `POST /v1/tokens/{token}`: hands the body (any JSON value) to the job
/// suspended on `token`; it runs again with the value in its feedback.
pub(super) async fn resume_wait(
    State(state): State<Arc<ApiState>>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let token = path_id(path)?;
    let value: Value = parse_body(body)?;
    let value = value.to_string();
    match state.worker.queue().resume_wait(&token, &value).await? {
        Resumed::Resumed => ok(StatusCode::OK, json!({ "status": "resumed" })),
        Resumed::Ended => Err(ApiError::new(
            StatusCode::CONFLICT,
            "wait_ended",
            "that wait has already ended (resumed, ran out or cancelled)",
        )),
        Resumed::Unknown => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_token",
            "no job waits on that token",
        )),
    }
}
