//! Shared pieces of the integration tests: brokers (tansu, Apache Kafka), hookbridge
//! on real sockets (in this process or as the binary), an HTTP client, a metrics
//! reader, credentials and a Kafka consumer.

pub mod broker;
pub mod consumer;
pub mod credential;
pub mod kafka;
pub mod load;
pub mod metrics;
pub mod process;
pub mod proxy;

use std::fmt::Display;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use broker::Broker;
use broker::{is_alive, signal};
pub use consumer::Consumed;
pub use kafka::Kafka;
pub use process::{Process, Signal};

/// A site UUID used where the payload does not matter.
pub const SITE: &str = "5f0c7f1e-8d2a-4b7e-9c3d-2a1b0c9d8e7f";

/// `[server]` keys that let the binary bind any free ports; [`Process`] reads the bound
/// addresses from its log.
pub const EPHEMERAL_PORTS: &str = "listen = \"127.0.0.1:0\"\nadmin_listen = \"127.0.0.1:0\"";

/// Where a test's records go and are read back from: a tansu [`Broker`], an Apache
/// [`Kafka`] cluster, or topics of a test's own on the shared one ([`kafka::Lease`]).
pub trait Cluster {
    /// `host:port,…` for `kafka.brokers` and the tests' consumers.
    fn bootstrap(&self) -> String;

    /// librdkafka properties a client needs besides `bootstrap.servers`.
    fn client_properties(&self) -> Vec<(&'static str, String)> {
        Vec::new()
    }

    /// The first part of every topic name (hookbridge's default templates use
    /// `everbright`).
    fn prefix(&self) -> &str {
        "everbright"
    }

    /// The topic `{prefix}.{suffix}`, e.g. `topic("production.site-archived")`.
    fn topic(&self, suffix: &str) -> String {
        format!("{}.{suffix}", self.prefix())
    }

    /// `[kafka]` lines that point hookbridge's topic templates at [`Cluster::prefix`].
    fn templates(&self) -> String {
        match self.prefix() {
            "everbright" => String::new(),
            prefix => format!(
                "topic_template = \"{prefix}.{{environment}}.{{event}}\"\n\
                 deadletter_topic_template = \"{prefix}.{{environment}}.deadletter\"\n"
            ),
        }
    }
}

/// A config with the given broker and extra TOML (credentials, overrides) appended.
/// Timeouts are short so failure paths finish quickly.
pub fn config(broker: &impl Cluster, server_extra: &str, rest: impl Display) -> String {
    format!(
        r#"
[server]
request_timeout = "6s"
read_timeout = "2s"
shutdown_grace = "10s"
{server_extra}

[kafka]
brokers = "{}"
ack_timeout = "3s"
{}
{rest}
"#,
        broker.bootstrap(),
        broker.templates(),
    )
}

/// A running hookbridge, in this process ([`Server`]) or as a child ([`Process`]).
pub trait Endpoints {
    /// The webhook listener's bound address.
    fn webhook(&self) -> SocketAddr;

    /// The admin listener's bound address.
    fn admin(&self) -> SocketAddr;

    /// `http://…{path}` on the webhook listener.
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.webhook())
    }

    /// `http://…{path}` on the admin listener.
    fn admin_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.admin())
    }

    /// Waits until `/readyz` answers 200 (the producer reached the broker).
    async fn wait_ready(&self) {
        for _ in 0..100 {
            if get(&self.admin_url("/readyz")).await.status == StatusCode::OK {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("hookbridge did not become ready within 10 s");
    }

    /// One scrape of `/metrics`.
    async fn metrics(&self) -> metrics::Scrape {
        metrics::scrape(&self.admin_url("/metrics")).await
    }

    /// How many times the Kafka producer was replaced.
    async fn producer_resets(&self) -> f64 {
        self.metrics()
            .await
            .get(
                "hookbridge_kafka_errors_total",
                &[("kind", "producer-reset")],
            )
            .unwrap_or(0.0)
    }

    /// Waits (up to 15 s) until sample `name{labels}` exists and `done` holds for its
    /// value; returns the value.
    async fn wait_for_metric(
        &self,
        name: &str,
        labels: &[(&str, &str)],
        done: impl Fn(f64) -> bool,
    ) -> f64 {
        let url = self.admin_url("/metrics");
        metrics::wait_for(&url, name, labels, Duration::from_secs(15), done).await
    }
}

/// hookbridge running in this process on loopback ports.
pub struct Server {
    webhook: SocketAddr,
    admin: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), hookbridge::Error>>,
}

impl Server {
    /// Parses `toml` (relative secret files resolve against `dir`) and serves it with a
    /// real Kafka producer.
    pub async fn start_in(toml: &str, dir: &Path) -> Server {
        let config = hookbridge::config::Config::parse(toml, dir, &|_| None)
            .unwrap_or_else(|e| panic!("test config invalid: {e}\n{toml}"));
        Server::start_config(config).await
    }

    /// Serves an already loaded config (e.g. one read from a file, which reloads).
    pub async fn start_config(config: hookbridge::config::Config) -> Server {
        // Logs show with `RUST_LOG=… cargo test -- --nocapture`.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let webhook = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let admin = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (webhook_addr, admin_addr) =
            (webhook.local_addr().unwrap(), admin.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(hookbridge::run(
            hookbridge::Listeners { webhook, admin },
            config,
            async {
                let _ = stopped.await;
            },
        ));
        Server {
            webhook: webhook_addr,
            admin: admin_addr,
            stop: Some(stop),
            task,
        }
    }

    pub async fn start(toml: &str) -> Server {
        Server::start_in(toml, Path::new(".")).await
    }

    /// Triggers shutdown and waits for `run` to return.
    pub async fn stop(mut self) {
        let _ = self.stop.take().map(|s| s.send(()));
        self.task.await.unwrap().unwrap();
    }
}

impl Endpoints for Server {
    fn webhook(&self) -> SocketAddr {
        self.webhook
    }

    fn admin(&self) -> SocketAddr {
        self.admin
    }
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {:?}", self.body))
    }
}

/// Sends one request over a fresh connection.
pub async fn send(
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Answer {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let mut request = Request::builder().method(method).uri(url);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = client
        .request(request.body(Full::new(body.into())).unwrap())
        .await
        .unwrap_or_else(|e| panic!("request to {url} failed: {e}"));
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        headers,
        body,
    }
}

pub async fn post(url: &str, headers: &[(&str, &str)], body: impl Into<Bytes>) -> Answer {
    send(Method::POST, url, headers, body).await
}

pub async fn get(url: &str) -> Answer {
    send(Method::GET, url, &[], Bytes::new()).await
}

/// Consumes `topic` off the async threads (see [`consumer::consume`]).
pub async fn consume(broker: &impl Cluster, topic: &str, expected: usize) -> Vec<Consumed> {
    consume_within(broker, topic, expected, Duration::from_secs(15)).await
}

/// Asserts that `topic` has no record (or does not exist) after a short wait.
pub async fn assert_no_records(broker: &impl Cluster, topic: &str) {
    let found = consume_within(broker, topic, 0, Duration::from_secs(3)).await;
    assert!(
        found.is_empty(),
        "{topic} has {} unexpected records",
        found.len()
    );
}

pub async fn consume_within(
    broker: &impl Cluster,
    topic: &str,
    expected: usize,
    wait: Duration,
) -> Vec<Consumed> {
    let (bootstrap, topic) = (broker.bootstrap(), topic.to_string());
    let properties = broker.client_properties();
    tokio::task::spawn_blocking(move || {
        consumer::consume(&bootstrap, &properties, &topic, expected, wait)
    })
    .await
    .unwrap()
}

/// A fixture body from `tests/fixtures/`.
pub fn fixture(path: &str) -> Vec<u8> {
    let full = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path);
    std::fs::read(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// A minimal valid payload for `site`.
pub fn payload(site: &str) -> String {
    format!(r#"{{"site":"{site}","status":"APPROVED"}}"#)
}

/// A valid payload for [`SITE`] that is event number `n`: distinct bodies are distinct
/// events, where a test means several (identical ones would be answered once).
pub fn numbered_payload(n: impl Display) -> String {
    format!(r#"{{"site":"{SITE}","status":"APPROVED","n":"{n}"}}"#)
}

/// Sends a request built by `hookbridge::sender`, with `body` in place of the signed
/// body when given (to tamper with it).
pub async fn deliver(o: &hookbridge::sender::Outgoing, body: Option<&str>) -> Answer {
    let headers: Vec<(String, String)> = o
        .headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_string()))
        .collect();
    let headers: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let body = body.map_or(o.body.clone(), |b| Bytes::from(b.to_string()));
    send(o.method.clone(), &o.url.to_string(), &headers, body).await
}

/// Posts a new payload to `url` and asserts the broker-outage answer: 503 with
/// `Retry-After`, within the test config's `kafka.ack_timeout` (3 s) plus the 1 s the
/// contract allows.
pub async fn assert_unavailable_within_ack_timeout(url: &str) {
    let started = std::time::Instant::now();
    // A body never sent before, so no earlier answer stands in for this one.
    let answer = post(url, &[], numbered_payload(uuid::Uuid::now_v7())).await;
    let took = started.elapsed();
    assert_eq!(
        answer.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{:?}",
        answer.body
    );
    assert_eq!(answer.json(), serde_json::json!({"error": "unavailable"}));
    assert!(answer.headers.contains_key("retry-after"));
    assert!(took <= Duration::from_secs(4), "503 took {took:?}");
}
