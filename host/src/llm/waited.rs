//! How long a job's LLM calls waited for the provider's shared limits: a
//! request slot (`max_in_flight`), the budget (`requests_per_minute`,
//! `tokens_per_minute`), a rate-limit cooldown. That time is the queue's,
//! not the job's: the job's timeout is extended by it (runtime/limits.rs), so
//! a job behind others at a one-at-a-time local server waits its turn
//! instead of timing out before its own request is sent.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The running total of one job's waits, read while a wait is under way.
#[derive(Debug, Default)]
pub struct Waited {
    /// Waits that ended, in nanoseconds.
    ended_ns: AtomicU64,
    /// When the wait under way started, if one is.
    since: Mutex<Option<Instant>>,
}

impl Waited {
    /// Every wait so far, the one under way included.
    pub fn total(&self) -> Duration {
        let ended = Duration::from_nanos(self.ended_ns.load(Ordering::Relaxed));
        let current = self
            .since
            .lock()
            .map(|s| s.map_or(Duration::ZERO, |at| at.elapsed()))
            .unwrap_or_default();
        ended + current
    }

    /// Counts the time until the guard is dropped as waiting.
    pub(super) fn start(&self) -> Waiting<'_> {
        if let Ok(mut since) = self.since.lock() {
            since.get_or_insert_with(Instant::now);
        }
        Waiting(self)
    }
}

/// A wait under way; it ends when dropped.
pub(super) struct Waiting<'a>(&'a Waited);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        let Ok(mut since) = self.0.since.lock() else {
            return;
        };
        if let Some(at) = since.take() {
            let ns = u64::try_from(at.elapsed().as_nanos()).unwrap_or(u64::MAX);
            self.0.ended_ns.fetch_add(ns, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wait_counts_while_under_way_and_once_it_ends() {
        let waited = Waited::default();
        assert_eq!(waited.total(), Duration::ZERO);
        let wait = waited.start();
        std::thread::sleep(Duration::from_millis(20));
        let during = waited.total();
        assert!(during >= Duration::from_millis(20), "{during:?}");
        drop(wait);
        let after = waited.total();
        assert!(after >= during);
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(waited.total(), after, "nothing counts between waits");
    }
}
