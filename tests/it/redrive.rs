//! `hookbridge redrive` against Apache Kafka (consumer groups and committed offsets are
//! broker behaviour): dead letters written under a config that could not find their
//! site are republished by the binary once the config is fixed — with their id and
//! time, marked redriven, valid against the fixed config's contract — a second run
//! republishes nothing, what still fails stays counted, and a run whose records the
//! brokers do not take commits nothing past them.

use std::path::Path;
use std::process::Command;

use http::StatusCode;
use serde_json::Value;

use crate::support::kafka::Options;
use crate::support::{self, Cluster, Endpoints, Kafka, Server, consume, credential, post, schema};

const SITES: [&str; 3] = [
    "0b6a3c1e-2f4d-4e5a-8b7c-9d0e1f2a3b4c",
    "1c7b4d2f-3a5e-4f6b-9c8d-0e1f2a3b4c5d",
    "2d8c5e3a-4b6f-4a7c-8d9e-1f2a3b4c5d6e",
];

/// A body whose site sits where the default site pointers do not look.
fn nested(site: &str, n: u32) -> String {
    format!(r#"{{"job":{{"site":"{site}"}},"status":"APPROVED","n":{n}}}"#)
}

/// The lease's config with one open credential, `[kafka]` and `[payload]` lines added.
fn config(lease: &impl Cluster, kafka: &str, payload: &str) -> String {
    let toml = support::config(
        lease,
        "",
        format!("[payload]\n{payload}\n{}", credential::none("open")),
    );
    toml.replace(
        "ack_timeout = \"3s\"",
        &format!("ack_timeout = \"3s\"\n{kafka}"),
    )
}

const FIXED: &str =
    "[payload.site_pointers]\n\"milestone-status-change\" = [\"/site\", \"/job/site\"]";

/// Runs `hookbridge redrive --config FILE ARGS`: its exit code, stdout and stderr.
async fn redrive(config: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hookbridge"));
    command
        .args(["--log-format", "json", "redrive", "--config"])
        .arg(config)
        .args(args);
    let output = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The report line of `topic` in a redrive's output.
fn line<'a>(stdout: &'a str, topic: &str) -> &'a str {
    stdout
        .lines()
        .find(|l| l.starts_with(topic))
        .unwrap_or_else(|| panic!("no line for {topic} in:\n{stdout}"))
        .trim_start_matches(topic)
        .trim()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fixed_config_redrives_the_dead_letters_once_keeping_their_id_and_time() {
    let lease = Kafka::lease();
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&config(&lease, "", "")).await;
    let url = server.url("/everbright/milestone-status-change");
    let mut dead = Vec::new();
    for (n, body) in [nested(SITES[0], 1), nested(SITES[1], 2), "not json".into()]
        .into_iter()
        .enumerate()
    {
        let answer = post(&url, &[("content-type", "application/json")], body).await;
        assert_eq!(answer.status, StatusCode::ACCEPTED, "body {n}");
        dead.push(answer.json()["id"].as_str().unwrap().to_string());
    }
    let on_arrival = post(&url, &[], support::payload(SITES[2])).await;
    assert_eq!(on_arrival.status, StatusCode::OK);

    let fixed = dir.path().join("fixed.toml");
    std::fs::write(&fixed, config(&lease, "", FIXED)).unwrap();
    let events = lease.topic("production.milestone-status-change");
    let letters = lease.topic("production.deadletter");

    let (code, stdout, stderr) = redrive(&fixed, &["--dry-run"]).await;
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert_eq!(
        line(&stdout, &letters),
        "3 examined, would republish 2, still failing 1 (invalid-json 1)"
    );
    assert!(
        stdout.contains("(dry run: nothing published or committed)"),
        "{stdout}"
    );
    assert_eq!(
        consume(&lease, &events, 1).await.len(),
        1,
        "a dry run publishes nothing"
    );

    let (code, stdout, stderr) = redrive(&fixed, &[]).await;
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert_eq!(
        line(&stdout, &letters),
        "3 examined, republished 2, still failing 1 (invalid-json 1)"
    );
    let records = consume(&lease, &events, 3).await;
    assert_eq!(records.len(), 3);
    let originals: Vec<Value> = consume(&lease, &letters, 3)
        .await
        .iter()
        .map(|r| r.json())
        .collect();
    let redriven: Vec<_> = records
        .iter()
        .filter(|r| r.json().get("redriven").is_some())
        .collect();
    assert_eq!(redriven.len(), 2);
    for record in redriven {
        let event = record.json();
        let site = record.key.as_deref().unwrap();
        let i = SITES.iter().position(|s| *s == site).unwrap();
        let id = &dead[i];
        assert_eq!(event["id"], *id, "the dead letter's id");
        assert_eq!(event["subject"], site);
        let original = originals.iter().find(|o| o["id"] == *id).unwrap();
        assert_eq!(event["time"], original["time"], "the dead letter's time");
        assert!(event.get("deadletterreason").is_none());
    }

    let contract = dir.path().join("contract");
    let status = Command::new(env!("CARGO_BIN_EXE_hookbridge"))
        .args(["contract", "--config"])
        .arg(&fixed)
        .arg("--out")
        .arg(&contract)
        .output()
        .unwrap()
        .status;
    assert!(status.success());
    let all: Vec<Value> = records.iter().map(|r| r.json()).collect();
    let schema_file = contract.join("schemas/milestone-status-change.json");
    if let Err(report) = schema::validate(&schema_file, &all) {
        panic!("redriven records do not validate against the fixed config's contract:\n{report}");
    }
    assert!(
        schema::validate(&schema::committed("milestone-status-change.json"), &all).is_err(),
        "the default site pointers do not find /job/site"
    );

    let (code, stdout, _) = redrive(&fixed, &[]).await;
    assert_eq!(code, Some(0));
    assert_eq!(
        line(&stdout, &letters),
        "0 examined",
        "a second run finds nothing new"
    );

    let late = post(&url, &[], nested(SITES[2], 4)).await;
    assert_eq!(late.status, StatusCode::ACCEPTED);
    let (code, stdout, _) = redrive(&fixed, &[]).await;
    assert_eq!(code, Some(0));
    assert_eq!(
        line(&stdout, &letters),
        "1 examined, republished 1, still failing 0"
    );
    assert_eq!(consume(&lease, &events, 4).await.len(), 4);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_whose_records_the_brokers_refuse_commits_nothing_past_them() {
    // A node of its own that creates no topic on first use: the event topic is missing
    // until the test creates it, as on a cluster whose topics an operator manages.
    let kafka = Kafka::start(Options {
        nodes: 1,
        no_auto_create: true,
        ..Options::default()
    });
    let letters = kafka.topic("production.deadletter");
    kafka
        .create_topics(std::slice::from_ref(&letters), &[])
        .await;
    let dir = tempfile::tempdir().unwrap();
    let binary = "envelope = \"binary\"";
    let server = Server::start(&config(&kafka, binary, "")).await;
    let url = server.url("/everbright/milestone-status-change");
    for (n, site) in SITES[..2].iter().enumerate() {
        let answer = post(&url, &[], nested(site, n as u32)).await;
        assert_eq!(answer.status, StatusCode::ACCEPTED, "{:?}", answer.body);
    }
    server.stop().await;

    let fixed = dir.path().join("fixed.toml");
    std::fs::write(&fixed, config(&kafka, binary, FIXED)).unwrap();
    let (code, stdout, stderr) = redrive(&fixed, &[]).await;
    assert_eq!(code, Some(69), "{stdout}{stderr}");
    assert!(stderr.contains("was not acknowledged on"), "{stderr}");

    let events = kafka.topic("production.milestone-status-change");
    kafka
        .create_topics(std::slice::from_ref(&events), &[])
        .await;
    let (code, stdout, stderr) = redrive(&fixed, &[]).await;
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert_eq!(
        line(&stdout, &letters),
        "2 examined, republished 2, still failing 0",
        "the refused run committed nothing"
    );
    let records = consume(&kafka, &events, 2).await;
    assert_eq!(records.len(), 2);
    for record in &records {
        assert!(
            record.headers.contains_key("ce_redriven"),
            "{:?}",
            record.headers
        );
        assert_eq!(record.headers["content-type"], "application/json");
    }
}
