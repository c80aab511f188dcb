//! The worker: claims batches of jobs from the queue and runs them through the
//! plugin runtime, renewing leases while they run, reaping the leases of dead
//! hosts, and handing its own jobs back at once on shutdown.

mod completer;
mod presence;

pub use presence::{DATA_LOSS_DEGRADED, Presence};

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::content::{ContentDir, StoredResult};
use crate::llm::LlmClient;
use crate::metrics::{Metrics, resident_bytes};
use crate::queue::{Ack, Claim, ClaimedJob, JobStatus, Queue, QueueError, SubmitRequest};
use crate::registry::Registry;
use crate::runtime::{
    ChildJob, HostServices, JobFailure, JobInput, JobView, LlmError, LlmRequest, LlmResponse,
};

/// Past a scheduled job's time before an idle loop looks again, so Redis'
/// clock has surely reached it.
const SCHEDULE_SLACK: Duration = Duration::from_millis(2);

/// How a host works the queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkerConfig {
    /// Concurrent claim loops on this host.
    pub worker_count: usize,
    /// Jobs one loop keeps running at once; it claims up to this many in one
    /// atomic step. A host runs at most `worker_count × batch_size` jobs.
    pub batch_size: usize,
    /// How long a claim holds a job before other hosts may take it back.
    /// Renewed every third of this while the job runs.
    pub lease_ms: u64,
    /// How long running jobs may finish after SIGTERM before their leases
    /// are handed back.
    pub shutdown_timeout_ms: u64,
    /// Longest an idle loop waits before looking again (jobs becoming ready
    /// wake it at once through pub/sub; this covers retries coming due).
    pub idle_poll_ms: u64,
    /// How often this host looks for expired leases.
    pub reap_interval_ms: u64,
    /// How often the plugin directory is rescanned (hot reload).
    pub reload_interval_ms: u64,
    /// How often this host re-registers its job types even when nothing
    /// changed (so a wiped or replaced Redis learns them again).
    pub heartbeat_ms: u64,
    /// Stop claiming while this process' resident memory is above this
    /// many MiB (the seed's MemoryManager); 0: no guard.
    pub max_memory_mb: u64,
    /// Name of this host in leases and error histories. Empty: hostname-pid.
    pub host_id: String,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            worker_count: 1,
            batch_size: 10,
            lease_ms: 30_000,
            shutdown_timeout_ms: 30_000,
            idle_poll_ms: 1_000,
            reap_interval_ms: 5_000,
            reload_interval_ms: 1_000,
            heartbeat_ms: 10_000,
            max_memory_mb: 0,
            host_id: String::new(),
        }
    }
}

impl WorkerConfig {
    fn lease(&self) -> Duration {
        Duration::from_millis(self.lease_ms.max(100))
    }
}

/// A name for this host: `hostname-pid`.
pub fn default_host_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".into());
    format!("{host}-{}", std::process::id())
}

/// What a host lends its jobs beyond the queue.
#[derive(Clone, Default)]
pub struct WorkerServices {
    /// Serves the `llm` import; none: plugins get "no LLM configured".
    pub llm: Option<LlmClient>,
    /// The content store's durable copy; none: Redis only.
    pub content_dir: Option<ContentDir>,
}

/// A job this host is running: its lease, and how to stop it.
struct InFlight {
    job: ClaimedJob,
    cancel: CancellationToken,
}

/// One host working one queue.
pub struct Worker {
    queue: Queue,
    registry: Arc<Registry>,
    config: WorkerConfig,
    services: WorkerServices,
    host_id: String,
    in_flight: Mutex<HashMap<String, InFlight>>,
    metrics: Arc<Metrics>,
    wake: Notify,
    /// Cancelled when the host stops claiming.
    stopping: CancellationToken,
    /// Where job tasks hand their results to be written in batches.
    completer: completer::Completer,
    /// The writer behind `completer`, until `run` starts it.
    writer: Mutex<Option<completer::Writer>>,
    presence: Presence,
}

impl Worker {
    pub fn new(
        queue: Queue,
        registry: Arc<Registry>,
        mut config: WorkerConfig,
        services: WorkerServices,
    ) -> Arc<Worker> {
        if config.host_id.is_empty() {
            config.host_id = default_host_id();
        }
        let (completer, writer) = completer::channel();
        Arc::new(Worker {
            completer,
            writer: Mutex::new(Some(writer)),
            host_id: config.host_id.clone(),
            queue,
            registry,
            config,
            services,
            in_flight: Mutex::new(HashMap::new()),
            metrics: Arc::new(Metrics::default()),
            wake: Notify::new(),
            stopping: CancellationToken::new(),
            presence: Presence::default(),
        })
    }

    pub fn host_id(&self) -> &str {
        &self.host_id
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    pub fn queue(&self) -> &Queue {
        &self.queue
    }

    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    pub fn config(&self) -> &WorkerConfig {
        &self.config
    }

    /// What this host knows about the queue: durability, data loss.
    pub fn presence(&self) -> &Presence {
        &self.presence
    }

    /// Jobs running on this host now.
    pub fn running(&self) -> usize {
        lock(&self.in_flight).len()
    }

    /// True while the memory guard holds claims back.
    pub fn over_memory(&self) -> bool {
        self.config.max_memory_mb > 0
            && resident_bytes() > self.config.max_memory_mb.saturating_mul(1024 * 1024)
    }

    /// Runs until `shutdown` resolves, then stops claiming, lets running
    /// jobs finish for up to `shutdown_timeout_ms`, and hands the rest back.
    pub async fn run(self: Arc<Self>, shutdown: impl std::future::Future<Output = ()>) {
        let background = CancellationToken::new();
        // Ends by itself once the worker (the completer's only owner) is gone.
        if let Some(writer) = lock(&self.writer).take() {
            tokio::spawn(writer.run(self.queue.clone()));
        }
        let tasks = vec![
            tokio::spawn(self.clone().presence_loop(background.clone())),
            tokio::spawn(self.clone().renew_loop(background.clone())),
            tokio::spawn(self.clone().reap_loop(background.clone())),
            tokio::spawn(self.clone().wake_loop(background.clone())),
        ];
        let mut loops = Vec::new();
        for n in 0..self.config.worker_count.max(1) {
            loops.push(tokio::spawn(self.clone().claim_loop(n)));
        }
        tracing::info!(
            host = %self.host_id,
            workers = self.config.worker_count,
            batch_size = self.config.batch_size,
            "worker started"
        );

        shutdown.await;
        tracing::info!(host = %self.host_id, "shutting down: no new claims");
        self.stopping.cancel();
        self.wake.notify_waiters();

        let grace = Duration::from_millis(self.config.shutdown_timeout_ms);
        let all_loops = futures::future::join_all(loops);
        if tokio::time::timeout(grace, all_loops).await.is_err() {
            let unfinished: Vec<InFlight> = {
                let mut map = lock(&self.in_flight);
                map.drain().map(|(_, v)| v).collect()
            };
            tracing::warn!(
                count = unfinished.len(),
                "shutdown timeout: handing unfinished jobs back to the queue"
            );
            for f in &unfinished {
                f.cancel.cancel();
            }
            for f in unfinished {
                match self.queue.release(&f.job).await {
                    Ok(Ack::Recorded(_)) => {
                        tracing::info!(job_id = %f.job.id, "handed back")
                    }
                    Ok(Ack::Stale) => {
                        tracing::info!(job_id = %f.job.id, "already taken elsewhere")
                    }
                    Err(e) => tracing::warn!(
                        job_id = %f.job.id,
                        "could not hand back ({e}); its lease will expire instead"
                    ),
                }
            }
        }
        background.cancel();
        for t in tasks {
            let _ = t.await;
        }
        tracing::info!(host = %self.host_id, "worker stopped");
    }

    /// Keeps up to `batch_size` jobs running: claims as many as there are
    /// free slots (in one atomic step), then waits for a job to finish, a
    /// wake-up from pub/sub, or the idle poll. Stops claiming on shutdown and
    /// returns once its running jobs have finished.
    async fn claim_loop(self: Arc<Self>, n: usize) {
        let capacity = self.config.batch_size.max(1);
        let idle = Duration::from_millis(self.config.idle_poll_ms.max(10));
        let mut running = tokio::task::JoinSet::new();
        let mut backoff = Duration::from_millis(100);
        while !self.stopping.is_cancelled() {
            while let Some(done) = running.try_join_next() {
                if let Err(e) = done {
                    tracing::error!("job task failed: {e}");
                }
            }
            // Register interest before looking, so a wake-up between the
            // claim and the wait is not lost.
            let notified = self.wake.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let free = capacity.saturating_sub(running.len());
            let paused = self.over_memory();
            if paused
                != (self
                    .metrics
                    .claims_paused
                    .swap(u64::from(paused), std::sync::atomic::Ordering::Relaxed)
                    == 1)
            {
                if paused {
                    tracing::warn!(
                        max_memory_mb = self.config.max_memory_mb,
                        resident_mb = resident_bytes() / (1024 * 1024),
                        "memory guard: not claiming new jobs until memory is back under the limit"
                    );
                } else {
                    tracing::info!("memory guard: claiming again");
                }
            }
            // How long to wait when nothing wakes the loop: the idle poll,
            // or less when a scheduled job comes due sooner.
            let mut wait = idle;
            if free > 0 && !paused {
                let snapshot = self.registry.snapshot();
                let types: Vec<&str> = snapshot.job_types().collect();
                match self
                    .queue
                    .claim_next(&self.host_id, &types, free, self.config.lease())
                    .await
                {
                    Ok(Claim { jobs, next_due }) => {
                        if let Some(due) = next_due {
                            wait = wait.min(due + SCHEDULE_SLACK);
                        }
                        backoff = Duration::from_millis(100);
                        if !jobs.is_empty() {
                            tracing::debug!(worker = n, count = jobs.len(), "claimed");
                            let full = jobs.len() == free;
                            for job in jobs {
                                // Every log line about the job, the plugin's
                                // own included, carries its id and type.
                                let span = tracing::info_span!(
                                    "job",
                                    job_id = %job.id,
                                    job_type = %job.job_type
                                );
                                running.spawn(self.clone().run_job(job).instrument(span));
                            }
                            if full {
                                // There may be more: look again at once.
                                continue;
                            }
                        }
                    }
                    Err(e) => {
                        tracing::warn!(worker = n, "claim failed ({e}); retrying in {backoff:?}");
                        tokio::select! {
                            _ = tokio::time::sleep(backoff) => {}
                            _ = self.stopping.cancelled() => {}
                        }
                        backoff = (backoff * 2).min(Duration::from_secs(2));
                        continue;
                    }
                }
            }
            tokio::select! {
                Some(_) = running.join_next(), if !running.is_empty() => {}
                _ = notified => {}
                _ = tokio::time::sleep(wait) => {}
                _ = self.stopping.cancelled() => {}
            }
        }
        while let Some(done) = running.join_next().await {
            if let Err(e) = done {
                tracing::error!("job task failed: {e}");
            }
        }
    }

    /// Runs one claimed job and records its outcome.
    async fn run_job(self: Arc<Self>, job: ClaimedJob) {
        let cancel = CancellationToken::new();
        lock(&self.in_flight).insert(
            job.id.clone(),
            InFlight {
                job: job.clone(),
                cancel: cancel.clone(),
            },
        );
        let started = std::time::Instant::now();
        if let Some(stored) = self.stored_result(&job) {
            // The Redis index lost this content's result, the directory has
            // it: complete without running (and without paying again).
            match self
                .completer
                .complete(&job, &stored.result, &stored.plugin_version, true)
                .await
            {
                Ok(ack) => {
                    tracing::info!(job_id = %job.id, ?ack, "completed from the content directory")
                }
                Err(e) => tracing::warn!(job_id = %job.id, "cannot record cached result: {e}"),
            }
            lock(&self.in_flight).remove(&job.id);
            return;
        }
        let snapshot = self.registry.snapshot();
        let outcome = match snapshot.plugin_for(&job.job_type) {
            None => Some((
                Err(JobFailure::Retry {
                    message: format!(
                        "host {} no longer has a plugin for job type {:?}",
                        self.host_id, job.job_type
                    ),
                }),
                String::new(),
            )),
            Some(plugin) => {
                let plugin = plugin.clone();
                let input = JobInput {
                    id: job.id.clone(),
                    job_type: job.job_type.clone(),
                    payload: job.payload.clone(),
                    attempt: job.attempt,
                    feedback: job.feedback.clone(),
                    metadata: job
                        .metadata
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                };
                let services = Arc::new(QueueServices {
                    queue: self.queue.clone(),
                    children: Default::default(),
                    priority: job.priority,
                    llm: self.services.llm.clone(),
                });
                let runtime = self.registry.runtime().clone();
                tokio::select! {
                    result = runtime.run(&plugin, input, services) => Some((result, plugin.version_id.clone())),
                    _ = cancel.cancelled() => None,
                }
            }
        };
        let Some((result, version)) = outcome else {
            // The lease was lost or the host is handing the job back; whoever
            // holds the job now records its outcome.
            lock(&self.in_flight).remove(&job.id);
            tracing::info!(job_id = %job.id, "stopped: this host no longer holds the lease");
            return;
        };
        let took = started.elapsed();
        match &result {
            Ok(_) => {
                tracing::info!(job_id = %job.id, job_type = %job.job_type, attempt = job.attempt, "completed")
            }
            Err(f) => {
                self.metrics.plugin_failed(&job.job_type, f.kind());
                tracing::info!(job_id = %job.id, job_type = %job.job_type, attempt = job.attempt, kind = f.kind(), "attempt failed: {f}")
            }
        }
        let outcome = self.record(&job, result, &version).await;
        self.metrics.job_processed(&job.job_type, outcome, took);
        lock(&self.in_flight).remove(&job.id);
    }

    /// Writes an outcome, retrying through Redis outages. Gives up only when
    /// the host is shutting down past its grace period; then the lease
    /// expires and the job runs again elsewhere (at-least-once).
    /// Returns the outcome label for metrics.
    async fn record(
        &self,
        job: &ClaimedJob,
        result: Result<String, JobFailure>,
        version: &str,
    ) -> &'static str {
        let mut backoff = Duration::from_millis(100);
        loop {
            let ack = match &result {
                Ok(out) => self.completer.complete(job, out, version, false).await,
                Err(failure) => self
                    .queue
                    .fail(job, failure, &self.host_id, version)
                    .await
                    .map_err(|e| e.to_string()),
            };
            match ack {
                Ok(Ack::Recorded(status)) => {
                    tracing::debug!(job_id = %job.id, %status, "recorded");
                    if let (Ok(out), JobStatus::Completed) = (&result, status) {
                        self.keep_result(job, out, version);
                    }
                    return match status {
                        JobStatus::Completed => "completed",
                        JobStatus::Dead => "dead",
                        _ => "retried",
                    };
                }
                Ok(Ack::Stale) => {
                    tracing::warn!(
                        job_id = %job.id,
                        "outcome rejected: the lease was lost (another host has the job)"
                    );
                    return "stale";
                }
                Err(e) => {
                    tracing::warn!(job_id = %job.id, "cannot record outcome ({e}); retrying in {backoff:?}");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                }
            }
        }
    }

    /// The content directory's result for this job's content, if any.
    fn stored_result(&self, job: &ClaimedJob) -> Option<StoredResult> {
        if job.forced {
            return None;
        }
        let dir = self.services.content_dir.as_ref()?;
        let hash = job.content_hash.as_deref()?;
        match dir.read(&job.job_type, hash) {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(job_id = %job.id, "content directory: {e}");
                None
            }
        }
    }

    /// Writes a completed result to the content directory.
    fn keep_result(&self, job: &ClaimedJob, result: &str, version: &str) {
        let (Some(dir), Some(hash)) = (&self.services.content_dir, &job.content_hash) else {
            return;
        };
        let stored = StoredResult {
            job_type: job.job_type.clone(),
            content_hash: hash.clone(),
            result: result.to_string(),
            job_id: job.id.clone(),
            plugin_version: version.to_string(),
            stored_at: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0),
        };
        if let Err(e) = dir.write(&stored) {
            tracing::warn!(job_id = %job.id, "cannot write the content directory: {e}");
        }
    }

    /// Renews the leases of running jobs every third of the lease, and stops
    /// any job whose lease this host has lost.
    async fn renew_loop(self: Arc<Self>, stop: CancellationToken) {
        let every = self.config.lease() / 3;
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = stop.cancelled() => return,
            }
            let leases: Vec<(String, String)> = lock(&self.in_flight)
                .values()
                .map(|f| (f.job.id.clone(), f.job.token.clone()))
                .collect();
            match self.queue.renew(&leases, self.config.lease()).await {
                Ok(lost) => {
                    if !lost.is_empty() {
                        let map = lock(&self.in_flight);
                        for id in &lost {
                            if let Some(f) = map.get(id) {
                                tracing::warn!(job_id = %id, "lease lost; stopping the job here");
                                f.cancel.cancel();
                            }
                        }
                    }
                }
                Err(e) => tracing::warn!("lease renewal failed: {e}"),
            }
        }
    }

    /// Returns jobs whose lease expired (their host died) to the queue.
    async fn reap_loop(self: Arc<Self>, stop: CancellationToken) {
        let every = Duration::from_millis(self.config.reap_interval_ms.max(50));
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = stop.cancelled() => return,
            }
            match self.queue.reap().await {
                Ok(reaped) => {
                    for (id, status) in reaped {
                        tracing::warn!(job_id = %id, %status, "reaped an expired lease");
                    }
                }
                Err(e) => tracing::debug!("reap failed: {e}"),
            }
        }
    }

    /// Wakes idle claim loops when a job becomes ready anywhere.
    async fn wake_loop(self: Arc<Self>, stop: CancellationToken) {
        loop {
            let subscribed = async {
                let mut pubsub = self.queue.pubsub().await?;
                pubsub.subscribe(self.queue.wake_channel()).await?;
                Ok::<_, QueueError>(pubsub)
            }
            .await;
            match subscribed {
                Ok(mut pubsub) => {
                    // Anything may have become ready while we were away.
                    self.wake.notify_waiters();
                    let mut messages = pubsub.on_message();
                    loop {
                        tokio::select! {
                            msg = messages.next() => match msg {
                                Some(_) => self.wake.notify_waiters(),
                                None => break,
                            },
                            _ = stop.cancelled() => return,
                        }
                    }
                    tracing::debug!("wake-up subscription dropped; resubscribing");
                }
                Err(e) => tracing::debug!("cannot subscribe for wake-ups: {e}"),
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                _ = stop.cancelled() => return,
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The id of the `index`th child (from 0) a job submits without naming
/// it: `<parent>.child.<index>`, or, when that would pass the id length
/// limit, the parent's SHA-256 in its place.
fn child_id(parent: &str, index: u64) -> String {
    let id = format!("{parent}.child.{index}");
    if id.len() <= crate::queue::MAX_ID_LEN {
        return id;
    }
    use sha2::Digest;
    let digest = hex::encode(sha2::Sha256::digest(parent.as_bytes()));
    format!("{digest}.child.{index}")
}

/// Host capabilities backed by the queue: child jobs are real jobs.
struct QueueServices {
    queue: Queue,
    /// Children this attempt has submitted so far.
    children: std::sync::atomic::AtomicU64,
    /// The running job's priority, inherited by children that name none.
    priority: i32,
    llm: Option<LlmClient>,
}

#[async_trait::async_trait]
impl HostServices for QueueServices {
    async fn submit_child(&self, parent: &JobInput, child: ChildJob) -> Result<String, String> {
        // A child without an id of its own is named after its parent and
        // its place among this attempt's children, so a retried parent that
        // submits the same children again finds them instead of doubling them.
        let index = self
            .children
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let id = child.id.unwrap_or_else(|| child_id(&parent.id, index));
        let request = SubmitRequest {
            job_type: child.job_type,
            payload: child.payload,
            priority: child.priority.unwrap_or(self.priority),
            depends_on: child.depends_on,
            id: Some(id),
            max_retries: child.max_retries,
            metadata: child.metadata.into_iter().collect(),
            parent: Some(parent.id.clone()),
            force: false,
            run_after_failure: child.run_after_failure,
            run_at: None,
            delay_ms: None,
        };
        self.queue
            .submit(request)
            .await
            .map(|s| s.id)
            .map_err(|e| e.to_string())
    }

    async fn progress(&self, job: &JobInput, fraction: f32, message: String) {
        if let Err(e) = self.queue.set_progress(&job.id, fraction, &message).await {
            tracing::debug!(job_id = %job.id, "cannot record progress: {e}");
        }
    }

    async fn get_job(&self, id: &str) -> Option<JobView> {
        match self.queue.get(id).await {
            Ok(Some(job)) => Some(JobView {
                error: job.errors.last().map(|e| e.message.clone()),
                id: job.id,
                job_type: job.job_type,
                status: job.status.to_string(),
                result: job.result,
                attempts: job.attempts,
            }),
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(job_id = %id, "cannot look up job for a plugin: {e}");
                None
            }
        }
    }

    async fn generate(&self, job: &JobInput, request: LlmRequest) -> Result<LlmResponse, LlmError> {
        let Some(llm) = &self.llm else {
            return Err(LlmError::NotConfigured(
                "no LLM configured on this host".into(),
            ));
        };
        // The job's cost counts every ask, the failed ones too.
        let usage = crate::llm::Usage::default();
        let response = llm.generate_metered(&request, &usage).await;
        let (calls, prompt, completion) = usage.figures();
        if calls > 0
            && let Err(e) = self
                .queue
                .add_usage(&job.id, calls, prompt, completion)
                .await
        {
            tracing::warn!(job_id = %job.id, "cannot record token usage: {e}");
        }
        response
    }
}
