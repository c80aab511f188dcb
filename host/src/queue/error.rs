//! Why a queue operation failed, and which failures are worth trying again.

use std::time::Duration;

use super::net::{connection_failed, not_serving};

/// Why a queue operation failed.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("invalid {field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error(
        "unknown job type {0:?}: no host has registered it (is a host with that plugin running?)"
    )]
    UnknownJobType(String),
    #[error("unknown dependency {0:?}: no such job")]
    UnknownDependency(String),
    #[error("a job cannot depend on itself ({0:?})")]
    SelfDependency(String),
    #[error(
        "job {parent:?} has submitted its limit of {max} child jobs (queue.max_children); no more are accepted"
    )]
    TooManyChildren { parent: String, max: String },
    #[error(
        "the run of job {root:?} has made its limit of {max} jobs (queue.max_run_jobs); job {parent:?} may submit no more"
    )]
    TooManyInRun {
        root: String,
        parent: String,
        max: String,
    },
    #[error("job {target:?} cannot wait on more jobs: {reason}")]
    CannotExtend { target: String, reason: String },
    #[error("no job {0:?}")]
    NotFound(String),
    #[error("timed out after {0:?} waiting for jobs")]
    WaitTimeout(Duration),
    #[error("unexpected reply from redis: {0}")]
    Protocol(String),
    #[error(
        "only {acked} of {wanted} replicas acknowledged the write within {timeout_ms} ms (queue.min_replica_acks); it may be lost if the master fails now"
    )]
    NotReplicated {
        acked: u32,
        wanted: u32,
        timeout_ms: u64,
    },
}

impl QueueError {
    /// Whether trying again shortly may succeed: Redis unreachable, a
    /// cluster or Sentinel failover under way (a slot still moving once the
    /// client's redirects ran out), too few replica acks.
    pub fn is_transient(&self) -> bool {
        match self {
            QueueError::Redis(e) => {
                connection_failed(e)
                    || not_serving(e)
                    // Mid-failover the sentinels may name no master (or
                    // one that does not yet say it is one).
                    || e.kind() == redis::ErrorKind::MasterNameNotFoundBySentinel
            }
            QueueError::NotReplicated { .. } => true,
            _ => false,
        }
    }
}

impl From<super::net::Invalid> for QueueError {
    fn from(e: super::net::Invalid) -> QueueError {
        QueueError::Invalid {
            field: e.field,
            reason: e.reason,
        }
    }
}

/// A refused batch: which job, and why. Nothing was written.
#[derive(Debug, thiserror::Error)]
#[error("job {index} of the batch: {error}")]
pub struct BatchError {
    pub index: usize,
    pub error: QueueError,
}
