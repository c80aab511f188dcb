//! A claim loop: keeps up to `batch_size` jobs running, claiming in chunks.
//!
//! How big a claim is decides a busy host's throughput more than anything
//! else on the host's side: every claim call has a fixed cost in Redis, and
//! a claim that takes all the free slots at once makes the slots run in
//! lockstep. So a claim takes at most [`claim_chunk`] jobs, and while the
//! queue has a backlog the loop lets freed slots [`Gather`] into a claim of
//! a few, instead of claiming for each slot the moment it frees.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::Instrument;

use super::{SCHEDULE_SLACK, Worker};
use crate::queue::Claim;

/// Longest a freed slot waits for others before the loop claims for it.
/// Jobs that take longer than this (LLM calls, fetches) never gather: each
/// frees its slot long after the last claim.
const GATHER_MAX: Duration = Duration::from_millis(2);

impl Worker {
    /// Keeps up to `batch_size` jobs running: claims as many as there are
    /// free slots, at most [`claim_chunk`] in one atomic step (and at once
    /// again while claims come back full), then waits for a job to finish, a
    /// wake-up from pub/sub, or the idle poll. Stops claiming on shutdown and
    /// returns once its running jobs have finished.
    pub(super) async fn claim_loop(self: Arc<Self>, n: usize) {
        let capacity = self.config.batch_size.max(1);
        let idle = Duration::from_millis(self.config.idle_poll_ms.max(10));
        let mut running = tokio::task::JoinSet::new();
        let mut backoff = Duration::from_millis(100);
        let mut gather = Gather::new(capacity);
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
            let free = capacity
                .saturating_sub(running.len())
                .min(claim_chunk(capacity));
            let paused = self.memory_guard();
            // How long to wait when nothing wakes the loop: the idle poll,
            // or less when a scheduled job comes due sooner, or when freed
            // slots are gathering.
            let mut wait = idle;
            let hold = gather.hold(free, running.len(), Instant::now());
            if let Some(left) = hold {
                wait = left;
            }
            if free > 0 && !paused && hold.is_none() {
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
                        let full = jobs.len() == free;
                        gather.claimed(full);
                        if !jobs.is_empty() {
                            tracing::debug!(worker = n, count = jobs.len(), "claimed");
                            for job in jobs {
                                let span = self.job_span(&job);
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
}

/// Most jobs one claim takes: a quarter of the loop's capacity, between 16
/// and 50 (never more than the capacity). A loop that fills all its slots
/// in one claim moves them in lockstep: Redis claims them all while the
/// host waits, the host runs them all while Redis waits, then records them
/// all. Smaller claims keep some slots running while others are being
/// claimed or recorded; too small, and each claim call's fixed cost
/// shows. Measured (`--scale` drains of 55,000 no-op jobs, one Redis, 2
/// cores, freed slots gathering a quarter of a chunk): at 64 in flight and
/// one runtime thread, claims of 16 drained 46.0-49.6k jobs/s in four runs,
/// of 12 45.4-46.4k, of 8 40.5-42.4k, of 24 44.8-45.1k, of 32 38.3-41.4k,
/// of 48 and 64 35.2-36.7k; with two threads 16 and 32 were level
/// (31.9-34.3k against 30.6-33.4k). At 200 in flight claims of 50 drained
/// 54.7-59.3k, of 16 50.8-52.7k. Earlier, at 200, claims of 50 drained
/// 16-32% more than claims of 200.
pub(super) fn claim_chunk(capacity: usize) -> usize {
    (capacity / 4).clamp(16, 50).min(capacity).max(1)
}

/// While the last claim came back full (the queue has a backlog), freed
/// slots wait until a quarter of a chunk is free, or [`GATHER_MAX`] after
/// the first freed, whichever comes first; otherwise a freed slot is
/// claimed for at once. Without it a busy loop claims for one or two slots
/// at a time. Measured with claims of 32 (one Redis, 2 cores, 64 in
/// flight, one runtime thread, three interleaved rounds of 55,000 no-op
/// jobs): 40.6-41.2k jobs/s gathering 8 slots, 39.7-40.8k gathering 16,
/// 36.8-39.5k without; with claims of 16, gathering 4 drained 46.0-49.6k
/// and gathering 8 41.2-46.6k.
#[derive(Debug)]
pub(super) struct Gather {
    /// Free slots worth a claim while there is a backlog.
    want: usize,
    backlog: bool,
    /// When the first slot freed since the last claim was seen.
    since: Option<Instant>,
}

impl Gather {
    pub(super) fn new(capacity: usize) -> Gather {
        Gather {
            want: (claim_chunk(capacity) / 4).max(1),
            backlog: false,
            since: None,
        }
    }

    /// How much longer to hold off claiming for `free` slots with
    /// `running` jobs still running, or `None`: claim now.
    pub(super) fn hold(&mut self, free: usize, running: usize, now: Instant) -> Option<Duration> {
        if !self.backlog || free == 0 || free >= self.want || running == 0 {
            return None;
        }
        let since = *self.since.get_or_insert(now);
        GATHER_MAX
            .checked_sub(now.saturating_duration_since(since))
            .filter(|left| !left.is_zero())
    }

    /// A claim was made; `full`: it took every slot it asked for.
    pub(super) fn claimed(&mut self, full: bool) {
        self.backlog = full;
        self.since = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_are_a_quarter_of_the_capacity_between_16_and_50() {
        assert_eq!(claim_chunk(1), 1);
        assert_eq!(claim_chunk(10), 10);
        assert_eq!(claim_chunk(40), 16);
        assert_eq!(claim_chunk(64), 16);
        assert_eq!(claim_chunk(100), 25);
        assert_eq!(claim_chunk(200), 50);
        assert_eq!(claim_chunk(10_000), 50);
    }

    #[test]
    fn freed_slots_gather_only_behind_a_backlog_and_not_for_long() {
        let t = Instant::now();
        let mut g = Gather::new(128);
        assert_eq!(g.want, 8);
        // No claim yet, or the last one came back short: claim at once.
        assert_eq!(g.hold(1, 63, t), None);
        g.claimed(false);
        assert_eq!(g.hold(1, 63, t), None);
        // Behind a backlog, a few freed slots wait...
        g.claimed(true);
        assert_eq!(g.hold(1, 63, t), Some(GATHER_MAX));
        let later = t + Duration::from_millis(1);
        assert_eq!(
            g.hold(3, 61, later),
            Some(GATHER_MAX - Duration::from_millis(1))
        );
        // ...until enough are free, or the first has waited GATHER_MAX.
        assert_eq!(g.hold(8, 56, later), None);
        assert_eq!(g.hold(3, 61, t + GATHER_MAX), None);
        // Nothing left running: nothing more will free, claim now.
        assert_eq!(g.hold(3, 0, later), None);
        // No free slot: nothing to hold.
        assert_eq!(g.hold(0, 64, later), None);
        // A claim starts the wait afresh.
        g.claimed(true);
        let again = t + Duration::from_secs(1);
        assert_eq!(g.hold(1, 63, again), Some(GATHER_MAX));
        // A loop of capacity 1 always claims for its one slot.
        let mut one = Gather::new(1);
        one.claimed(true);
        assert_eq!(one.hold(1, 0, t), None);
    }
}
