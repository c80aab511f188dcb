//! Replication acknowledgements (`min_replica_acks`): the settings' range,
//! the write that waits for replicas with `WAIT` after the function that
//! records a submission or an outcome, and the read whose answer waits for
//! the replicas to hold what it read.

use redis::FromRedisValue;

use super::super::{QueueError, invalid};

/// Most replicas `min_replica_acks` may ask for.
pub const MAX_REPLICA_ACKS: u32 = 16;
/// The longest `replica_ack_timeout_ms`.
pub const MAX_REPLICA_ACK_TIMEOUT_MS: u64 = 60_000;

/// Checks the replication settings (range) before anything connects.
pub(in crate::queue) fn check(config: &super::super::QueueConfig) -> Result<(), QueueError> {
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

impl super::Partition {
    /// Runs a function that records a submission or an outcome. With
    /// `min_replica_acks`, `WAIT` follows it in one pipeline, on the same
    /// connection to the same master, so it counts this very write; too few
    /// acknowledgements fail the call with [`QueueError::NotReplicated`].
    pub(in crate::queue) async fn write<T: FromRedisValue>(
        &self,
        call: &super::super::scripts::Call,
    ) -> Result<T, QueueError> {
        let mut conn = self.conn();
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
            Err(e) if super::super::scripts::missing(&e) => {
                call.load(&mut conn).await?;
                pipe.query_async(&mut conn).await?
            }
            other => other.map_err(super::super::scripts::explain)?,
        };
        self.enough(acked)?;
        Ok(value)
    }

    /// The replies of `pipe`, reads of this partition. Read as
    /// [`Read::Replicated`] with `min_replica_acks`, a marker write and
    /// `WAIT` for it follow the reads in the same pipeline: replication keeps
    /// the master's order, so once the replicas have the marker they have
    /// every state read before it. Without that, a job seen completed on a
    /// master that dies before passing the completion on runs again after
    /// the failover, while what its completion released elsewhere (a
    /// dependent in another partition, an answer to `wait`) went ahead.
    ///
    /// One pipeline: a pipeline goes to one node, and is sent again whole
    /// if that node fails over, so the acknowledgements counted are always
    /// for the node whose state was read. (A marker written in a second
    /// round trip could reach the promoted replica after the reads were
    /// served by the master that died, and count for what they never saw.)
    /// [`QueueError::NotReplicated`] when too few replicas answer in time.
    pub(in crate::queue) async fn read(
        &self,
        mut pipe: redis::Pipeline,
        read: Read,
    ) -> Result<Vec<redis::Value>, QueueError> {
        let mut conn = self.conn();
        let wanted = self.config.min_replica_acks;
        if wanted == 0 || matches!(read, Read::AsIs) {
            return Ok(pipe.query_async(&mut conn).await?);
        }
        pipe.cmd("SET")
            .arg(self.key(&[super::super::key::SYNCED]))
            .arg(super::super::now_ms())
            .arg("PX")
            .arg(SYNCED_TTL_MS)
            .ignore()
            .cmd("WAIT")
            .arg(wanted)
            .arg(self.config.replica_ack_timeout_ms);
        let mut replies: Vec<redis::Value> = pipe.query_async(&mut conn).await?;
        let acked = match replies.pop() {
            Some(acked) => redis::from_redis_value(&acked)?,
            None => 0,
        };
        self.enough(acked)?;
        Ok(replies)
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

/// How a read is answered: as the master holds it, or only once
/// `min_replica_acks` replicas hold it too (see `Partition::read`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(in crate::queue) enum Read {
    AsIs,
    Replicated,
}

/// How long the marker a [`Read::Replicated`] writes is kept: it only has
/// to reach the replicas.
const SYNCED_TTL_MS: u64 = 60_000;
