//! Instructions (or time) per stage of the request path, so that a regression of the
//! end-to-end budget (`scripts/instructions.sh`) points at its stage: route, each
//! scheme's authentication, the body digest, the event key, the envelope, the hand-off
//! to librdkafka, the answer, and the log line.
//!
//! `cargo bench --bench stages` prints nanoseconds per call (noisy on a shared machine);
//! `scripts/instructions.sh stages` runs it under callgrind and prints instructions per
//! call, which do not move with the machine's load. Each stage is one `stage_*`
//! function, never inlined, called [`CALLS`] times.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use hookbridge::app::{Answer, App};
use hookbridge::auth::{self, Authenticated};
use hookbridge::body::Body;
use hookbridge::config::Config;
use hookbridge::dedup::EventKey;
use hookbridge::envelope::{Envelope, Incoming};
use hookbridge::everbright::Event;
use hookbridge::log_format::JsonLines;
use hookbridge::metrics::Metrics;
use hookbridge::publish::kafka::KafkaPublisher;
use hookbridge::publish::{Delivery, Publish, Record};
use hookbridge::sender::{self, Draft, Outgoing};
use http::{HeaderMap, Method, Uri};

/// Calls per stage.
const CALLS: u32 = 2_000;

const EVENT: Event = Event::MilestoneStatusChange;
const PATH: &str = "/everbright/milestone-status-change";

/// One request as authentication sees it, ready to verify many times.
struct Signed {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
}

impl Signed {
    fn new(config: &Config, credential: &str, body: &Bytes) -> Signed {
        let draft = Draft {
            credential,
            event: EVENT,
            method: Method::POST,
            url: Some("http://127.0.0.1:8080/everbright/milestone-status-change"),
            content_type: "application/json",
            body: body.clone(),
        };
        let Outgoing {
            method,
            url,
            headers,
            body,
        } = sender::build(config, draft, SystemTime::now()).unwrap();
        let uri = url.path_and_query().unwrap().as_str().parse().unwrap();
        Signed {
            method,
            uri,
            headers,
            body,
        }
    }
}

#[inline(never)]
fn stage_route(app: &App) -> &'static str {
    // Does a little more than the call it measures, or the compiler makes this
    // function an alias of it (and the stage vanishes from the profile).
    app.router.route(black_box(PATH)).map_or("", Event::slug)
}

#[inline(never)]
fn stage_authenticate_basic<'a>(app: &'a App, request: &Signed) -> Authenticated<'a> {
    authenticate(app, request, "budget-basic")
}

#[inline(never)]
fn stage_authenticate_header<'a>(app: &'a App, request: &Signed) -> Authenticated<'a> {
    authenticate(app, request, "budget-header")
}

#[inline(never)]
fn stage_authenticate_hmac<'a>(app: &'a App, request: &Signed) -> Authenticated<'a> {
    authenticate(app, request, "budget-hmac")
}

#[inline(never)]
fn stage_authenticate_sigv4<'a>(app: &'a App, request: &Signed) -> Authenticated<'a> {
    authenticate(app, request, "budget-sigv4")
}

/// The stages per scheme differ by the credential they expect (so the compiler cannot
/// fold them into one function, which would count all schemes as one).
#[inline(always)]
fn authenticate<'a>(app: &'a App, request: &Signed, expected: &str) -> Authenticated<'a> {
    // A fresh body, as each request has: SigV4 hashes it here (and the digest is
    // then shared with the key and the envelope).
    let body = Body::new(request.body.clone());
    let request = auth::Request {
        method: &request.method,
        uri: &request.uri,
        headers: &request.headers,
        body: &body,
    };
    let authenticated = app
        .auth
        .authenticate(&request, EVENT, SystemTime::now())
        .unwrap();
    assert_eq!(authenticated.credential.name, expected);
    authenticated
}

#[inline(never)]
fn stage_body_digest(bytes: &Bytes) -> [u8; 32] {
    *Body::new(bytes.clone()).sha256()
}

#[inline(never)]
fn stage_key(credential: &str, digest: &[u8; 32]) -> EventKey {
    EventKey::new(credential, EVENT.slug(), None, black_box(digest))
}

#[inline(never)]
fn stage_envelope(app: &App, incoming: &Incoming<'_>) -> Envelope {
    app.envelope.build(incoming)
}

#[inline(never)]
fn stage_hand_off(publisher: &KafkaPublisher, record: Record) {
    // Enqueued with librdkafka; the acknowledgement is not waited for.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    drop(publisher.publish(&record, deadline));
}

#[inline(never)]
fn stage_answer(answer: &Answer) -> u16 {
    // See `stage_route`.
    hookbridge::ingress::response(answer).status().as_u16()
}

#[inline(never)]
fn stage_log_line(answer: &Answer, duration_ms: f64) {
    let mut id = uuid::Uuid::encode_buffer();
    tracing::info!(
        event = EVENT.slug(),
        method = "POST",
        status = 200_u16,
        credential = "budget-basic",
        duration_ms,
        id = &*answer.id.hyphenated().encode_lower(&mut id),
        topic = &*answer.topic,
        partition = answer.delivery.map(|d| d.partition),
        offset = answer.delivery.map(|d| d.offset),
        spooled = answer.delivery.is_none().then_some(true),
        deadletter = None::<&str>,
        deduplicated = answer.deduplicated,
        "webhook published"
    );
}

/// Runs `stage` [`CALLS`] times; prints the time per call when not under callgrind.
fn measure<T>(name: &str, mut stage: impl FnMut() -> T) {
    let start = Instant::now();
    for _ in 0..CALLS {
        black_box(stage());
    }
    let per_call = start.elapsed() / CALLS;
    println!("{name:>22}: {:>8} ns per call", per_call.as_nanos());
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("benches/instructions/hookbridge.toml")).unwrap();
    let text = text.replace("localhost:9092", "127.0.0.1:9");
    let config = Config::parse(&text, root, &|_| None).unwrap();
    let body = Bytes::from(std::fs::read(root.join("benches/load/milestone-2k.json")).unwrap());
    type Stage = for<'a> fn(&'a App, &Signed) -> Authenticated<'a>;
    let schemes: [(&str, Stage); 4] = [
        ("basic", stage_authenticate_basic),
        ("header", stage_authenticate_header),
        ("hmac", stage_authenticate_hmac),
        ("sigv4", stage_authenticate_sigv4),
    ];
    let requests: Vec<(&str, Stage, Signed)> = schemes
        .into_iter()
        .map(|(scheme, stage)| {
            let request = Signed::new(&config, &format!("budget-{scheme}"), &body);
            (scheme, stage, request)
        })
        .collect();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let _entered = runtime.enter();
    let metrics = Arc::new(Metrics::new());
    let publisher = Arc::new(
        KafkaPublisher::new(&config.kafka, metrics.clone(), "probe".into(), Vec::new()).unwrap(),
    );
    let app = App::new(config, publisher.clone(), &metrics);
    let sink = tracing_subscriber::fmt()
        .with_writer(std::io::sink)
        .event_format(JsonLines)
        .finish();
    let _logging = tracing::subscriber::set_default(sink);

    measure("route", || stage_route(&app));
    for (scheme, stage, request) in &requests {
        measure(&format!("authenticate {scheme}"), || {
            stage(&app, request).credential.name.len()
        });
    }
    let digest = stage_body_digest(&body);
    measure("body digest", || stage_body_digest(&body));
    measure("key", || stage_key("budget-basic", &digest));
    let credential = &app.auth.credentials()[0];
    let body = Body::new(body.clone());
    let incoming = Incoming {
        id: stage_key("budget-basic", &digest).id(),
        event: EVENT,
        environment: credential.environment,
        credential: &credential.name,
        organization: None,
        content_type: Some("application/json"),
        body: &body,
        received: SystemTime::now(),
        trace: None,
    };
    let envelope = stage_envelope(&app, &incoming);
    measure("envelope", || stage_envelope(&app, &incoming));
    let topic = app.topic(credential.environment, EVENT, false).clone();
    let record = Record {
        topic: topic.clone(),
        key: envelope.key,
        value: envelope.value,
        headers: envelope.headers,
        timestamp: SystemTime::now(),
    };
    measure("hand-off to librdkafka", || {
        stage_hand_off(&publisher, record.clone())
    });
    let answer = Answer {
        id: incoming.id,
        topic,
        delivery: Some(Delivery {
            partition: 3,
            offset: 1_234_567,
        }),
        dead_letter: None,
        deduplicated: false,
    };
    measure("answer", || stage_answer(&answer));
    measure("log line", || stage_log_line(&answer, 0.127));
    drop(app);
    publisher.flush(Duration::ZERO);
}
