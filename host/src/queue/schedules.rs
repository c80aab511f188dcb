//! Periodic jobs in Redis: the schedules (`P:schedules`), the last tick
//! each fired (`P:ticks`), and firing a tick (`fire.lua`: at most once per
//! tick across all hosts). What a schedule is lives in `crate::schedule`.

use std::collections::BTreeMap;

use redis::AsyncCommands;

use super::calls;
use super::calls::{Spec, submitted};
use super::keys::key;
use super::{NewJob, Queue, QueueError, Submitted, invalid};
use crate::job::Payload;
use crate::schedule::{MAX_SCHEDULES, Schedule};

/// Most ticks fired in one call: each is a submission, and a call holds
/// its Redis while it runs.
pub const FIRE_BATCH: usize = 100;

/// A stored schedule with the last tick it fired (Unix ms; when it was
/// added, until its first tick).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredSchedule {
    pub schedule: Schedule,
    pub last_tick: Option<u64>,
}

/// What a fire did.
#[derive(Debug, Clone, PartialEq)]
pub enum Fired {
    /// The job was submitted (or the content store answered it).
    Submitted(Submitted),
    /// The tick was fired already, or the schedule is gone.
    Skipped,
}

impl Queue {
    /// Adds or replaces a schedule. A new schedule's ticks start now: it
    /// does not fire for ticks before it was added. Refused (nothing
    /// written) when it does not check, or the queue holds the most
    /// schedules already.
    pub async fn put_schedule(&self, schedule: &Schedule) -> Result<(), QueueError> {
        let hub = self.hub();
        schedule.check().map_err(|e| invalid(e.field, e.reason))?;
        let json =
            serde_json::to_string(schedule).map_err(|e| QueueError::Protocol(e.to_string()))?;
        let schedules = hub.key(&[key::SCHEDULES]);
        let mut conn = hub.conn();
        let (exists, count): (bool, usize) = redis::pipe()
            .hexists(&schedules, &schedule.name)
            .hlen(&schedules)
            .query_async(&mut conn)
            .await?;
        if !exists && count >= MAX_SCHEDULES {
            return Err(invalid(
                "schedule",
                format!("the queue holds {count} schedules; at most {MAX_SCHEDULES}"),
            ));
        }
        // A new schedule's ticks start now by Redis' clock, the clock the
        // cron duty reads.
        let (secs, micros): (u64, u64) = conn.on_slot(&redis::cmd("TIME"), hub.slot()).await?;
        let _: () = redis::pipe()
            .hset(&schedules, &schedule.name, json)
            .hset_nx(
                hub.key(&[key::TICKS]),
                &schedule.name,
                secs * 1000 + micros / 1000,
            )
            .query_async(&mut conn)
            .await?;
        Ok(())
    }

    /// Removes a schedule; false when there was none by that name. Jobs it
    /// fired stay.
    pub async fn remove_schedule(&self, name: &str) -> Result<bool, QueueError> {
        let hub = self.hub();
        let (removed, _): (i64, i64) = redis::pipe()
            .hdel(hub.key(&[key::SCHEDULES]), name)
            .hdel(hub.key(&[key::TICKS]), name)
            .query_async(&mut hub.conn())
            .await?;
        Ok(removed == 1)
    }

    /// Every schedule, by name, with Redis' clock now (Unix ms), in one
    /// trip. Entries that no longer parse are left out (and logged).
    pub async fn schedules(&self) -> Result<(u64, BTreeMap<String, StoredSchedule>), QueueError> {
        let hub = self.hub();
        let (raw, ticks, (secs, micros)): (
            BTreeMap<String, String>,
            BTreeMap<String, u64>,
            (u64, u64),
        ) = redis::pipe()
            .hgetall(hub.key(&[key::SCHEDULES]))
            .hgetall(hub.key(&[key::TICKS]))
            .cmd("TIME")
            .query_async(&mut hub.conn())
            .await?;
        let now = secs * 1000 + micros / 1000;
        let mut out = BTreeMap::new();
        for (name, json) in raw {
            match serde_json::from_str::<Schedule>(&json) {
                Ok(schedule) => {
                    let last_tick = ticks.get(&name).copied();
                    out.insert(
                        name,
                        StoredSchedule {
                            schedule,
                            last_tick,
                        },
                    );
                }
                Err(e) => tracing::warn!(schedule = %name, "unreadable schedule left out: {e}"),
            }
        }
        Ok((now, out))
    }

    /// Fires each tick of `due` (a schedule and one of its ticks): submits
    /// `cron:<name>:<tick>` unless that tick or a later one of the schedule
    /// was fired already, and records it. One call for up to [`FIRE_BATCH`]
    /// ticks; a result per tick, in order: a tick refused (its job does not
    /// check, or its type is unknown) does not hold up the others.
    pub async fn fire(
        &self,
        due: &[(&Schedule, u64)],
    ) -> Result<Vec<Result<Fired, QueueError>>, QueueError> {
        let mut out = Vec::with_capacity(due.len());
        for chunk in due.chunks(FIRE_BATCH) {
            let specs: Vec<Result<Spec, QueueError>> = chunk
                .iter()
                .map(|(schedule, tick)| {
                    self.spec(&self.scheduled_job(schedule, Some(schedule.job_id(*tick)), *tick))
                })
                .collect();
            // A tick whose job does not check is answered without Redis.
            let ticks: Vec<calls::Tick> = chunk
                .iter()
                .zip(&specs)
                .filter_map(|((schedule, at), spec)| {
                    let spec = spec.as_ref().ok()?;
                    Some(calls::Tick {
                        schedule: &schedule.name,
                        at: *at,
                        spec,
                    })
                })
                .collect();
            let mut replies = if ticks.is_empty() {
                Vec::new()
            } else {
                self.hub()
                    .run_write(&calls::FireTicks { ticks: &ticks })
                    .await?
            }
            .into_iter();
            for spec in specs {
                out.push(spec.and_then(|spec| match replies.next() {
                    Some(calls::TickReply::Skipped) => Ok(Fired::Skipped),
                    Some(calls::TickReply::Submit(reply)) => {
                        submitted(&reply, &spec).map(Fired::Submitted)
                    }
                    None => Err(QueueError::Protocol("fire answered too few ticks".into())),
                }));
            }
        }
        Ok(out)
    }

    /// Submits a schedule's job now, outside its ticks (`run now`); the
    /// schedule's ticks are not touched.
    pub async fn run_schedule_now(&self, name: &str) -> Result<Option<Submitted>, QueueError> {
        let hub = self.hub();
        let json: Option<String> = hub.conn().hget(hub.key(&[key::SCHEDULES]), name).await?;
        let Some(json) = json else { return Ok(None) };
        let schedule: Schedule =
            serde_json::from_str(&json).map_err(|e| QueueError::Protocol(e.to_string()))?;
        let req = self.scheduled_job(&schedule, None, crate::job::unix_ms_now());
        self.submit(req).await.map(Some)
    }

    /// The job a schedule submits; its metadata names the schedule and the
    /// tick it stands for.
    fn scheduled_job(&self, schedule: &Schedule, id: Option<String>, tick: u64) -> NewJob {
        NewJob {
            priority: schedule.priority,
            id,
            group: schedule.group.clone(),
            metadata: BTreeMap::from([
                ("schedule".to_string(), schedule.name.clone()),
                ("tick".to_string(), tick.to_string()),
            ]),
            ..NewJob::new(
                schedule.job_type.clone(),
                Payload::from_value(&schedule.payload),
            )
        }
    }
}
