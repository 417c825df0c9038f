//! Requests that are refused before any record, and bodies kept as dead letters.

use base64::Engine;
use http::{Method, StatusCode};

use crate::support::{self, Cluster, Endpoints, Kafka, Server, consume, credential, post, send};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_paths_other_methods_and_large_bodies_are_refused() {
    let broker = Kafka::lease();
    let server = Server::start(&support::config(
        &broker,
        "max_body_bytes = 2048",
        credential::none("open"),
    ))
    .await;
    let payload = support::payload(support::SITE);

    let answer = post(
        &server.url("/everbright/not-an-event"),
        &[],
        payload.clone(),
    )
    .await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(answer.json(), serde_json::json!({"error": "not found"}));
    assert_eq!(
        post(&server.url("/"), &[], payload.clone()).await.status,
        StatusCode::NOT_FOUND
    );

    for method in [Method::GET, Method::DELETE] {
        let answer = send(method, &server.url("/everbright/site-archived"), &[], "").await;
        assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(answer.headers["allow"], "POST, PUT, PATCH");
    }

    let big = format!(
        r#"{{"site":"{}","pad":"{}"}}"#,
        support::SITE,
        "x".repeat(4096)
    );
    let answer = post(&server.url("/everbright/site-archived"), &[], big).await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        answer.json(),
        serde_json::json!({"error": "payload too large"})
    );

    for method in [Method::PUT, Method::PATCH] {
        let answer = send(
            method.clone(),
            &server.url("/everbright/site-archived"),
            &[],
            support::numbered_payload(method),
        )
        .await;
        assert_eq!(answer.status, StatusCode::OK);
    }
    let records = consume(&broker, &broker.topic("production.site-archived"), 2).await;
    assert_eq!(records.len(), 2, "only the PUT and PATCH were published");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unusable_bodies_are_kept_on_the_dead_letter_topic_with_202() {
    let broker = Kafka::lease();
    let server = Server::start(&support::config(&broker, "", credential::none("open"))).await;
    let bodies: [(&[u8], &str); 3] = [
        (b"{not json at all", "invalid-json"),
        (
            b"{\"quote\":\"8ba871ae-3282-420c-af3f-ddc41ac50273\"}",
            "missing-site",
        ),
        (b"{\"site\":\"job-42\"}", "invalid-site"),
    ];
    let mut ids = Vec::new();
    for (body, reason) in bodies {
        let answer = post(
            &server.url("/everbright/workflow-status-change"),
            &[("content-type", "application/json; charset=utf-8")],
            body.to_vec(),
        )
        .await;
        assert_eq!(answer.status, StatusCode::ACCEPTED, "{reason}");
        let reply = answer.json();
        assert_eq!(reply["topic"], broker.topic("production.deadletter"));
        assert_eq!(reply["reason"], reason);
        ids.push(reply["id"].as_str().unwrap().to_string());
    }
    let records = consume(&broker, &broker.topic("production.deadletter"), 3).await;
    assert_eq!(records.len(), 3);
    for (body, reason) in bodies {
        let r = records
            .iter()
            .find(|r| r.json()["deadletterreason"] == reason)
            .unwrap_or_else(|| panic!("no dead letter for {reason}"));
        assert_eq!(r.key, None);
        let ce = r.json();
        assert!(ids.contains(&ce["id"].as_str().unwrap().to_string()));
        assert_eq!(ce["datacontenttype"], "application/json; charset=utf-8");
        assert_eq!(ce["type"], "everbright.workflow-status-change");
        assert!(ce.get("subject").is_none() && ce.get("data").is_none());
        let raw = base64::engine::general_purpose::STANDARD
            .decode(ce["data_base64"].as_str().unwrap())
            .unwrap();
        assert_eq!(raw, body, "the raw bytes are preserved");
    }
    support::assert_no_records(&broker, &broker.topic("production.workflow-status-change")).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_of_exactly_max_body_bytes_reaches_kafka_as_event_or_dead_letter() {
    let broker = Kafka::lease();
    // The default server.max_body_bytes: 1 MiB, above librdkafka's own default
    // message.max.bytes (1,000,000) and Kafka's max.message.bytes (1,048,588), and a
    // third more again as a dead letter: the topics are made as docs/reference.md says.
    let max = 1_048_576;
    let topics = [
        broker.topic("production.milestone-status-change"),
        broker.topic("production.deadletter"),
    ];
    let record_limit = hookbridge::envelope::record_limit(max).to_string();
    broker
        .kafka()
        .create_topics(&topics, &[("max.message.bytes", &record_limit)])
        .await;
    let server = Server::start(&support::config(&broker, "", credential::none("open"))).await;
    let url = server.url("/everbright/milestone-status-change");
    let head = format!(r#"{{"site":"{}","pad":""#, support::SITE);
    let mut json = head.into_bytes();
    json.resize(max - 2, b'x');
    json.extend_from_slice(b"\"}");
    assert_eq!(json.len(), max);
    let answer = post(&url, &[("content-type", "application/json")], json.clone()).await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    let unusable = vec![0xFFu8; max];
    let answer = post(
        &url,
        &[("content-type", "application/json")],
        unusable.clone(),
    )
    .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{:?}", answer.body);
    assert_eq!(answer.json()["reason"], "invalid-json");

    let events = consume(
        &broker,
        &broker.topic("production.milestone-status-change"),
        1,
    )
    .await;
    assert_eq!(events.len(), 1);
    let data = events[0].json()["data"].to_string();
    assert_eq!(data.len(), max, "the body is the record's data, whole");
    let dead = consume(&broker, &broker.topic("production.deadletter"), 1).await;
    assert_eq!(dead.len(), 1);
    let raw = base64::engine::general_purpose::STANDARD
        .decode(dead[0].json()["data_base64"].as_str().unwrap())
        .unwrap();
    assert_eq!(raw, unusable);
    server.stop().await;
}
