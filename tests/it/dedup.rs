//! One event, one id, one record: copies of a webhook, sent together, after the answer
//! or after hanging up, leave exactly one record on the broker.

use std::time::Duration;

use http::StatusCode;

use crate::support::kafka::Options;
use crate::support::{self, Answer, Cluster, Endpoints, Kafka, Server, consume, credential, post};

const TOPIC: &str = "production.milestone-status-change";
const PATH: &str = "/everbright/milestone-status-change";

async fn start(broker: &impl Cluster) -> Server {
    let toml = support::config(broker, "", credential::header("engine", "prod-key"));
    let server = Server::start(&toml).await;
    server.wait_ready().await;
    server
}

async fn send_copy(url: &str) -> Answer {
    let headers = [
        ("x-api-key", "prod-key"),
        ("content-type", "application/json"),
    ];
    post(url, &headers, support::payload(support::SITE)).await
}

/// The one record on the topic, counted by consuming it.
async fn the_only_record(broker: &impl Cluster) -> serde_json::Value {
    let records = consume(broker, &broker.topic(TOPIC), 1).await;
    assert_eq!(records.len(), 1, "one event, one record");
    records[0].json()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_copies_and_a_retry_make_one_record_with_one_id() {
    let broker = Kafka::lease();
    let server = start(&broker).await;
    let url = server.url(PATH);
    let copies: Vec<_> = (0..20)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { send_copy(&url).await })
        })
        .collect();
    let mut answers = Vec::new();
    for copy in copies {
        let answer = copy.await.unwrap();
        assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
        answers.push(answer.json());
    }
    assert!(answers.iter().all(|a| *a == answers[0]), "{answers:#?}");
    let retry = send_copy(&url).await;
    assert_eq!(retry.status, StatusCode::OK);
    assert_eq!(
        retry.json(),
        answers[0],
        "a retry after 200 gets the same answer"
    );
    assert_eq!(retry.headers["hookbridge-deduplicated"], "true");

    let record = the_only_record(&broker).await;
    assert_eq!(record["id"], answers[0]["id"]);
    let metrics = server.metrics().await;
    let deduplicated = metrics.value("hookbridge_deduplicated_total", &[("credential", "engine")]);
    assert_eq!(deduplicated, 20.0, "19 concurrent copies and the retry");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_hangs_up_before_the_ack_gets_the_answer_on_its_retry() {
    // A broker of its own: it is paused.
    let broker = Kafka::start(Options::default());
    let server = start(&broker).await;
    let url = server.url(PATH);
    broker.pause(1);
    let hung_up = tokio::time::timeout(Duration::from_millis(800), send_copy(&url)).await;
    assert!(hung_up.is_err(), "no answer while the broker is paused");
    broker.resume(1);
    // Published all the same: the retry gets its answer, once acked.
    let retry = send_copy(&url).await;
    assert_eq!(retry.status, StatusCode::OK, "{:?}", retry.body);
    assert_eq!(retry.headers["hookbridge-deduplicated"], "true");
    let record = the_only_record(&broker).await;
    assert_eq!(record["id"], retry.json()["id"]);
    server.stop().await;
}
