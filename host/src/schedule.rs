//! Periodic jobs: a schedule names a cron expression, a time zone and the
//! job to submit at each of its ticks. This file is the vocabulary and its
//! checks, with no IO: the queue stores schedules and fires ticks
//! (`queue/schedules.rs`), every host's cron duty looks for due ticks
//! (`worker/cron.rs`).
//!
//! Each tick fires exactly once across any number of hosts: the job's id is
//! `cron:<name>:<tick in Unix ms>`, and the queue records the last tick
//! fired in the same atomic step, so neither a second host nor a late one
//! can submit it (or an older tick) again. Ticks missed while no host ran
//! are caught up by firing the last missed one once.

use std::str::FromStr;

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::job::{MAX_PRIORITY, valid_group, valid_job_type_name};

/// Most schedules one queue holds.
pub const MAX_SCHEDULES: usize = 1_000;
/// Largest payload a schedule carries, in bytes.
pub const MAX_SCHEDULE_PAYLOAD: usize = 64 * 1024;

/// One periodic job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// 1–128 of `A-Z a-z 0-9 . _ -`; part of every fired job's id.
    pub name: String,
    /// Five fields (minute hour day-of-month month day-of-week), or six
    /// with seconds first; names (`MON`, `JAN`), ranges, steps, `L`, `#`,
    /// and `@hourly`/`@daily`/`@weekly`/`@monthly`/`@yearly`.
    pub cron: String,
    pub job_type: String,
    /// The job's payload (JSON); `{}` when left out.
    #[serde(default = "empty_object")]
    pub payload: Value,
    /// IANA time zone the expression is read in (`America/Chicago`);
    /// UTC when left out. A local time skipped by a daylight-saving change
    /// does not fire; one that occurs twice fires once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    #[serde(default)]
    pub priority: i32,
    /// The fired jobs' fairness group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

fn empty_object() -> Value {
    Value::Object(serde_json::Map::new())
}

/// A schedule that cannot be: which field, and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("schedule {field}: {reason}")]
pub struct ScheduleError {
    pub field: &'static str,
    pub reason: String,
}

fn refuse(field: &'static str, reason: impl Into<String>) -> ScheduleError {
    ScheduleError {
        field,
        reason: reason.into(),
    }
}

/// A checked schedule with its expression parsed.
#[derive(Debug, Clone)]
pub struct Parsed {
    cron: croner::Cron,
    zone: Tz,
}

impl Schedule {
    /// Checks every field; the parsed expression and zone on success.
    pub fn check(&self) -> Result<Parsed, ScheduleError> {
        valid_job_type_name(&self.name).map_err(|r| refuse("name", r))?;
        valid_job_type_name(&self.job_type).map_err(|r| refuse("job_type", r))?;
        if self.cron.len() > 256 {
            return Err(refuse("cron", "longer than 256 characters"));
        }
        let cron = croner::Cron::from_str(self.cron.trim()).map_err(|e| {
            refuse(
                "cron",
                format!("{:?} is not a cron expression: {e}", self.cron),
            )
        })?;
        let zone = match self.timezone.as_deref() {
            None => Tz::UTC,
            Some(name) => Tz::from_str(name).map_err(|_| {
                refuse(
                    "timezone",
                    format!("{name:?} is not an IANA time zone (like Europe/Berlin or UTC)"),
                )
            })?,
        };
        if !self.payload.is_object() && !self.payload.is_array() {
            return Err(refuse("payload", "must be a JSON object or array"));
        }
        let size = self.payload.to_string().len();
        if size > MAX_SCHEDULE_PAYLOAD {
            return Err(refuse(
                "payload",
                format!("{size} bytes; at most {MAX_SCHEDULE_PAYLOAD}"),
            ));
        }
        let max = MAX_PRIORITY;
        if !(-max..=max).contains(&self.priority) {
            return Err(refuse(
                "priority",
                format!("{} is outside -{max}..={max}", self.priority),
            ));
        }
        if let Some(group) = &self.group {
            valid_group(group).map_err(|r| refuse("group", r))?;
        }
        let parsed = Parsed { cron, zone };
        // An expression that never matches (`0 0 31 2 *`) is refused too.
        if parsed.next_after(crate::job::unix_ms_now()).is_none() {
            return Err(refuse("cron", format!("{:?} never comes due", self.cron)));
        }
        Ok(parsed)
    }

    /// The id of the job fired for `tick` (Unix ms).
    pub fn job_id(&self, tick: u64) -> String {
        format!("cron:{}:{tick}", self.name)
    }
}

impl Parsed {
    /// `ms` in the schedule's zone, to the whole second (ticks fall on
    /// whole seconds; the search keeps any fraction it is given).
    fn at(&self, ms: u64) -> Option<DateTime<Tz>> {
        let ms = i64::try_from(ms - ms % 1000).ok()?;
        Some(
            Utc.timestamp_millis_opt(ms)
                .single()?
                .with_timezone(&self.zone),
        )
    }

    /// The latest tick at or before `now` (Unix ms).
    pub fn latest_at_or_before(&self, now: u64) -> Option<u64> {
        let mut from = self.at(now)?;
        for _ in 0..GAPS {
            let t = self.cron.find_previous_occurrence(&from, true).ok()?;
            if self.named(&t) {
                return u64::try_from(t.timestamp_millis()).ok();
            }
            from = t - chrono::Duration::seconds(1);
        }
        None
    }

    /// The first tick after `now` (Unix ms).
    pub fn next_after(&self, now: u64) -> Option<u64> {
        let mut from = self.at(now)?;
        for _ in 0..GAPS {
            let t = self.cron.find_next_occurrence(&from, false).ok()?;
            if self.named(&t) {
                return u64::try_from(t.timestamp_millis()).ok();
            }
            from = t;
        }
        None
    }

    /// Whether the expression names `t`'s local time. A time a
    /// daylight-saving change skips (02:30 on the night clocks go from 02:00
    /// to 03:00) comes back from the search moved past the gap (03:00); it
    /// is not a tick: skipped times do not fire.
    fn named(&self, t: &chrono::DateTime<Tz>) -> bool {
        self.cron.is_time_matching(t).unwrap_or(false)
    }
}

/// Skipped times passed over in one search, at most (one a year: every
/// search ends within a few).
const GAPS: usize = 8;

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(cron: &str) -> Schedule {
        Schedule {
            name: "nightly".into(),
            cron: cron.into(),
            job_type: "echo".into(),
            payload: empty_object(),
            timezone: None,
            priority: 0,
            group: None,
        }
    }

    #[test]
    fn a_time_skipped_by_daylight_saving_does_not_fire() {
        // 02:30 on 2027-03-14 does not exist in New York (02:00 -> 03:00).
        let ny = Schedule {
            timezone: Some("America/New_York".into()),
            ..schedule("30 2 14 3 *")
        }
        .check()
        .unwrap();
        // From 2027-03-01: not 03:00 EDT that night (07:00Z), but
        // 2028-03-14T02:30-04:00.
        assert_eq!(ny.next_after(1_803_859_200_000), Some(1_836_628_200_000));
        // Looking back from 2027-03-20: 2026-03-14T02:30-04:00.
        assert_eq!(
            ny.latest_at_or_before(1_805_500_800_000),
            Some(1_773_469_800_000)
        );
        // A time that exists every year is unaffected.
        let three = Schedule {
            timezone: Some("America/New_York".into()),
            ..schedule("0 3 14 3 *")
        }
        .check()
        .unwrap();
        assert_eq!(three.next_after(1_803_859_200_000), Some(1_805_007_600_000));
    }

    #[test]
    fn ticks_follow_the_expression_in_its_zone() {
        // 2026-12-01T08:30:15Z
        let now = 1_796_113_815_000;
        let every_minute = schedule("* * * * *").check().unwrap();
        assert_eq!(
            every_minute.latest_at_or_before(now),
            Some(1_796_113_800_000)
        );
        assert_eq!(every_minute.next_after(now), Some(1_796_113_860_000));
        let every_two_seconds = schedule("*/2 * * * * *").check().unwrap();
        assert_eq!(
            every_two_seconds.latest_at_or_before(now),
            Some(1_796_113_814_000)
        );
        assert_eq!(
            every_two_seconds.latest_at_or_before(1_796_113_814_000),
            Some(1_796_113_814_000)
        );
        assert_eq!(
            every_two_seconds.latest_at_or_before(1_796_113_814_999),
            Some(1_796_113_814_000)
        );
        assert_eq!(
            every_two_seconds.next_after(1_796_113_814_999),
            Some(1_796_113_816_000)
        );
        // 03:00 in Chicago is 09:00 UTC in December.
        let chicago = Schedule {
            timezone: Some("America/Chicago".into()),
            ..schedule("0 3 * * *")
        }
        .check()
        .unwrap();
        assert_eq!(chicago.next_after(now), Some(1_796_115_600_000));
        let daily = schedule("@daily").check().unwrap();
        assert_eq!(daily.latest_at_or_before(now), Some(1_796_083_200_000));
    }

    #[test]
    fn bad_schedules_name_the_field() {
        let field = |s: Schedule| s.check().unwrap_err().field;
        assert_eq!(field(schedule("61 * * * *")), "cron");
        assert_eq!(field(schedule("not cron")), "cron");
        assert_eq!(field(schedule("")), "cron");
        assert_eq!(field(schedule("0 0 31 2 *")), "cron");
        assert_eq!(
            field(Schedule {
                timezone: Some("Mars/Olympus".into()),
                ..schedule("* * * * *")
            }),
            "timezone"
        );
        assert_eq!(
            field(Schedule {
                name: "has space".into(),
                ..schedule("* * * * *")
            }),
            "name"
        );
        assert_eq!(
            field(Schedule {
                payload: Value::from(3),
                ..schedule("* * * * *")
            }),
            "payload"
        );
        assert_eq!(
            field(Schedule {
                priority: 2_000_000,
                ..schedule("* * * * *")
            }),
            "priority"
        );
        assert_eq!(
            field(Schedule {
                group: Some(String::new()),
                ..schedule("* * * * *")
            }),
            "group"
        );
        assert_eq!(schedule("* * * * *").job_id(5), "cron:nightly:5");
    }
}
