//! One webhook request, from route to answer.
//!
//! The order is the contract's: route and method, limits (draining, in-flight, body
//! size) before any work, the body read under its own timeout, authentication over
//! the raw bytes, the envelope, then the publication — and a 2xx only once the broker
//! acknowledged the record. The whole request runs under `server.request_timeout`.

use std::error::Error as StdError;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Body;
use serde::Serialize;
use tracing::Level;

use super::publication::{Admitted, First, record};
use super::reject::{self, Reject, Unavailable, json_response};
use crate::app::{Answer, App, State};
use crate::auth::{self, SenderMark};
use crate::dedup::{Claim, EventKey, Mark, Seen};
use crate::envelope::Reason;
use crate::everbright::Event;
use crate::limit;
use crate::listener::Peer;

/// Set on the answer to a copy of an event answered before (or in flight): the body is
/// the first copy's, and no second record was written.
pub const DEDUPLICATED: HeaderName = HeaderName::from_static("hookbridge-deduplicated");

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
    let mut response = json_response(status, Bytes::from(body.unwrap_or_default()));
    if answer.deduplicated {
        response
            .headers_mut()
            .insert(DEDUPLICATED, HeaderValue::from_static("true"));
    }
    response
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
pub async fn handle<B: RequestBody>(
    state: &Arc<State>,
    request: Request<B>,
) -> Response<Full<Bytes>> {
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
        deadletter = a.dead_letter.map(Reason::as_str), deduplicated = a.deduplicated,
        "webhook published"
    );
}

/// Route, method and admission, then the rest of the request under
/// `server.request_timeout`.
async fn process<'a, B: RequestBody>(
    state: &Arc<State>,
    app: &'a Arc<App>,
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
    locked_out(state, app, client(app, &request))?;
    let admitted = admit(state)?;
    let deliver = deliver(state, app, event, request, received, admitted, trail);
    tokio::time::timeout(app.server.request_timeout, deliver)
        .await
        .unwrap_or(Err(Reject::Unavailable(Unavailable::RequestTimeout)))
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
fn rate_limit(
    state: &State,
    app: &App,
    credential: &crate::auth::Credential,
) -> Result<(), Reject> {
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
fn admit(state: &State) -> Result<Admitted, Reject> {
    if state.is_draining() {
        return Err(Reject::Unavailable(Unavailable::Draining));
    }
    let permit = state
        .inflight()
        .clone()
        .try_acquire_owned()
        .map_err(|_| Reject::Unavailable(Unavailable::Overloaded))?;
    let gauge = state.metrics.inflight.clone();
    gauge.inc();
    Ok(Admitted {
        _permit: permit,
        gauge,
    })
}

/// An admitted webhook: body, authentication, then one answer per event: the answer
/// of a copy seen before, or the first copy's publication.
async fn deliver<'a, B: RequestBody>(
    state: &Arc<State>,
    app: &'a Arc<App>,
    event: Event,
    request: Request<B>,
    received: SystemTime,
    admitted: Admitted,
    trail: &mut Trail<'a>,
) -> Result<Answer, Reject> {
    // The same lookup as before admission (cheap), not one more argument.
    let client = client(app, &request);
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
    let credential = authenticated.credential;
    let key = event_key(&authenticated, event, &body);
    let claim = match claim(state, key, received).await {
        Ok(claim) => claim,
        Err(answer) => {
            let metrics = &state.metrics.deduplicated;
            metrics.with_label_values(&[&credential.name]).inc();
            return Ok(answer);
        }
    };
    // Only a new event spends the credential's rate; dropping the claim frees the key.
    rate_limit(state, app, credential)?;
    let id = key.id();
    let (record, dead_letter) = record(app, event, credential, &request, received, id);
    let window_end = received + app.dedup.window;
    let first = First {
        state: state.clone(),
        app: app.clone(),
        claim,
        _admitted: admitted,
        event,
        environment: credential.environment,
        credential: credential.name.clone(),
        remember_until: authenticated
            .verifies_until
            .map_or(window_end, |until| until.max(window_end)),
    };
    first.publish(record, id, dead_letter).await
}

/// What names the event: its credential, slug, sender's mark and raw body.
fn event_key(authenticated: &auth::Authenticated<'_>, event: Event, body: &[u8]) -> EventKey {
    let mark = match &authenticated.mark {
        None => Mark::None,
        Some(SenderMark::MessageId(id)) => Mark::MessageId(id),
        Some(SenderMark::SignedAt(at)) => Mark::SignedAt(*at),
    };
    EventKey::new(&authenticated.credential.name, event.slug(), mark, body)
}

/// The right to publish the event, or the answer an earlier copy got (waiting for a
/// copy in flight; when that one fails, trying again to claim it).
async fn claim(state: &State, key: EventKey, now: SystemTime) -> Result<Claim<Answer>, Answer> {
    loop {
        let answer = match state.dedup().see(key, now) {
            Seen::New(claim) => return Ok(claim),
            Seen::Done(answer) => answer,
            Seen::InFlight(waiter) => match waiter.answer().await {
                Some(answer) => answer,
                None => continue,
            },
        };
        return Err(Answer {
            deduplicated: true,
            ..answer
        });
    }
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
