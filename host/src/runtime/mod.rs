//! The plugin runtime: compiles job-type components once and runs every job
//! in a fresh, sandboxed instance with a memory cap and a wall-clock deadline.
//!
//! The sandbox is wasmtime-wasi's p2 with nothing granted: no preopened
//! directories, no environment, no arguments, no inherited stdio, and a socket
//! check that refuses every address. What a plugin can reach is exactly the
//! imports of `wit/deckhand.wit`, served by [`HostServices`], and
//! `wasi:http/outgoing-handler` for the hosts the operator granted it
//! (`outbound.rs`, checked against the [`GrantBook`]).

mod bindings;
mod cache;
mod granted_api;
mod host_api;
mod limits;
mod meter;
mod outbound;
mod plugin;
mod secrets;
mod services;
mod state;

pub use crate::job::{JobFailure, valid_job_type_name};
pub use cache::{CacheOutcome, CompileCache};
pub use meter::{Meter, PluginUsage};
pub use plugin::{JobTypeInfo, LoadError, Plugin, PluginInfo, version_id as plugin_version_id};
pub use services::{
    ChildJob, HostServices, JobView, KvError, KvWrite, LlmError, LlmMessage, LlmRequest,
    LlmResponse, Standalone,
};
pub(crate) use state::{JobContext, JobState};

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use wasmtime::component::{Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi_http::WasiHttpCtx;

use crate::grants::GrantBook;

use bindings::types::JobError;
use limits::MemoryCap;

/// How often the epoch advances. A running plugin yields to tokio at every
/// tick, so this is also the longest a plugin can hold a worker thread.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// What one pooled slot may use, at most, of core instances, memories and
/// tables. The componentize-py and componentize-js components did not fit
/// 4 core instances per slot; these do (`tests/polyglot.rs` runs them
/// pooled, several at once).
const POOL_CORE_INSTANCES_PER_SLOT: u32 = 32;
const POOL_MEMORIES_PER_SLOT: u32 = 4;
const POOL_TABLES_PER_SLOT: u32 = 32;

/// Bytes of a plugin's stdout/stderr kept per job (for logs and trap reports).
const CAPTURED_OUTPUT_BYTES: usize = 64 * 1024;

/// Limits and engine settings. Job types may ask for less or more than the
/// defaults, but never more than the ceilings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RuntimeConfig {
    /// Timeout for a job type that does not declare one.
    pub default_timeout_ms: u64,
    /// No job type gets more than this, whatever it declares.
    pub max_timeout_ms: u64,
    /// Memory cap for a job type that does not declare one.
    pub default_memory_bytes: u64,
    /// No job type gets more than this, whatever it declares.
    pub max_memory_bytes: u64,
    /// Wasm stack size; unbounded recursion traps as a stack overflow here.
    pub max_stack_bytes: usize,
    /// Pre-reserve this many instance slots with wasmtime's pooling allocator
    /// (faster instantiation under load, at the price of reserved address
    /// space: `pool_instances × max_memory_bytes`). 0 allocates on demand.
    pub pool_instances: u32,
    /// The operator's limits for particular job types; they replace what
    /// the plugin declared (still capped by the ceilings).
    pub job_types: std::collections::BTreeMap<String, LimitOverride>,
    /// Keep compiled components here (none: compile at every load).
    pub compile_cache: Option<std::path::PathBuf>,
}

/// An operator's limits for one job type.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LimitOverride {
    pub timeout_ms: Option<u64>,
    pub memory_bytes: Option<u64>,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            default_timeout_ms: 60_000,
            max_timeout_ms: 3_600_000,
            default_memory_bytes: 256 * 1024 * 1024,
            max_memory_bytes: 4 * 1024 * 1024 * 1024,
            max_stack_bytes: 512 * 1024,
            pool_instances: 0,
            job_types: Default::default(),
            compile_cache: None,
        }
    }
}

/// One attempt of one job, as the host hands it to a plugin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobInput {
    pub id: String,
    pub job_type: String,
    /// JSON text.
    pub payload: String,
    /// 1-based.
    pub attempt: u32,
    pub feedback: Option<String>,
    pub metadata: Vec<(String, String)>,
}

/// The limits one job type runs under, after defaults and ceilings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobLimits {
    pub timeout: Duration,
    pub memory_bytes: u64,
}

/// Compiles plugins and runs jobs. Cheap to share behind an `Arc`.
pub struct Runtime {
    engine: Engine,
    linker: Linker<JobState>,
    config: RuntimeConfig,
    grants: Arc<GrantBook>,
    meter: Arc<Meter>,
}

/// Error building the runtime itself (bad configuration).
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("cannot configure the wasm engine: {0}")]
    Engine(String),
}

impl Runtime {
    pub fn new(config: RuntimeConfig) -> Result<Self, RuntimeError> {
        let mut wasm = wasmtime::Config::new();
        wasm.wasm_component_model(true)
            .epoch_interruption(true)
            .max_wasm_stack(config.max_stack_bytes);
        if config.pool_instances > 0 {
            let mut pool = wasmtime::PoolingAllocationConfig::default();
            let max_memory = usize::try_from(config.max_memory_bytes)
                .map_err(|_| RuntimeError::Engine("max_memory_bytes does not fit".into()))?;
            // Slots are counted per component instance; what one instance
            // takes of the rest varies with the language it was built from.
            let slots = config.pool_instances;
            pool.total_component_instances(slots)
                .total_core_instances(slots.saturating_mul(POOL_CORE_INSTANCES_PER_SLOT))
                .total_memories(slots.saturating_mul(POOL_MEMORIES_PER_SLOT))
                .total_tables(slots.saturating_mul(POOL_TABLES_PER_SLOT))
                .max_memory_size(max_memory)
                // Reset a returned slot by rewriting only the pages the job
                // dirtied (Linux 6.7+, PAGEMAP_SCAN), up to 1 MiB, instead
                // of unmapping: an madvise in a multi-threaded process
                // interrupts every core to flush its TLB, which cost more
                // than the job itself on a busy host.
                .pagemap_scan(wasmtime::Enabled::Auto)
                .linear_memory_keep_resident(1 << 20)
                .table_keep_resident(1 << 16)
                // Memory a job dirtied past the 1 MiB kept resident is
                // handed back to the kernel as soon as the job ends. Batched
                // decommits held it (and the slot) until 32 slots were
                // queued, which a host with fewer slots reaches only when
                // the pool runs dry: a host that ran 128 MiB jobs one at a
                // time grew to 2.6 GiB. Jobs that stay under 1 MiB (most)
                // queue nothing and pay no madvise either way.
                .decommit_batch_size(1);
            wasm.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
        }
        let engine = Engine::new(&wasm).map_err(|e| RuntimeError::Engine(format!("{e:#}")))?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .and_then(|()| wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker))
            .and_then(|()| host_api::add_to_linker(&mut linker))
            .map_err(|e| RuntimeError::Engine(format!("{e:#}")))?;
        spawn_epoch_ticker(&engine);
        Ok(Runtime {
            engine,
            linker,
            config,
            grants: Arc::default(),
            meter: Arc::default(),
        })
    }

    pub fn config(&self) -> &RuntimeConfig {
        &self.config
    }

    /// The grants every job starts with; replace them to change a grant
    /// for the jobs that start next.
    pub fn grants(&self) -> &Arc<GrantBook> {
        &self.grants
    }

    /// What `plugin` asked for against what it is granted now.
    pub fn asked_granted(&self, plugin: &Plugin) -> crate::grants::AskedGranted {
        crate::grants::AskedGranted::new(&plugin.wants, &self.grants.of(&plugin.info.name))
    }

    /// What plugins spent of their grants on this host.
    pub fn meter(&self) -> &Arc<Meter> {
        &self.meter
    }

    /// The limits a job type gets: what it declared, or the defaults, capped
    /// by the ceilings.
    pub fn limits_for(&self, job_type: &JobTypeInfo) -> JobLimits {
        let c = &self.config;
        let operator = c.job_types.get(&job_type.name);
        let timeout_ms = operator
            .and_then(|o| o.timeout_ms)
            .or(job_type.timeout_ms)
            .unwrap_or(c.default_timeout_ms)
            .min(c.max_timeout_ms);
        let memory_bytes = operator
            .and_then(|o| o.memory_bytes)
            .or(job_type.memory_limit_bytes)
            .unwrap_or(c.default_memory_bytes)
            .min(c.max_memory_bytes);
        JobLimits {
            timeout: Duration::from_millis(timeout_ms),
            memory_bytes,
        }
    }

    /// Runs one attempt of `job` in a fresh instance of `plugin`.
    ///
    /// Never panics and never takes the host down: whatever the plugin does,
    /// the answer is a JSON result or a [`JobFailure`].
    pub async fn run(
        &self,
        plugin: &Plugin,
        job: JobInput,
        services: Arc<dyn HostServices>,
    ) -> Result<String, JobFailure> {
        let Some(job_type) = plugin.job_type(&job.job_type) else {
            return Err(JobFailure::Fail {
                message: format!(
                    "plugin {} does not handle job type {:?}",
                    plugin.info.name, job.job_type
                ),
            });
        };
        let limits = self.limits_for(job_type);
        let needs_llm = job_type.needs_llm;
        let waits = services.clone();
        let mut store = self.new_store(
            limits,
            JobContext {
                job: job.clone(),
                plugin: plugin.info.name.clone(),
                needs_llm,
                services,
                grant: self.grants.of(&plugin.info.name),
            },
        );
        let wit_job = bindings::types::Job {
            id: job.id,
            job_type: job.job_type,
            payload: job.payload,
            attempt: job.attempt,
            feedback: job.feedback,
            metadata: job.metadata,
        };
        let call = async {
            let instance = plugin.pre.instantiate_async(&mut store).await?;
            instance
                .deckhand_plugin_handler()
                .call_process(&mut store, &wit_job)
                .await
        };
        let outcome = limits::within(limits.timeout, waits.as_ref(), call).await;
        let (requests, bytes) = store.data().outbound.tally.read();
        if requests > 0 {
            let job = &store.data().context.job;
            waits.record_outbound(job, requests, bytes).await;
        }
        let state = store.data();
        state.log_output();
        state
            .secrets
            .scrub_outcome(Self::outcome(state, outcome, &limits, &self.config))
    }

    /// What an attempt's end means for the job.
    fn outcome(
        state: &JobState,
        outcome: Option<wasmtime::Result<Result<String, JobError>>>,
        limits: &JobLimits,
        config: &RuntimeConfig,
    ) -> Result<String, JobFailure> {
        match outcome {
            None => Err(JobFailure::Timeout {
                limit_ms: millis(limits.timeout),
            }),
            Some(Err(err)) => Err(state.classify(err, limits, config.max_stack_bytes)),
            Some(Ok(Err(job_error))) => Err(match job_error {
                JobError::Retry(message) => JobFailure::Retry { message },
                JobError::Fail(message) => JobFailure::Fail { message },
                JobError::RetryWithFeedback(f) => JobFailure::RetryWithFeedback {
                    message: f.message,
                    feedback: f.feedback,
                },
            }),
            Some(Ok(Ok(result))) => match serde_json::from_str::<serde_json::Value>(&result) {
                Ok(_) => Ok(result),
                Err(e) => Err(JobFailure::BadResult {
                    message: e.to_string(),
                }),
            },
        }
    }

    fn new_store(&self, limits: JobLimits, context: JobContext) -> Store<JobState> {
        let stdout = MemoryOutputPipe::new(CAPTURED_OUTPUT_BYTES);
        let stderr = MemoryOutputPipe::new(CAPTURED_OUTPUT_BYTES);
        // Nothing is granted: the builder's defaults are no preopens, no env,
        // no args, no stdin, and a socket check that denies every address.
        let wasi = wasmtime_wasi::WasiCtxBuilder::new()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .build();
        let deadline = Instant::now() + limits.timeout;
        let outbound = outbound::Outbound {
            plugin: context.plugin.clone(),
            grant: context.grant.clone(),
            deadline,
            meter: self.meter.clone(),
            tally: Arc::default(),
        };
        let state = JobState {
            wasi,
            http: WasiHttpCtx::new(),
            outbound,
            secrets: secrets::Secrets::default(),
            llm_tokens: 0,
            meter: self.meter.clone(),
            table: ResourceTable::new(),
            memory: MemoryCap {
                limit_bytes: usize::try_from(limits.memory_bytes).unwrap_or(usize::MAX),
                exceeded: false,
            },
            context,
            deadline,
            stdout,
            stderr,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.memory);
        // Check the wall clock at every epoch tick and yield to tokio in
        // between, so a spinning plugin neither outlives its deadline nor
        // hogs a worker thread.
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|ctx| {
            let state = ctx.data();
            if Instant::now() >= state.deadline + state.context.services.waited() {
                Err(wasmtime::Error::new(DeadlineExceeded))
            } else {
                Ok(wasmtime::UpdateDeadline::Yield(1))
            }
        });
        store
    }

    /// Compiles and describes a component. Used by [`Plugin::load`].
    pub(crate) fn engine(&self) -> &Engine {
        &self.engine
    }

    pub(crate) fn linker(&self) -> &Linker<JobState> {
        &self.linker
    }

    /// A store for calling `describe` once at load time.
    pub(crate) fn describe_store(&self, plugin_name_hint: &str) -> Store<JobState> {
        let limits = JobLimits {
            timeout: DESCRIBE_TIMEOUT,
            memory_bytes: self.config.default_memory_bytes,
        };
        self.new_store(
            limits,
            JobContext {
                job: JobInput {
                    id: String::new(),
                    job_type: String::new(),
                    payload: String::new(),
                    attempt: 0,
                    feedback: None,
                    metadata: vec![],
                },
                plugin: plugin_name_hint.to_string(),
                needs_llm: false,
                services: Arc::new(Standalone),
                grant: Arc::default(),
            },
        )
    }
}

/// How long `describe` may take at load time.
pub(crate) const DESCRIBE_TIMEOUT: Duration = Duration::from_secs(10);

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Advances the engine's epoch from a plain OS thread: a tokio task could be
/// starved by the very plugin it is meant to interrupt. The thread ends when
/// the engine is dropped.
fn spawn_epoch_ticker(engine: &Engine) {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("deckhand-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })
        .expect("spawning the epoch thread (the OS refused a thread at start-up)");
}

#[derive(Debug)]
struct DeadlineExceeded;

impl std::fmt::Display for DeadlineExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("deadline exceeded")
    }
}

impl std::error::Error for DeadlineExceeded {}
