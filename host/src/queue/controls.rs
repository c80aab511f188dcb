//! Operator controls over the flow of work, kept in Redis so every host
//! obeys them at once: pausing a job type, capping its running jobs, and
//! limiting its claims per interval (the claim script reads all three);
//! the ready jobs of each fairness group.

use std::collections::BTreeMap;

use redis::AsyncCommands;

use super::figures::non_negative;
use super::keys::key;
use super::{Queue, QueueError, RateLimit};

/// Pausing job types: no host claims a paused type (running jobs finish;
/// submissions still queue) until it is resumed. Pauses, caps and rates are
/// written to every partition (claims read them in their own slot); the
/// answers are the first partition's.
impl Queue {
    /// Pauses `job_type` on every host at once; true if it was running.
    pub async fn pause(&self, job_type: &str) -> Result<bool, QueueError> {
        self.set_paused(job_type, true).await
    }

    /// Resumes `job_type`; true if it was paused. Wakes idle hosts.
    pub async fn resume(&self, job_type: &str) -> Result<bool, QueueError> {
        let changed = self.set_paused(job_type, false).await?;
        let _: i64 = self
            .hub()
            .conn()
            .publish(self.channel(key::WAKE), job_type)
            .await?;
        Ok(changed)
    }

    /// Adds `job_type` to (or takes it from) every partition's paused set;
    /// true if the first partition's set changed.
    async fn set_paused(&self, job_type: &str, paused: bool) -> Result<bool, QueueError> {
        let changed = self
            .on_every(|part| async move {
                let key = part.key(&[key::PAUSED]);
                let mut conn = part.conn();
                let changed: i64 = if paused {
                    conn.sadd(key, job_type).await?
                } else {
                    conn.srem(key, job_type).await?
                };
                Ok(changed)
            })
            .await?;
        Ok(changed.first() == Some(&1))
    }

    /// The paused job types.
    pub async fn paused(&self) -> Result<std::collections::BTreeSet<String>, QueueError> {
        let hub = self.hub();
        Ok(hub.conn().smembers(hub.key(&[key::PAUSED])).await?)
    }
}

/// Whether a cap or a rate limit of `limit` can be kept on a queue of
/// `partitions`: each partition enforces a whole share of it (the claim
/// script's `share`, adding up to the limit), so with several partitions
/// the limit must be at least their count. A smaller one could only be kept
/// by coordinating every claim across partitions; it is refused rather
/// than allowed to run more than it says.
pub fn shareable(limit: u64, partitions: u32) -> Result<(), String> {
    if partitions > 1 && limit < u64::from(partitions) {
        return Err(format!(
            "{limit} is below the queue's {partitions} partitions: each partition keeps a whole \
             share of a cap or a rate limit, so it must be at least {partitions} (a queue of one \
             partition takes any)"
        ));
    }
    Ok(())
}

/// Caps on running jobs per job type, across all hosts: the claim script
/// starts no more of a capped type than the cap leaves room for.
impl Queue {
    /// Sets (`Some`) or lifts (`None`) `job_type`'s cap. Lifting or raising
    /// it wakes idle hosts.
    pub async fn set_cap(
        &self,
        job_type: &str,
        max_running: Option<u64>,
    ) -> Result<(), QueueError> {
        if let Some(n) = max_running {
            shareable(n, self.partitions()).map_err(|reason| QueueError::Invalid {
                field: "max_running",
                reason,
            })?;
        }
        self.set_control(key::CAPS, job_type, max_running.map(|n| n.to_string()))
            .await
    }

    /// Sets (`Some`) or removes (`None`) `job_type`'s entry in the control
    /// hash `kind`, and wakes idle hosts to claim under the new value.
    async fn set_control(
        &self,
        kind: &str,
        job_type: &str,
        value: Option<String>,
    ) -> Result<(), QueueError> {
        let value = value.as_deref();
        self.on_every(|part| async move {
            let key = part.key(&[kind]);
            let mut conn = part.conn();
            let _: () = match value {
                Some(v) => conn.hset(&key, job_type, v).await?,
                None => conn.hdel(&key, job_type).await?,
            };
            Ok(())
        })
        .await?;
        let _: i64 = self
            .hub()
            .conn()
            .publish(self.channel(key::WAKE), job_type)
            .await?;
        Ok(())
    }

    /// Every cap, by job type.
    pub async fn caps(&self) -> Result<BTreeMap<String, u64>, QueueError> {
        let hub = self.hub();
        Ok(hub.conn().hgetall(hub.key(&[key::CAPS])).await?)
    }

    /// Jobs running now, by job type, across all hosts.
    pub async fn running_by_type(&self) -> Result<BTreeMap<String, u64>, QueueError> {
        let each = self
            .on_every(|part| async move {
                let raw: BTreeMap<String, i64> =
                    part.conn().hgetall(part.key(&[key::RUNNING])).await?;
                Ok(non_negative(raw))
            })
            .await?;
        Ok(super::router::add_up(each))
    }
}

/// Rate limits per job type, across all hosts: the claim script starts no
/// more of a limited type than the current interval has left.
impl Queue {
    /// Sets (`Some`) or lifts (`None`) `job_type`'s rate limit; the
    /// current interval's count stands. Wakes idle hosts.
    pub async fn set_rate(
        &self,
        job_type: &str,
        limit: Option<RateLimit>,
    ) -> Result<(), QueueError> {
        if let Some(l) = limit {
            shareable(l.jobs, self.partitions()).map_err(|reason| QueueError::Invalid {
                field: "rate_limit",
                reason,
            })?;
        }
        self.set_control(key::RATES, job_type, limit.map(|l| l.stored()))
            .await
    }

    /// Every rate limit, by job type.
    pub async fn rates(&self) -> Result<BTreeMap<String, RateLimit>, QueueError> {
        self.hub().rates().await
    }
}

/// Fairness groups: ready jobs per group of a job type.
impl Queue {
    /// The groups of `job_type` that have ready jobs, with how many.
    pub async fn ready_groups(&self, job_type: &str) -> Result<BTreeMap<String, u64>, QueueError> {
        let each = self
            .on_every(|part| async move {
                let raw: BTreeMap<String, i64> = part
                    .conn()
                    .hgetall(part.key(&[key::GROUPS, job_type]))
                    .await?;
                Ok(non_negative(raw))
            })
            .await?;
        Ok(super::router::add_up(each))
    }
}

#[cfg(test)]
mod tests {
    use super::RateLimit;

    #[test]
    fn rate_limits_parse_with_units_and_refuse_out_of_range() {
        assert_eq!(
            RateLimit::parse("100/1m"),
            Ok(RateLimit {
                jobs: 100,
                interval_ms: 60_000
            })
        );
        assert_eq!(
            RateLimit::parse("5/500ms"),
            Ok(RateLimit {
                jobs: 5,
                interval_ms: 500
            })
        );
        assert_eq!(
            RateLimit::parse(" 2 / 3s "),
            Ok(RateLimit {
                jobs: 2,
                interval_ms: 3_000
            })
        );
        for bad in [
            "",
            "100",
            "100/",
            "/1m",
            "-1/1m",
            "1/-1s",
            "1/1",
            "1/1d",
            "x/1s",
            "1/99999999999999999999h",
        ] {
            assert!(RateLimit::parse(bad).is_err(), "{bad:?} parsed");
        }
        assert!(RateLimit::parse("0/1s").unwrap_err().contains("jobs 0"));
        assert!(RateLimit::parse("1/0s").unwrap_err().contains("interval 0"));
        assert!(RateLimit::parse("1/25h").unwrap_err().contains("one day"));
        let stored = RateLimit::parse("7/2s").map(|r| r.stored());
        assert_eq!(stored.as_deref(), Ok("7/2000"));
        assert_eq!(
            RateLimit::from_stored("7/2000"),
            RateLimit::new(7, 2000).ok()
        );
        assert_eq!(RateLimit::from_stored("7/x"), None);
    }
}
