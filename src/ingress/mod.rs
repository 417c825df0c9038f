//! The webhook listener: accepting connections within limits, and serving each request
//! through the [`pipeline`].
//!
//! Limits apply before work: at most `server.max_connections` open connections (the
//! rest wait in the kernel's listen backlog), request headers within
//! `server.read_timeout`, at most `server.max_inflight` requests in progress (503 at
//! once beyond it). On shutdown the listener closes, idle keep-alive connections are
//! closed, and requests in flight finish within `server.shutdown_grace`.

pub mod pipeline;
pub mod reject;
mod router;
#[cfg(test)]
mod tests;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

pub use pipeline::{Answer, handle};
pub use reject::{Reject, Unavailable};
pub use router::Router;

use crate::app::State;

/// The largest request head (request line and headers) accepted, in bytes.
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// Serves webhooks on `listener` until `shutdown` resolves, then drains: returns once
/// every connection is closed or the grace period is over.
pub async fn serve(listener: TcpListener, state: Arc<State>, shutdown: impl Future<Output = ()>) {
    let app = state.app();
    let connections = Arc::new(Semaphore::new(app.server.max_connections));
    let grace = app.server.shutdown_grace;
    drop(app);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);

    loop {
        let permit = tokio::select! {
            permit = connections.clone().acquire_owned() => permit,
            () = &mut shutdown => break,
        };
        // Invariant: the semaphore is never closed.
        let Ok(permit) = permit else { break };
        let stream = tokio::select! {
            stream = accept(&listener) => stream,
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        // Taken per connection, so that a reloaded `server.read_timeout` applies to
        // new connections as it already does to bodies.
        let read_timeout = state.app().server.read_timeout;
        let state = state.clone();
        let service = service_fn(move |request| {
            let state = state.clone();
            async move { Ok::<_, std::convert::Infallible>(handle(&state, request).await) }
        });
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(read_timeout)
            .max_buf_size(MAX_HEAD_BYTES)
            .serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(permit);
        });
    }

    drop(listener);
    tracing::info!(grace = ?grace, "webhook listener closed, draining requests in flight");
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("shutdown grace elapsed with connections still open");
    }
}

/// The next connection on `listener`. Accept errors (typically: out of file
/// descriptors) are logged and retried after a pause instead of spinning.
pub(crate) async fn accept(listener: &TcpListener) -> tokio::net::TcpStream {
    loop {
        match listener.accept().await {
            Ok((stream, _peer)) => return stream,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}
