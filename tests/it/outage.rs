//! A broker that stops answering, dies or restarts: 503 within the ack timeout, never
//! a 2xx for a record that is not stored, nothing acknowledged lost or doubled; and 200
//! again once it is back. On both brokers where they differ: tansu forgets everything
//! on a restart (the producer must be replaced), Apache Kafka keeps its data and the
//! producer's state.

use std::time::{Duration, Instant};

use http::StatusCode;

use crate::support::kafka::Options;
use crate::support::load::{Load, assert_each_once, post_numbered, until_acked};
use crate::support::{self, Broker, Cluster, Endpoints, Kafka, Server, credential, get, post};

/// hookbridge on `broker`: 503 within the ack timeout while `pause` holds, `/readyz`
/// 503 within 20 s, and 200 again once `resume` lets the broker go on.
async fn paused_then_resumed(broker: &impl Cluster, pause: impl FnOnce(), resume: impl FnOnce()) {
    let toml = support::config(broker, "", credential::none("open"));
    let server = Server::start(&toml).await;
    let url = server.url("/everbright/milestone-status-change");
    let body = support::payload(support::SITE);
    assert_eq!(post(&url, &[], body.clone()).await.status, StatusCode::OK);
    server.wait_ready().await;

    pause();
    for _ in 0..3 {
        support::assert_unavailable_within_ack_timeout(&url).await;
    }
    // Readiness follows the broker (no metadata answer for 5 s).
    let deadline = Instant::now() + Duration::from_secs(20);
    while get(&server.admin_url("/readyz")).await.status == StatusCode::OK {
        assert!(
            Instant::now() < deadline,
            "/readyz stayed 200 with the broker paused"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    resume();
    // Another event: the first one's answer is remembered and would not need Kafka.
    let body = support::numbered_payload("after-resume");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let answer = post(&url, &[], body.clone()).await;
        if answer.status == StatusCode::OK {
            break;
        }
        assert_eq!(
            answer.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{:?}",
            answer.body
        );
        assert!(
            Instant::now() < deadline,
            "no 200 within 30 s of the broker resuming"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    server.wait_ready().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_tansu_means_503_within_ack_timeout_then_200_after_resume() {
    let broker = Broker::start();
    paused_then_resumed(&broker, || broker.pause(), || broker.resume()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_kafka_means_503_within_ack_timeout_then_200_after_resume() {
    let kafka = Kafka::start(Options::default());
    paused_then_resumed(&kafka, || kafka.pause(1), || kafka.resume(1)).await;
}

/// The topic of the test config's milestone webhooks.
const TOPIC: &str = "production.milestone-status-change";

/// hookbridge on `broker`, ready, with one webhook acknowledged; and its webhook URL.
async fn serving(broker: &impl Cluster) -> (Server, String) {
    let toml = support::config(broker, "", credential::none("open"));
    let server = Server::start(&toml).await;
    let url = server.url("/everbright/milestone-status-change");
    assert_eq!(post_numbered(&url, 0).await.0, StatusCode::OK);
    server.wait_ready().await;
    (server, url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_tansu_restart_that_lost_its_state_heals_within_seconds() {
    let mut broker = Broker::start();
    let (server, url) = serving(&broker).await;
    let load = Load::start(&url, &server.admin_url("/readyz"), 4, 1);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let started = Instant::now();
    let (broker, back) = tokio::task::spawn_blocking(move || {
        broker.restart_empty(Duration::from_millis(1500));
        (broker, Instant::now())
    })
    .await
    .unwrap();
    // Ten seconds of load with the new broker: the first 200 must come well within.
    tokio::time::sleep_until((back + Duration::from_secs(10)).into()).await;
    let seen = load.stop().await;
    assert!(
        seen.answers.len() > 20,
        "the load was too thin: {}",
        seen.answers.len()
    );
    assert!(
        seen.answers
            .iter()
            .any(|(at, status, _)| *at < started && *status == StatusCode::OK),
        "no 200 before the restart"
    );
    seen.assert_only_200_or_503();
    let first_ok = seen
        .first_200_after(back)
        .expect("no 200 within 10 s of the broker's restart");
    let healed = first_ok - back;
    eprintln!("tansu: first 200 {healed:?} after the broker restarted empty");
    assert!(
        healed < Duration::from_secs(8),
        "the first 200 came {healed:?} after the broker was back"
    );
    // While no record could be acked for more than a moment, the pod was unready.
    if healed > Duration::from_secs(2) {
        assert!(
            seen.readiness.iter().any(|(at, status, _)| *at > back
                && *at < first_ok
                && *status == StatusCode::SERVICE_UNAVAILABLE),
            "/readyz stayed 200 for the {healed:?} no record was acknowledged"
        );
    }
    let after: Vec<String> = seen
        .answers
        .iter()
        .filter(|(at, _, _)| *at > back)
        .filter_map(|(_, _, id)| id.clone())
        .collect();
    assert!(
        after.len() >= 5,
        "only {} 200s after the restart",
        after.len()
    );
    assert_each_once(&broker, &broker.topic(TOPIC), &after).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_kafka_killed_and_restarted_on_its_data_loses_and_doubles_nothing() {
    let mut kafka = Kafka::start(Options::default());
    let (server, url) = serving(&kafka).await;
    let load = Load::start(&url, &server.admin_url("/readyz"), 4, 1);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let kafka = tokio::task::spawn_blocking(move || {
        kafka.kill(1);
        std::thread::sleep(Duration::from_secs(2));
        kafka.restart(1);
        kafka
    })
    .await
    .unwrap();
    // The node is back when it acknowledges a record again (its log recovery after
    // kill -9 takes longer on a busy machine): from then on, healing is hookbridge's part.
    kafka.wait_serving(Duration::from_secs(60)).await;
    let back = Instant::now();
    tokio::time::sleep_until((back + Duration::from_secs(10)).into()).await;
    let seen = load.stop().await;
    seen.assert_only_200_or_503();
    let healed = seen
        .first_200_after(back)
        .expect("no 200 within 10 s of the restart")
        - back;
    eprintln!(
        "kafka kill -9 + restart: first 200 {healed:?} after the node was back; {} 200s, {} 503s",
        seen.count(StatusCode::OK),
        seen.count(StatusCode::SERVICE_UNAVAILABLE)
    );
    assert!(
        healed < Duration::from_secs(8),
        "the first 200 came {healed:?} after"
    );
    // Apache Kafka keeps the producer's state on disk, but librdkafka's producer may
    // stay stuck on the records that timed out in flight; a replacement heals it.
    eprintln!("producer replacements: {}", server.producer_resets().await);
    let on_topic = assert_each_once(&kafka, &kafka.topic(TOPIC), &seen.acked()).await;
    eprintln!(
        "{on_topic} records on the topic for {} acked",
        seen.acked().len() + 1
    );
    server.stop().await;
}

/// hookbridge with (or without) a heartbeat every second, ready on a tansu broker that
/// then restarts empty, with no webhook in between.
async fn quiet_restart(heartbeat: bool) -> (Broker, Server, Instant) {
    let mut broker = Broker::start();
    let beat = if heartbeat {
        "heartbeat_topic = \"hookbridge.heartbeat\"\nheartbeat_interval = \"1s\"\n"
    } else {
        ""
    };
    let toml = support::config(&broker, "", credential::none("open")).replace(
        "ack_timeout = \"3s\"",
        &format!("ack_timeout = \"3s\"\n{beat}"),
    );
    let server = Server::start(&toml).await;
    let url = server.url("/everbright/milestone-status-change");
    assert_eq!(post_numbered(&url, 0).await.0, StatusCode::OK);
    server.wait_ready().await;
    let broker = tokio::task::spawn_blocking(move || {
        broker.restart_empty(Duration::from_millis(500));
        broker
    })
    .await
    .unwrap();
    (broker, server, Instant::now())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_low_traffic_a_heartbeat_heals_the_producer_before_any_webhook() {
    let (broker, server, back) = quiet_restart(true).await;
    // No webhook: the heartbeat's records alone tell hookbridge the producer is stuck.
    server
        .wait_for_metric(
            "hookbridge_kafka_errors_total",
            &[("kind", "producer-reset")],
            |v| v >= 1.0,
        )
        .await;
    let replaced = back.elapsed();
    server
        .wait_for_metric(
            "hookbridge_kafka_heartbeats_total",
            &[("result", "acked")],
            |v| v >= 2.0,
        )
        .await;
    eprintln!(
        "heartbeat: producer replaced {replaced:?} after an empty broker restart, no webhook"
    );
    // The first webhook after the outage gets 200 at once: nothing waits on it.
    let url = server.url("/everbright/milestone-status-change");
    let started = Instant::now();
    let (status, id) = post_numbered(&url, 1).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_each_once(&broker, &broker.topic(TOPIC), &[id.unwrap()]).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_low_traffic_without_heartbeat_the_first_webhooks_find_the_stuck_producer() {
    // What docs/reference.md says happens: readiness cannot know before records fail;
    // the first STUCK_AFTER webhooks wait ack_timeout and get 503, then the producer is
    // replaced and the next one gets 200.
    let (broker, server, _) = quiet_restart(false).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        server.producer_resets().await,
        0.0,
        "nothing can notice without traffic"
    );
    assert_eq!(
        get(&server.admin_url("/readyz")).await.status,
        StatusCode::OK
    );
    let url = server.url("/everbright/milestone-status-change");
    for n in 1..=hookbridge::publish::STUCK_AFTER as usize {
        assert_eq!(
            post_numbered(&url, n).await.0,
            StatusCode::SERVICE_UNAVAILABLE,
            "webhook {n}"
        );
    }
    server
        .wait_for_metric(
            "hookbridge_kafka_errors_total",
            &[("kind", "producer-reset")],
            |v| v >= 1.0,
        )
        .await;
    let (status, id) = post_numbered(&url, 100).await;
    assert_eq!(status, StatusCode::OK);
    assert_each_once(&broker, &broker.topic(TOPIC), &[id.unwrap()]).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_not_acknowledged_turn_readiness_off_and_replace_the_producer() {
    use crate::support::proxy::KafkaProxy;

    let listener = KafkaProxy::bind().await;
    let advertised = listener.local_addr().unwrap().port();
    let broker = Broker::start_advertising(Some(advertised));
    let proxy = KafkaProxy::start(listener, broker.port());
    let toml = support::config(&broker, "", credential::none("open"))
        .replace(&broker.bootstrap(), &proxy.bootstrap());
    let server = Server::start(&toml).await;
    let url = server.url("/everbright/milestone-status-change");
    let (status, first) = post_numbered(&url, 0).await;
    assert_eq!(status, StatusCode::OK);
    server.wait_ready().await;

    // The broker answers metadata, but no record is ever acknowledged.
    proxy.swallow_produce(true);
    for _ in 0..hookbridge::publish::STUCK_AFTER {
        support::assert_unavailable_within_ack_timeout(&url).await;
    }
    let readyz = server.admin_url("/readyz");
    let answer = get(&readyz).await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(answer.body, "records not acknowledged\n");
    server
        .wait_for_metric(
            "hookbridge_kafka_errors_total",
            &[("kind", "producer-reset")],
            |v| v >= 1.0,
        )
        .await;

    proxy.swallow_produce(false);
    let mut ids = vec![first.expect("first id")];
    ids.extend(until_acked(&url, 5, 1, Duration::from_secs(15)).await);
    assert_eq!(get(&readyz).await.status, StatusCode::OK);
    assert_each_once(&broker, &broker.topic(TOPIC), &ids).await;
    server.stop().await;
}
