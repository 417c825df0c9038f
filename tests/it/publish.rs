//! Accepted webhooks: each route to its topic, keyed by site, as CloudEvents.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::StatusCode;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::support::credential::{self, Credential};
use crate::support::{self, Cluster, Endpoints, Kafka, Server, consume, fixture, post};

fn engine() -> Credential {
    credential::header("engine", "prod-key").set("organization", "acme-solar")
}

/// Rows of `tests/fixtures/json/README.md`: (slug, file, site, quote, status).
fn fixture_table() -> Vec<[String; 5]> {
    let text = String::from_utf8(fixture("json/README.md")).unwrap();
    text.lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| slug"))
        .map(|l| {
            let cells: Vec<String> = l
                .trim_matches('|')
                .split('|')
                .map(|c| c.trim().to_string())
                .collect();
            [
                cells[0].clone(),
                cells[1].clone(),
                cells[3].clone(),
                cells[4].clone(),
                cells[5].clone(),
            ]
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_route_publishes_to_its_topic_keyed_by_site() {
    let broker = Kafka::lease();
    let server = Server::start(&support::config(&broker, "", engine())).await;
    let table = fixture_table();
    assert_eq!(table.len(), 13);
    for [slug, file, site, _, _] in &table {
        let answer = post(
            &server.url(&format!("/everbright/{slug}")),
            &[
                ("x-api-key", "prod-key"),
                ("content-type", "application/json"),
            ],
            fixture(&format!("json/{file}")),
        )
        .await;
        assert_eq!(answer.status, StatusCode::OK, "{slug}: {:?}", answer.body);
        assert_eq!(
            answer.json()["topic"],
            broker.topic(&format!("production.{slug}"))
        );
        let _ = site;
    }
    for [slug, _, site, quote, status] in &table {
        let records = consume(&broker, &broker.topic(&format!("production.{slug}")), 1).await;
        assert_eq!(records.len(), 1, "{slug}");
        let r = &records[0];
        assert_eq!(r.key.as_deref(), Some(site.as_str()), "{slug}");
        let ce = r.json();
        assert_eq!(ce["type"], format!("everbright.{slug}"));
        assert_eq!(ce["subject"], site.as_str());
        assert_eq!(ce["siteid"], site.as_str());
        match quote.as_str() {
            "none" => assert!(ce.get("quoteid").is_none(), "{slug}"),
            q => assert_eq!(ce["quoteid"], q, "{slug}"),
        }
        match status.as_str() {
            "none" => assert!(ce.get("status").is_none(), "{slug}"),
            s => assert_eq!(ce["status"], s, "{slug}"),
        }
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_match_the_cloudevents_contract_attribute_for_attribute() {
    let broker = Kafka::lease();
    let server = Server::start(&support::config(&broker, "", engine())).await;
    let body = fixture("json/milestone-status-change.json");
    let before = SystemTime::now();
    let answer = post(
        &server.url("/everbright/milestone-status-change"),
        &[
            ("x-api-key", "prod-key"),
            ("content-type", "application/json"),
        ],
        body.clone(),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    let reply = answer.json();
    let records = consume(
        &broker,
        &broker.topic("production.milestone-status-change"),
        1,
    )
    .await;
    assert_eq!(records.len(), 1);
    let r = &records[0];
    assert_eq!(reply["partition"], r.partition);
    assert_eq!(reply["offset"], r.offset);
    assert_eq!(
        r.headers["content-type"],
        "application/cloudevents+json; charset=utf-8"
    );

    let ce = r.json();
    let attributes: Vec<&str> = ce.as_object().unwrap().keys().map(String::as_str).collect();
    let mut sorted = attributes.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        [
            "bodysha256",
            "credential",
            "data",
            "datacontenttype",
            "environment",
            "id",
            "normalized",
            "organization",
            "quoteid",
            "siteid",
            "source",
            "specversion",
            "status",
            "subject",
            "time",
            "type"
        ]
    );
    let site = "157802b4-99aa-4437-b250-934df337766a";
    assert_eq!(ce["specversion"], "1.0");
    assert_eq!(ce["id"], reply["id"]);
    let id = uuid::Uuid::parse_str(ce["id"].as_str().unwrap()).unwrap();
    assert_eq!(
        id,
        documented_id("engine", "milestone-status-change", &body)
    );
    assert_eq!(ce["source"], "/everbright/production/engine");
    assert_eq!(ce["type"], "everbright.milestone-status-change");
    assert_eq!(ce["subject"], site);
    assert_eq!(ce["siteid"], site);
    assert_eq!(ce["quoteid"], "8ba871ae-3282-420c-af3f-ddc41ac50273");
    assert_eq!(ce["status"], "APPROVED");
    assert_eq!(ce["datacontenttype"], "application/json");
    assert_eq!(ce["environment"], "production");
    assert_eq!(ce["credential"], "engine");
    assert_eq!(ce["organization"], "acme-solar");
    assert_eq!(ce["normalized"], true);
    let digest: String = Sha256::digest(&body)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(ce["bodysha256"], digest);

    let time = humantime::parse_rfc3339(ce["time"].as_str().unwrap()).unwrap();
    assert!(ce["time"].as_str().unwrap().ends_with('Z'));
    assert!(time >= before - Duration::from_secs(1) && time <= SystemTime::now());
    let time_ms = time.duration_since(UNIX_EPOCH).unwrap().as_millis() as i64;
    assert!(
        (r.timestamp_ms.unwrap() - time_ms).abs() <= 1,
        "record timestamp is the receive time"
    );

    // `data` is the payload with Python literals rewritten and nothing else changed.
    let normalized = String::from_utf8(body)
        .unwrap()
        .replace(":True", ":true")
        .replace(":False", ":false");
    let expected: serde_json::Value = serde_json::from_str(&normalized).unwrap();
    assert_eq!(ce["data"], expected);
    assert_eq!(ce["data"]["comments"][0]["thread"], "None");
    let raw = String::from_utf8(r.value.clone()).unwrap();
    assert!(raw.ends_with(&format!("\"data\":{}}}", normalized.trim())));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_and_test_credentials_land_on_their_own_topics() {
    let broker = Kafka::lease();
    let credentials = credential::all([
        credential::header("engine", "prod-key"),
        credential::header("onboard", "test-key").set("environment", "test"),
    ]);
    let server = Server::start(&support::config(&broker, "", credentials)).await;
    let url = server.url("/everbright/stage-transition");
    for (key, site) in [
        ("prod-key", support::SITE),
        ("test-key", "0b7f3c52-1111-4e8e-9a5d-6c2f5b3a9d01"),
    ] {
        let answer = post(&url, &[("x-api-key", key)], support::payload(site)).await;
        assert_eq!(answer.status, StatusCode::OK);
    }
    let prod = consume(&broker, &broker.topic("production.stage-transition"), 1).await;
    let test = consume(&broker, &broker.topic("test.stage-transition"), 1).await;
    assert_eq!(prod.len(), 1);
    assert_eq!(test.len(), 1);
    assert_eq!(prod[0].key.as_deref(), Some(support::SITE));
    assert_eq!(prod[0].json()["source"], "/everbright/production/engine");
    assert_eq!(test[0].json()["source"], "/everbright/test/onboard");
    assert_eq!(test[0].json()["environment"], "test");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_mode_carries_attributes_as_ce_headers() {
    let broker = Kafka::lease();
    let toml = support::config(&broker, "", engine()).replace(
        "ack_timeout = \"3s\"",
        "ack_timeout = \"3s\"\nenvelope = \"binary\"",
    );
    let server = Server::start(&toml).await;
    let body = support::payload(support::SITE);
    let answer = post(
        &server.url("/everbright/invoice-status-change"),
        &[("x-api-key", "prod-key")],
        body.clone(),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    let records = consume(
        &broker,
        &broker.topic("production.invoice-status-change"),
        1,
    )
    .await;
    assert_eq!(records.len(), 1);
    let r = &records[0];
    assert_eq!(r.value, body.as_bytes());
    assert_eq!(r.headers["content-type"], "application/json");
    assert_eq!(r.headers["ce_specversion"], "1.0");
    assert_eq!(r.headers["ce_id"], answer.json()["id"].as_str().unwrap());
    assert_eq!(r.headers["ce_type"], "everbright.invoice-status-change");
    assert_eq!(r.headers["ce_subject"], support::SITE);
    assert_eq!(r.headers["ce_status"], "APPROVED");
    assert_eq!(r.headers["ce_organization"], "acme-solar");
    assert!(!r.headers.contains_key("ce_data"));
    assert_eq!(json!(r.key), json!(support::SITE));
    server.stop().await;
}

/// The id as docs/reference.md#one-event-one-record derives it, for a scheme without a
/// sender mark: SHA-256 over length-prefixed fields, the first 16 bytes as a UUIDv8.
fn documented_id(credential: &str, event: &str, body: &[u8]) -> uuid::Uuid {
    let mut hash = Sha256::new();
    let body_sha256 = Sha256::digest(body);
    let fields: [&[u8]; 5] = [
        b"hookbridge event id v2",
        credential.as_bytes(),
        event.as_bytes(),
        b"",
        &body_sha256,
    ];
    for field in fields {
        hash.update((field.len() as u64).to_be_bytes());
        hash.update(field);
    }
    let digest = hash.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    bytes[6] = 0x80 | (bytes[6] & 0x0f);
    bytes[8] = 0x80 | (bytes[8] & 0x3f);
    uuid::Uuid::from_bytes(bytes)
}
