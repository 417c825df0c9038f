//! Traces: the `hookbridge serve` binary, configured by the standard `OTEL_*`
//! environment, exports a server span per webhook (the caller's `traceparent` its
//! parent) and a producer span per record over OTLP/HTTP protobuf to a receiver inside
//! the test, and the record read back from the broker carries the producer span's
//! trace context.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::StatusCode;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use prost::Message as _;
use tokio::net::TcpListener;

use crate::support::{
    self, Broker, EPHEMERAL_PORTS, Endpoints, Process, consume, credential, schema,
};

/// The caller's trace: its id and the span id of the call that sent the webhook.
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_is_traced_to_its_record_and_the_record_carries_the_context() {
    let receiver = Receiver::start().await;
    let broker = Broker::start();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hookbridge.toml");
    let toml = support::config(&broker, EPHEMERAL_PORTS, credential::none("open"));
    std::fs::write(&path, toml).unwrap();
    let endpoint = format!("http://{}", receiver.address);
    let hookbridge = Process::serve_with(
        &path,
        "info",
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("OTEL_SERVICE_NAME", "hookbridge-it"),
            ("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=it"),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ],
    )
    .await;

    let url = hookbridge.url("/everbright/milestone-status-change");
    let traceparent = format!("00-{TRACE_ID}-{CALLER_SPAN}-01");
    let headers = [
        ("traceparent", traceparent.as_str()),
        ("user-agent", "it/1"),
    ];
    let answer = support::post(&url, &headers, support::payload(support::SITE)).await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    let id = answer.json()["id"].as_str().unwrap().to_string();
    let topic = "everbright.production.milestone-status-change";
    let record = consume(&broker, topic, 1).await.remove(0);

    let spans = receiver.spans_of(TRACE_ID, 2).await;
    let server = spans.iter().find(|s| s.kind == SpanKind::Server).unwrap();
    let producer = spans.iter().find(|s| s.kind == SpanKind::Producer).unwrap();
    assert_eq!(
        server.parent, CALLER_SPAN,
        "the caller's span is the parent"
    );
    assert_eq!(server.name, "POST /everbright/milestone-status-change");
    for (key, value) in [
        ("http.request.method", "POST"),
        ("http.route", "/everbright/milestone-status-change"),
        ("http.response.status_code", "200"),
        ("url.scheme", "http"),
        ("user_agent.original", "it/1"),
        ("hookbridge.credential", "open"),
        ("cloudevents.event_id", &id),
    ] {
        assert_eq!(server.attribute(key), value, "server span {key}");
    }
    assert_eq!(
        producer.parent, server.span_id,
        "the server span is the parent"
    );
    assert_eq!(producer.name, format!("send {topic}"));
    let (partition, offset) = (record.partition.to_string(), record.offset.to_string());
    for (key, value) in [
        ("messaging.system", "kafka"),
        ("messaging.operation.type", "send"),
        ("messaging.destination.name", topic),
        ("messaging.destination.partition.id", &partition),
        ("messaging.kafka.offset", &offset),
        ("messaging.kafka.message.key", support::SITE),
        ("cloudevents.event_id", &id),
    ] {
        assert_eq!(producer.attribute(key), value, "producer span {key}");
    }
    let resource = &producer.resource;
    assert_eq!(resource["service.name"], "hookbridge-it");
    assert_eq!(resource["deployment.environment.name"], "it");

    // The record carries the producer span's context: attribute and Kafka header.
    let carried = format!("00-{TRACE_ID}-{}-01", producer.span_id);
    assert_eq!(record.json()["traceparent"], carried.as_str());
    assert_eq!(record.headers["traceparent"], carried);
    let schema_file = schema::committed("milestone-status-change.json");
    if let Err(report) = schema::validate(&schema_file, &[record.json()]) {
        panic!("a traced record does not match the contract:\n{report}");
    }

    // Without a caller's context, the server span starts a trace of its own.
    let answer = support::post(&url, &[], support::numbered_payload(2)).await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    let records = consume(&broker, topic, 2).await;
    let second = records.iter().find(|r| r.offset != record.offset).unwrap();
    let second_parent = second.headers["traceparent"].clone();
    let trace_id = second_parent.split('-').nth(1).unwrap();
    assert_ne!(trace_id, TRACE_ID);
    let spans = receiver.spans_of(trace_id, 2).await;
    let root = spans.iter().find(|s| s.kind == SpanKind::Server).unwrap();
    assert_eq!(root.parent, "", "a root span");
}

/// One exported span, as the receiver decoded it.
#[derive(Debug, Clone)]
struct Received {
    trace_id: String,
    span_id: String,
    /// The parent's span id, empty for a root span.
    parent: String,
    name: String,
    kind: SpanKind,
    attributes: HashMap<String, String>,
    resource: HashMap<String, String>,
}

impl Received {
    fn attribute(&self, key: &str) -> &str {
        self.attributes
            .get(key)
            .map_or_else(|| panic!("no {key} on {self:#?}"), String::as_str)
    }
}

/// An OTLP/HTTP receiver: decodes every `POST /v1/traces` body as an
/// `ExportTraceServiceRequest` and keeps its spans.
struct Receiver {
    address: SocketAddr,
    spans: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    async fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let spans = Arc::new(Mutex::new(Vec::new()));
        let kept = spans.clone();
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let kept = kept.clone();
                let service = service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                    let kept = kept.clone();
                    async move {
                        assert_eq!(request.uri().path(), "/v1/traces");
                        let content_type = request.headers()["content-type"].clone();
                        assert_eq!(content_type, "application/x-protobuf");
                        let body = request.into_body().collect().await.unwrap().to_bytes();
                        let decoded = ExportTraceServiceRequest::decode(body).unwrap();
                        kept.lock().unwrap().extend(spans_of(decoded));
                        let answer = ExportTraceServiceResponse::default().encode_to_vec();
                        Ok::<_, hyper::Error>(hyper::Response::new(Full::new(Bytes::from(answer))))
                    }
                });
                tokio::spawn(async move {
                    let io = TokioIo::new(stream);
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, service)
                        .await;
                });
            }
        });
        Receiver { address, spans }
    }

    /// The spans of trace `trace_id`, once at least `expected` arrived (the test fails
    /// after a deadline).
    async fn spans_of(&self, trace_id: &str, expected: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let found: Vec<Received> = {
                let spans = self.spans.lock().unwrap();
                spans
                    .iter()
                    .filter(|s| s.trace_id == trace_id)
                    .cloned()
                    .collect()
            };
            if found.len() >= expected {
                return found;
            }
            assert!(
                Instant::now() < deadline,
                "{} of {expected} spans of trace {trace_id} exported: {found:#?}",
                found.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Every span of an export request, with its resource's attributes.
fn spans_of(request: ExportTraceServiceRequest) -> Vec<Received> {
    let mut spans = Vec::new();
    for resource_spans in request.resource_spans {
        let resource = texts(&resource_spans.resource.unwrap_or_default().attributes);
        for span in resource_spans.scope_spans.into_iter().flat_map(|s| s.spans) {
            spans.push(Received {
                trace_id: hex::encode(&span.trace_id),
                span_id: hex::encode(&span.span_id),
                parent: hex::encode(&span.parent_span_id),
                kind: SpanKind::try_from(span.kind).unwrap(),
                attributes: texts(&span.attributes),
                name: span.name,
                resource: resource.clone(),
            });
        }
    }
    spans
}

/// Attributes as text, whatever their type.
fn texts(
    attributes: &[opentelemetry_proto::tonic::common::v1::KeyValue],
) -> HashMap<String, String> {
    let text = |value: &Option<Value>| match value {
        Some(Value::StringValue(s)) => s.clone(),
        Some(Value::IntValue(i)) => i.to_string(),
        Some(Value::BoolValue(b)) => b.to_string(),
        Some(Value::DoubleValue(d)) => d.to_string(),
        other => format!("{other:?}"),
    };
    attributes
        .iter()
        .map(|kv| {
            (
                kv.key.clone(),
                text(&kv.value.as_ref().and_then(|v| v.value.clone())),
            )
        })
        .collect()
}
