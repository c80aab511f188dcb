//! The connection layer the queue sits on: where its Redis is and how to
//! reach it, and what a failed call means. It imports nothing of the queue
//! (a layout test keeps it so).
//!
//! - `connection.rs`: the Redis URL ([`Endpoint`]: one server, a cluster
//!   or Sentinel) and the one connection type over them ([`Conn`]), the
//!   pub/sub connections ([`Connector`]), a hash tag's slot;
//! - `cluster.rs`: on a Redis Cluster, each slot's commands straight to its
//!   master, the cluster client taking over when that is stale;
//! - `sentinel.rs`: the master a Sentinel group names, asked again when it
//!   stops answering;
//! - `tls.rs`: TLS files beyond the URL's `rediss://` (a CA, a client
//!   certificate).

mod cluster;
mod connection;
mod sentinel;
mod tls;

use std::time::Duration;

pub use connection::{Conn, Connector, Endpoint, slot};
pub use tls::TlsFiles;

/// How long a connection may take to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a command may take to be answered.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);

/// A setting refused: which, and why (the queue's `QueueError::Invalid`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {field}: {reason}")]
pub struct Invalid {
    pub field: &'static str,
    pub reason: String,
}

fn invalid(field: &'static str, reason: impl Into<String>) -> Invalid {
    Invalid {
        field,
        reason: reason.into(),
    }
}

/// The connection failed: the server is gone, refused it, dropped it, or
/// did not answer in time.
pub fn connection_failed(e: &redis::RedisError) -> bool {
    e.is_io_error() || e.is_connection_dropped() || e.is_connection_refusal() || e.is_timeout()
}

/// The server answered that it does not serve the keys now: a slot moving
/// or moved, a cluster or master down, a replica, a server still loading.
pub fn not_serving(e: &redis::RedisError) -> bool {
    matches!(
        e.kind(),
        redis::ErrorKind::TryAgain
            | redis::ErrorKind::Moved
            | redis::ErrorKind::Ask
            | redis::ErrorKind::ClusterDown
            | redis::ErrorKind::MasterDown
            | redis::ErrorKind::ReadOnly
            | redis::ErrorKind::BusyLoadingError
    )
}

/// The error a server's error reply carries (it comes back as a value).
fn error_reply(reply: &redis::Value) -> Option<redis::RedisError> {
    match reply {
        redis::Value::ServerError(e) => Some(e.clone().into()),
        _ => None,
    }
}

/// A mutex's guard, even after a panic elsewhere held it.
fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
