//! The broker's own limits, on Apache Kafka: a topic whose `max.message.bytes` is below
//! the largest record hookbridge may produce is reported (log line, metric, `/readyz`
//! warning, `check-config --kafka`), and a record it refuses is answered 413 — never a
//! 5xx that a sender retries for ever, never a producer replacement.

use std::time::Duration;

use http::StatusCode;

use crate::support::{
    self, Cluster, EPHEMERAL_PORTS, Endpoints, Kafka, Process, credential, get, post,
};

/// The topic's limit: far below what a 1 MiB body may need.
const SMALL: usize = 65_536;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_topic_smaller_than_the_largest_record_is_reported_and_its_refusals_are_413() {
    let broker = Kafka::lease();
    let topic = broker.topic("production.site-archived");
    broker
        .kafka()
        .create_topics(
            std::slice::from_ref(&topic),
            &[("max.message.bytes", &SMALL.to_string())],
        )
        .await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hookbridge.toml");
    let toml = support::config(
        &broker,
        EPHEMERAL_PORTS,
        credential::none("open").set("events", ["site-archived"]),
    );
    std::fs::write(&path, &toml).unwrap();

    // check-config --kafka names the topic and exits 64.
    let checked = std::process::Command::new(env!("CARGO_BIN_EXE_hookbridge"))
        .args(["check-config", "--kafka", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&checked.stderr);
    assert_eq!(checked.status.code(), Some(64), "{stderr}");
    assert!(
        stderr.contains(&format!("topic {topic} takes records up to {SMALL} bytes")),
        "{stderr}"
    );

    let hookbridge = Process::serve(&path).await;
    hookbridge.wait_ready().await;
    let limit = hookbridge
        .wait_for_metric(
            "hookbridge_kafka_topic_max_message_bytes",
            &[("topic", &topic)],
            |v| v > 0.0,
        )
        .await;
    assert_eq!(limit, SMALL as f64);
    let readyz = get(&hookbridge.admin_url("/readyz")).await;
    assert_eq!(
        readyz.status,
        StatusCode::OK,
        "a warning is not unreadiness"
    );
    let body = String::from_utf8_lossy(&readyz.body).into_owned();
    assert!(body.starts_with("ready\n"), "{body}");
    assert!(
        body.contains(&format!(
            "warning: topic {topic} takes records up to {SMALL} bytes"
        )),
        "{body}"
    );
    wait_for_log(&hookbridge, "a warning line that names the topic", |l| {
        l.contains("\"level\":\"WARN\"") && l.contains(&topic) && l.contains("max_record_bytes")
    })
    .await;

    // A body well within max_body_bytes, but over the topic's limit: 413, counted, and
    // the producer is not replaced.
    let url = hookbridge.url("/everbright/site-archived");
    let big = format!(
        r#"{{"site":"{}","pad":"{}"}}"#,
        support::SITE,
        "x".repeat(SMALL * 2)
    );
    let answer = post(&url, &[], big).await;
    assert_eq!(
        answer.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{:?}",
        answer.body
    );
    hookbridge
        .wait_for_metric(
            "hookbridge_kafka_errors_total",
            &[("kind", "message-too-large")],
            |v| v >= 1.0,
        )
        .await;
    wait_for_log(&hookbridge, "a line that names the topic and size", |l| {
        l.contains("refused a record as too large")
            && l.contains(&topic)
            && l.contains("\"bytes\":")
    })
    .await;
    let answer = post(&url, &[], support::payload(support::SITE)).await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let resets = hookbridge.metrics().await.get(
        "hookbridge_kafka_errors_total",
        &[("kind", "producer-reset")],
    );
    assert_eq!(
        resets,
        Some(0.0),
        "a refused record is no reason to replace the producer"
    );
    let records = support::consume(&broker, &topic, 1).await;
    assert_eq!(records.len(), 1, "only the small record is on the topic");
}

/// Waits (up to 10 s: the log is read from the child's stderr by a thread) for a line.
async fn wait_for_log(hookbridge: &Process, what: &str, matches: impl Fn(&str) -> bool) {
    for _ in 0..100 {
        if hookbridge.logs().iter().any(|l| matches(l)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "no log line: {what}; the log:\n{}",
        hookbridge.logs().join("\n")
    );
}
