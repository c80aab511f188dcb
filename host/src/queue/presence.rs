//! Who works the queue, and whether the queue is still the one they joined:
//! job types registered by live hosts, host heartbeats, the queue's identity
//! marker (gone means Redis lost its data) and Redis' durability settings.

use std::collections::BTreeMap;
use std::time::Duration;

use redis::AsyncCommands;
use serde::{Deserialize, Serialize};

use super::figures::{DEFAULT_INTERVAL, non_negative, type_info};
use super::keys::key;
use super::{Counts, Names, Queue, QueueError, RegisteredType, TypeInfo, now_ms};

/// What Redis says about keeping data across restarts and memory pressure.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Durability {
    /// `CONFIG GET appendonly`; `None` when CONFIG is refused (renamed or
    /// disabled, as managed services do).
    pub appendonly: Option<String>,
    /// `CONFIG GET maxmemory-policy`.
    pub maxmemory_policy: Option<String>,
}

impl Durability {
    /// What these settings let happen to acknowledged jobs, one sentence a
    /// risk; empty when nothing (or nothing known) is wrong.
    pub fn risks(&self) -> Vec<String> {
        let mut risks = Vec::new();
        if self.appendonly.as_deref() == Some("no") {
            risks.push(
                "appendonly is off: a Redis restart loses every job written since its last snapshot (set appendonly yes)"
                    .to_string(),
            );
        }
        if let Some(policy) = self.maxmemory_policy.as_deref()
            && policy != "noeviction"
        {
            risks.push(format!(
                "maxmemory-policy is {policy}: under memory pressure Redis evicts job keys, and an evicted job is lost (set maxmemory-policy noeviction)"
            ));
        }
        risks
    }
}

impl Queue {
    /// Registers the job types a host can run, so submissions of them are
    /// accepted (and, for `cache` types, use the content store). Taken for a
    /// host that beats every minute.
    pub async fn register_job_types(
        &self,
        host: &str,
        types: &[RegisteredType],
    ) -> Result<(), QueueError> {
        self.register_job_types_every(host, types, DEFAULT_INTERVAL, "")
            .await
    }

    /// Like [`Queue::register_job_types`] for a host that re-registers every
    /// `interval`: the types count as live for three intervals. `model` is
    /// the host's LLM model ("" for none): with the plugin's version id it
    /// is part of the content store's key for `cache` types.
    pub async fn register_job_types_every(
        &self,
        host: &str,
        types: &[RegisteredType],
        interval: Duration,
        model: &str,
    ) -> Result<(), QueueError> {
        if types.is_empty() {
            return Ok(());
        }
        let at = now_ms();
        let interval_ms = super::millis(interval);
        let entries: Vec<(String, String)> = types
            .iter()
            .map(|t| {
                let info = serde_json::json!({
                    "host": host,
                    "plugin": t.plugin,
                    "version_id": t.version_id,
                    "cache": t.cache,
                    "at": at,
                    "interval_ms": interval_ms,
                    "model": model,
                });
                (t.job_type.clone(), info.to_string())
            })
            .collect();
        // Every partition's submissions read the registrations in their own
        // slot (see router.rs).
        let entries = &entries;
        self.on_every(|part| async move {
            let _: () = part
                .conn()
                .hset_multiple(part.key(&[key::TYPES]), entries)
                .await?;
            Ok(())
        })
        .await?;
        Ok(())
    }

    /// Registered job types: type -> JSON {host, plugin, version_id, cache,
    /// at, interval_ms} of the host that registered it last.
    pub async fn job_types(&self) -> Result<BTreeMap<String, String>, QueueError> {
        let hub = self.hub();
        Ok(hub.conn().hgetall(hub.key(&[key::TYPES])).await?)
    }

    /// Registered job types, read, with whether a live host offers each.
    pub async fn type_infos(&self) -> Result<Vec<TypeInfo>, QueueError> {
        let hub = self.hub();
        // Registrations, pauses, caps and running counts in one trip.
        type Reply = (
            BTreeMap<String, String>,
            Names,
            BTreeMap<String, u64>,
            Counts,
        );
        let (types, paused, caps, running): Reply = redis::pipe()
            .hgetall(hub.key(&[key::TYPES]))
            .smembers(hub.key(&[key::PAUSED]))
            .hgetall(hub.key(&[key::CAPS]))
            .hgetall(hub.key(&[key::RUNNING]))
            .query_async(&mut hub.conn())
            .await?;
        let rates = self.rates().await?;
        let (running, groups) = if self.single().is_none() {
            let groups = types.keys().map(|t| self.ready_groups(t));
            let groups = futures::future::try_join_all(groups).await?;
            (self.running_by_type().await?, groups)
        } else {
            let mut groups = redis::pipe();
            for job_type in types.keys() {
                groups.hgetall(hub.key(&[key::GROUPS, job_type]));
            }
            let groups: Vec<Counts> = groups.query_async(&mut hub.conn()).await?;
            (
                non_negative(running),
                groups.into_iter().map(non_negative).collect(),
            )
        };
        let now = now_ms();
        Ok(types
            .into_iter()
            .zip(groups)
            .map(|((job_type, raw), groups)| {
                let mut info = type_info(job_type, &raw, now);
                info.paused = paused.contains(&info.job_type);
                info.max_running = caps.get(&info.job_type).copied();
                info.rate_limit = rates.get(&info.job_type).copied();
                info.running = running.get(&info.job_type).copied().unwrap_or(0);
                info.ready_groups = groups;
                info
            })
            .collect())
    }

    /// Whether any host ever registered `job_type` on this queue.
    pub async fn type_known(&self, job_type: &str) -> Result<bool, QueueError> {
        let hub = self.hub();
        Ok(hub.conn().hexists(hub.key(&[key::TYPES]), job_type).await?)
    }

    /// What a client is told when it queues a job no live host can run.
    pub fn no_live_host(job_type: &str) -> String {
        format!(
            "no live host runs job type {job_type:?} (its last host stopped beating); the job waits in the queue until one starts"
        )
    }

    /// Whether a live host offers `job_type` (false also when none ever did).
    pub async fn type_is_live(&self, job_type: &str) -> Result<bool, QueueError> {
        let hub = self.hub();
        let raw: Option<String> = hub.conn().hget(hub.key(&[key::TYPES]), job_type).await?;
        Ok(raw.is_some_and(|raw| type_info(job_type.to_string(), &raw, now_ms()).live))
    }

    /// Records a host's heartbeat (what `deckhand hosts` lists).
    pub async fn heartbeat(&self, host: &str, beat: &serde_json::Value) -> Result<(), QueueError> {
        let hub = self.hub();
        let _: () = hub
            .conn()
            .hset(hub.key(&[key::HOSTS]), host, beat.to_string())
            .await?;
        Ok(())
    }

    /// Every host's last heartbeat, by host id.
    pub async fn hosts(&self) -> Result<BTreeMap<String, serde_json::Value>, QueueError> {
        let hub = self.hub();
        let raw: BTreeMap<String, String> = hub.conn().hgetall(hub.key(&[key::HOSTS])).await?;
        Ok(raw
            .into_iter()
            .filter_map(|(k, v)| serde_json::from_str(&v).ok().map(|v| (k, v)))
            .collect())
    }

    /// Records that `host` is alive and renewing its leases, `every` so
    /// often (`pulse.lua`).
    pub async fn pulse(&self, host: &str, every: Duration) -> Result<(), QueueError> {
        self.hub().run(&super::calls::Pulse { host, every }).await
    }

    /// Every host's last pulse: host id -> "<Redis ms>:<interval ms>".
    pub async fn pulses(&self) -> Result<BTreeMap<String, String>, QueueError> {
        let hub = self.hub();
        Ok(hub.conn().hgetall(hub.key(&[key::PULSE])).await?)
    }

    /// The queue's identity marker, written by the first host to start on
    /// this Redis (a new random value when none is there) and read back.
    /// Hosts remember it: if it vanishes or changes, Redis has lost the
    /// queue's data (restarted empty, flushed, failed over to an empty
    /// replica).
    /// With several partitions every partition holds partition 0's marker,
    /// so a master that restarts empty is noticed whichever it is.
    pub async fn claim_identity(&self) -> Result<String, QueueError> {
        let fresh = uuid::Uuid::now_v7().to_string();
        let held = self.hub().put_identity(&fresh).await?;
        if self.single().is_none() {
            let held = &held;
            self.on_every(|part| async move { part.put_identity(held).await })
                .await?;
        }
        Ok(held)
    }

    /// The identity marker as it is now (`None`: gone). With several
    /// partitions: gone if any partition lost it, and a partition's other
    /// marker if one differs.
    pub async fn identity(&self) -> Result<Option<String>, QueueError> {
        let markers = self
            .on_every(|part| async move {
                let marker: Option<String> = part.conn().get(part.key(&[key::IDENTITY])).await?;
                Ok(marker)
            })
            .await?;
        if markers.iter().any(Option::is_none) {
            return Ok(None);
        }
        let first = markers.first().cloned().flatten();
        Ok(markers
            .into_iter()
            .flatten()
            .find(|m| Some(m) != first.as_ref())
            .or(first))
    }

    /// Redis' persistence and eviction settings; unknown where CONFIG is
    /// refused.
    pub async fn durability(&self) -> Durability {
        let hub = self.hub();
        let mut conn = hub.conn();
        let mut get = async |name: &str| -> Option<String> {
            let reply: Result<Vec<String>, _> = conn
                .on_slot(redis::cmd("CONFIG").arg("GET").arg(name), hub.slot())
                .await;
            reply.ok().and_then(|pair| pair.into_iter().nth(1))
        };
        Durability {
            appendonly: get("appendonly").await,
            maxmemory_policy: get("maxmemory-policy").await,
        }
    }
}
