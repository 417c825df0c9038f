//! One webhook request, from route to answer, as a list of steps over one `Webhook`.
//!
//! The order is the contract's: route and method, then admission (draining, lock-out,
//! in-flight limit) before any work, the body read under its own timeout,
//! authentication over the raw bytes, the event's claim (a copy in flight or answered
//! gets that answer), the credential's rate, the record, and the publication — a 2xx
//! only once the broker acknowledged the record. The whole request after admission
//! runs under `server.request_timeout`. What each step refuses is a [`Reject`]; how a
//! request is admitted is `admission`'s, how it is published
//! `publication`'s, and how it is answered and logged
//! `answer`'s.

use std::error::Error as StdError;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::request::Parts;
use http::{Method, Request, Response};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use uuid::Uuid;

use super::admission::{self, Admitted};
use super::publication::Publication;
use super::reject::{self, Reject, Unavailable};
use crate::app::{Answer, App, State};
use crate::auth::{self, Authenticated, Credential};
use crate::body::Body;
use crate::dedup::{Claim, EventKey, Owner, Seen};
use crate::envelope::{Incoming, Reason};
use crate::everbright::Event;
use crate::publish::Record;
use crate::trace;

/// A request body the pipeline can read (hyper's `Incoming`, or a test body).
pub trait RequestBody:
    hyper::body::Body<Data = Bytes, Error: Into<Box<dyn StdError + Send + Sync>>>
{
}

impl<B> RequestBody for B
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
}

/// Answers one webhook request; `peer` is the connection's address (`None` in
/// handler tests).
pub async fn handle<B: RequestBody>(
    state: &Arc<State>,
    peer: Option<SocketAddr>,
    request: Request<B>,
) -> Response<Full<Bytes>> {
    let app = state.app();
    let mut webhook = Webhook::new(state, &app, peer, &request);
    let result = webhook.process(request).await;
    webhook.answer(result)
}

/// One request, as its steps need it: the state and config it is served with, what
/// its head said, and what the steps found out (for the answer and the log line).
pub(super) struct Webhook<'a> {
    pub(super) state: &'a Arc<State>,
    pub(super) app: &'a Arc<App>,
    /// The route's event, `None` when no route matched.
    pub(super) event: Option<Event>,
    pub(super) method: Method,
    /// The request path, kept only when no route matched (for the 404's log line).
    pub(super) unrouted: Option<Box<str>>,
    /// The address `server.failed_auth_limit` charges, if any.
    client: Option<IpAddr>,
    pub(super) started: Instant,
    received: SystemTime,
    /// The credential the request was matched to, even when it then failed to verify.
    pub(super) credential: Option<&'a Credential>,
    /// The names of the request's headers, kept for a 401's log line (never values).
    pub(super) header_names: Option<Box<str>>,
    /// The request's server span, when traces are on.
    pub(super) span: Option<trace::Server>,
}

impl<'a> Webhook<'a> {
    fn new<B>(
        state: &'a Arc<State>,
        app: &'a Arc<App>,
        peer: Option<SocketAddr>,
        request: &Request<B>,
    ) -> Self {
        let path = request.uri().path();
        let event = app.router.route(path);
        let client = admission::client(app, peer, request.headers());
        let received = SystemTime::now();
        let span = state.tracer.as_ref().map(|tracer| {
            tracer.server(&trace::Request {
                method: request.method(),
                version: request.version(),
                route: event.map(|_| path),
                path: &super::answer::loggable_path(path),
                headers: request.headers(),
                peer,
                client,
                received,
            })
        });
        Webhook {
            state,
            app,
            event,
            method: request.method().clone(),
            unrouted: event.is_none().then(|| super::answer::loggable_path(path)),
            client,
            started: Instant::now(),
            received,
            credential: None,
            header_names: None,
            span,
        }
    }

    /// Route, method and admission, then the rest under `server.request_timeout`.
    async fn process<B: RequestBody>(&mut self, request: Request<B>) -> Result<Answer, Reject> {
        let event = self.event.ok_or(Reject::NotFound)?;
        if !matches!(self.method, Method::POST | Method::PUT | Method::PATCH) {
            return Err(Reject::MethodNotAllowed);
        }
        reject::transfer_coding(request.headers())?;
        admission::locked_out(self.state, self.app, self.client)?;
        let admitted = admission::admit(self.state)?;
        let timeout = self.app.server.request_timeout;
        tokio::time::timeout(timeout, self.deliver(event, request, admitted))
            .await
            .unwrap_or(Err(Reject::Unavailable(Unavailable::RequestTimeout)))
    }

    /// An admitted webhook: one answer per event, the answer of a copy seen before or
    /// the first copy's publication.
    async fn deliver<B: RequestBody>(
        &mut self,
        event: Event,
        request: Request<B>,
        admitted: Admitted,
    ) -> Result<Answer, Reject> {
        let (parts, body) = request.into_parts();
        let server = &self.app.server;
        let body = read_body(body, server.max_body_bytes, server.read_timeout).await?;
        let authenticated = self.authenticate(event, &parts, &body)?;
        let credential = authenticated.credential;
        let key = self.key(event, &authenticated, &body);
        let series = self.app.credential_series(credential);
        let claim = match self.claim(key, &series.name).await? {
            Ok(claim) => claim,
            Err(copy) => {
                series.deduplicated.inc();
                return Ok(copy);
            }
        };
        // Only a new event spends the credential's rate; dropping the claim frees the key.
        admission::rate_limit(self.app, credential)?;
        let (record, dead_letter, producer) =
            self.record(event, credential, &parts, &body, key.id());
        let publication = Publication {
            state: self.state.clone(),
            app: self.app.clone(),
            claim,
            _admitted: admitted,
            event,
            credential: self.app.auth.position(credential),
            remember_until: self.remember_until(&authenticated),
        };
        let published = publication.publish(record, key, dead_letter).await;
        if let Some(producer) = producer {
            match &published {
                Ok(answer) => match &answer.delivery {
                    Some(delivery) => producer.acked(delivery.partition, delivery.offset),
                    None => producer.spooled(),
                },
                Err(reject) => producer.failed(reject.reason()),
            }
        }
        published
    }

    /// Verifies the request against the credentials; a refusal is counted by reason
    /// and against the client's address.
    fn authenticate(
        &mut self,
        event: Event,
        parts: &Parts,
        body: &Body,
    ) -> Result<Authenticated<'a>, Reject> {
        let request = auth::Request {
            method: &parts.method,
            uri: &parts.uri,
            headers: &parts.headers,
            body,
        };
        match self.app.auth.authenticate(&request, event, self.received) {
            Ok(authenticated) => {
                self.credential = Some(authenticated.credential);
                Ok(authenticated)
            }
            Err(refused) => {
                self.credential = refused.candidate;
                self.header_names = Some(super::answer::header_names(&parts.headers));
                admission::failed(self.app, self.client);
                let metrics = &self.state.metrics.auth_failures;
                metrics.with_label_values(&[refused.failure.reason()]).inc();
                Err(Reject::Unauthorized {
                    failure: refused.failure,
                    offer_basic: self.app.auth.offers_basic(),
                })
            }
        }
    }

    /// What names the event: its credential, slug, sender's mark and body digest.
    fn key(&self, event: Event, authenticated: &Authenticated<'_>, body: &Body) -> EventKey {
        let name = &authenticated.credential.name;
        EventKey::new(
            name,
            event.slug(),
            authenticated.mark.as_ref(),
            body.sha256(),
        )
    }

    /// The right to publish the event, or the answer an earlier copy got (waiting for
    /// a copy in flight; when that one fails, trying again to claim it). A copy in
    /// flight is waited for until `kafka.ack_timeout` after this request came, as long
    /// as a first copy would wait for its ack (it may be a record in doubt, whose fate
    /// can take until `kafka.delivery_timeout`); then 503, for the sender to retry. A
    /// claim that evicted another event's answer within its window counts it.
    async fn claim(
        &self,
        key: EventKey,
        owner: &Owner,
    ) -> Result<Result<Claim<Answer>, Answer>, Reject> {
        let left = self.app.ack_timeout.saturating_sub(self.started.elapsed());
        let wait_until = tokio::time::Instant::now() + left;
        loop {
            let answer = match self.state.dedup().see(key, owner, self.received) {
                Seen::New(claim) => {
                    if let Some(evicted) = claim.evicted() {
                        let metric = &self.state.metrics.dedup_evictions;
                        metric.with_label_values(&[evicted]).inc();
                    }
                    return Ok(Ok(claim));
                }
                Seen::Done(answer) => answer,
                Seen::InFlight(waiter) => {
                    match tokio::time::timeout_at(wait_until, waiter.answer()).await {
                        Ok(Some(answer)) => answer,
                        Ok(None) => continue,
                        Err(_elapsed) => return Err(Reject::Unavailable(Unavailable::AckTimeout)),
                    }
                }
            };
            return Ok(Err(Answer {
                deduplicated: true,
                ..answer
            }));
        }
    }

    /// The record: the envelope with the event's id, captured headers, and the event
    /// or dead-letter topic; and its producer span, when traced, whose context the
    /// record carries.
    fn record(
        &self,
        event: Event,
        credential: &Credential,
        parts: &Parts,
        body: &Body,
        id: Uuid,
    ) -> (Record, Option<Reason>, Option<trace::Producer>) {
        let app = self.app;
        let mut producer = self
            .span
            .as_ref()
            .map(|span| span.producer(id, event.cloudevents_type()));
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
            body,
            received: self.received,
            trace: producer.as_ref().map(trace::Producer::context),
        });
        let mut headers = envelope.headers;
        for name in &app.capture_headers {
            // A header hookbridge writes itself (`traceparent` with traces on, a `ce_`
            // attribute) is not doubled by the sender's copy.
            let written = headers.iter().any(|(n, _)| n == name.as_str());
            if let (false, Some(value)) = (written, parts.headers.get(name)) {
                headers.push((name.as_str().to_string().into(), value.as_bytes().to_vec()));
            }
        }
        let dead_letter = envelope.dead_letter;
        let topic = app.topic(credential.environment, event, dead_letter.is_some());
        if let Some(producer) = &mut producer {
            producer.sends(topic, envelope.key.as_deref(), envelope.value.len());
        }
        let record = Record {
            topic: topic.clone(),
            key: envelope.key,
            value: envelope.value,
            headers,
            timestamp: self.received,
        };
        (record, dead_letter, producer)
    }

    /// Until when the answer is remembered: the window, or as long as the request's
    /// signature verifies when that is longer (a replay until then gets the answer).
    fn remember_until(&self, authenticated: &Authenticated<'_>) -> SystemTime {
        let window_end = self.received + self.app.dedup.window;
        authenticated
            .verifies_until
            .map_or(window_end, |until| until.max(window_end))
    }
}

/// Reads the whole body, refusing more than `limit` bytes (a declared length at once,
/// before reading) or more than `timeout`.
async fn read_body<B: RequestBody>(
    body: B,
    limit: usize,
    timeout: Duration,
) -> Result<Body, Reject> {
    if body.size_hint().lower() > limit as u64 {
        return Err(Reject::PayloadTooLarge);
    }
    match tokio::time::timeout(timeout, Limited::new(body, limit).collect()).await {
        Err(_elapsed) => Err(Reject::BodyTimeout),
        Ok(Err(e)) if e.is::<LengthLimitError>() => Err(Reject::PayloadTooLarge),
        Ok(Err(e)) => Err(Reject::BadBody(e)),
        Ok(Ok(collected)) => Ok(Body::new(collected.to_bytes())),
    }
}
