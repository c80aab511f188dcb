//! Serving the API's connections: at most `api.max_connections` at once,
//! and a deadline for every request head (`api.header_timeout_secs`).
//!
//! A client that opens connections and sends half a request, or none, is
//! cut off once the head is late: its connections do not pile up until the
//! process runs out of descriptors (which also starves Redis connections
//! and the plugin directory's rescans). The deadline runs whenever a
//! connection waits for a request head, so it is the idle timeout of a
//! kept-alive connection too. Past the cap, new connections wait in the
//! listen backlog until one ends; the connections held are never dropped
//! for them.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// How the API's connections are bounded.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_connections: usize,
    pub header_timeout: Duration,
}

/// How long a stopping host lets requests in progress finish.
const DRAIN: Duration = Duration::from_secs(10);

/// Serves `app` on `listener` until `stop`; see the module's documentation.
/// Each request knows its client's address (`ConnectInfo<SocketAddr>`).
pub async fn serve(listener: TcpListener, app: Router, limits: Limits, stop: CancellationToken) {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    builder.http2().timer(TokioTimer::new());
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            _ = stop.cancelled() => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of descriptors, say: not a reason to stop serving.
                    tracing::warn!("the API cannot accept a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = stop.cancelled() => break,
        };
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<_>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            app.clone().oneshot(request)
        });
        let connection = builder
            .serve_connection(TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            // A connection that ends badly (a reset, a late head) is the
            // client's business, not the host's.
            let _ = connection.await;
            drop(slot);
        });
    }
    if tokio::time::timeout(DRAIN, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::info!("API requests still open after {DRAIN:?}: closed");
    }
}
