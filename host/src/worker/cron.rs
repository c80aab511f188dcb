//! A host's cron duty: fires the ticks of every schedule that have come
//! due. Every host runs it; the queue fires each tick once however many
//! look (see `crate::schedule`), so no host is the scheduler and any
//! survivor keeps the schedules going.

use super::*;
use crate::queue::Fired;

/// How often the duty looks for new or changed schedules when no tick
/// comes due sooner.
const LOOK_EVERY: Duration = Duration::from_secs(1);
/// The shortest sleep between two looks.
const MIN_SLEEP: Duration = Duration::from_millis(20);

impl Worker {
    pub(super) async fn cron_loop(self: Arc<Self>, stop: CancellationToken) {
        loop {
            let sleep = match self.fire_due_ticks().await {
                Ok(sleep) => sleep,
                Err(e) => {
                    tracing::debug!("cannot read the schedules: {e}");
                    LOOK_EVERY
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(sleep) => {}
                _ = stop.cancelled() => return,
            }
        }
    }

    /// Fires each schedule's latest due tick not yet fired (after a pause
    /// with no host running, that is the last one missed: earlier missed
    /// ticks are not made up), all in one call. Returns how long to sleep
    /// before the next tick of any schedule comes due (at most
    /// [`LOOK_EVERY`]).
    async fn fire_due_ticks(&self) -> Result<Duration, QueueError> {
        let (now, schedules) = self.queue.schedules().await?;
        let mut sleep = LOOK_EVERY;
        let mut due = Vec::new();
        for (name, stored) in &schedules {
            let parsed = match stored.schedule.check() {
                Ok(parsed) => parsed,
                Err(e) => {
                    tracing::warn!(schedule = %name, "schedule cannot fire: {e}");
                    continue;
                }
            };
            if let Some(tick) = parsed.latest_at_or_before(now)
                && stored.last_tick.is_none_or(|last| tick > last)
            {
                due.push((&stored.schedule, tick));
            }
            if let Some(next) = parsed.next_after(now) {
                sleep = sleep.min(Duration::from_millis(next.saturating_sub(now)));
            }
        }
        if due.is_empty() {
            return Ok(sleep.max(MIN_SLEEP));
        }
        let fired = match self.queue.fire(&due).await {
            Ok(fired) => fired,
            Err(e) => {
                // Not recorded as fired: the next look tries them again.
                tracing::warn!(ticks = due.len(), "schedule ticks not fired: {e}");
                return Ok(sleep.max(MIN_SLEEP));
            }
        };
        for ((schedule, tick), fired) in due.iter().zip(fired) {
            let name = &schedule.name;
            match fired {
                Ok(Fired::Submitted(s)) => tracing::info!(
                    schedule = %name, tick, job_id = %s.id, status = %s.status,
                    "schedule fired"
                ),
                Ok(Fired::Skipped) => {}
                Err(e) => tracing::warn!(schedule = %name, tick, "schedule tick refused: {e}"),
            }
        }
        Ok(sleep.max(MIN_SLEEP))
    }
}
