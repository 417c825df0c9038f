//! Where finished spans go: the OpenTelemetry SDK's tracer provider, its batch span
//! processor (a thread of its own, a bounded queue: spans beyond it are dropped, never
//! waited for) and the OTLP/HTTP protobuf exporter.
//!
//! The exporter posts through hyper (HTTP/1.1) on hookbridge's own Tokio runtime
//! ([`OnRuntime`]), and TLS to the collector is native-tls, which is OpenSSL on Linux as
//! for Kafka: no second runtime, no second TLS stack, no HTTP/2. What the environment
//! says is [`Settings`]'s; what spans say is `span`'s.

use std::collections::HashMap;
use std::fmt;

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_tls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use opentelemetry::KeyValue;
use opentelemetry_http::{HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{Compression, Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{BatchConfigBuilder, BatchSpanProcessor, SdkTracerProvider};

use super::Tracer;
use super::settings::{Root, Sampler, Settings};

/// Why traces cannot start.
#[derive(Debug)]
pub enum Error {
    /// The TLS settings (CA certificate, client certificate and key) are unusable.
    Tls(native_tls::Error),
    /// The exporter refused its settings.
    Exporter(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Tls(e) => write!(f, "cannot set up TLS to the OTLP collector: {e}"),
            Error::Exporter(e) => write!(f, "cannot set up the OTLP exporter: {e}"),
        }
    }
}

impl std::error::Error for Error {}

/// Traces on: the tracer provider, exporting in the background until [`Traces::shutdown`].
#[derive(Debug)]
pub struct Traces {
    provider: SdkTracerProvider,
}

impl Traces {
    /// Starts the exporter with `settings`; its requests run on `runtime`.
    pub fn start(settings: &Settings, runtime: tokio::runtime::Handle) -> Result<Traces, Error> {
        let client = OnRuntime {
            runtime,
            client: Client::builder(TokioExecutor::new()).build(connector(settings)?),
            timeout: export_timeout(settings),
        };
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_http_client(client)
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(settings.endpoint.clone())
            .with_timeout(settings.timeout)
            .with_headers(settings.headers.iter().cloned().collect::<HashMap<_, _>>());
        let exporter = if settings.gzip {
            exporter.with_compression(Compression::Gzip)
        } else {
            exporter
        };
        let exporter = exporter
            .build()
            .map_err(|e| Error::Exporter(e.to_string()))?;
        let batch = BatchConfigBuilder::default()
            .with_max_queue_size(settings.batch.max_queue_size)
            .with_max_export_batch_size(settings.batch.max_export_batch_size)
            .with_scheduled_delay(settings.batch.schedule_delay)
            .build();
        let processor = BatchSpanProcessor::builder(exporter)
            .with_batch_config(batch)
            .build();
        let provider = SdkTracerProvider::builder()
            .with_span_processor(processor)
            .with_sampler(sampler(settings.sampler))
            .with_resource(resource(settings))
            .build();
        Ok(Traces { provider })
    }

    /// The tracer that starts hookbridge's spans.
    pub fn tracer(&self) -> Tracer {
        Tracer::new(&self.provider)
    }

    /// Exports the spans still queued, then stops (blocks: call off the runtime's
    /// worker threads, e.g. with `spawn_blocking`).
    pub fn shutdown(self) {
        if let Err(e) = self.provider.shutdown() {
            tracing::warn!(error = %e, "traces: the last spans may not have been exported");
        }
    }
}

/// HTTP, or HTTPS verified against the system's CAs and the configured one, with the
/// client certificate when there is one.
fn connector(settings: &Settings) -> Result<HttpsConnector<HttpConnector>, Error> {
    let mut tls = native_tls::TlsConnector::builder();
    if let Some(pem) = &settings.certificate {
        for certificate in native_tls::Certificate::stack_from_pem(pem).map_err(Error::Tls)? {
            tls.add_root_certificate(certificate);
        }
    }
    if let Some((chain, key)) = &settings.client_identity {
        tls.identity(native_tls::Identity::from_pkcs8(chain, key).map_err(Error::Tls)?);
    }
    let tls = tls.build().map_err(Error::Tls)?;
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(Some(settings.timeout));
    Ok(HttpsConnector::from((http, tls.into())))
}

fn sampler(sampler: Sampler) -> opentelemetry_sdk::trace::Sampler {
    use opentelemetry_sdk::trace::Sampler as Sdk;
    match sampler {
        Sampler::AlwaysOn => Sdk::AlwaysOn,
        Sampler::AlwaysOff => Sdk::AlwaysOff,
        Sampler::Ratio(ratio) => Sdk::TraceIdRatioBased(ratio),
        Sampler::ParentBased(root) => Sdk::ParentBased(Box::new(match root {
            Root::AlwaysOn => Sdk::AlwaysOn,
            Root::AlwaysOff => Sdk::AlwaysOff,
            Root::Ratio(ratio) => Sdk::TraceIdRatioBased(ratio),
        })),
    }
}

/// What the SDK is, the configured attributes (which win), and `service.name`.
fn resource(settings: &Settings) -> Resource {
    let attributes = settings
        .resource
        .iter()
        .map(|(k, v)| KeyValue::new(k.clone(), v.clone()));
    Resource::builder_empty()
        .with_attributes([
            KeyValue::new("service.version", env!("CARGO_PKG_VERSION")),
            KeyValue::new("telemetry.sdk.name", "opentelemetry"),
            KeyValue::new("telemetry.sdk.language", "rust"),
        ])
        .with_attributes(attributes)
        .with_service_name(settings.service_name.clone())
        .build()
}

/// The largest collector answer read (an OTLP answer is a few bytes, or a short error).
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// An HTTP/1.1 client whose requests run on hookbridge's runtime: the batch
/// processor's thread only waits for them.
#[derive(Debug, Clone)]
struct OnRuntime {
    runtime: tokio::runtime::Handle,
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    /// For the whole exchange, the answer's body included.
    timeout: Duration,
}

#[async_trait::async_trait]
impl HttpClient for OnRuntime {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let (client, timeout) = (self.client.clone(), self.timeout);
        let sent = self.runtime.spawn(async move {
            match tokio::time::timeout(timeout, exchange(&client, request)).await {
                Ok(answer) => answer,
                Err(_elapsed) => Err(HttpError::from("no answer from the OTLP collector in time")),
            }
        });
        sent.await.map_err(HttpError::from)?
    }
}

/// Posts `request` and reads the answer (at most [`MAX_ANSWER_BYTES`] of it).
async fn exchange(
    client: &Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    request: Request<Bytes>,
) -> Result<Response<Bytes>, HttpError> {
    let (head, body) = request.into_parts();
    let answer = client
        .request(Request::from_parts(head, Full::new(body)))
        .await?;
    let (head, body) = answer.into_parts();
    let body = Limited::new(body, MAX_ANSWER_BYTES)
        .collect()
        .await?
        .to_bytes();
    Ok(Response::from_parts(head, body))
}

/// How long one export request may take: the exporter's timeout, within the batch
/// processor's (`OTEL_BSP_EXPORT_TIMEOUT`, which the processor's thread does not apply
/// itself).
fn export_timeout(settings: &Settings) -> Duration {
    settings.timeout.min(settings.batch.export_timeout)
}
