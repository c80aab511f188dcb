//! What one job's store holds: its context, the WASI and wasi:http views,
//! its limits' state and its captured output, and how a failed call is
//! classified.

use std::sync::Arc;
use std::time::Instant;

use wasmtime::Trap;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::limits::MemoryCap;
use super::{
    DeadlineExceeded, HostServices, JobInput, JobLimits, Meter, millis, outbound, secrets,
};
use crate::grants::PluginGrant;
use crate::job::JobFailure;

/// What a job's host calls need to know about it.
pub(crate) struct JobContext {
    pub(crate) job: JobInput,
    pub(crate) plugin: String,
    pub(crate) needs_llm: bool,
    pub(crate) services: Arc<dyn HostServices>,
    /// The plugin's grant as the job started.
    pub(crate) grant: Arc<PluginGrant>,
}

/// Everything one job's store holds.
pub(crate) struct JobState {
    pub(super) wasi: WasiCtx,
    pub(super) http: WasiHttpCtx,
    pub(super) outbound: outbound::Outbound,
    /// Secret values the job read, blanked out of all it says.
    pub(crate) secrets: secrets::Secrets,
    /// LLM tokens the job spent (its grant's `tokens_per_job`).
    pub(crate) llm_tokens: u64,
    pub(crate) meter: Arc<Meter>,
    pub(super) table: ResourceTable,
    pub(super) memory: MemoryCap,
    pub(crate) context: JobContext,
    pub(super) deadline: Instant,
    pub(super) stdout: MemoryOutputPipe,
    pub(super) stderr: MemoryOutputPipe,
}

impl WasiView for JobState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for JobState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.outbound,
        }
    }
}

impl JobState {
    /// Turns a wasmtime error from instantiate/call into a typed failure.
    pub(crate) fn classify(
        &self,
        err: wasmtime::Error,
        limits: &JobLimits,
        stack_bytes: usize,
    ) -> JobFailure {
        if err.is::<DeadlineExceeded>() {
            return JobFailure::Timeout {
                limit_ms: millis(limits.timeout),
            };
        }
        if self.memory.exceeded {
            return JobFailure::MemoryLimit {
                limit_bytes: limits.memory_bytes,
            };
        }
        match err.downcast_ref::<Trap>() {
            Some(Trap::StackOverflow) => JobFailure::StackOverflow {
                limit_bytes: stack_bytes as u64,
            },
            Some(Trap::Interrupt) => JobFailure::Timeout {
                limit_ms: millis(limits.timeout),
            },
            Some(trap) => JobFailure::Trap {
                message: with_stderr(trap.to_string(), &self.stderr),
            },
            None => JobFailure::Trap {
                message: with_stderr(format!("{err:#}"), &self.stderr),
            },
        }
    }

    /// Sends what the plugin printed to the host's log, at debug level.
    pub(super) fn log_output(&self) {
        for (stream, pipe) in [("stdout", &self.stdout), ("stderr", &self.stderr)] {
            let bytes = pipe.contents();
            if !bytes.is_empty() {
                tracing::debug!(
                    plugin = %self.context.plugin,
                    job_id = %self.context.job.id,
                    stream,
                    output = %self.secrets.scrub(&String::from_utf8_lossy(&bytes)),
                    "plugin output"
                );
            }
        }
    }
}

/// Appends the end of the plugin's stderr (a Rust panic message lands there)
/// to a trap message, so "unreachable" comes with its reason.
fn with_stderr(message: String, stderr: &MemoryOutputPipe) -> String {
    let bytes = stderr.contents();
    let text = String::from_utf8_lossy(&bytes);
    let text = text.trim();
    if text.is_empty() {
        return message;
    }
    let tail: String = {
        let chars: Vec<char> = text.chars().collect();
        let start = chars.len().saturating_sub(1000);
        chars[start..].iter().collect()
    };
    format!("{message}; plugin stderr: {tail}")
}
