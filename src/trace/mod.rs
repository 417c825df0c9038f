//! OpenTelemetry traces: a server span per webhook, a producer span per record, and the
//! W3C trace context each record carries to its consumers.
//!
//! Off by default and free when off: the request path holds an `Option` of this
//! module's types and does nothing else without a [`Tracer`]. When the environment
//! turns traces on ([`Settings`]), [`Traces`] runs the OpenTelemetry SDK's tracer
//! provider with a batch span processor and the OTLP/HTTP protobuf exporter; spans are
//! built with the OpenTelemetry API directly, not through the `tracing` crate, so the
//! log pipeline and its filters cost nothing more. The caller's `traceparent` (and
//! `tracestate`) header is the server span's parent; the producer span is its child,
//! and its context is the one a record carries ([`Context`]), as the CloudEvents
//! distributed-tracing extension and the messaging semantic conventions ask.
//!
//! What the spans say follows the semantic conventions (HTTP server spans; messaging
//! spans for Kafka, v1.30): see [`span`]. Which record carries the context and how is
//! the envelope's; where a record goes is the pipeline's.

mod export;
mod settings;
mod span;

use std::borrow::Cow;
use std::fmt;

use opentelemetry::InstrumentationScope;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{SpanContext, TraceContextExt, TracerProvider as _};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};

pub use export::{Error, Traces};
pub use settings::{Batch, Problem, Problems, Root, Sampler, Settings};
pub use span::{Outcome, Producer, Request, Server};

/// The record header and CloudEvents attribute of the trace parent.
pub const TRACEPARENT: &str = "traceparent";
/// The record header and CloudEvents attribute of vendor trace state.
pub const TRACESTATE: &str = "tracestate";

/// Starts spans; cheap to clone. Only exists when traces are on.
#[derive(Clone)]
pub struct Tracer {
    tracer: SdkTracer,
}

impl fmt::Debug for Tracer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Tracer")
    }
}

impl Tracer {
    /// The tracer of `provider`, for hookbridge's own spans.
    pub fn new(provider: &SdkTracerProvider) -> Tracer {
        let scope = InstrumentationScope::builder("hookbridge")
            .with_version(env!("CARGO_PKG_VERSION"))
            .build();
        Tracer {
            tracer: provider.tracer_with_scope(scope),
        }
    }
}

/// The W3C trace context a record carries: the producer span's, as `traceparent` and
/// (when the trace has vendor state) `tracestate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    /// `00-{trace id}-{span id}-{flags}`.
    pub traceparent: String,
    /// The vendor entries, when there are any.
    pub tracestate: Option<String>,
}

impl Context {
    /// The context of `span`, as a record carries it.
    fn of(span: &SpanContext) -> Context {
        let parent = opentelemetry::Context::new().with_remote_span_context(span.clone());
        let mut carried = Carried::default();
        TraceContextPropagator::new().inject_context(&parent, &mut carried);
        Context {
            traceparent: carried.traceparent,
            tracestate: carried.tracestate,
        }
    }

    /// The Kafka record headers of this context: `traceparent`, and `tracestate` when
    /// there is vendor state.
    pub fn headers(&self) -> impl Iterator<Item = (Cow<'static, str>, Vec<u8>)> + '_ {
        let parent = (
            Cow::Borrowed(TRACEPARENT),
            self.traceparent.as_bytes().to_vec(),
        );
        let state = self
            .tracestate
            .as_ref()
            .map(|s| (Cow::Borrowed(TRACESTATE), s.as_bytes().to_vec()));
        std::iter::once(parent).chain(state)
    }

    /// A context read back from a record (a dead letter being redriven): `None` unless
    /// `traceparent` is a valid W3C trace parent.
    pub fn parse(traceparent: &str, tracestate: Option<&str>) -> Option<Context> {
        let extracted = extract(&Fields {
            traceparent: Some(traceparent),
            tracestate,
        });
        let span = extracted.span().span_context().clone();
        span.is_valid().then(|| Context::of(&span))
    }
}

/// The caller's trace context, from request headers (the root when there is none).
fn extract(fields: &dyn Extractor) -> opentelemetry::Context {
    TraceContextPropagator::new().extract(fields)
}

/// The two fields of a trace context, as an extractor sees them.
struct Fields<'a> {
    traceparent: Option<&'a str>,
    tracestate: Option<&'a str>,
}

impl Extractor for Fields<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        match key {
            TRACEPARENT => self.traceparent,
            TRACESTATE => self.tracestate,
            _ => None,
        }
    }

    fn keys(&self) -> Vec<&str> {
        vec![TRACEPARENT, TRACESTATE]
    }
}

/// What the propagator writes.
#[derive(Default)]
struct Carried {
    traceparent: String,
    tracestate: Option<String>,
}

impl Injector for Carried {
    fn set(&mut self, key: &str, value: String) {
        match key {
            TRACEPARENT => self.traceparent = value,
            TRACESTATE if !value.is_empty() => self.tracestate = Some(value),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests;
