//! One webhook request, from route to answer.
//!
//! The order is the contract's: route and method, limits (draining, in-flight, body
//! size) before any work, the body read under its own timeout, authentication over
//! the raw bytes, the envelope, then the publication — and a 2xx only once the broker
//! acknowledged the record. The whole request runs under `server.request_timeout`.

use std::error::Error as StdError;
use std::net::IpAddr;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Body;
use prometheus::IntGauge;
use serde::Serialize;
use tokio::sync::SemaphorePermit;
use tracing::Level;
use uuid::Uuid;

use super::reject::{self, Reject, Unavailable, json_response};
use crate::app::{Answer, App, State};
use crate::auth::{self, Credential};
use crate::envelope::{Incoming, Reason};
use crate::everbright::Event;
use crate::limit;
use crate::listener::Peer;
use crate::publish::{Delivery, ErrorKind, Record};

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

/// 200 with where the record is, or 202 for a dead letter.
fn response(answer: &Answer) -> Response<Full<Bytes>> {
    let id = answer.id.hyphenated().to_string();
    let (status, body) = match answer.dead_letter {
        None => (
            StatusCode::OK,
            serde_json::to_vec(&Published {
                id,
                topic: &answer.topic,
                partition: answer.delivery.partition,
                offset: answer.delivery.offset,
            }),
        ),
        Some(reason) => (
            StatusCode::ACCEPTED,
            serde_json::to_vec(&DeadLettered {
                id,
                topic: &answer.topic,
                reason: reason.as_str(),
            }),
        ),
    };
    // Serialising these plain structs cannot fail.
    json_response(status, Bytes::from(body.unwrap_or_default()))
}

/// A request body the pipeline can read (hyper's `Incoming`, or a test body).
pub trait RequestBody: Body<Data = Bytes, Error: Into<Box<dyn StdError + Send + Sync>>> {}

impl<B> RequestBody for B
where
    B: Body<Data = Bytes>,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
}

/// What the log line reports beyond the status, filled in as the request goes.
#[derive(Default)]
struct Trail<'a> {
    /// The credential the request was matched to, even when it then failed to verify.
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
        Ok(answer) => response(answer),
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
    log(state, label, &method, status, elapsed, &trail, &result);
    response
}

/// One line per request, at the level the [`Reject`] table gives a refusal; refusals
/// within the [`LogBudget`](crate::log_budget::LogBudget) of their reason.
fn log(
    state: &State,
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
    let a = match result {
        Ok(a) => a,
        Err(r) => {
            let reason = r.reason();
            let second = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let Some(suppressed) = state.refusal_log.admit(reason, second) else {
                return;
            };
            macro_rules! refused {
                ($level:expr) => {
                    tracing::event!($level, event, %method, status, credential, duration_ms, reason, detail = r.detail(), suppressed, "webhook refused")
                };
            }
            return match r.level() {
                Level::ERROR => refused!(Level::ERROR),
                Level::WARN => refused!(Level::WARN),
                _ => refused!(Level::INFO),
            };
        }
    };
    tracing::info!(
        event, %method, status, credential, duration_ms,
        id = %a.id, topic = a.topic, partition = a.delivery.partition, offset = a.delivery.offset,
        deadletter = a.dead_letter.map(Reason::as_str), replayed = a.replayed,
        "webhook published"
    );
}

/// Route, method and admission, then the rest of the request under
/// `server.request_timeout`.
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
    reject::transfer_coding(request.headers())?;
    let client = client(app, &request);
    locked_out(state, app, client)?;
    let _admitted = admit(state)?;
    let deliver = deliver(state, app, event, request, client, received, trail);
    tokio::time::timeout(app.server.request_timeout, deliver)
        .await
        .unwrap_or(Err(Reject::Unavailable(Unavailable::RequestTimeout)))
}

/// A request admitted past the in-flight limit; counted while alive.
struct Admitted<'a> {
    _permit: SemaphorePermit<'a>,
    gauge: &'a IntGauge,
}

impl Drop for Admitted<'_> {
    fn drop(&mut self) {
        self.gauge.dec();
    }
}

/// The client's address (see [`limit::client_address`]), when the request came over a
/// connection (handler tests have none).
fn client<B>(app: &App, request: &Request<B>) -> Option<IpAddr> {
    let Peer(peer) = *request.extensions().get::<Peer>()?;
    let forwarded = request
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok());
    Some(limit::client_address(
        peer.ip(),
        forwarded,
        &app.server.trusted_proxies,
    ))
}

/// Refuses a client that failed authentication too often, before reading its body or
/// evaluating its credentials.
fn locked_out(state: &State, app: &App, client: Option<IpAddr>) -> Result<(), Reject> {
    let (Some(limit), Some(ip)) = (&app.failed_auth, client) else {
        return Ok(());
    };
    match limit.locked(ip, Instant::now()) {
        None => Ok(()),
        Some(wait) => {
            state.metrics.failed_auth_limited.inc();
            Err(Reject::LockedOut(wait))
        }
    }
}

/// Takes a token from the credential's `rate_limit` bucket, if it has one.
fn rate_limit(state: &State, app: &App, credential: &Credential) -> Result<(), Reject> {
    let Some(bucket) = app.rate_limits.get(&credential.name) else {
        return Ok(());
    };
    bucket.take(Instant::now()).map_err(|wait| {
        state
            .metrics
            .rate_limited
            .with_label_values(&[&credential.name])
            .inc();
        Reject::RateLimited(wait)
    })
}

/// Refuses work while draining or beyond `server.max_inflight`, before reading a byte.
fn admit(state: &State) -> Result<Admitted<'_>, Reject> {
    if state.is_draining() {
        return Err(Reject::Unavailable(Unavailable::Draining));
    }
    let permit = state
        .inflight()
        .try_acquire()
        .map_err(|_| Reject::Unavailable(Unavailable::Overloaded))?;
    let gauge = &state.metrics.inflight;
    gauge.inc();
    Ok(Admitted {
        _permit: permit,
        gauge,
    })
}

/// An admitted webhook: body, authentication, replay, record, publication.
async fn deliver<'a, B: RequestBody>(
    state: &State,
    app: &'a App,
    event: Event,
    request: Request<B>,
    client: Option<IpAddr>,
    received: SystemTime,
    trail: &mut Trail<'a>,
) -> Result<Answer, Reject> {
    let (parts, body) = request.into_parts();
    let body = read_body(body, app.server.max_body_bytes, app.server.read_timeout).await?;
    let request = auth::Request {
        method: &parts.method,
        uri: &parts.uri,
        headers: &parts.headers,
        body: &body,
    };
    let authenticated =
        authenticate(state, app, &request, event, received, trail).inspect_err(|_| {
            if let (Some(limit), Some(ip)) = (&app.failed_auth, client) {
                limit.failed(ip, Instant::now());
            }
        })?;
    if let Some(answer) = replayed(state, &authenticated, event, received) {
        return Ok(answer);
    }
    rate_limit(state, app, authenticated.credential)?;
    let (record, dead_letter, id) = record(app, event, &authenticated, &request, received);
    let topic = record.topic.clone();
    let delivery = publish(state, app, record).await?;
    count_published(state, event, authenticated.credential, dead_letter);
    let answer = Answer {
        id,
        topic,
        delivery,
        dead_letter,
        replayed: false,
    };
    if let Some(key) = authenticated.replay {
        state
            .replay()
            .insert(key.tag, (event, answer.clone()), key.until);
    }
    Ok(answer)
}

/// Verifies the request against the credentials; a refusal is counted by reason.
fn authenticate<'a>(
    state: &State,
    app: &'a App,
    request: &auth::Request<'_>,
    event: Event,
    received: SystemTime,
    trail: &mut Trail<'a>,
) -> Result<auth::Authenticated<'a>, Reject> {
    match app.auth.authenticate(request, event, received) {
        Ok(authenticated) => {
            trail.credential = Some(&authenticated.credential.name);
            Ok(authenticated)
        }
        Err(refused) => {
            trail.credential = refused.candidate.map(|c| c.name.as_str());
            state
                .metrics
                .auth_failures
                .with_label_values(&[refused.failure.reason()])
                .inc();
            Err(Reject::Unauthorized {
                failure: refused.failure,
                offer_basic: app.auth.offers_basic(),
            })
        }
    }
}

/// The stored answer for an identical signed request whose record was acked.
fn replayed(
    state: &State,
    authenticated: &auth::Authenticated<'_>,
    event: Event,
    received: SystemTime,
) -> Option<Answer> {
    let key = authenticated.replay?;
    let (seen, answer) = state.replay().get(&key.tag, received)?;
    (seen == event).then(|| {
        let credential = &authenticated.credential.name;
        state.metrics.replays.with_label_values(&[credential]).inc();
        Answer {
            replayed: true,
            ..answer
        }
    })
}

/// The record for an authenticated request: the envelope, captured headers, and the
/// event or dead-letter topic.
fn record(
    app: &App,
    event: Event,
    authenticated: &auth::Authenticated<'_>,
    request: &auth::Request<'_>,
    received: SystemTime,
) -> (Record, Option<Reason>, Uuid) {
    let credential = authenticated.credential;
    let id = Uuid::now_v7();
    let envelope = app.envelope.build(&Incoming {
        id,
        event,
        environment: credential.environment,
        credential: &credential.name,
        organization: credential.organization.as_deref(),
        content_type: request
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
        body: request.body,
        received,
    });
    let mut headers = envelope.headers;
    for name in &app.capture_headers {
        if let Some(value) = request.headers.get(name) {
            headers.push((name.as_str().to_string().into(), value.as_bytes().to_vec()));
        }
    }
    let dead_letter = envelope.dead_letter;
    let topic = app.topic(credential.environment, event, dead_letter.is_some());
    let record = Record {
        topic: topic.to_string(),
        key: envelope.key,
        value: envelope.value,
        headers,
        timestamp: received,
    };
    (record, dead_letter, id)
}

/// Hands the record to the publisher and waits, at most `kafka.ack_timeout`, for the
/// broker's acknowledgement.
async fn publish(state: &State, app: &App, record: Record) -> Result<Delivery, Reject> {
    let metrics = &state.metrics;
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
                .with_label_values(&[ErrorKind::AckTimeout.as_str()])
                .inc();
            return Err(Reject::Unavailable(Unavailable::AckTimeout));
        }
    };
    metrics
        .kafka_ack_duration
        .observe(sent.elapsed().as_secs_f64());
    Ok(delivery)
}

/// Counts an acknowledged record: an event, or a dead letter by reason.
fn count_published(
    state: &State,
    event: Event,
    credential: &Credential,
    dead_letter: Option<Reason>,
) {
    let metrics = &state.metrics;
    match dead_letter {
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
}

/// Reads the whole body, refusing more than `limit` bytes (a declared length at once,
/// before reading) or more than `timeout`.
async fn read_body<B: RequestBody>(
    body: B,
    limit: usize,
    timeout: Duration,
) -> Result<Bytes, Reject> {
    if body.size_hint().lower() > limit as u64 {
        return Err(Reject::PayloadTooLarge);
    }
    match tokio::time::timeout(timeout, Limited::new(body, limit).collect()).await {
        Err(_elapsed) => Err(Reject::BodyTimeout),
        Ok(Err(e)) if e.is::<LengthLimitError>() => Err(Reject::PayloadTooLarge),
        Ok(Err(e)) => Err(Reject::BadBody(e)),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
    }
}
