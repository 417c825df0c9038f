//! Signed senders end to end: HMAC (custom, Standard Webhooks, GitHub) and AWS SigV4,
//! signed by `hookbridge send`/`sender::build` and verified by the running service.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{Method, StatusCode};

use crate::support::credential::{self, Credential, Value};
use crate::support::{self, Broker, Endpoints, Server, consume};
use hookbridge::config::Config;
use hookbridge::everbright::Event;
use hookbridge::sender::{self, Draft};

/// The HMAC credential of the rotation checks, accepting `client_secret`.
fn engine_hmac(client_secret: impl Into<Value>) -> Credential {
    credential::hmac("engine-hmac", client_secret)
        .set("client_id", "everbright-prod")
        .set("timestamp_header", "X-Timestamp")
        .set("signature_prefix", "sha256=")
        .events(["milestone-status-change"])
}

/// One credential per scheme and preset, each for its own event.
fn credentials() -> String {
    let aws_secret = ["wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"];
    credential::all([
        engine_hmac(["new-hmac-secret", "old-hmac-secret"]),
        credential::hmac("standard", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
            .set("preset", "standard-webhooks")
            .events(["task-comment-created"]),
        credential::hmac("github-style", "gh-secret")
            .set("preset", "github")
            .events(["invoice-status-change"]),
        credential::aws("aws", "AKIDEXAMPLE", aws_secret, "us-west-2").events(["site-archived"]),
        credential::header("by-header", "hdr").events(["stage-transition"]),
        credential::token("by-token", "tok").events(["proposal-action"]),
        credential::basic("by-basic", "everbright", "pw").events(["qualification-update"]),
        credential::none("open").events(["workflow-status-change"]),
    ])
}

fn build(
    config: &Config,
    credential: &str,
    event: Event,
    url: &str,
    body: &str,
    now: SystemTime,
) -> sender::Outgoing {
    let draft = Draft {
        credential,
        event,
        method: Method::POST,
        url: Some(url),
        content_type: "application/json",
        body: Bytes::from(body.to_string()),
    };
    sender::build(config, draft, now).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hookbridge_send_is_accepted_for_every_scheme() {
    let broker = Broker::start();
    let dir = tempfile::tempdir().unwrap();
    let toml = support::config(&broker, "", credentials());
    let path = dir.path().join("hookbridge.toml");
    std::fs::write(&path, &toml).unwrap();
    let body = dir.path().join("body.json");
    std::fs::write(&body, support::payload(support::SITE)).unwrap();
    let server = Server::start_in(&toml, dir.path()).await;
    let schemes = [
        ("engine-hmac", "milestone-status-change"),
        ("standard", "task-comment-created"),
        ("github-style", "invoice-status-change"),
        ("aws", "site-archived"),
        ("by-header", "stage-transition"),
        ("by-token", "proposal-action"),
        ("by-basic", "qualification-update"),
        ("open", "workflow-status-change"),
    ];
    for (credential, event) in schemes {
        let out = Command::new(env!("CARGO_BIN_EXE_hookbridge"))
            .args(["send", "--config"])
            .arg(&path)
            .args(["--credential", credential, "--event", event, "--url"])
            .arg(server.url(&format!("/everbright/{event}")))
            .arg(&body)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{credential}: {stdout} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.starts_with("200 OK"), "{credential}: {stdout}");
        let records = consume(&broker, &format!("everbright.production.{event}"), 1).await;
        assert_eq!(records.len(), 1, "{credential}");
        assert_eq!(records[0].json()["credential"], credential);
    }

    // `sign` prints a curl command carrying the signature.
    let out = Command::new(env!("CARGO_BIN_EXE_hookbridge"))
        .args(["sign", "--config"])
        .arg(&path)
        .args(["--credential", "aws", "--event", "site-archived"])
        .arg(&body)
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(
        printed.starts_with("curl -sS -X POST 'http://127.0.0.1:8080/everbright/site-archived'"),
        "{printed}"
    );
    assert!(printed.contains("-H 'authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampering_stale_dates_replays_and_rotation() {
    let broker = Broker::start();
    let toml = support::config(&broker, "", credentials());
    let server = Server::start(&toml).await;
    let config = Config::parse(&toml, Path::new("."), &|_| None).unwrap();
    let body = support::payload(support::SITE);
    let now = SystemTime::now();
    let cases = [
        ("engine-hmac", Event::MilestoneStatusChange),
        ("standard", Event::TaskCommentCreated),
        ("github-style", Event::InvoiceStatusChange),
        ("aws", Event::SiteArchived),
    ];
    for (credential, event) in cases {
        let url = server.url(&format!("/everbright/{}", event.slug()));
        let o = build(&config, credential, event, &url, &body, now);
        // A tampered body: 401, no record.
        let tampered = body.replace("APPROVED", "APPROVEE");
        let answer = support::deliver(&o, Some(&tampered)).await;
        assert_eq!(
            answer.status,
            StatusCode::UNAUTHORIZED,
            "{credential} tampered"
        );
        // The genuine request, then the very same request again.
        let first = support::deliver(&o, None).await;
        assert_eq!(
            first.status,
            StatusCode::OK,
            "{credential}: {:?}",
            first.body
        );
        let again = support::deliver(&o, None).await;
        assert_eq!(again.status, StatusCode::OK, "{credential} replay");
        let topic = format!("everbright.production.{}", event.slug());
        let records = consume(&broker, &topic, 1).await;
        // Every scheme, body-only signatures included: the same event, one record.
        assert_eq!(
            again.json(),
            first.json(),
            "{credential}: replay answered from cache"
        );
        assert_eq!(again.headers["hookbridge-deduplicated"], "true");
        assert_eq!(
            records.len(),
            1,
            "{credential}: a replay leaves no second record"
        );
    }

    // Stale signatures (10 minutes old, tolerance 5 minutes): 401.
    let stale = now - Duration::from_secs(600);
    for (credential, event) in [
        ("engine-hmac", Event::MilestoneStatusChange),
        ("standard", Event::TaskCommentCreated),
        ("aws", Event::SiteArchived),
    ] {
        let url = server.url(&format!("/everbright/{}", event.slug()));
        let answer = support::deliver(
            &build(
                &config,
                credential,
                event,
                &url,
                &body.replace("APPROVED", "STALE"),
                stale,
            ),
            None,
        )
        .await;
        assert_eq!(
            answer.status,
            StatusCode::UNAUTHORIZED,
            "{credential} stale"
        );
    }

    // Rotation: requests signed with the old and the new secret are both accepted; one
    // signed with a retired secret is not.
    let url = server.url("/everbright/milestone-status-change");
    for (secret, want) in [
        ("old-hmac-secret", StatusCode::OK),
        ("new-hmac-secret", StatusCode::OK),
        ("retired", StatusCode::UNAUTHORIZED),
    ] {
        let signer_toml = support::config(&broker, "", engine_hmac(secret));
        let signer = Config::parse(&signer_toml, Path::new("."), &|_| None).unwrap();
        let body = body.replace("APPROVED", &format!("ROTATION-{secret}"));
        let answer = support::deliver(
            &build(
                &signer,
                "engine-hmac",
                Event::MilestoneStatusChange,
                &url,
                &body,
                SystemTime::now(),
            ),
            None,
        )
        .await;
        assert_eq!(answer.status, want, "signed with {secret}");
    }
    let records = consume(&broker, "everbright.production.milestone-status-change", 3).await;
    assert_eq!(records.len(), 3, "genuine + old + new secret");
    let metrics = server.metrics().await;
    let deduplicated = [("credential", "aws")];
    let deduplicated = metrics.value("hookbridge_deduplicated_total", &deduplicated);
    assert_eq!(deduplicated, 1.0);
    let out_of_range = [("reason", "timestamp-out-of-range")];
    let failures = metrics.value("hookbridge_auth_failures_total", &out_of_range);
    assert_eq!(failures, 3.0);
    server.stop().await;
}
