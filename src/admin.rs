//! The admin listener: `GET /metrics`, `/livez`, `/readyz`.
//!
//! Liveness only says the process answers. Readiness says it is worth sending
//! webhooks here: the service is not draining, the broker answered a metadata request
//! within [`READY_WITHIN`](crate::publish::READY_WITHIN), and records are being
//! acknowledged (see [`Readiness`]).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::service::service_fn;
use tokio::net::TcpListener;

use crate::app::State;
use crate::listener::{self, Connection, Limits};
use crate::publish::Readiness;

/// Answers one admin request.
pub fn respond<B>(state: &State, request: &Request<B>) -> Response<Full<Bytes>> {
    let text = |status: StatusCode, body: &'static str| {
        let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
        *r.status_mut() = status;
        r.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        r
    };
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
    }
    match request.uri().path() {
        "/metrics" => {
            let mut r = Response::new(Full::new(Bytes::from(state.metrics.encode())));
            r.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            r
        }
        "/livez" => text(StatusCode::OK, "ok\n"),
        "/readyz" => {
            if state.is_draining() {
                return text(StatusCode::SERVICE_UNAVAILABLE, "draining\n");
            }
            let publisher = &state.app().publisher;
            readyz(&publisher.readiness(), &publisher.warnings())
        }
        _ => text(StatusCode::NOT_FOUND, "not found\n"),
    }
}

/// `/readyz`: 200 when ready, else 503; the first line says why, the lines after it
/// name problems that do not make the service unready.
fn readyz(readiness: &Readiness, warnings: &[String]) -> Response<Full<Bytes>> {
    let status = if readiness.is_ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let mut body = readiness.reason();
    body.push('\n');
    for warning in warnings {
        body.push_str("warning: ");
        body.push_str(warning);
        body.push('\n');
    }
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// How many admin connections may be open at once: Prometheus and the kubelet's
/// probes need a handful, and the rest of the process's file descriptors belong to the
/// webhook listener.
pub const MAX_CONNECTIONS: usize = 64;

/// The largest admin request head: a GET with a few headers.
const MAX_HEAD_BYTES: usize = 16 * 1024;

/// Serves the admin endpoints on `listener` until `shutdown` resolves.
pub async fn serve(listener: TcpListener, state: Arc<State>, shutdown: impl Future<Output = ()>) {
    let limits = Limits {
        max_connections: MAX_CONNECTIONS,
        grace: Duration::from_secs(1),
    };
    let accept = |_peer| {
        let connection = Connection {
            header_read_timeout: Duration::from_secs(5),
            max_head_bytes: MAX_HEAD_BYTES,
            write_timeout: Duration::from_secs(5),
        };
        let state = state.clone();
        let service = service_fn(move |request| {
            let response = respond(&state, &request);
            async move { Ok(response) }
        });
        (connection, service)
    };
    listener::serve(listener, limits, accept, shutdown).await;
}
