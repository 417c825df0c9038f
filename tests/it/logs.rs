//! Logs: one JSON line per request, and never a secret, a signature or a body.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http::{Method, StatusCode};

use crate::support::{self, Broker, get, post};
use hookbridge::config::Config;
use hookbridge::everbright::Event;
use hookbridge::sender::{self, Draft};

const BODY_MARKER: &str = "body-marker-7f3e9a";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_carry_one_line_per_request_and_no_secret_signature_or_body() {
    let broker = Broker::start();
    let (listen, admin) = (support::broker::free_port(), support::broker::free_port());
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("basic-password"), "file-secret-basic-pw\n").unwrap();
    let toml = format!(
        r#"
[server]
listen = "127.0.0.1:{listen}"
admin_listen = "127.0.0.1:{admin}"
[kafka]
brokers = "{}"
[kafka.properties]
"sasl.password" = {{ env = "LOGTEST_SASL_PASSWORD" }}
[[credentials]]
name = "hmac"
scheme = "hmac-sha256"
client_id = "everbright"
client_secret = {{ env = "LOGTEST_HMAC_SECRET" }}
timestamp_header = "X-Timestamp"
events = ["milestone-status-change"]
[[credentials]]
name = "token"
scheme = "token"
value = "literal-secret-token-value"
events = ["stage-transition"]
[[credentials]]
name = "basic"
scheme = "basic"
username = "everbright"
password = {{ file = "basic-password" }}
events = ["site-archived"]
[[credentials]]
name = "aws"
scheme = "aws-sigv4"
access_key_id = "AKIDLOGTEST"
secret_access_key = "aws-secret-access-key-logtest"
region = "us-east-1"
service = "execute-api"
events = ["invoice-status-change"]
"#,
        broker.bootstrap()
    );
    let path = dir.path().join("hookbridge.toml");
    std::fs::write(&path, &toml).unwrap();
    let env = |name: &str| match name {
        "LOGTEST_HMAC_SECRET" => Some("env-secret-hmac-value".to_string()),
        "LOGTEST_SASL_PASSWORD" => Some("env-secret-sasl-password".to_string()),
        _ => None,
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_hookbridge"))
        .args(["--log-format", "json", "serve", "--config"])
        .arg(&path)
        .env("RUST_LOG", "trace")
        .env("LOGTEST_HMAC_SECRET", "env-secret-hmac-value")
        .env("LOGTEST_SASL_PASSWORD", "env-secret-sasl-password")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let collected = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap());
    let deadline = Instant::now() + Duration::from_secs(15);
    while get_status(&format!("http://127.0.0.1:{admin}/livez")).await != Some(StatusCode::OK) {
        assert!(Instant::now() < deadline, "hookbridge did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let config = Config::parse(&toml, dir.path(), &env).unwrap();
    let body = format!(r#"{{"site":"{}","note":"{BODY_MARKER}"}}"#, support::SITE);
    let base = format!("http://127.0.0.1:{listen}/everbright");
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

    support::terminate(child).await;
    let logs = collected.join().unwrap();

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

async fn get_status(url: &str) -> Option<StatusCode> {
    let connect =
        tokio::net::TcpStream::connect(url.trim_start_matches("http://").split('/').next()?).await;
    match connect {
        Ok(_) => Some(get(url).await.status),
        Err(_) => None,
    }
}
