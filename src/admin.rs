//! The admin listener: `GET /metrics`, `/livez`, `/readyz`.
//!
//! Liveness only says the process answers. Readiness says it is worth sending
//! webhooks here: the service is not draining, the broker answered a metadata request
//! within [`READY_WITHIN`](crate::publish::READY_WITHIN), and records are being
//! acknowledged (see [`Readiness`]). With the spool on, a spool that cannot take the
//! largest record, or is broken, is not ready; a healthy one keeps the service ready
//! while Kafka is unreachable, since records are then spooled.

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
use crate::spool::Spool;

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
            let app = state.app();
            let (readiness, warnings) = (app.publisher.readiness(), app.publisher.warnings());
            match state.spool() {
                None => readyz(readiness.is_ready(), readiness.reason(), &warnings),
                Some(spool) => {
                    let room = app.max_record_bytes as u64 + SPOOL_RECORD_OVERHEAD;
                    let (ready, reason, warnings) = spooling(spool, room, &readiness, warnings);
                    readyz(ready, reason, &warnings)
                }
            }
        }
        _ => text(StatusCode::NOT_FOUND, "not found\n"),
    }
}

/// Bytes a spooled record takes beyond its value: its id, key, headers and framing
/// (the `[spool]` docs ask `max_bytes` for the largest record plus this).
const SPOOL_RECORD_OVERHEAD: u64 = 4096;

/// Readiness with a spool: a spool that cannot take the largest record (`room` bytes),
/// or is broken, is not ready; a healthy one keeps the service ready while Kafka is
/// unreachable or not acknowledging, since records are then spooled (a warning line
/// says so). Kafka refusing hookbridge's credentials, certificates or rights is not
/// ready either way: those records are not spooled.
fn spooling(
    spool: &Spool,
    room: u64,
    readiness: &Readiness,
    mut warnings: Vec<String>,
) -> (bool, String, Vec<String>) {
    let records = spool.len();
    if spool.is_broken() {
        let reason = "spool broken: a sync failed, restart hookbridge to recover it".to_string();
        return (false, reason, warnings);
    }
    if spool.free_bytes() < room {
        let reason = format!("spool full: {records} records, {} bytes", spool.bytes());
        return (false, reason, warnings);
    }
    match readiness {
        Readiness::Ready => {}
        Readiness::BrokerUnreachable { .. } | Readiness::NotAcknowledging { .. } => {
            let kafka = readiness.reason();
            warnings.insert(
                0,
                format!("records are spooled ({records} in the spool): {kafka}"),
            );
        }
        Readiness::AuthenticationFailed | Readiness::TlsFailed | Readiness::NotAuthorized => {
            return (false, readiness.reason(), warnings);
        }
    }
    (true, "ready".into(), warnings)
}

/// `/readyz`: 200 when ready, else 503; the first line says why, the lines after it
/// name problems that do not make the service unready.
fn readyz(ready: bool, reason: String, warnings: &[String]) -> Response<Full<Bytes>> {
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let mut body = reason;
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::metrics::Metrics;
    use crate::spool::Entry;

    fn spool(dir: &std::path::Path, max_bytes: u64) -> Spool {
        let settings = crate::config::Spool {
            dir: dir.to_path_buf(),
            max_bytes,
            segment_bytes: 1 << 16,
            drain_timeout: std::time::Duration::from_secs(30),
        };
        Spool::open(&settings, Arc::new(Metrics::new())).unwrap().0
    }

    #[test]
    fn a_healthy_spool_stays_ready_while_kafka_is_down_but_not_when_kafka_refuses_us() {
        let dir = tempfile::tempdir().unwrap();
        let spool = spool(dir.path(), 1 << 20);
        let down = Readiness::BrokerUnreachable {
            unreachable: vec!["b:9092/1".into()],
        };
        let (ready, reason, warnings) = spooling(&spool, 4096, &down, vec!["other".into()]);
        assert!(ready);
        assert_eq!(reason, "ready");
        assert_eq!(
            warnings,
            [
                "records are spooled (0 in the spool): broker not reachable; cannot connect to b:9092/1",
                "other"
            ]
        );
        let (ready, reason, _) = spooling(&spool, 4096, &Readiness::AuthenticationFailed, vec![]);
        assert!(!ready);
        assert_eq!(reason, "kafka authentication failed");
        let (ready, _, warnings) = spooling(&spool, 4096, &Readiness::Ready, vec![]);
        assert!(ready && warnings.is_empty());
    }

    #[tokio::test]
    async fn a_spool_without_room_for_the_largest_record_is_not_ready() {
        let dir = tempfile::tempdir().unwrap();
        let spool = spool(dir.path(), 1 << 20);
        let (ready, reason, _) = spooling(&spool, (1 << 20) + 1, &Readiness::Ready, vec![]);
        assert!(!ready);
        assert_eq!(reason, "spool full: 0 records, 0 bytes");
        let record = crate::publish::Record {
            topic: "t".into(),
            key: Some("k".into()),
            value: bytes::Bytes::from(vec![7u8; 4000]),
            headers: Vec::new(),
            timestamp: std::time::SystemTime::UNIX_EPOCH,
        };
        let entry = Entry {
            id: uuid::Uuid::nil(),
            dedup_key: vec![1],
            record,
        };
        spool.append(&entry).await.unwrap();
        let free = spool.free_bytes();
        assert!(spooling(&spool, free, &Readiness::Ready, vec![]).0);
        let (ready, reason, _) = spooling(&spool, free + 1, &Readiness::Ready, vec![]);
        assert!(!ready);
        assert!(reason.starts_with("spool full: 1 records, "), "{reason}");
    }
}
