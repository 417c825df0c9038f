//! One event, one id, one record: copies of an event, whatever the scheme, get the
//! first copy's answer.

use super::*;
use crate::body::sha256;
use crate::dedup::EventKey;
use crate::ingress::DEDUPLICATED;

/// Like `CONFIG`, with room for several requests at once.
pub(super) const WIDE: &str = r#"
[server]
max_inflight = 64
[kafka]
brokers = "unused:9092"
[[credentials]]
name = "engine"
scheme = "header"
header = "X-Api-Key"
value = "prod-secret"
"#;

fn deduplicated(state: &State) -> u64 {
    let metric = &state.metrics.deduplicated;
    metric.with_label_values(&["engine"]).get()
}

fn copy() -> Request<Full<Bytes>> {
    request(
        "/everbright/stage-transition",
        Some("prod-secret"),
        &payload(),
    )
}

#[tokio::test]
async fn the_id_is_derived_from_credential_event_and_body() {
    let fake = FakePublisher::new(Behaviour::Ack);
    let state = state_with(fake.clone(), WIDE);
    let (_, _, body) = json(handle(&state, None, copy()).await).await;
    let key = EventKey::new(
        "engine",
        "stage-transition",
        None,
        &sha256(payload().as_bytes()),
    );
    assert_eq!(body["id"], key.id().to_string());
    let envelope: Value = serde_json::from_slice(&fake.records()[0].value).unwrap();
    assert_eq!(envelope["id"], body["id"]);
}

#[tokio::test]
async fn a_repeat_after_the_ack_gets_the_original_answer_and_no_record() {
    let fake = FakePublisher::new(Behaviour::Ack);
    let state = state_with(fake.clone(), WIDE);
    let (s1, h1, b1) = json(handle(&state, None, copy()).await).await;
    let (s2, h2, b2) = json(handle(&state, None, copy()).await).await;
    assert_eq!((s1, s2), (StatusCode::OK, StatusCode::OK));
    assert_eq!(b1, b2, "same id, topic, partition and offset");
    assert!(!h1.contains_key(&DEDUPLICATED));
    assert_eq!(h2[&DEDUPLICATED], "true");
    assert_eq!(fake.records().len(), 1);
    assert_eq!(deduplicated(&state), 1);
    let other = request(
        "/everbright/stage-transition",
        Some("prod-secret"),
        &payload().replace("APPROVED", "REJECTED"),
    );
    let (_, _, b3) = json(handle(&state, None, other).await).await;
    assert_ne!(b3["id"], b1["id"], "another body is another event");
    assert_eq!(fake.records().len(), 2);
}

#[tokio::test]
async fn concurrent_copies_single_flight_to_one_record() {
    let gate = Arc::new(Notify::new());
    let fake = FakePublisher::new(Behaviour::Gate(gate.clone()));
    let state = state_with(fake.clone(), WIDE);
    let copies: Vec<_> = (0..20)
        .map(|_| {
            let state = state.clone();
            tokio::spawn(async move { json(handle(&state, None, copy()).await).await })
        })
        .collect();
    while state.metrics.inflight.get() < 20 {
        tokio::task::yield_now().await;
    }
    gate.notify_one();
    let mut ids = Vec::new();
    for copy in copies {
        let (status, _, body) = copy.await.unwrap();
        assert_eq!(status, StatusCode::OK);
        ids.push(body["id"].clone());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "one id: {ids:?}");
    assert_eq!(fake.records().len(), 1);
    assert_eq!(deduplicated(&state), 19);
}

#[tokio::test]
async fn a_copy_whose_client_hung_up_is_still_published_and_remembered() {
    let gate = Arc::new(Notify::new());
    let fake = FakePublisher::new(Behaviour::Gate(gate.clone()));
    let state = state_with(fake.clone(), WIDE);
    {
        let hung_up = handle(&state, None, copy());
        tokio::pin!(hung_up);
        while fake.records().is_empty() {
            assert!(futures_poll_once(hung_up.as_mut()).await.is_none());
            tokio::task::yield_now().await;
        }
        // Dropped here, as hyper drops the future of a closed connection.
    }
    gate.notify_one();
    while state.metrics.inflight.get() > 0 {
        tokio::task::yield_now().await;
    }
    let (status, headers, body) = json(handle(&state, None, copy()).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[&DEDUPLICATED], "true");
    assert_eq!(body["offset"], 0);
    assert_eq!(fake.records().len(), 1);
    let published = &state.metrics.events_published;
    let labels = ["stage-transition", "production", "engine"];
    assert_eq!(published.with_label_values(&labels).get(), 1);
}

/// Polls `future` once: its output if it finished.
async fn futures_poll_once<F: Future + Unpin>(mut future: F) -> Option<F::Output> {
    std::future::poll_fn(|cx| {
        Poll::Ready(match Pin::new(&mut future).poll(cx) {
            Poll::Ready(out) => Some(out),
            Poll::Pending => None,
        })
    })
    .await
}

fn in_doubt(state: &State, fate: &str) -> u64 {
    state
        .metrics
        .records_in_doubt
        .with_label_values(&[fate])
        .get()
}

/// Lets the tasks of a paused runtime run until `done` holds (time does not move).
async fn until(done: impl Fn() -> bool) {
    while !done() {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_record_in_doubt_holds_its_event_and_a_late_ack_answers_the_retry() {
    let gate = Arc::new(Notify::new());
    let fake = FakePublisher::new(Behaviour::Gate(gate.clone()));
    let state = state_with(fake.clone(), WIDE);
    let started = tokio::time::Instant::now();
    let first = handle(&state, None, copy()).await;
    assert_eq!(first.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        started.elapsed(),
        Duration::from_secs(5),
        "at the ack timeout"
    );
    assert_eq!(state.dedup().len(), 1, "the event stays claimed");
    assert_eq!(state.metrics.inflight.get(), 1, "its permit stays held");

    gate.notify_one();
    until(|| state.metrics.inflight.get() == 0).await;
    let (status, headers, body) = json(handle(&state, None, copy()).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[&DEDUPLICATED], "true");
    assert_eq!(body["offset"], 0);
    assert_eq!(fake.records().len(), 1, "no second record");
    assert_eq!(in_doubt(&state, "acked"), 1);
    let published = &state.metrics.events_published;
    let labels = ["stage-transition", "production", "engine"];
    assert_eq!(published.with_label_values(&labels).get(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_retry_while_the_record_is_in_doubt_waits_for_it() {
    let gate = Arc::new(Notify::new());
    let fake = FakePublisher::new(Behaviour::Gate(gate.clone()));
    let state = state_with(fake.clone(), WIDE);
    let first = handle(&state, None, copy()).await;
    assert_eq!(first.status(), StatusCode::SERVICE_UNAVAILABLE);

    // A retry before the fate is known waits for it, as long as for an ack.
    let started = tokio::time::Instant::now();
    let waited = handle(&state, None, copy()).await;
    assert_eq!(waited.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(started.elapsed(), Duration::from_secs(5));
    assert_eq!(fake.records().len(), 1);
    let retry = {
        let state = state.clone();
        tokio::spawn(async move { json(handle(&state, None, copy()).await).await })
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    gate.notify_one();
    let (status, headers, _) = retry.await.unwrap();
    assert_eq!(
        (status, &headers[&DEDUPLICATED]),
        (StatusCode::OK, &"true".parse().unwrap())
    );
    assert_eq!(fake.records().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_record_in_doubt_that_was_not_stored_frees_its_event() {
    let gate = Arc::new(Notify::new());
    let lost = Fate::Lost(PublishError::Closed);
    let fake = FakePublisher::new(Behaviour::Late(gate.clone(), lost));
    let state = state_with(fake.clone(), WIDE);
    let first = handle(&state, None, copy()).await;
    assert_eq!(first.status(), StatusCode::SERVICE_UNAVAILABLE);
    gate.notify_one();
    until(|| state.metrics.inflight.get() == 0).await;
    assert_eq!(state.dedup().len(), 0, "the event is free again");
    assert_eq!(in_doubt(&state, "lost"), 1);
}

#[tokio::test(start_paused = true)]
async fn a_record_whose_fate_stays_unknown_frees_its_event_at_the_delivery_timeout() {
    let state = state_with(FakePublisher::new(Behaviour::Hang), WIDE);
    let first = handle(&state, None, copy()).await;
    assert_eq!(first.status(), StatusCode::SERVICE_UNAVAILABLE);
    tokio::time::sleep(FAKE_DOUBT - Duration::from_secs(1)).await;
    assert_eq!(state.dedup().len(), 1, "still in doubt");
    tokio::time::sleep(Duration::from_secs(2)).await;
    until(|| state.metrics.inflight.get() == 0).await;
    assert_eq!(state.dedup().len(), 0, "released at the delivery timeout");
    assert_eq!(in_doubt(&state, "unknown"), 1);
}
