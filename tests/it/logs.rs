//! Logs: one JSON line per request, and never a secret, a signature or a body.

use std::time::SystemTime;

use bytes::Bytes;
use http::{Method, StatusCode};

use crate::support::{self, Broker, Endpoints, Process, credential, post};
use hookbridge::config::Config;
use hookbridge::everbright::Event;
use hookbridge::sender::{self, Draft};

const BODY_MARKER: &str = "body-marker-7f3e9a";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_carry_one_line_per_request_and_no_secret_signature_or_body() {
    let broker = Broker::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("basic-password"), "file-secret-basic-pw\n").unwrap();
    let credentials = credential::all([
        credential::hmac("hmac", credential::env("LOGTEST_HMAC_SECRET"))
            .set("client_id", "everbright")
            .set("timestamp_header", "X-Timestamp")
            .events(["milestone-status-change"]),
        credential::token("token", "literal-secret-token-value").events(["stage-transition"]),
        credential::basic("basic", "everbright", credential::file("basic-password"))
            .events(["site-archived"]),
        credential::aws(
            "aws",
            "AKIDLOGTEST",
            "aws-secret-access-key-logtest",
            "us-east-1",
        )
        .events(["invoice-status-change"]),
    ]);
    let toml = support::config(
        &broker,
        support::EPHEMERAL_PORTS,
        format!(
            "[kafka.properties]\n\"sasl.password\" = {}\n{credentials}",
            credential::env("LOGTEST_SASL_PASSWORD")
        ),
    );
    let path = dir.path().join("hookbridge.toml");
    std::fs::write(&path, &toml).unwrap();
    let secrets = [
        ("LOGTEST_HMAC_SECRET", "env-secret-hmac-value"),
        ("LOGTEST_SASL_PASSWORD", "env-secret-sasl-password"),
    ];
    let env = |name: &str| {
        let found = secrets.iter().find(|(n, _)| *n == name);
        found.map(|(_, value)| value.to_string())
    };
    let mut hookbridge = Process::serve_with(&path, "trace", &secrets).await;

    let config = Config::parse(&toml, dir.path(), &env).unwrap();
    let body = format!(r#"{{"site":"{}","note":"{BODY_MARKER}"}}"#, support::SITE);
    let base = hookbridge.url("/everbright");
    let mut signatures = Vec::new();
    let mut requests = 0;
    for (credential, event) in [
        ("hmac", Event::MilestoneStatusChange),
        ("token", Event::StageTransition),
        ("basic", Event::SiteArchived),
        ("aws", Event::InvoiceStatusChange),
    ] {
        let url = format!("{base}/{}", event.slug());
        let draft = Draft {
            credential,
            event,
            method: Method::POST,
            url: Some(&url),
            content_type: "application/json",
            body: Bytes::from(body.clone()),
        };
        let outgoing = sender::build(&config, draft, SystemTime::now()).unwrap();
        for (name, value) in &outgoing.headers {
            if ["x-signature", "authorization"].contains(&name.as_str()) {
                signatures.push(value.to_str().unwrap().to_string());
            }
        }
        assert_eq!(
            support::deliver(&outgoing, None).await.status,
            StatusCode::OK,
            "{credential}"
        );
        requests += 1;
        if ["hmac", "aws"].contains(&credential) {
            // The same signature over a tampered body: refused.
            let tampered = body.replace(BODY_MARKER, "tampered-marker-2b81c4");
            assert_eq!(
                support::deliver(&outgoing, Some(&tampered)).await.status,
                StatusCode::UNAUTHORIZED,
                "{credential}"
            );
            requests += 1;
        }
    }
    let wrong = [("authorization", "Bearer wrong-token-presented-91d2")];
    assert_eq!(
        post(&format!("{base}/stage-transition"), &wrong, body.clone())
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        post(&format!("{base}/nope"), &[], body.clone())
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    requests += 2;

    hookbridge.terminate().await;
    let logs = hookbridge.logs().join("\n");

    let forbidden = [
        "env-secret-hmac-value",
        "env-secret-sasl-password",
        "literal-secret-token-value",
        "file-secret-basic-pw",
        "aws-secret-access-key-logtest",
        "wrong-token-presented-91d2",
        BODY_MARKER,
        "tampered-marker-2b81c4",
        "ZXZlcmJyaWdodDpmaWxl", // base64 of "everbright:file…" (the Basic header)
    ];
    for needle in forbidden
        .iter()
        .copied()
        .chain(signatures.iter().map(String::as_str))
    {
        assert!(!logs.contains(needle), "the logs contain {needle:?}");
    }
    let lines: Vec<serde_json::Value> = logs
        .lines()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON log line ({e}): {l}"))
        })
        .collect();
    let per_request: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| {
            ["webhook published", "webhook refused", "webhook failed"]
                .contains(&l["message"].as_str().unwrap_or(""))
        })
        .collect();
    assert_eq!(per_request.len(), requests, "one line per request");
    for line in &per_request {
        for field in ["event", "status", "duration_ms", "method"] {
            assert!(line.get(field).is_some(), "{field} missing from {line}");
        }
    }
    let published = per_request.iter().filter(|l| l["status"] == 200).count();
    assert_eq!(published, 4);
    assert!(
        per_request
            .iter()
            .filter(|l| l["status"] == 200)
            .all(|l| l.get("topic").is_some() && l.get("offset").is_some())
    );
}
