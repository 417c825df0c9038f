//! Records in doubt: a record that was not acknowledged within `kafka.ack_timeout` may
//! still be stored when a paused broker wakes up. Its sender gets 503, but the event
//! stays claimed until the record's fate is known, so the retry gets the stored 200
//! (`Hookbridge-Deduplicated: true`) and the topic holds one record — on tansu and on
//! Apache Kafka alike.

use std::time::{Duration, Instant};

use http::StatusCode;

use crate::support::kafka::Options;
use crate::support::{self, Answer, Cluster, Endpoints, Kafka, Server, credential, post};

/// The topic of the test config's milestone webhooks.
const TOPIC: &str = "production.milestone-status-change";

/// Retries `body` until it is answered 200 (each other answer must be a 503), within
/// 30 s; returns that answer.
async fn retry_until_200(url: &str, body: &str) -> Answer {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let answer = post(url, &[], body.to_string()).await;
        if answer.status == StatusCode::OK {
            return answer;
        }
        assert_eq!(
            answer.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{:?}",
            answer.body
        );
        assert!(Instant::now() < deadline, "no 200 within 30 s of resuming");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// How many records on `topic` carry `id`, once the topic holds at least `at_least`.
async fn records_with_id(broker: &impl Cluster, topic: &str, at_least: usize, id: &str) -> usize {
    let records = support::consume(broker, topic, at_least + 1).await;
    records.iter().filter(|r| r.json()["id"] == id).count()
}

/// hookbridge on `broker`, ready, with one webhook acknowledged; its webhook URL.
async fn serving(broker: &impl Cluster) -> (Server, String) {
    let toml = support::config(broker, "", credential::none("open"));
    let server = Server::start(&toml).await;
    let url = server.url("/everbright/milestone-status-change");
    let warm = post(&url, &[], support::numbered_payload("warm-up")).await;
    assert_eq!(warm.status, StatusCode::OK);
    server.wait_ready().await;
    (server, url)
}

/// `copies` identical requests sent while the broker is paused: all 503 within the
/// ack timeout; after the broker resumes, the retry gets the stored 200 and the topic
/// holds the event once.
async fn in_doubt_then_resumed(
    broker: &impl Cluster,
    copies: usize,
    pause: impl FnOnce(),
    resume: impl FnOnce(),
) {
    let (server, url) = serving(broker).await;
    let body = support::numbered_payload(uuid::Uuid::now_v7());

    pause();
    let sent: Vec<_> = (0..copies)
        .map(|_| {
            let (url, body) = (url.clone(), body.clone());
            tokio::spawn(async move {
                let started = Instant::now();
                let answer = post(&url, &[], body).await;
                (answer, started.elapsed())
            })
        })
        .collect();
    for copy in sent {
        let (answer, took) = copy.await.unwrap();
        assert_eq!(
            answer.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{:?}",
            answer.body
        );
        assert!(answer.headers.contains_key("retry-after"));
        assert!(took <= Duration::from_secs(4), "503 took {took:?}");
    }
    // Paused a while longer, as a broker in a long GC pause or a frozen VM would be.
    tokio::time::sleep(Duration::from_secs(2)).await;
    resume();

    let answer = retry_until_200(&url, &body).await;
    assert_eq!(
        answer
            .headers
            .get("hookbridge-deduplicated")
            .map(|v| v.to_str().unwrap()),
        Some("true"),
        "the retry got the in-doubt record's own answer"
    );
    let id = answer.json()["id"].as_str().unwrap().to_string();
    let topic = broker.topic(TOPIC);
    assert_eq!(records_with_id(broker, &topic, 2, &id).await, 1, "{id}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tansu_an_event_answered_503_during_a_pause_and_retried_is_one_record() {
    let broker = support::Broker::start();
    in_doubt_then_resumed(&broker, 1, || broker.pause(), || broker.resume()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tansu_twenty_copies_during_a_pause_are_one_record() {
    let broker = support::Broker::start();
    in_doubt_then_resumed(&broker, 20, || broker.pause(), || broker.resume()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_an_event_answered_503_during_a_pause_and_retried_is_one_record() {
    let kafka = Kafka::start(Options::default());
    in_doubt_then_resumed(&kafka, 1, || kafka.pause(1), || kafka.resume(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_twenty_copies_during_a_pause_are_one_record() {
    let kafka = Kafka::start(Options::default());
    in_doubt_then_resumed(&kafka, 20, || kafka.pause(1), || kafka.resume(1)).await;
}
