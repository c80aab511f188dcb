//! Replication acknowledgements (`min_replica_acks`): the settings' range,
//! and the write that waits for replicas with `WAIT` after the function
//! that records a submission or an outcome.

use redis::FromRedisValue;

use super::{QueueError, invalid};

/// Most replicas `min_replica_acks` may ask for.
pub const MAX_REPLICA_ACKS: u32 = 16;
/// The longest `replica_ack_timeout_ms`.
pub const MAX_REPLICA_ACK_TIMEOUT_MS: u64 = 60_000;

/// Checks the replication settings (range) before anything connects.
pub(super) fn check(config: &super::QueueConfig) -> Result<(), QueueError> {
    if config.min_replica_acks > MAX_REPLICA_ACKS {
        return Err(invalid(
            "queue.min_replica_acks",
            format!("{}: at most {MAX_REPLICA_ACKS}", config.min_replica_acks),
        ));
    }
    if !(1..=MAX_REPLICA_ACK_TIMEOUT_MS).contains(&config.replica_ack_timeout_ms) {
        return Err(invalid(
            "queue.replica_ack_timeout_ms",
            format!(
                "{}: between 1 and {MAX_REPLICA_ACK_TIMEOUT_MS}",
                config.replica_ack_timeout_ms
            ),
        ));
    }
    Ok(())
}

impl super::Queue {
    /// Runs a function that records a submission or an outcome. With
    /// `min_replica_acks`, `WAIT` follows it in one pipeline, on the same
    /// connection to the same master, so it counts this very write; too few
    /// acknowledgements fail the call with [`QueueError::NotReplicated`].
    pub(super) async fn write<T: FromRedisValue>(
        &self,
        call: &super::scripts::Call,
    ) -> Result<T, QueueError> {
        let mut conn = self.conn.clone();
        let wanted = self.config.min_replica_acks;
        if wanted == 0 {
            return Ok(call.invoke_async(&mut conn).await?);
        }
        let timeout_ms = self.config.replica_ack_timeout_ms;
        let mut pipe = redis::pipe();
        pipe.add_command(call.cmd().clone())
            .cmd("WAIT")
            .arg(wanted)
            .arg(timeout_ms);
        let (value, acked): (T, u32) = match pipe.query_async(&mut conn).await {
            Err(e) if super::scripts::missing(&e) => {
                call.load(&mut conn).await?;
                pipe.query_async(&mut conn).await?
            }
            other => other.map_err(super::scripts::explain)?,
        };
        self.enough(acked)?;
        Ok(value)
    }

    /// Makes sure that what this partition's master held a moment ago is
    /// on `min_replica_acks` replicas, before a caller acts on having read
    /// it: a marker write, then `WAIT` for it. Replication keeps the
    /// master's order, so once a replica has the marker it has every state
    /// read before the call. Without it, a job seen completed on a master
    /// that dies before passing the completion on would run again after the
    /// failover, while what its completion released elsewhere (a dependent
    /// in another partition, an answer to `wait`) went ahead.
    /// [`QueueError::NotReplicated`] when too few replicas answer in time.
    pub(super) async fn synced(&self) -> Result<(), QueueError> {
        let wanted = self.config.min_replica_acks;
        if wanted == 0 {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        pipe.cmd("SET")
            .arg(self.key(&[super::key::SYNCED]))
            .arg(super::now_ms())
            .arg("PX")
            .arg(SYNCED_TTL_MS)
            .ignore()
            .cmd("WAIT")
            .arg(wanted)
            .arg(self.config.replica_ack_timeout_ms);
        let (acked,): (u32,) = pipe.query_async(&mut self.conn.clone()).await?;
        self.enough(acked)
    }

    /// [`QueueError::NotReplicated`] unless `acked` replicas are enough.
    fn enough(&self, acked: u32) -> Result<(), QueueError> {
        let wanted = self.config.min_replica_acks;
        if acked < wanted {
            return Err(QueueError::NotReplicated {
                acked,
                wanted,
                timeout_ms: self.config.replica_ack_timeout_ms,
            });
        }
        Ok(())
    }
}

/// How long the marker [`Queue::synced`](super::Queue) writes is kept: it
/// only has to reach the replicas.
const SYNCED_TTL_MS: u64 = 60_000;
