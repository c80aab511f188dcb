//! The worker: claims batches of jobs from the queue and runs them through the
//! plugin runtime, renewing leases while they run, reaping the leases of dead
//! hosts, firing due schedule ticks, and handing its own jobs back at once
//! on shutdown.

mod claim_loop;
mod completer;
mod config;
mod cron;
mod directory;
mod duties;
mod presence;
mod services;

pub use config::{WorkerConfig, default_host_id};
pub use presence::{DATA_LOSS_DEGRADED, Presence};

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::FutureExt;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::content::ContentDir;
use crate::job::{Wait, WaitToken};
use crate::llm::LlmClient;
use crate::metrics::{Metrics, resident_bytes};
use services::QueueServices;

use crate::job::{NewJob, Payload};
use crate::queue::{Ack, ClaimedJob, JobStatus, Notice, Queue, QueueError, Topic};
use crate::registry::Registry;
use crate::runtime::{
    ChildJob, HostServices, JobFailure, JobInput, JobView, LlmError, LlmRequest, LlmResponse,
};

/// How long a stopping host tries to hand its jobs back, and then waits
/// for its background duties to stop.
const HAND_BACK: Duration = Duration::from_secs(5);

/// Past a scheduled job's time before an idle loop looks again, so Redis'
/// clock has surely reached it.
const SCHEDULE_SLACK: Duration = Duration::from_millis(2);

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
    /// The writers behind `completer` (one per partition), until `run`
    /// starts them.
    writers: Mutex<Vec<completer::Writer>>,
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
        let (completer, writers) = completer::channel(&queue);
        Arc::new(Worker {
            completer,
            writers: Mutex::new(writers),
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
        // Each ends by itself once the worker (the completer's only owner)
        // is gone.
        for writer in std::mem::take(&mut *lock(&self.writers)) {
            tokio::spawn(writer.run(self.queue.clone()));
        }
        let mut tasks = vec![
            tokio::spawn(self.clone().presence_loop(background.clone())),
            tokio::spawn(self.clone().renew_loop(background.clone())),
            tokio::spawn(self.clone().reap_loop(background.clone())),
            tokio::spawn(self.clone().listen_loop(background.clone())),
            tokio::spawn(self.clone().cron_loop(background.clone())),
        ];
        if self.queue.partitions() > 1 {
            tasks.push(tokio::spawn(self.clone().relay_loop(background.clone())));
        }
        if let Some(llm) = self.services.llm.clone() {
            tasks.push(tokio::spawn(
                self.clone().batch_loop(llm, background.clone()),
            ));
        }
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
            // Bounded: with Redis down, the leases expire instead.
            let hand_back = self.hand_back(unfinished);
            if tokio::time::timeout(HAND_BACK, hand_back).await.is_err() {
                tracing::warn!(
                    "Redis did not take the jobs back within {HAND_BACK:?}; their leases will expire instead"
                );
            }
        }
        background.cancel();
        let stopped = futures::future::join_all(tasks);
        if tokio::time::timeout(HAND_BACK, stopped).await.is_err() {
            tracing::warn!("background duties did not stop within {HAND_BACK:?}");
        }
        tracing::info!(host = %self.host_id, "worker stopped");
    }

    /// Hands unfinished jobs back to the queue at shutdown.
    async fn hand_back(&self, unfinished: Vec<InFlight>) {
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

    /// Whether the memory guard holds claims now; says so when that changes.
    fn memory_guard(&self) -> bool {
        let paused = self.over_memory();
        let was = self
            .metrics
            .claims_paused
            .swap(u64::from(paused), std::sync::atomic::Ordering::Relaxed)
            == 1;
        if paused && !was {
            tracing::warn!(
                max_memory_mb = self.config.max_memory_mb,
                resident_mb = resident_bytes() / (1024 * 1024),
                "memory guard: not claiming new jobs until memory is back under the limit"
            );
        } else if !paused && was {
            tracing::info!("memory guard: claiming again");
        }
        paused
    }

    /// The attempt's span: every log line about the job, the plugin's own
    /// included, carries its id and type; with traces exported, the span
    /// continues the job's trace.
    fn job_span(&self, job: &ClaimedJob) -> tracing::Span {
        let span = tracing::info_span!(
            "job",
            job_id = %job.id,
            job_type = %job.job_type,
            attempt = job.attempt,
            host = %self.host_id,
            outcome = tracing::field::Empty,
        );
        crate::telemetry::continue_trace(&span, job.trace.as_deref());
        span
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
        // Leaves `in_flight` on every way out, a panic included: a job left
        // there would have its lease renewed until the host restarts.
        let _running = Running {
            worker: &self,
            id: &job.id,
        };
        let started = std::time::Instant::now();
        if self.complete_from_directory(&job).await {
            return;
        }
        let outcome = tokio::select! {
            // Boxed, like the recording below: the plugin call's state is
            // large, and run_job's own future is moved when it is spawned.
            outcome = Box::pin(AssertUnwindSafe(self.run_plugin(&job)).catch_unwind()) => {
                Some(outcome.unwrap_or_else(|panic| (Err(host_failure(&*panic)), String::new(), None)))
            }
            _ = cancel.cancelled() => None,
        };
        let Some((result, version, suspension)) = outcome else {
            // The lease was lost or the host is handing the job back; whoever
            // holds the job now records its outcome.
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
        let outcome = Box::pin(self.record(&job, result, &version, suspension)).await;
        tracing::Span::current().record("outcome", outcome);
        self.metrics.job_processed(&job.job_type, outcome, took);
    }

    /// Runs `job` in its plugin: the result, the plugin's version id, and
    /// the wait the attempt asked to suspend on.
    async fn run_plugin(&self, job: &ClaimedJob) -> Attempt {
        let snapshot = self.registry.snapshot();
        let Some(plugin) = snapshot.plugin_for(&job.job_type) else {
            let message = format!(
                "host {} no longer has a plugin for job type {:?}",
                self.host_id, job.job_type
            );
            return (Err(JobFailure::Retry { message }), String::new(), None);
        };
        let plugin = plugin.clone();
        let input = JobInput {
            id: job.id.clone(),
            job_type: job.job_type.clone(),
            payload: job.payload.clone(),
            attempt: job.attempt,
            feedback: crate::llm::batch::restore_feedback(job.feedback.clone()),
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
            group: job.group.clone(),
            trace: job.trace.clone(),
            token: job.token.clone(),
            llm: self.services.llm.clone(),
            waited: Default::default(),
            suspension: Default::default(),
            deferred: Default::default(),
        });
        let runtime = self.registry.runtime().clone();
        let mut result = runtime.run(&plugin, input, services.clone()).await;
        let suspension = lock(&services.suspension).take();
        if services.deferred.load(std::sync::atomic::Ordering::Relaxed) && suspension.is_some() {
            // What the plugin made of its deferred call does not count: it
            // runs again with the answer.
            result = Ok("null".into());
        }
        (result, plugin.version_id.clone(), suspension)
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
        suspension: Option<(Wait, WaitToken)>,
    ) -> &'static str {
        let mut backoff = Duration::from_millis(100);
        loop {
            let ack = match (&result, &suspension) {
                (Ok(out), Some((wait, token))) => self
                    .queue
                    .suspend(job, wait, token, out, version)
                    .await
                    .map_err(|e| e.to_string()),
                (Ok(out), None) => self.completer.complete(job, out, version, false).await,
                (Err(failure), _) => self
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
                        JobStatus::Suspended => "suspended",
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
}

/// What one attempt came to: its result, the plugin's version id, and the
/// wait it asked to suspend on (taken only with an `ok` result).
type Attempt = (
    Result<String, JobFailure>,
    String,
    Option<(Wait, WaitToken)>,
);

/// A job's place in `in_flight`, given up when dropped.
struct Running<'w> {
    worker: &'w Worker,
    id: &'w str,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        lock(&self.worker.in_flight).remove(self.id);
    }
}

/// The failure recorded when the host itself panicked while running a job
/// (a bug, never the plugin's doing): retried, with what the panic said.
fn host_failure(panic: &(dyn std::any::Any + Send)) -> JobFailure {
    let said = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    tracing::error!("the host panicked while running a job: {said}");
    JobFailure::Retry {
        message: format!("the host failed while running the job ({said})"),
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
