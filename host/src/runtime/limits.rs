//! Per-job resource limits: memory, enforced inside the store, and time.

use std::time::Duration;

use wasmtime::ResourceLimiter;

use super::HostServices;

/// Caps a job's linear memory. A denied `memory.grow` returns -1 to the
/// guest, as WebAssembly specifies; most guests then abort, and the runtime
/// reports the trap as [`JobFailure::MemoryLimit`](super::JobFailure) because
/// `exceeded` is set.
pub(crate) struct MemoryCap {
    pub(crate) limit_bytes: usize,
    pub(crate) exceeded: bool,
}

/// Tables hold function references; a million entries is far past any real
/// plugin and keeps a hostile one from using the host's memory that way.
const MAX_TABLE_ELEMENTS: usize = 1_000_000;

impl ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.limit_bytes {
            self.exceeded = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

/// Runs `call` for at most `timeout` of the job's own time: the time its
/// host calls waited for limits shared with other jobs
/// ([`HostServices::waited`]) is added to the deadline as it accrues.
/// `None` when the deadline passed first.
pub(super) async fn within<T>(
    timeout: Duration,
    services: &dyn HostServices,
    call: impl std::future::Future<Output = T>,
) -> Option<T> {
    let started = tokio::time::Instant::now();
    let mut call = std::pin::pin!(call);
    loop {
        let deadline = started + timeout + services.waited();
        match tokio::time::timeout_at(deadline, &mut call).await {
            Ok(done) => return Some(done),
            // Waits while the call ran moved the deadline: run on to it.
            Err(_) if started + timeout + services.waited() > deadline => {}
            Err(_) => return None,
        }
    }
}
