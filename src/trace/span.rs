//! The two spans of a webhook and what they say, by the semantic conventions (v1.30):
//!
//! - [`Server`], kind server, `{method} {route}`: `http.request.method`, `url.path`,
//!   `url.scheme`, `http.route`, `network.protocol.version`, `client.address`,
//!   `network.peer.address`/`.port`, `user_agent.original`, then
//!   `http.response.status_code` (and `error.type` with an error status for a 5xx),
//!   with hookbridge's own `hookbridge.credential`, `hookbridge.deduplicated`,
//!   `hookbridge.deadletter.reason`, `hookbridge.refusal.reason` and the CloudEvents
//!   `cloudevents.event_id`. Its parent is the caller's trace context, when valid.
//! - [`Producer`], kind producer, `send {topic}`, a child of the server span:
//!   `messaging.system = kafka`, `messaging.operation.type`/`.name = send`,
//!   `messaging.client.id`, `messaging.destination.name`, `messaging.kafka.message.key`,
//!   `messaging.message.body.size`, `cloudevents.event_id`/`.event_type`, and once
//!   acknowledged `messaging.destination.partition.id` and `messaging.kafka.offset`
//!   (or `error.type` and an error status).
//!
//! Never a body, a header value other than `User-Agent`, or a secret. Values taken from
//! the request are bounded ([`MAX_VALUE_BYTES`]).

use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::SystemTime;

use http::{HeaderMap, Method, Version};
use opentelemetry::trace::{Span as _, SpanBuilder, SpanKind, Status, TraceContextExt};
use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::trace::Span;
use uuid::Uuid;

use super::{Context, Fields, TRACEPARENT, TRACESTATE, Tracer};

/// The longest value a span takes from the request (`user_agent.original`); longer
/// ones are cut at a character boundary.
pub const MAX_VALUE_BYTES: usize = 256;

/// A webhook request as its server span describes it.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The request method.
    pub method: &'a Method,
    /// The HTTP version.
    pub version: Version,
    /// The matched route (the request path when a route matched).
    pub route: Option<&'a str>,
    /// The request path as logged (cut when long, no query).
    pub path: &'a str,
    /// The request headers (the trace context and `User-Agent` are read).
    pub headers: &'a HeaderMap,
    /// The connection's peer.
    pub peer: Option<SocketAddr>,
    /// The client's address when known beyond the peer (trusted `X-Forwarded-For`).
    pub client: Option<IpAddr>,
    /// When the request was received: the span's start.
    pub received: SystemTime,
}

/// How a webhook was answered, for its server span.
#[derive(Debug, Clone, Copy, Default)]
pub struct Outcome<'a> {
    /// The HTTP status.
    pub status: u16,
    /// The credential the request was matched to.
    pub credential: Option<&'a str>,
    /// The event's CloudEvents id, when answered 2xx.
    pub id: Option<Uuid>,
    /// Answered with an earlier copy's answer.
    pub deduplicated: bool,
    /// Stored as a dead letter, for this reason.
    pub dead_letter: Option<&'static str>,
    /// Refused, for this reason.
    pub refusal: Option<&'static str>,
}

/// The server span of one webhook request.
pub struct Server(Box<(Span, Tracer)>);

/// The producer span of one record, and the trace context the record carries.
pub struct Producer {
    span: Box<Span>,
    context: Context,
}

impl Tracer {
    /// Starts the server span of `request`, a child of the caller's trace context. A
    /// span the sampler drops gets no name or attributes built (only the trace context
    /// its record carries).
    pub fn server(&self, request: &Request<'_>) -> Server {
        let parent = super::extract(&Fields {
            traceparent: header(request.headers, TRACEPARENT),
            tracestate: header(request.headers, TRACESTATE),
        });
        let mut span = SpanBuilder::from_name(Cow::Borrowed("request"))
            .with_kind(SpanKind::Server)
            .with_start_time(request.received)
            .start_with_context(&self.tracer, &parent);
        if span.is_recording() {
            span.update_name(request_name(request));
            span.set_attributes(request_attributes(request));
        }
        Server(Box::new((span, self.clone())))
    }
}

/// `{method} {route}`, or the method alone without a route.
fn request_name(request: &Request<'_>) -> Cow<'static, str> {
    let (method, _) = method(request.method);
    match request.route {
        Some(route) => format!("{method} {route}").into(),
        None => Cow::Borrowed(method),
    }
}

/// What a server span says of its request.
fn request_attributes(request: &Request<'_>) -> Vec<KeyValue> {
    let (method, original) = method(request.method);
    let mut attributes = Vec::with_capacity(10);
    attributes.push(KeyValue::new("http.request.method", method));
    attributes.extend(original.map(|m| KeyValue::new("http.request.method_original", m)));
    attributes.push(KeyValue::new("url.path", request.path.to_string()));
    attributes.push(KeyValue::new("url.scheme", "http"));
    attributes.extend(
        request
            .route
            .map(|r| KeyValue::new("http.route", r.to_string())),
    );
    attributes.push(KeyValue::new(
        "network.protocol.version",
        protocol_version(request.version),
    ));
    let peer = request.peer;
    let client = request.client.or(peer.map(|p| p.ip()));
    attributes.extend(client.map(|ip| KeyValue::new("client.address", ip.to_string())));
    attributes.extend(peer.map(|p| KeyValue::new("network.peer.address", p.ip().to_string())));
    attributes.extend(peer.map(|p| KeyValue::new("network.peer.port", i64::from(p.port()))));
    attributes.extend(
        header(request.headers, "user-agent")
            .map(|ua| KeyValue::new("user_agent.original", capped(ua).to_string())),
    );
    attributes
}

impl Server {
    /// Starts the producer span of the event's record, a child of this span. The
    /// record's topic is not known yet (see [`Producer::sends`]).
    pub fn producer(&self, id: Uuid, event_type: &'static str) -> Producer {
        let (server, tracer) = &*self.0;
        let parent =
            opentelemetry::Context::new().with_remote_span_context(server.span_context().clone());
        let mut span = SpanBuilder::from_name("send")
            .with_kind(SpanKind::Producer)
            .start_with_context(&tracer.tracer, &parent);
        if span.is_recording() {
            let mut id_text = Uuid::encode_buffer();
            let id_text = id.hyphenated().encode_lower(&mut id_text).to_string();
            span.set_attributes([
                KeyValue::new("messaging.system", "kafka"),
                KeyValue::new("messaging.operation.type", "send"),
                KeyValue::new("messaging.operation.name", "send"),
                KeyValue::new("messaging.client.id", "hookbridge"),
                KeyValue::new("cloudevents.event_id", id_text),
                KeyValue::new("cloudevents.event_type", event_type),
            ]);
        }
        let context = Context::of(span.span_context());
        Producer {
            span: Box::new(span),
            context,
        }
    }

    /// Ends the span with what the answer says.
    pub fn end(self, outcome: &Outcome<'_>) {
        let (mut span, _) = *self.0;
        if !span.is_recording() {
            return; // dropped, it ends
        }
        span.set_attribute(KeyValue::new(
            "http.response.status_code",
            i64::from(outcome.status),
        ));
        if let Some(credential) = outcome.credential {
            span.set_attribute(KeyValue::new(
                "hookbridge.credential",
                credential.to_string(),
            ));
        }
        if let Some(id) = outcome.id {
            let mut text = Uuid::encode_buffer();
            let text = id.hyphenated().encode_lower(&mut text).to_string();
            span.set_attribute(KeyValue::new("cloudevents.event_id", text));
        }
        if outcome.deduplicated {
            span.set_attribute(KeyValue::new("hookbridge.deduplicated", true));
        }
        if let Some(reason) = outcome.dead_letter {
            span.set_attribute(KeyValue::new("hookbridge.deadletter.reason", reason));
        }
        if let Some(reason) = outcome.refusal {
            span.set_attribute(KeyValue::new("hookbridge.refusal.reason", reason));
        }
        // Server spans: only a 5xx is an error of hookbridge's (a 4xx is the caller's).
        if outcome.status >= 500 {
            span.set_attribute(KeyValue::new("error.type", outcome.status.to_string()));
            span.set_status(Status::error(outcome.refusal.unwrap_or("")));
        }
        span.end();
    }
}

impl Producer {
    /// The trace context the record carries.
    pub fn context(&self) -> &Context {
        &self.context
    }

    /// Names where the record goes, once the envelope is built: its topic, key (the
    /// site UUID; dead letters have none) and value size.
    pub fn sends(&mut self, topic: &Arc<str>, key: Option<&str>, bytes: usize) {
        let span = &mut self.span;
        if !span.is_recording() {
            return;
        }
        span.update_name(format!("send {topic}"));
        span.set_attribute(KeyValue::new(
            "messaging.destination.name",
            Value::from(topic.clone()),
        ));
        if let Some(key) = key {
            span.set_attribute(KeyValue::new(
                "messaging.kafka.message.key",
                key.to_string(),
            ));
        }
        let bytes = i64::try_from(bytes).unwrap_or(i64::MAX);
        span.set_attribute(KeyValue::new("messaging.message.body.size", bytes));
    }

    /// Ends the span: the broker stored the record at `partition` and `offset`.
    pub fn acked(mut self, partition: i32, offset: i64) {
        let span = &mut self.span;
        if !span.is_recording() {
            return;
        }
        span.set_attribute(KeyValue::new(
            "messaging.destination.partition.id",
            partition.to_string(),
        ));
        span.set_attribute(KeyValue::new("messaging.kafka.offset", offset));
        span.end();
    }

    /// Ends the span: Kafka did not take the record in time and it was kept in the
    /// spool, to be forwarded later (`hookbridge.spooled`); no partition or offset yet.
    pub fn spooled(mut self) {
        let span = &mut self.span;
        if !span.is_recording() {
            return;
        }
        span.set_attribute(KeyValue::new("hookbridge.spooled", true));
        span.end();
    }

    /// Ends the span: the record was not acknowledged, for `reason`.
    pub fn failed(mut self, reason: &'static str) {
        let span = &mut self.span;
        if !span.is_recording() {
            return;
        }
        span.set_attribute(KeyValue::new("error.type", reason));
        span.set_status(Status::error(reason));
        span.end();
    }
}

/// A header's value as text, if it has one.
fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The method as the conventions name it: a known method, else `_OTHER` and the
/// original (cut to [`MAX_VALUE_BYTES`]).
fn method(method: &Method) -> (&'static str, Option<String>) {
    let known = match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::CONNECT => "CONNECT",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::PATCH => "PATCH",
        _ => return ("_OTHER", Some(capped(method.as_str()).to_string())),
    };
    (known, None)
}

fn protocol_version(version: Version) -> &'static str {
    match version {
        Version::HTTP_09 => "0.9",
        Version::HTTP_10 => "1.0",
        Version::HTTP_2 => "2",
        Version::HTTP_3 => "3",
        _ => "1.1",
    }
}

/// `text` cut to at most [`MAX_VALUE_BYTES`], at a character boundary.
fn capped(text: &str) -> &str {
    if text.len() <= MAX_VALUE_BYTES {
        return text;
    }
    let mut end = MAX_VALUE_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}
