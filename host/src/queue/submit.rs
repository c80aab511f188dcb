//! Submitting jobs, one or a batch (all or nothing): the checks every
//! submission passes before it reaches Redis, and the submit scripts' replies.

use super::calls::Spec;
use super::*;
use crate::job::{NewJob, valid_group};

impl Queue {
    /// Submits a job. With a caller-chosen id that already exists, returns
    /// that job (`created: false`) and writes nothing. Invalid input, an
    /// unknown job type or an unknown dependency write nothing either.
    pub async fn submit(&self, req: NewJob) -> Result<Submitted, QueueError> {
        let mut specs = [self.spec(&req)?];
        let part = match self.single() {
            Some(only) => only,
            None => self.part(self.route(&[&req], &mut specs).await?[0]),
        };
        let [spec] = specs;
        part.write_one(&spec).await
    }

    /// Submits many jobs, all or nothing: if any is refused (bad input,
    /// unknown type, unknown dependency), none is written, and the error
    /// says which (0-based index). A job may depend on one earlier in the
    /// batch by its caller-chosen id.
    pub async fn submit_batch(&self, requests: Vec<NewJob>) -> Result<Vec<Submitted>, BatchError> {
        if requests.len() > self.config.max_batch_jobs {
            return Err(BatchError {
                index: self.config.max_batch_jobs,
                error: invalid(
                    "batch",
                    format!(
                        "{} jobs in one batch; at most {} (queue.max_batch_jobs)",
                        requests.len(),
                        self.config.max_batch_jobs
                    ),
                ),
            });
        }
        let mut specs = Vec::with_capacity(requests.len());
        let mut ids = HashSet::new();
        for (index, req) in requests.iter().enumerate() {
            // Dependencies on earlier jobs of the batch are checked in Redis.
            let spec = self
                .spec(req)
                .map_err(|error| BatchError { index, error })?;
            if !ids.insert(spec.id.clone()) {
                return Err(BatchError {
                    index,
                    error: invalid(
                        "job id",
                        format!("{:?} appears twice in the batch", spec.id),
                    ),
                });
            }
            specs.push(spec);
        }
        match self.single() {
            Some(only) => only.write_batch(&specs).await,
            None => self.submit_across(&requests, specs).await,
        }
    }

    /// Checks a request and turns it into the script's arguments.
    pub(super) fn spec(&self, req: &NewJob) -> Result<Spec, QueueError> {
        self.validate(req)?;
        let version = req.metadata.get("content_hash").map(String::as_str);
        let content_hash = req
            .payload
            .content_hash(version)
            .map_err(|r| invalid("metadata", r))?;
        let flag = |b: bool| if b { "1" } else { "0" }.to_string();
        Ok(Spec {
            id: req
                .id
                .clone()
                .unwrap_or_else(|| uuid::Uuid::now_v7().to_string()),
            job_type: req.job_type.clone(),
            payload: req.payload.text().to_string(),
            priority: req.priority.to_string(),
            max_retries: req
                .max_retries
                .unwrap_or(self.config.retry.max_retries)
                .to_string(),
            metadata: serde_json::to_string(&req.metadata)
                .map_err(|e| invalid("metadata", e.to_string()))?,
            depends_on: serde_json::to_string(&req.depends_on)
                .map_err(|e| invalid("depends_on", e.to_string()))?,
            parent: req.parent.clone().unwrap_or_default(),
            check_type: flag(self.config.check_job_types),
            ttl: self.hub().lifetimes(),
            content_hash,
            force: flag(req.force),
            use_store: flag(self.config.content_store),
            run_after_failure: flag(req.run_after_failure),
            max_children: self.config.max_children.to_string(),
            max_run_jobs: self.config.max_run_jobs.to_string(),
            run_at: req.run_at.map(|t| t.to_string()).unwrap_or_default(),
            delay: req.delay_ms.map(|t| t.to_string()).unwrap_or_default(),
            group: req.group.clone().unwrap_or_default(),
            trace: req.trace.clone().unwrap_or_default(),
            remote: String::new(),
        })
    }
}

/// The checks every submission passes before anything reaches Redis:
/// job type name, payload size (a `Payload` is JSON by construction),
/// priority range, ids.
pub fn check_request(config: &QueueConfig, req: &NewJob) -> Result<(), QueueError> {
    valid_job_type_name(&req.job_type).map_err(|r| invalid("job type", r))?;
    let (limit, setting) = config.payload_limit(&req.job_type);
    if req.payload.text().len() > limit {
        return Err(invalid(
            "payload",
            format!(
                "{} bytes is over the limit of {limit} bytes for {:?} ({setting})",
                req.payload.text().len(),
                req.job_type
            ),
        ));
    }
    if !(-MAX_PRIORITY..=MAX_PRIORITY).contains(&req.priority) {
        return Err(invalid(
            "priority",
            format!(
                "{} is outside -{MAX_PRIORITY}..={MAX_PRIORITY}",
                req.priority
            ),
        ));
    }
    if let Some(n) = req.max_retries
        && n > MAX_RETRIES
    {
        return Err(invalid(
            "max_retries",
            format!("{n} is over the limit of {MAX_RETRIES}"),
        ));
    }
    check_metadata(req)?;
    if let Some(id) = &req.id {
        valid_id(id).map_err(|r| invalid("job id", r))?;
    }
    if let Some(group) = &req.group {
        valid_group(group).map_err(|r| invalid("group", r))?;
    }
    if let Some(trace) = &req.trace {
        crate::job::valid_traceparent(trace).map_err(|r| invalid("trace", r))?;
    }
    if req.depends_on.len() > MAX_DEPENDENCIES {
        return Err(invalid(
            "depends_on",
            format!(
                "{} dependencies; at most {MAX_DEPENDENCIES}",
                req.depends_on.len()
            ),
        ));
    }
    for dep in &req.depends_on {
        valid_id(dep).map_err(|r| invalid("depends_on", r))?;
    }
    check_schedule(config, req)
}

/// `metadata` within [`MAX_METADATA_ENTRIES`] and [`MAX_METADATA_BYTES`]:
/// it is stored with the job and handed to its plugin on every attempt.
fn check_metadata(req: &NewJob) -> Result<(), QueueError> {
    let entries = req.metadata.len();
    if entries > MAX_METADATA_ENTRIES {
        return Err(invalid(
            "metadata",
            format!("{entries} entries; at most {MAX_METADATA_ENTRIES}"),
        ));
    }
    let bytes: usize = req.metadata.iter().map(|(k, v)| k.len() + v.len()).sum();
    if bytes > MAX_METADATA_BYTES {
        return Err(invalid(
            "metadata",
            format!("{bytes} bytes of keys and values; at most {MAX_METADATA_BYTES}"),
        ));
    }
    Ok(())
}

/// The checks of a job scheduled for later: a time or a delay, not both;
/// within the horizon; no dependencies.
fn check_schedule(config: &QueueConfig, req: &NewJob) -> Result<(), QueueError> {
    if req.run_at.is_some() && req.delay_ms.is_some() {
        return Err(invalid(
            "run_at",
            "give run_at or a delay, not both".to_string(),
        ));
    }
    let horizon = config.max_schedule_ahead_ms;
    let too_far = || {
        format!(
            "further ahead than the horizon of {} days (queue.max_schedule_ahead_days; at most 3660, 10 years)",
            horizon / (24 * 3600 * 1000)
        )
    };
    if let Some(delay) = req.delay_ms
        && delay > horizon
    {
        return Err(invalid("delay_ms", format!("{delay} ms is {}", too_far())));
    }
    if (req.run_at.is_some() || req.delay_ms.is_some()) && !req.depends_on.is_empty() {
        return Err(invalid(
            "run_at",
            "a job with depends_on runs when its dependencies finish; it cannot also be scheduled"
                .to_string(),
        ));
    }
    if let Some(at) = req.run_at {
        let latest = crate::job::unix_ms_now().saturating_add(horizon);
        if at > latest {
            return Err(invalid(
                "run_at",
                format!("{at} (Unix ms) is {}", too_far()),
            ));
        }
    }
    Ok(())
}
