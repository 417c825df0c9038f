//! The spool in the request path: what Kafka does not take in time is spooled and
//! answered 202 `spooled`, new records go behind spooled ones, and a spool that cannot
//! take a record is a 503. Real spool files (in a temporary directory), fake publisher,
//! real time (the spool syncs on a thread of its own).

use crate::ingress::DEDUPLICATED;
use crate::spool::Spool;

use super::*;

/// `WIDE` with short timeouts, for real time.
fn quick() -> String {
    super::dedup::WIDE
        .replace(
            "max_inflight = 64",
            "max_inflight = 64\nread_timeout = \"100ms\"\nrequest_timeout = \"3s\"",
        )
        .replace("[kafka]", "[kafka]\nack_timeout = \"300ms\"")
}

/// A state publishing through `fake` and spooling into `dir`, limited to `max_bytes`.
fn spooling(fake: Arc<FakePublisher>, dir: &Path, max_bytes: u64) -> (Arc<State>, Arc<Spool>) {
    let config = Config::parse(&quick(), Path::new("."), &|_| None).unwrap();
    let metrics = Arc::new(Metrics::new());
    let settings = crate::config::Spool {
        dir: dir.to_path_buf(),
        max_bytes,
        segment_bytes: 1 << 20,
        drain_timeout: std::time::Duration::from_secs(30),
    };
    let (spool, _) = Spool::open(&settings, metrics.clone()).unwrap();
    let spool = Arc::new(spool);
    let state = State::new(App::new(config, fake, &metrics), metrics).with_spool(spool.clone());
    (Arc::new(state), spool)
}

fn event(body: &str) -> Request<Full<Bytes>> {
    request("/everbright/stage-transition", Some("prod-secret"), body)
}

fn assert_spooled(status: StatusCode, body: &Value) {
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["spooled"], true, "{body}");
    assert_eq!(body["topic"], "everbright.production.stage-transition");
    assert!(
        body["id"].is_string() && body.get("offset").is_none(),
        "{body}"
    );
}

#[tokio::test]
async fn a_record_not_acked_in_time_is_spooled_answered_202_and_remembered() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakePublisher::new(Behaviour::Hang);
    let (state, spool) = spooling(fake.clone(), dir.path(), 1 << 24);
    let started = std::time::Instant::now();
    let (status, _, first) = json(handle(&state, None, event(&payload())).await).await;
    assert_spooled(status, &first);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "at the ack timeout, not the request timeout"
    );
    assert_eq!(spool.len(), 1);
    assert_eq!(
        spool.doubts().len(),
        1,
        "its first copy is still delivered, in doubt"
    );

    let (status, headers, retry) = json(handle(&state, None, event(&payload())).await).await;
    assert_eq!((status, &retry), (StatusCode::ACCEPTED, &first));
    assert_eq!(headers[&DEDUPLICATED], "true");
    assert_eq!(spool.len(), 1, "the retry is not spooled again");
    assert_eq!(fake.records().len(), 1, "nor published");
}

#[tokio::test]
async fn while_the_spool_holds_records_new_ones_go_behind_them_unpublished() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakePublisher::new(Behaviour::Fail(PublishError::QueueFull));
    let (state, spool) = spooling(fake.clone(), dir.path(), 1 << 24);
    let (status, _, body) = json(handle(&state, None, event(&payload())).await).await;
    assert_spooled(status, &body);
    assert_eq!(fake.records().len(), 1);

    let other = payload().replace("APPROVED", "REJECTED");
    let (status, _, body) = json(handle(&state, None, event(&other)).await).await;
    assert_spooled(status, &body);
    assert_eq!(
        fake.records().len(),
        1,
        "not handed to Kafka ahead of the spooled one"
    );
    assert_eq!(spool.len(), 2);
}

#[tokio::test]
async fn a_record_kafka_will_never_take_is_not_spooled() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakePublisher::new(Behaviour::Fail(PublishError::MessageTooLarge));
    let (state, spool) = spooling(fake, dir.path(), 1 << 24);
    let response = handle(&state, None, event(&payload())).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(spool.is_empty());
}

#[tokio::test]
async fn a_full_spool_is_503_with_retry_after_and_releases_the_event() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakePublisher::new(Behaviour::Fail(PublishError::QueueFull));
    let (state, spool) = spooling(fake, dir.path(), 64);
    let (status, headers, _) = json(handle(&state, None, event(&payload())).await).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(headers[RETRY_AFTER], "5");
    assert!(spool.is_empty());
    assert_eq!(state.dedup().len(), 0, "a retry may publish it");
}

#[tokio::test]
async fn a_spooled_record_whose_first_copy_lands_late_is_marked_for_the_forwarder() {
    let dir = tempfile::tempdir().unwrap();
    let gate = Arc::new(Notify::new());
    let fake = FakePublisher::new(Behaviour::Gate(gate.clone()));
    let (state, spool) = spooling(fake, dir.path(), 1 << 24);
    let (status, _, body) = json(handle(&state, None, event(&payload())).await).await;
    assert_spooled(status, &body);
    gate.notify_one();
    let key = crate::dedup::EventKey::new(
        "engine",
        "stage-transition",
        None,
        &crate::body::sha256(payload().as_bytes()),
    );
    assert!(
        spool.doubts().landed(key.as_bytes()).await,
        "the forwarder will not publish the spooled copy"
    );
    assert_eq!(
        state
            .metrics
            .records_in_doubt
            .with_label_values(&["acked"])
            .get(),
        1
    );
}
