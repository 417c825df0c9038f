//! A three-node Apache Kafka cluster (replication 3, `min.insync.replicas = 2`,
//! `acks=all`) under steady load: the partition leader killed, two of three nodes
//! down, a rolling restart. Each test counts records on the topic: nothing answered
//! 200 may be missing or doubled.
//!
//! Three JVMs per test: the tests of this file run one at a time.

use std::time::{Duration, Instant};

use http::StatusCode;
use tokio::sync::Mutex;

use crate::support::kafka::Options;
use crate::support::load::{Load, assert_each_once, until_acked};
use crate::support::{self, Cluster, Endpoints, Kafka, Server, credential, get};

/// One cluster at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());

const TOPIC: &str = "production.milestone-status-change";
const PATH: &str = "/everbright/milestone-status-change";

/// Three nodes with the topic made up front (3 partitions, 3 replicas), and
/// hookbridge on them, ready; returns the partition the test's site UUID lands on.
async fn cluster() -> (Kafka, Server, i32) {
    let kafka = tokio::task::spawn_blocking(|| {
        Kafka::start(Options {
            nodes: 3,
            ..Options::default()
        })
    })
    .await
    .unwrap();
    kafka.create_topics(&[kafka.topic(TOPIC)], &[]).await;
    // A cluster that just started may still be electing leaders or filling the ISR: the
    // first post waits for the topic in sync and hookbridge ready, however slow the machine.
    let kafka = tokio::task::spawn_blocking(move || {
        kafka.wait_in_sync(&kafka.topic(TOPIC), Duration::from_secs(60));
        kafka
    })
    .await
    .unwrap();
    let server = Server::start(&support::config(&kafka, "", credential::none("open"))).await;
    server.wait_ready().await;
    let answer = support::post(&server.url(PATH), &[], support::numbered_payload(0)).await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    let partition = answer.json()["partition"].as_i64().unwrap() as i32;
    (kafka, server, partition)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killing_the_leader_under_load_loses_and_doubles_nothing() {
    let _one = ONE_AT_A_TIME.lock().await;
    let (kafka, server, partition) = cluster().await;
    let topic = kafka.topic(TOPIC);
    let leader = kafka.leader(&topic, partition).expect("a leader");

    let load = Load::start(&server.url(PATH), &server.admin_url("/readyz"), 4, 1);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (kafka, killed) = tokio::task::spawn_blocking(move || {
        let mut kafka = kafka;
        kafka.kill(leader);
        (kafka, Instant::now())
    })
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_secs(25)).await;
    let seen = load.stop().await;
    seen.assert_only_200_or_503();
    let stall = seen.longest_gap_after(killed);
    let new_leader = kafka.leader(&topic, partition);
    eprintln!(
        "leader {leader} killed: longest time without a 200 {stall:?}; new leader {new_leader:?}; {} 200s, {} 503s, {} producer replacements",
        seen.count(StatusCode::OK),
        seen.count(StatusCode::SERVICE_UNAVAILABLE),
        server.producer_resets().await
    );
    assert!(new_leader.is_some_and(|l| l != leader), "no new leader");
    assert!(
        stall < Duration::from_secs(20),
        "no 200 for {stall:?} after the kill"
    );
    let after = seen
        .answers
        .iter()
        .filter(|(at, s, _)| *at > killed + stall && *s == StatusCode::OK)
        .count();
    assert!(
        after > 20,
        "only {after} 200s once the new leader took over"
    );
    let on_topic = assert_each_once(&kafka, &topic, &seen.acked()).await;
    eprintln!(
        "{on_topic} records on the topic for {} answered 200: none lost, none doubled",
        seen.acked().len()
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_of_three_down_is_503_and_unready_without_replacements_then_heals() {
    let _one = ONE_AT_A_TIME.lock().await;
    let (kafka, server, _) = cluster().await;
    let topic = kafka.topic(TOPIC);
    let url = server.url(PATH);
    let mut kafka = tokio::task::spawn_blocking(move || {
        let mut kafka = kafka;
        kafka.kill(2);
        kafka.kill(3);
        kafka
    })
    .await
    .unwrap();
    let down = Instant::now();

    // Every webhook is a 503 within the ack timeout; readiness names the cause.
    for _ in 0..4 {
        support::assert_unavailable_within_ack_timeout(&url).await;
    }
    let readyz = get(&server.admin_url("/readyz")).await;
    assert_eq!(readyz.status, StatusCode::SERVICE_UNAVAILABLE);
    let reason = String::from_utf8_lossy(&readyz.body)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string();
    // The survivor may or may not answer metadata in time (librdkafka may ask a dead
    // node): either way the reason names the nodes that are down.
    assert!(
        reason.starts_with("records not acknowledged; cannot connect to")
            || reason.starts_with("broker not reachable; cannot connect to"),
        "{reason}"
    );
    for k in [2, 3] {
        assert!(
            reason.contains(&format!(":{}/{k}", kafka.node_port(k))),
            "node {k} not named: {reason}"
        );
    }
    // Half a minute of steady failure: no replacement storm (none at all: a fresh
    // producer cannot help while brokers are down).
    let load = Load::start(&url, &server.admin_url("/readyz"), 2, 1000);
    tokio::time::sleep(Duration::from_secs(30)).await;
    let outage = load.stop().await;
    assert_eq!(
        outage.count(StatusCode::OK),
        0,
        "a 200 with two of three nodes down"
    );
    outage.assert_only_200_or_503();
    let replaced = server.producer_resets().await;
    eprintln!(
        "two of three down for {:?}: {} answers, all 503; {replaced} producer replacements",
        down.elapsed(),
        outage.answers.len()
    );
    assert_eq!(
        replaced, 0.0,
        "the producer was replaced while brokers were down"
    );

    // Both back: 200 again, without restarting hookbridge.
    let kafka_back = tokio::task::spawn_blocking(move || {
        kafka.restart(2);
        kafka.restart(3);
        kafka
    })
    .await
    .unwrap();
    let back = Instant::now();
    let ids = until_acked(&url, 5, 2000, Duration::from_secs(60)).await;
    eprintln!("both back: first 200s within {:?}", back.elapsed());
    server.wait_ready().await;
    assert_each_once(&kafka_back, &topic, &ids).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rolling_restart_under_load_loses_nothing() {
    let _one = ONE_AT_A_TIME.lock().await;
    let (kafka, server, _) = cluster().await;
    let topic = kafka.topic(TOPIC);
    let load = Load::start(&server.url(PATH), &server.admin_url("/readyz"), 4, 1);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let started = Instant::now();
    // As Strimzi rolls: one node at a time, stopped cleanly, started again, and the
    // next only once every replica is back in sync.
    let kafka = tokio::task::spawn_blocking(move || {
        let mut kafka = kafka;
        for k in 1..=3 {
            kafka.stop(k);
            kafka.restart(k);
            kafka.wait_in_sync(&topic, Duration::from_secs(60));
        }
        kafka
    })
    .await
    .unwrap();
    let rolled = started.elapsed();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let seen = load.stop().await;
    seen.assert_only_200_or_503();
    eprintln!(
        "rolling restart of 3 nodes in {rolled:?} under load: {} 200s, {} 503s, longest time without a 200 {:?}, {} producer replacements",
        seen.count(StatusCode::OK),
        seen.count(StatusCode::SERVICE_UNAVAILABLE),
        seen.longest_gap_after(started),
        server.producer_resets().await
    );
    assert_each_once(&kafka, &kafka.topic(TOPIC), &seen.acked()).await;
    server.stop().await;
}
