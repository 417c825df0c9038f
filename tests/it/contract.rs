//! The topic contract (`hookbridge contract`) against records read back from Apache
//! Kafka: every fixture, in each body format, sent as the example config's
//! credentials through the real pipeline, validates against the committed schema of
//! its event (docs/contract, kept equal to the example config's contract by a unit
//! test); a record without its subject, or with another event's type, does not.

use std::path::Path;
use std::time::SystemTime;

use bytes::Bytes;
use http::{Method, StatusCode};
use serde_json::Value;

use crate::support::{self, Cluster, Endpoints, Kafka, Server, consume, fixture, schema};
use hookbridge::config::Config;
use hookbridge::everbright::{Environment, Event};
use hookbridge::sender::{self, Draft};

/// The example config, pointed at the lease's broker and topics (both templates end
/// in `topic_template`) and at free ports.
fn example_on(cluster: &impl Cluster) -> String {
    let example = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/hookbridge.toml"),
    )
    .unwrap();
    let prefix = cluster.prefix();
    example
        .replace(
            "brokers = \"localhost:9092\"",
            &format!("brokers = \"{}\"", cluster.bootstrap()),
        )
        .replace(
            "topic_template = \"everbright.",
            &format!("topic_template = \"{prefix}."),
        )
        .replace("0.0.0.0:8080", "127.0.0.1:0")
        .replace("0.0.0.0:9090", "127.0.0.1:0")
}

/// The body formats of the fixtures: folder, extension, Content-Type.
const FORMATS: [(&str, &str, &str); 3] = [
    ("json", "json", "application/json"),
    ("xml", "xml", "application/xml"),
    ("form", "txt", "application/x-www-form-urlencoded"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fixture_read_back_from_kafka_validates_against_its_event_schema() {
    let lease = Kafka::lease();
    let toml = example_on(&lease);
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let config = Config::parse(&toml, &examples, &|_| None).unwrap();
    let server = Server::start_in(&toml, &examples).await;
    server.wait_ready().await;

    for event in Event::ALL {
        let credential = config
            .credentials
            .iter()
            .find(|c| c.environment == Environment::Production && c.events.contains(event))
            .unwrap_or_else(|| {
                panic!("the example config has no production credential for {event}")
            });
        for (folder, extension, content_type) in FORMATS {
            let url = server.url(&format!("/everbright/{}", event.slug()));
            let draft = Draft {
                credential: &credential.name,
                event,
                method: Method::POST,
                url: Some(&url),
                content_type,
                body: Bytes::from(fixture(&format!("{folder}/{}.{extension}", event.slug()))),
            };
            let request = sender::build(&config, draft, SystemTime::now()).unwrap();
            let answer = support::deliver(&request, None).await;
            assert_eq!(
                answer.status,
                StatusCode::OK,
                "{event} as {folder}: {:?}",
                answer.body
            );
        }
    }

    for event in Event::ALL {
        let topic = lease.topic(&format!("production.{}", event.slug()));
        let records: Vec<Value> = consume(&lease, &topic, 3)
            .await
            .iter()
            .map(|r| r.json())
            .collect();
        assert_eq!(records.len(), 3, "{topic}");
        let schema_file = schema::committed(&format!("{}.json", event.slug()));
        if let Err(report) = schema::validate(&schema_file, &records) {
            panic!("{event}: records do not validate against their schema:\n{report}");
        }
        let converted = records
            .iter()
            .filter(|r| r.get("originalcontenttype").is_some())
            .count();
        assert_eq!(
            converted, 2,
            "{event}: the XML and form records were converted"
        );
    }

    let milestone = consume(
        &lease,
        &lease.topic("production.milestone-status-change"),
        3,
    )
    .await;
    let record = milestone[0].json();
    let schema_file = schema::committed("milestone-status-change.json");
    let mut no_subject = record.clone();
    no_subject.as_object_mut().unwrap().remove("subject");
    let report = schema::validate(&schema_file, &[no_subject]).unwrap_err();
    assert!(report.contains("subject"), "{report}");
    let mut other_type = record.clone();
    other_type["type"] = "everbright.site-archived".into();
    let report = schema::validate(&schema_file, &[other_type]).unwrap_err();
    assert!(
        report.contains("everbright.milestone-status-change"),
        "{report}"
    );
    let mut no_site_in_data = record;
    no_site_in_data["data"]
        .as_object_mut()
        .unwrap()
        .remove("site");
    assert!(schema::validate(&schema_file, &[no_site_in_data]).is_err());
    assert!(
        schema::validate(
            &schema::committed("deadletter.json"),
            &[milestone[0].json()]
        )
        .is_err(),
        "an event record is no dead letter"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_letter_read_back_from_kafka_validates_against_the_dead_letter_schema() {
    let lease = Kafka::lease();
    let toml = example_on(&lease);
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let server = Server::start_in(&toml, &examples).await;
    server.wait_ready().await;
    let url = server.url("/everbright/site-archived");
    for (body, reason) in [
        ("not json at all", "invalid-json"),
        (r#"{"uuid":"not-a-uuid"}"#, "invalid-site"),
    ] {
        let answer = support::post(&url, &[("content-type", "text/plain")], body).await;
        assert_eq!(answer.status, StatusCode::ACCEPTED, "{body}");
        assert_eq!(answer.json()["reason"], reason);
    }
    let letters: Vec<Value> = consume(&lease, &lease.topic("production.deadletter"), 2)
        .await
        .iter()
        .map(|r| r.json())
        .collect();
    assert_eq!(letters.len(), 2);
    if let Err(report) = schema::validate(&schema::committed("deadletter.json"), &letters) {
        panic!("dead letters do not validate against deadletter.json:\n{report}");
    }
    assert!(
        schema::validate(&schema::committed("site-archived.json"), &letters).is_err(),
        "a dead letter is no event record"
    );
    let mut unknown_reason = letters[0].clone();
    unknown_reason["deadletterreason"] = "bad-mood".into();
    assert!(schema::validate(&schema::committed("deadletter.json"), &[unknown_reason]).is_err());
    server.stop().await;
}
