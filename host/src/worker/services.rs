//! The host capabilities a running job gets (`HostServices`), backed by the
//! queue: child jobs are real jobs, progress and lookups read and write
//! their records, LLM calls go through the host's client and are counted on
//! the job.

use super::*;
use std::collections::HashSet;

use crate::job::{Wait, WaitToken};
use crate::queue::JobRecord;
use crate::runtime::{KvError, KvWrite};

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

/// Most jobs one `jobs.get-many` looks up; past it, the rest read as none.
pub const MAX_LOOKUPS: usize = 10_000;

/// Whether a running job (`me_id`, its record `me`) may read `other`: it
/// is the job itself, its parent, its child, a sibling (a child of its
/// parent) or one of its dependencies. With what those depend on (looked
/// up in the same call), that is a plugin's own family of work; another
/// submitter's jobs read as none.
fn in_family(me_id: &str, me: Option<&JobRecord>, other: &JobRecord) -> bool {
    let parent = me.and_then(|m| m.parent.as_deref());
    other.id == me_id
        || other.parent.as_deref() == Some(me_id)
        || parent.is_some_and(|p| other.id == p || other.parent.as_deref() == Some(p))
        || me.is_some_and(|m| m.depends_on.contains(&other.id))
}

/// Host capabilities backed by the queue: child jobs are real jobs.
pub(super) struct QueueServices {
    pub(super) queue: Queue,
    /// Children this attempt has submitted so far.
    pub(super) children: std::sync::atomic::AtomicU64,
    /// The running job's priority, inherited by children that name none.
    pub(super) priority: i32,
    /// The running job's fairness group, inherited by children that name none.
    pub(super) group: Option<String>,
    /// The running job's trace, which its children join (under the
    /// attempt's span when traces are exported).
    pub(super) trace: Option<String>,
    /// The running attempt's lease token: what the queue checks before it
    /// lets the job change other jobs' waits.
    pub(super) token: String,
    pub(super) llm: Option<LlmClient>,
    /// How long this attempt's LLM calls waited for the provider's shared
    /// limits: the runtime extends the attempt's timeout by it.
    pub(super) waited: Arc<crate::llm::Waited>,
    /// The wait this attempt asked to suspend on, and its token.
    pub(super) suspension: std::sync::Mutex<Option<(Wait, WaitToken)>>,
    /// Set when an LLM call went to the batch lane: the job waits for it
    /// whatever the plugin returns, and runs again when the answer is in.
    pub(super) deferred: std::sync::atomic::AtomicBool,
}

impl QueueServices {
    /// A child as the queue takes it. A child without an id of its own is
    /// named after its parent and its place among this attempt's children,
    /// so a retried parent that submits the same children again finds them
    /// instead of doubling them.
    fn child_request(&self, parent: &JobInput, child: ChildJob) -> Result<NewJob, QueueError> {
        let index = self
            .children
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let payload = Payload::parse(child.payload).map_err(|reason| QueueError::Invalid {
            field: "payload",
            reason,
        })?;
        Ok(NewJob {
            id: Some(child.id.unwrap_or_else(|| child_id(&parent.id, index))),
            priority: child.priority.unwrap_or(self.priority),
            depends_on: child.depends_on,
            max_retries: child.max_retries,
            metadata: child.metadata.into_iter().collect(),
            parent: Some(parent.id.clone()),
            force: false,
            run_after_failure: child.run_after_failure,
            run_at: None,
            delay_ms: child.delay_ms,
            group: self.group.clone(),
            trace: crate::telemetry::current_traceparent().or_else(|| self.trace.clone()),
            ..NewJob::new(child.job_type, payload)
        })
    }
}

/// How long a child submission keeps trying through a Redis outage (a
/// failover takes seconds) before the plugin hears of it.
const OUTAGE_PATIENCE: Duration = Duration::from_secs(30);

/// Runs `submit` again while it fails with a transient error, for up to
/// [`OUTAGE_PATIENCE`]. Safe: a child's id is fixed by its parent and
/// place, so a submission that did land is found, not made twice.
async fn through_outages<T, E, F, Fut>(mut submit: F) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
    E: Transient,
{
    let deadline = tokio::time::Instant::now() + OUTAGE_PATIENCE;
    let mut backoff = Duration::from_millis(100);
    loop {
        match submit().await {
            Err(e) if e.transient() && tokio::time::Instant::now() + backoff < deadline => {
                tracing::debug!("child submission waits out a Redis outage");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
            other => return other,
        }
    }
}

trait Transient {
    fn transient(&self) -> bool;
}

impl Transient for QueueError {
    fn transient(&self) -> bool {
        self.is_transient()
    }
}

impl Transient for (usize, QueueError) {
    fn transient(&self) -> bool {
        self.1.is_transient()
    }
}

#[async_trait::async_trait]
impl HostServices for QueueServices {
    fn waited(&self) -> Duration {
        self.waited.total()
    }

    async fn submit_children(
        &self,
        parent: &JobInput,
        children: Vec<ChildJob>,
    ) -> Result<Vec<String>, (usize, String)> {
        let mut requests = Vec::with_capacity(children.len());
        for (index, child) in children.into_iter().enumerate() {
            let request = self.child_request(parent, child);
            requests.push(request.map_err(|e| (index, e.to_string()))?);
        }
        if requests.len() == 1 {
            // One child (`jobs.submit`): the single submit script.
            let request = requests.remove(0);
            return match through_outages(|| self.queue.submit(request.clone())).await {
                Ok(s) => Ok(vec![s.id]),
                Err(e) => Err((0, e.to_string())),
            };
        }
        // One trip per batch the queue takes; each batch all or nothing.
        let size = self.queue.config().max_batch_jobs.max(1);
        let mut ids = Vec::with_capacity(requests.len());
        let mut requests = requests.into_iter().peekable();
        while requests.peek().is_some() {
            let batch: Vec<NewJob> = requests.by_ref().take(size).collect();
            let done = ids.len();
            let submitted = through_outages(|| async {
                self.queue
                    .submit_batch(batch.clone())
                    .await
                    .map_err(|e| (e.index, e.error))
            })
            .await;
            match submitted {
                Ok(submitted) => ids.extend(submitted.into_iter().map(|s| s.id)),
                Err((index, e)) => return Err((done + index, e.to_string())),
            }
        }
        Ok(ids)
    }

    async fn suspend(&self, job: &JobInput, wait: Wait) -> Result<String, String> {
        if self.deferred.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(crate::llm::batch::DEFERRED.to_string());
        }
        let mut asked = lock(&self.suspension);
        if asked.is_some() {
            return Err(crate::job::WaitError::Twice.to_string());
        }
        let token = WaitToken::new(&job.id);
        let text = token.to_string();
        *asked = Some((wait, token));
        Ok(text)
    }

    async fn progress(&self, job: &JobInput, fraction: f32, message: String) {
        if let Err(e) = self
            .queue
            .set_progress(&job.id, &self.token, fraction, &message)
            .await
        {
            tracing::debug!(job_id = %job.id, "cannot record progress: {e}");
        }
    }

    async fn get_jobs(&self, job: &JobInput, ids: &[String]) -> Vec<Option<JobView>> {
        if ids.len() > MAX_LOOKUPS {
            tracing::warn!(
                job_id = %job.id,
                asked = ids.len(),
                "jobs.get-many asked for more than {MAX_LOOKUPS} jobs: the rest read as none"
            );
        }
        let asked = &ids[..ids.len().min(MAX_LOOKUPS)];
        // The job's own record (its parent and dependencies) in the same trip.
        let mut wanted = asked.to_vec();
        wanted.push(job.id.clone());
        let mut jobs = match self.queue.get_many(&wanted).await {
            Ok(jobs) => jobs,
            Err(e) => {
                tracing::warn!(jobs = ids.len(), "cannot look up jobs for a plugin: {e}");
                return vec![None; ids.len()];
            }
        };
        let me = jobs.pop().flatten();
        // What the job's own family depends on is its to read too (a
        // report reads the alignments its validations waited on).
        let theirs: HashSet<&str> = jobs
            .iter()
            .flatten()
            .filter(|other| in_family(&job.id, me.as_ref(), other))
            .flat_map(|other| other.depends_on.iter().map(String::as_str))
            .collect();
        let visible = |other: &JobRecord| {
            in_family(&job.id, me.as_ref(), other) || theirs.contains(other.id.as_str())
        };
        let visible: Vec<bool> = jobs
            .iter()
            .map(|j| j.as_ref().is_some_and(visible))
            .collect();
        let mut out: Vec<Option<JobView>> = jobs
            .into_iter()
            .zip(visible)
            .map(|(found, visible)| {
                found.filter(|_| visible).map(|other| JobView {
                    error: other.errors.last().map(|e| e.message.clone()),
                    id: other.id,
                    job_type: other.job_type,
                    status: other.status.to_string(),
                    result: other.result,
                    attempts: other.attempts,
                })
            })
            .collect();
        out.resize(ids.len(), None);
        out
    }

    async fn wait_also(
        &self,
        job: &JobInput,
        target: &str,
        depends_on: Vec<String>,
    ) -> Result<u64, String> {
        // Adding the same dependencies again leaves them as they are, so a
        // call that did land may be made again.
        through_outages(|| {
            self.queue
                .wait_also(&job.id, &self.token, target, &depends_on)
        })
        .await
        .map_err(|e| e.to_string())
    }

    async fn generate(&self, job: &JobInput, request: LlmRequest) -> Result<LlmResponse, LlmError> {
        let Some(llm) = &self.llm else {
            return Err(LlmError::NotConfigured(
                "no LLM configured on this host".into(),
            ));
        };
        // A call deferred already: this attempt ends in its wait, whatever
        // it asks next (it runs again, and asks again then).
        if self.deferred.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(LlmError::Unavailable(crate::llm::batch::DEFERRED.into()));
        }
        // The job's cost counts every ask, the failed ones too, and one
        // cut short: a job that times out mid-call drops this future, and
        // the recorder writes what was sent when it is dropped.
        let usage = Arc::new(crate::llm::Usage {
            waited: self.waited.clone(),
            ..Default::default()
        });
        let mut recorder = UsageRecorder {
            queue: self.queue.clone(),
            id: job.id.clone(),
            token: self.token.clone(),
            usage: Some(usage.clone()),
        };
        let token = WaitToken::new(&job.id);
        let caller = crate::llm::Caller {
            job_id: job.id.clone(),
            job_type: job.job_type.clone(),
            group: self.group.clone(),
            run: run_of(job),
            defer: deferrable(llm, job).then(|| crate::llm::Deferral {
                token: token.to_string(),
                feedback: job.feedback.clone(),
            }),
        };
        let response = llm.generate_for(&request, &usage, &caller).await;
        // Before the job goes on, so its outcome finds the usage written.
        recorder.record().await;
        if usage.deferred.load(std::sync::atomic::Ordering::Relaxed) {
            self.wait_for_batch(llm, token);
        }
        response
    }

    async fn record_outbound(&self, job: &JobInput, requests: u64, bytes: u64) {
        let write = self
            .queue
            .add_outbound(&job.id, &self.token, requests, bytes);
        if let Err(e) = write.await {
            tracing::warn!(job_id = %job.id, "outbound HTTP not recorded on the job: {e}");
        }
    }

    async fn kv_get(&self, plugin: &str, key: &str) -> Result<Option<String>, KvError> {
        self.queue.kv_get(plugin, key).await.map_err(kv_unavailable)
    }

    async fn kv_set(&self, write: KvWrite<'_>) -> Result<(), KvError> {
        let entry = crate::queue::KvEntry {
            plugin: write.plugin,
            key: write.key,
            value: write.value,
            ttl_ms: write.ttl_ms,
            quota_bytes: write.quota_bytes,
        };
        match self.queue.kv_set(&entry).await.map_err(kv_unavailable)? {
            Ok(()) => Ok(()),
            Err(would_hold) => Err(KvError::QuotaExceeded(format!(
                "plugin {:?} would hold {would_hold} bytes, past its quota of {} ([plugins.{}.key_value] quota_bytes)",
                write.plugin, write.quota_bytes, write.plugin
            ))),
        }
    }

    async fn kv_delete(&self, plugin: &str, key: &str) -> Result<bool, KvError> {
        self.queue
            .kv_delete(plugin, key)
            .await
            .map_err(kv_unavailable)
    }
}

impl QueueServices {
    /// Suspends this attempt's job on the batch lane's wait (once: a
    /// plugin that asks again after [`crate::llm::batch::DEFERRED`] waits
    /// on the first token).
    ///
    /// It takes the place of a wait the plugin asked for before (a review):
    /// the attempt runs again with the answer, and asks again then.
    fn wait_for_batch(&self, llm: &LlmClient, token: WaitToken) {
        if self
            .deferred
            .swap(true, std::sync::atomic::Ordering::Relaxed)
        {
            return;
        }
        let mut asked = lock(&self.suspension);
        let wait = Wait::new(
            crate::llm::batch::WAIT_NAME.into(),
            "{}".into(),
            llm.config().batch.wait_timeout_ms,
            crate::job::OnTimeout::Fail,
        );
        match wait {
            Ok(wait) => *asked = Some((wait, token)),
            Err(e) => tracing::warn!("cannot wait for the batch: {e}"),
        }
    }
}

/// Whether a job's LLM calls may go to the batch lane: its metadata asks
/// for it, or its job type is in `[llm.batch] job_types`.
fn deferrable(llm: &LlmClient, job: &JobInput) -> bool {
    let (key, value) = crate::job::LLM_LANE_METADATA;
    job.metadata.iter().any(|(k, v)| k == key && v == value)
        || llm.config().batch.job_types.contains(&job.job_type)
}

fn kv_unavailable(e: QueueError) -> KvError {
    KvError::Unavailable(e.to_string())
}

/// Writes an LLM call's usage on its job: after the call ([`record`]), or,
/// when the job's timeout drops the call midway, in the background when
/// dropped (the request was sent, and a provider may charge for it).
///
/// [`record`]: UsageRecorder::record
struct UsageRecorder {
    queue: Queue,
    id: String,
    token: String,
    /// None once written.
    usage: Option<Arc<crate::llm::Usage>>,
}

impl UsageRecorder {
    async fn record(&mut self) {
        if let Some(usage) = self.usage.take() {
            write_usage(&self.queue, &self.id, &self.token, &usage).await;
        }
    }
}

impl Drop for UsageRecorder {
    fn drop(&mut self) {
        let Some(usage) = self.usage.take() else {
            return;
        };
        let (queue, id, token) = (self.queue.clone(), self.id.clone(), self.token.clone());
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move { write_usage(&queue, &id, &token, &usage).await });
            }
            Err(_) => tracing::warn!(job_id = %id, "cannot record token usage: no runtime"),
        }
    }
}

/// Adds `usage` to the job's record, if it made any call.
async fn write_usage(queue: &Queue, id: &str, token: &str, usage: &crate::llm::Usage) {
    let (calls, prompt_tokens, completion_tokens) = usage.figures();
    // A call answered by a batch made no HTTP call of its own, yet has its ask.
    if calls == 0 && lock(&usage.asks).is_empty() {
        return;
    }
    let asks = lock(&usage.asks)
        .iter()
        .filter_map(|a| serde_json::to_value(a).ok())
        .collect();
    let written = crate::queue::LlmUsage {
        calls,
        prompt_tokens,
        completion_tokens,
        cost_micros: usage.cost_micros.load(std::sync::atomic::Ordering::Relaxed),
        route: lock(&usage.route).clone(),
        asks,
    };
    match queue.add_usage(id, token, &written).await {
        Ok(true) => {}
        Ok(false) => tracing::debug!(job_id = %id, "token usage not recorded: the job is gone"),
        Err(e) => tracing::warn!(job_id = %id, "cannot record token usage: {e}"),
    }
}

/// The bulk run a job belongs to: its `run` metadata.
pub(super) fn run_of(job: &JobInput) -> Option<String> {
    job.metadata
        .iter()
        .find(|(k, _)| k == crate::job::RUN_METADATA)
        .map(|(_, v)| v.clone())
        .filter(|v| !v.is_empty())
}
