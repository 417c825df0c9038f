//! The webhook listener: connections within limits, each request served through the
//! [`pipeline`] (admission, then the steps over one request, then its answer).
//!
//! Limits apply before work: at most `server.max_connections` open connections (the
//! rest wait in the kernel's listen backlog), request headers within
//! `server.read_timeout` and [`MAX_HEAD_BYTES`], at most `server.max_inflight` requests
//! in progress (503 at once beyond it). On shutdown the listener closes, idle
//! keep-alive connections are closed, and requests in flight finish within
//! `server.shutdown_grace`.

mod admission;
mod answer;
pub mod pipeline;
mod publication;
pub mod reject;
#[cfg(test)]
mod tests;

use std::future::Future;
use std::sync::Arc;

use hyper::service::service_fn;
use tokio::net::TcpListener;

pub use answer::{DEDUPLICATED, response};
pub use pipeline::handle;
pub use reject::{Reject, Unavailable};

use crate::app::State;
use crate::listener::{self, Connection, Limits, Peer};

/// The largest request head (request line and headers) accepted, in bytes.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

/// Serves webhooks on `listener` until `shutdown` resolves, then drains: returns once
/// every connection is closed or the grace period is over.
pub async fn serve(listener: TcpListener, state: Arc<State>, shutdown: impl Future<Output = ()>) {
    let limits = {
        let app = state.app();
        Limits {
            max_connections: app.server.max_connections,
            grace: app.server.shutdown_grace,
        }
    };
    let accept = |peer: Peer| {
        // Read per connection, so that a reloaded `server.read_timeout` applies to new
        // connections as it already does to bodies.
        let connection = Connection {
            header_read_timeout: state.app().server.read_timeout,
            max_head_bytes: MAX_HEAD_BYTES,
            write_timeout: state.app().server.read_timeout,
        };
        let state = state.clone();
        let Peer(peer) = peer;
        let service = service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
            let state = state.clone();
            async move { Ok(handle(&state, Some(peer), request).await) }
        });
        (connection, service)
    };
    let closed = async {
        shutdown.await;
        tracing::info!(grace = ?limits.grace, "webhook listener closing, draining requests in flight");
    };
    listener::serve(listener, limits, accept, closed).await;
}
