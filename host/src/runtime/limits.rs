//! Per-job resource limits enforced inside the store.

use wasmtime::ResourceLimiter;

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
