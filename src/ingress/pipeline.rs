//! One webhook request, from route to answer.
//!
//! The order is the contract's: route and method, limits (draining, in-flight, body
//! size) before any work, the body read under its own timeout, authentication over
//! the raw bytes, the envelope, then the publication — and a 2xx only once the broker
//! acknowledged the record. The whole request runs under `server.request_timeout`.

use std::error::Error as StdError;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Body;
use prometheus::IntGauge;
use serde::Serialize;
use uuid::Uuid;

use super::reject::{Reject, Unavailable, json_response};
use crate::app::{App, State};
use crate::auth;
use crate::envelope::{Incoming, Reason};
use crate::everbright::Event;
use crate::publish::{Delivery, Record};

/// A webhook answered with 2xx: its record is acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The CloudEvents id.
    pub id: Uuid,
    /// Where the record went.
    pub topic: String,
    /// The broker's acknowledgement.
    pub delivery: Delivery,
    /// Set when the record is a dead letter (answered 202).
    pub dead_letter: Option<Reason>,
    /// Whether this answer was replayed from the cache for an identical signed
    /// request, without a second record.
    pub replayed: bool,
}

#[derive(Serialize)]
struct Published<'a> {
    id: String,
    topic: &'a str,
    partition: i32,
    offset: i64,
}

#[derive(Serialize)]
struct DeadLettered<'a> {
    id: String,
    topic: &'a str,
    reason: &'a str,
}

impl Answer {
    /// 200 with where the record is, or 202 for a dead letter.
    pub fn response(&self) -> Response<Full<Bytes>> {
        let id = self.id.hyphenated().to_string();
        let (status, body) = match self.dead_letter {
            None => (
                StatusCode::OK,
                serde_json::to_vec(&Published {
                    id,
                    topic: &self.topic,
                    partition: self.delivery.partition,
                    offset: self.delivery.offset,
                }),
            ),
            Some(reason) => (
                StatusCode::ACCEPTED,
                serde_json::to_vec(&DeadLettered {
                    id,
                    topic: &self.topic,
                    reason: reason.as_str(),
                }),
            ),
        };
        // Serialising these plain structs cannot fail.
        json_response(status, Bytes::from(body.unwrap_or_default()))
    }
}

/// A request body the pipeline can read (hyper's `Incoming`, or a test body).
pub trait RequestBody: Body<Data = Bytes, Error: Into<Box<dyn StdError + Send + Sync>>> {}

impl<B> RequestBody for B
where
    B: Body<Data = Bytes>,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
}

/// What the log line reports beyond the status.
#[derive(Default)]
struct Trail<'a> {
    credential: Option<&'a str>,
}

/// Answers one webhook request.
pub async fn handle<B: RequestBody>(state: &State, request: Request<B>) -> Response<Full<Bytes>> {
    let started = Instant::now();
    let received = SystemTime::now();
    let app = state.app();
    let event = app.router.route(request.uri().path());
    let label = event.map_or("unknown", Event::slug);
    let method = request.method().clone();
    let mut trail = Trail::default();

    let result = process(state, &app, event, request, received, &mut trail).await;

    let response = match &result {
        Ok(answer) => answer.response(),
        Err(reject) => reject.response(),
    };
    let status = response.status();
    let elapsed = started.elapsed();
    let metrics = &state.metrics;
    metrics
        .http_requests
        .with_label_values(&[label, status.as_str()])
        .inc();
    metrics
        .http_request_duration
        .with_label_values(&[label])
        .observe(elapsed.as_secs_f64());
    log(label, &method, status, elapsed, &trail, &result);
    response
}

fn log(
    event: &str,
    method: &Method,
    status: StatusCode,
    elapsed: Duration,
    trail: &Trail<'_>,
    result: &Result<Answer, Reject>,
) {
    let credential = trail.credential.unwrap_or("");
    let status = status.as_u16();
    let duration_ms = elapsed.as_secs_f64() * 1e3;
    match result {
        Ok(a) => tracing::info!(
            event, %method, status, credential, duration_ms,
            id = %a.id, topic = a.topic, partition = a.delivery.partition, offset = a.delivery.offset,
            deadletter = a.dead_letter.map(Reason::as_str), replayed = a.replayed,
            "webhook published"
        ),
        Err(r) if r.is_server_fault() => tracing::error!(
            event, %method, status, credential, duration_ms, reason = r.reason(), detail = ?r,
            "webhook failed"
        ),
        Err(r @ (Reject::Unauthorized { .. } | Reject::Unavailable(_))) => tracing::warn!(
            event, %method, status, credential, duration_ms, reason = r.reason(),
            "webhook refused"
        ),
        Err(r) => tracing::info!(
            event, %method, status, credential, duration_ms, reason = r.reason(),
            "webhook refused"
        ),
    }
}

async fn process<'a, B: RequestBody>(
    state: &State,
    app: &'a App,
    event: Option<Event>,
    request: Request<B>,
    received: SystemTime,
    trail: &mut Trail<'a>,
) -> Result<Answer, Reject> {
    let event = event.ok_or(Reject::NotFound)?;
    if !matches!(
        *request.method(),
        Method::POST | Method::PUT | Method::PATCH
    ) {
        return Err(Reject::MethodNotAllowed);
    }
    if state.is_draining() {
        return Err(Reject::Unavailable(Unavailable::Draining));
    }
    let _permit = state
        .inflight()
        .try_acquire()
        .map_err(|_| Reject::Unavailable(Unavailable::Overloaded))?;
    let _inflight = Inflight::enter(&state.metrics.inflight);
    tokio::time::timeout(
        app.server.request_timeout,
        accept(state, app, event, request, received, trail),
    )
    .await
    .unwrap_or(Err(Reject::Unavailable(Unavailable::RequestTimeout)))
}

async fn accept<'a, B: RequestBody>(
    state: &State,
    app: &'a App,
    event: Event,
    request: Request<B>,
    received: SystemTime,
    trail: &mut Trail<'a>,
) -> Result<Answer, Reject> {
    let metrics = &state.metrics;
    let (parts, body) = request.into_parts();
    let limit = app.server.max_body_bytes;
    if body.size_hint().lower() > limit as u64 {
        return Err(Reject::PayloadTooLarge);
    }
    let body = read_body(body, limit, app.server.read_timeout).await?;

    let authenticated = app
        .auth
        .authenticate(
            &auth::Request {
                method: &parts.method,
                uri: &parts.uri,
                headers: &parts.headers,
                body: &body,
            },
            event,
            received,
        )
        .map_err(|failure| {
            metrics
                .auth_failures
                .with_label_values(&[failure.reason()])
                .inc();
            Reject::Unauthorized {
                failure,
                offer_basic: app.auth.offers_basic(),
            }
        })?;
    let credential = authenticated.credential;
    trail.credential = Some(&credential.name);
    if let Some(key) = authenticated.replay
        && let Some((seen, answer)) = state.replay().get(&key.tag, received)
        && seen == event
    {
        metrics.replays.with_label_values(&[&credential.name]).inc();
        return Ok(Answer {
            replayed: true,
            ..answer
        });
    }

    let id = Uuid::now_v7();
    let envelope = app.envelope.build(&Incoming {
        id,
        event,
        environment: credential.environment,
        credential: &credential.name,
        organization: credential.organization.as_deref(),
        content_type: parts
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
        body: &body,
        received,
    });
    let mut headers = envelope.headers;
    for name in &app.capture_headers {
        if let Some(value) = parts.headers.get(name) {
            headers.push((name.as_str().to_string().into(), value.as_bytes().to_vec()));
        }
    }
    let topic = app.topic(
        credential.environment,
        event,
        envelope.dead_letter.is_some(),
    );
    let record = Record {
        topic: topic.to_string(),
        key: envelope.key,
        value: envelope.value,
        headers,
        timestamp: received,
    };

    let sent = Instant::now();
    let delivery = match tokio::time::timeout(app.ack_timeout, app.publisher.publish(record)).await
    {
        Ok(Ok(delivery)) => delivery,
        Ok(Err(e)) => {
            metrics.kafka_errors.with_label_values(&[e.kind()]).inc();
            return Err(e.into());
        }
        Err(_elapsed) => {
            metrics
                .kafka_errors
                .with_label_values(&["ack-timeout"])
                .inc();
            return Err(Reject::Unavailable(Unavailable::AckTimeout));
        }
    };
    metrics
        .kafka_ack_duration
        .observe(sent.elapsed().as_secs_f64());
    match envelope.dead_letter {
        None => metrics
            .events_published
            .with_label_values(&[
                event.slug(),
                credential.environment.as_str(),
                &credential.name,
            ])
            .inc(),
        Some(reason) => metrics
            .deadletters
            .with_label_values(&[event.slug(), reason.as_str()])
            .inc(),
    }
    let answer = Answer {
        id,
        topic: topic.to_string(),
        delivery,
        dead_letter: envelope.dead_letter,
        replayed: false,
    };
    if let Some(key) = authenticated.replay {
        state
            .replay()
            .insert(key.tag, (event, answer.clone()), key.until);
    }
    Ok(answer)
}

/// Reads the whole body, refusing more than `limit` bytes or more than `timeout`.
async fn read_body<B: RequestBody>(
    body: B,
    limit: usize,
    timeout: Duration,
) -> Result<Bytes, Reject> {
    match tokio::time::timeout(timeout, Limited::new(body, limit).collect()).await {
        Err(_elapsed) => Err(Reject::BodyTimeout),
        Ok(Err(e)) if e.is::<LengthLimitError>() => Err(Reject::PayloadTooLarge),
        Ok(Err(e)) => Err(Reject::BadBody(e.to_string())),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
    }
}

/// Counts a request in `hookbridge_inflight_requests` while alive.
struct Inflight<'a>(&'a IntGauge);

impl<'a> Inflight<'a> {
    fn enter(gauge: &'a IntGauge) -> Self {
        gauge.inc();
        Inflight(gauge)
    }
}

impl Drop for Inflight<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}
