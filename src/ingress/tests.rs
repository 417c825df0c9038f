//! Handler tests: the whole request pipeline against a fake publisher.

use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::{ALLOW, RETRY_AFTER};
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame};
use serde_json::Value;
use tokio::sync::Notify;

use super::handle;
use crate::app::{App, State};
use crate::config::Config;
use crate::metrics::Metrics;
use crate::publish::{
    Delivery, Fate, Publish, PublishError, Publishing, Readiness, Record, by_deadline,
};

mod dedup;
mod spool;

const SITE: &str = "157802b4-99aa-4437-b250-934df337766a";

/// What the fake does with each record.
#[derive(Clone)]
enum Behaviour {
    Ack,
    Fail(PublishError),
    /// Never answers (a broker that does not ack).
    Hang,
    /// Waits for the notify, then acks.
    Gate(Arc<Notify>),
    /// Waits for the notify, then ends with this fate.
    Late(Arc<Notify>, Fate),
}

struct FakePublisher {
    records: Mutex<Vec<Record>>,
    behaviour: Behaviour,
}

impl FakePublisher {
    fn new(behaviour: Behaviour) -> Arc<Self> {
        Arc::new(FakePublisher {
            records: Mutex::new(Vec::new()),
            behaviour,
        })
    }

    fn records(&self) -> Vec<Record> {
        self.records.lock().unwrap().clone()
    }
}

/// How long after its deadline the fake settles a record that never ends (its
/// `kafka.delivery_timeout`, counted from the deadline).
const FAKE_DOUBT: Duration = Duration::from_secs(60);

impl Publish for FakePublisher {
    fn publish(&self, record: &Record, deadline: tokio::time::Instant) -> Publishing<'_> {
        let behaviour = self.behaviour.clone();
        let mut records = self.records.lock().unwrap();
        records.push(record.clone());
        let offset = records.len() as i64 - 1;
        let fate = async move {
            match behaviour {
                Behaviour::Ack => Fate::Acked(Delivery {
                    partition: 2,
                    offset,
                }),
                Behaviour::Fail(e) => Fate::Lost(e),
                Behaviour::Hang => std::future::pending().await,
                Behaviour::Gate(n) => {
                    n.notified().await;
                    Fate::Acked(Delivery {
                        partition: 0,
                        offset,
                    })
                }
                Behaviour::Late(n, fate) => {
                    n.notified().await;
                    fate
                }
            }
        };
        Box::pin(by_deadline(fate, deadline, deadline + FAKE_DOUBT))
    }

    fn readiness(&self) -> Readiness {
        Readiness::Ready
    }

    fn flush(&self, _timeout: Duration) {}
}

const CONFIG: &str = r#"
[server]
max_body_bytes = 1024
max_inflight = 1
[kafka]
brokers = "unused:9092"
[payload]
capture_headers = ["X-Tenant"]
[[credentials]]
name = "engine"
scheme = "header"
header = "X-Api-Key"
value = "prod-secret"
organization = "acme"
[[credentials]]
name = "onboard"
environment = "test"
scheme = "basic"
username = "everbright"
password = "test-secret"
"#;

fn state_with(publisher: Arc<FakePublisher>, config: &str) -> Arc<State> {
    let config = Config::parse(config, Path::new("."), &|_| None).unwrap();
    let metrics = Arc::new(Metrics::new());
    Arc::new(State::new(App::new(config, publisher, &metrics), metrics))
}

fn post(path: &str) -> http::request::Builder {
    Request::post(path)
}

fn request(path: &str, key: Option<&str>, body: &str) -> Request<Full<Bytes>> {
    let mut b = post(path).header("content-type", "application/json");
    if let Some(key) = key {
        b = b.header("x-api-key", key);
    }
    b.body(Full::new(Bytes::from(body.to_string()))).unwrap()
}

async fn json(response: http::Response<Full<Bytes>>) -> (StatusCode, http::HeaderMap, Value) {
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, serde_json::from_slice(&bytes).unwrap())
}

fn payload() -> String {
    format!(r#"{{"site":"{SITE}","status":"APPROVED"}}"#)
}

#[tokio::test]
async fn a_captured_header_never_doubles_one_hookbridge_writes() {
    let fake = FakePublisher::new(Behaviour::Ack);
    let config = CONFIG
        .replace(
            "brokers = \"unused:9092\"",
            "brokers = \"unused:9092\"\nenvelope = \"binary\"",
        )
        .replace(
            r#"capture_headers = ["X-Tenant"]"#,
            r#"capture_headers = ["X-Tenant", "ce_id"]"#,
        );
    let state = state_with(fake.clone(), &config);
    let mut req = request(
        "/everbright/milestone-status-change",
        Some("prod-secret"),
        &payload(),
    );
    req.headers_mut()
        .insert("ce_id", "forged-by-the-sender".parse().unwrap());
    req.headers_mut()
        .insert("x-tenant", "acme-west".parse().unwrap());
    let (status, _, body) = json(handle(&state, None, req).await).await;
    assert_eq!(status, StatusCode::OK);
    let records = fake.records();
    let named = |name: &str| -> Vec<Vec<u8>> {
        records[0]
            .headers
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    };
    let id = body["id"].as_str().unwrap().as_bytes().to_vec();
    assert_eq!(named("ce_id"), [id], "hookbridge's own ce_id, once");
    assert_eq!(named("x-tenant"), [b"acme-west".to_vec()]);
}

#[tokio::test]
async fn accepted_webhook_is_answered_with_its_delivery() {
    let fake = FakePublisher::new(Behaviour::Ack);
    let state = state_with(fake.clone(), CONFIG);
    let mut req = request(
        "/everbright/milestone-status-change",
        Some("prod-secret"),
        &payload(),
    );
    req.headers_mut()
        .insert("x-tenant", "acme-west".parse().unwrap());
    let (status, _, body) = json(handle(&state, None, req).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["topic"],
        "everbright.production.milestone-status-change"
    );
    assert_eq!(body["partition"], 2);
    assert_eq!(body["offset"], 0);
    let records = fake.records();
    assert_eq!(records.len(), 1);
    let r = &records[0];
    assert_eq!(&*r.topic, "everbright.production.milestone-status-change");
    assert_eq!(r.key.as_deref(), Some(SITE));
    assert!(
        r.headers
            .iter()
            .any(|(k, v)| k == "x-tenant" && v == b"acme-west")
    );
    assert!(!r.headers.iter().any(|(k, _)| k == "x-api-key"));
    let envelope: Value = serde_json::from_slice(&r.value).unwrap();
    assert_eq!(envelope["id"], body["id"]);
    assert_eq!(envelope["organization"], "acme");
    let m = &state.metrics;
    assert_eq!(
        m.events_published
            .with_label_values(&["milestone-status-change", "production", "engine"])
            .get(),
        1
    );
    assert_eq!(
        m.http_requests
            .with_label_values(&["milestone-status-change", "200"])
            .get(),
        1
    );
    assert_eq!(m.inflight.get(), 0);
}

#[tokio::test]
async fn test_environment_credentials_publish_to_test_topics() {
    let fake = FakePublisher::new(Behaviour::Ack);
    let state = state_with(fake.clone(), CONFIG);
    let auth = crate::auth::basic::encode("everbright", b"test-secret");
    let req = post("/everbright/site-archived")
        .method("PUT")
        .header("authorization", auth)
        .body(Full::new(Bytes::from(format!(r#"{{"uuid":"{SITE}"}}"#))))
        .unwrap();
    let (status, _, body) = json(handle(&state, None, req).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["topic"], "everbright.test.site-archived");
}

#[tokio::test]
async fn wrong_secret_is_401_and_publishes_nothing() {
    let fake = FakePublisher::new(Behaviour::Ack);
    let state = state_with(fake.clone(), CONFIG);
    for key in [Some("prod-secret-x"), None] {
        let req = request("/everbright/milestone-status-change", key, &payload());
        let (status, headers, body) = json(handle(&state, None, req).await).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body, serde_json::json!({"error": "unauthorized"}));
        assert_eq!(
            headers["www-authenticate"],
            r#"Basic realm="hookbridge", charset="UTF-8""#
        );
    }
    assert!(fake.records().is_empty());
    let m = &state.metrics;
    assert_eq!(m.auth_failures.with_label_values(&["bad-secret"]).get(), 1);
    assert_eq!(
        m.auth_failures
            .with_label_values(&["missing-credentials"])
            .get(),
        1
    );
}

/// The log lines written while `f` runs on this thread, as JSON objects.
async fn logged<F: std::future::Future>(f: F) -> (F::Output, Vec<Value>) {
    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let lines = Lines::default();
    let writer = lines.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_max_level(tracing::Level::INFO)
        .with_writer(move || writer.clone())
        .finish();
    let output = {
        let _default = tracing::subscriber::set_default(subscriber);
        f.await
    };
    let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
    let lines = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (output, lines)
}

#[tokio::test]
async fn a_refusal_is_logged_with_the_credential_the_request_selected() {
    let state = state_with(FakePublisher::new(Behaviour::Ack), CONFIG);
    let wrong_password = crate::auth::basic::encode("everbright", b"not-the-password");
    let req = post("/everbright/site-archived")
        .header("authorization", wrong_password)
        .body(Full::new(Bytes::from(payload())))
        .unwrap();
    let (response, lines) = logged(handle(&state, None, req)).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let [line] = lines.as_slice() else {
        panic!("one line per request: {lines:?}")
    };
    assert_eq!(line["message"], "webhook refused");
    assert_eq!(line["level"], "WARN");
    assert_eq!(line["credential"], "onboard");
    assert_eq!(line["reason"], "bad-secret");
    assert_eq!(line["status"], 401);
}

#[tokio::test]
async fn unknown_paths_and_methods() {
    let fake = FakePublisher::new(Behaviour::Ack);
    let state = state_with(fake.clone(), CONFIG);
    let (status, _, body) = json(
        handle(
            &state,
            None,
            request("/everbright/nope", Some("prod-secret"), "{}"),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("not found"))
    );
    let get = Request::get("/everbright/site-archived")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let (status, headers, _) = json(handle(&state, None, get).await).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(headers[ALLOW], "POST, PUT, PATCH");
    assert!(fake.records().is_empty());
    assert_eq!(
        state
            .metrics
            .http_requests
            .with_label_values(&["unknown", "404"])
            .get(),
        1
    );
}

/// A body delivered in chunks, without a declared length.
struct Chunked(Vec<Bytes>);

impl Body for Chunked {
    type Data = Bytes;
    type Error = std::convert::Infallible;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Poll::Ready((!self.0.is_empty()).then(|| Ok(Frame::data(self.0.remove(0)))))
    }
}

/// A body that never arrives.
struct Stalled;

impl Body for Stalled {
    type Data = Bytes;
    type Error = std::convert::Infallible;
    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Poll::Pending
    }
}

#[tokio::test]
async fn oversized_bodies_are_413_whether_declared_or_streamed() {
    let fake = FakePublisher::new(Behaviour::Ack);
    let state = state_with(fake.clone(), CONFIG);
    let big = "x".repeat(1025);
    let (status, _, _) = json(
        handle(
            &state,
            None,
            request("/everbright/site-archived", None, &big),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let chunks = Chunked(vec![
        Bytes::from(vec![b' '; 600]),
        Bytes::from(vec![b' '; 600]),
    ]);
    let req = post("/everbright/site-archived")
        .header("x-api-key", "prod-secret")
        .body(chunks)
        .unwrap();
    assert_eq!(
        handle(&state, None, req).await.status(),
        StatusCode::PAYLOAD_TOO_LARGE
    );
    assert!(fake.records().is_empty());
    // No authentication work was done: no auth failure counted for the unauthenticated one.
    assert_eq!(
        state
            .metrics
            .auth_failures
            .with_label_values(&["missing-credentials"])
            .get(),
        0
    );
}

#[tokio::test(start_paused = true)]
async fn a_stalled_body_is_408_after_the_read_timeout() {
    let state = state_with(FakePublisher::new(Behaviour::Ack), CONFIG);
    let req = post("/everbright/site-archived")
        .header("x-api-key", "prod-secret")
        .body(Stalled)
        .unwrap();
    let started = tokio::time::Instant::now();
    assert_eq!(
        handle(&state, None, req).await.status(),
        StatusCode::REQUEST_TIMEOUT
    );
    assert_eq!(started.elapsed(), Duration::from_secs(4));
}

#[tokio::test]
async fn unusable_bodies_are_dead_lettered_with_202() {
    let fake = FakePublisher::new(Behaviour::Ack);
    let state = state_with(fake.clone(), CONFIG);
    let req = request(
        "/everbright/task-comment-created",
        Some("prod-secret"),
        "{\"site\": nope}",
    );
    let (status, _, body) = json(handle(&state, None, req).await).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(body["topic"], "everbright.production.deadletter");
    assert_eq!(body["reason"], "invalid-json");
    let records = fake.records();
    assert_eq!(records[0].key, None);
    let dl: Value = serde_json::from_slice(&records[0].value).unwrap();
    assert_eq!(dl["id"], body["id"]);
    assert_eq!(
        state
            .metrics
            .deadletters
            .with_label_values(&["task-comment-created", "invalid-json"])
            .get(),
        1
    );
}

#[tokio::test]
async fn producer_errors_map_to_retryable_or_final_statuses() {
    let cases = [
        (
            PublishError::QueueFull,
            StatusCode::SERVICE_UNAVAILABLE,
            Some("1"),
        ),
        (
            PublishError::TimedOut,
            StatusCode::SERVICE_UNAVAILABLE,
            Some("5"),
        ),
        (
            PublishError::MessageTooLarge,
            StatusCode::PAYLOAD_TOO_LARGE,
            None,
        ),
        (
            PublishError::Failed {
                kind: crate::publish::ErrorKind::Authorization,
                detail: "Broker: Topic authorization failed".into(),
            },
            StatusCode::INTERNAL_SERVER_ERROR,
            None,
        ),
    ];
    for (error, want, retry) in cases {
        let kind = error.kind();
        let state = state_with(FakePublisher::new(Behaviour::Fail(error)), CONFIG);
        let req = request(
            "/everbright/stage-transition",
            Some("prod-secret"),
            &payload(),
        );
        let (status, headers, _) = json(handle(&state, None, req).await).await;
        assert_eq!(status, want, "{kind}");
        assert_eq!(
            headers.get(RETRY_AFTER).map(|v| v.to_str().unwrap()),
            retry,
            "{kind}"
        );
        assert_eq!(
            state.metrics.kafka_errors.with_label_values(&[kind]).get(),
            1
        );
    }
}

#[tokio::test(start_paused = true)]
async fn no_ack_within_ack_timeout_is_503() {
    let state = state_with(FakePublisher::new(Behaviour::Hang), CONFIG);
    let started = tokio::time::Instant::now();
    let req = request(
        "/everbright/stage-transition",
        Some("prod-secret"),
        &payload(),
    );
    let (status, headers, _) = json(handle(&state, None, req).await).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(headers[RETRY_AFTER], "5");
    assert_eq!(started.elapsed(), Duration::from_secs(5));
    assert_eq!(
        state
            .metrics
            .kafka_errors
            .with_label_values(&["ack-timeout"])
            .get(),
        1
    );
}

#[tokio::test]
async fn over_max_inflight_is_503_at_once_and_draining_is_503() {
    let gate = Arc::new(Notify::new());
    let fake = FakePublisher::new(Behaviour::Gate(gate.clone()));
    let state = state_with(fake.clone(), CONFIG);
    let first = {
        let state = state.clone();
        tokio::spawn(async move {
            let req = request(
                "/everbright/stage-transition",
                Some("prod-secret"),
                &payload(),
            );
            handle(&state, None, req).await.status()
        })
    };
    while fake.records().is_empty() {
        tokio::task::yield_now().await;
    }
    assert_eq!(state.metrics.inflight.get(), 1);
    let second = request(
        "/everbright/stage-transition",
        Some("prod-secret"),
        &payload(),
    );
    let (status, headers, _) = json(handle(&state, None, second).await).await;
    assert_eq!(
        (status, &headers[RETRY_AFTER]),
        (StatusCode::SERVICE_UNAVAILABLE, &"1".parse().unwrap())
    );
    gate.notify_one();
    assert_eq!(first.await.unwrap(), StatusCode::OK);

    state.start_draining();
    let third = request(
        "/everbright/stage-transition",
        Some("prod-secret"),
        &payload(),
    );
    assert_eq!(
        handle(&state, None, third).await.status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(fake.records().len(), 1);
}

const SIGNED: &str = r#"
[kafka]
brokers = "unused:9092"
[[credentials]]
name = "engine-hmac"
scheme = "hmac-sha256"
client_id = "everbright"
client_secret = "hmac-secret"
timestamp_header = "X-Timestamp"
"#;

fn signed(state: &State, body: &str) -> Request<Full<Bytes>> {
    let app = state.app();
    let crate::auth::Scheme::Hmac(h) = &app.auth.credentials()[0].scheme else {
        unreachable!("SIGNED has one hmac credential")
    };
    let mut b = post("/everbright/stage-transition");
    for (k, v) in h.sign(body.as_bytes(), std::time::SystemTime::now()) {
        b = b.header(k, v);
    }
    b.body(Full::new(Bytes::from(body.to_string()))).unwrap()
}

#[tokio::test]
async fn an_identical_signed_request_is_answered_again_without_a_second_record() {
    let fake = FakePublisher::new(Behaviour::Ack);
    let state = state_with(fake.clone(), SIGNED);
    let first = signed(&state, &payload());
    let again = first.clone();
    let (s1, _, b1) = json(handle(&state, None, first).await).await;
    let (s2, _, b2) = json(handle(&state, None, again).await).await;
    assert_eq!((s1, s2), (StatusCode::OK, StatusCode::OK));
    assert_eq!(b1, b2, "the replay gets the original answer");
    assert_eq!(fake.records().len(), 1);
    assert_eq!(
        state
            .metrics
            .deduplicated
            .with_label_values(&["engine-hmac"])
            .get(),
        1
    );
    // A different body is a different signature: processed normally.
    let other = signed(&state, &payload().replace("APPROVED", "REJECTED"));
    assert_eq!(handle(&state, None, other).await.status(), StatusCode::OK);
    assert_eq!(fake.records().len(), 2);
}

#[tokio::test]
async fn a_request_that_was_not_acked_is_processed_again() {
    let fake = FakePublisher::new(Behaviour::Fail(PublishError::QueueFull));
    let state = state_with(fake.clone(), SIGNED);
    let first = signed(&state, &payload());
    let again = first.clone();
    assert_eq!(
        handle(&state, None, first).await.status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(
        handle(&state, None, again).await.status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(
        fake.records().len(),
        2,
        "no answer was cached, so both were tried"
    );
    assert_eq!(
        state
            .metrics
            .deduplicated
            .with_label_values(&["engine-hmac"])
            .get(),
        0
    );
}
