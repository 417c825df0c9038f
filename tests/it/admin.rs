//! The admin listener and the command line's config check.

use std::process::Command;

use http::StatusCode;

use crate::support::credential;
use crate::support::metrics::Scrape;
use crate::support::{self, Broker, Endpoints, Server, get};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_livez_and_readyz() {
    let broker = Broker::start();
    let toml = support::config(&broker, "", credential::none("open"));
    let server = Server::start(&toml).await;
    assert_eq!(
        get(&server.admin_url("/livez")).await.status,
        StatusCode::OK
    );
    server.wait_ready().await;
    let answer = support::post(
        &server.url("/everbright/site-archived"),
        &[],
        support::payload(support::SITE),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);

    let scrape = get(&server.admin_url("/metrics")).await;
    assert_eq!(scrape.status, StatusCode::OK);
    assert!(
        scrape.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let metrics = Scrape::parse(String::from_utf8(scrape.body.to_vec()).unwrap());
    let archived = [("event", "site-archived")];
    let answered = [("event", "site-archived"), ("status", "200")];
    let published = [
        ("credential", "open"),
        ("environment", "production"),
        ("event", "site-archived"),
    ];
    for (name, labels, want) in [
        ("hookbridge_http_requests_total", &answered[..], 1.0),
        ("hookbridge_events_published_total", &published, 1.0),
        ("hookbridge_kafka_ack_duration_seconds_count", &[], 1.0),
        ("hookbridge_inflight_requests", &[], 0.0),
        (
            "hookbridge_http_request_duration_seconds_count",
            &archived,
            1.0,
        ),
    ] {
        assert_eq!(metrics.value(name, labels), want, "{name}{labels:?}");
    }
    for name in [
        "hookbridge_auth_failures_total",
        "hookbridge_deadletters_total",
        "hookbridge_kafka_errors_total",
        "hookbridge_deduplicated_total",
        "hookbridge_config_reloads_total",
        "hookbridge_config_last_reload_success_timestamp_seconds",
        "hookbridge_build_info",
    ] {
        assert!(metrics.kind(name).is_some(), "{name} not exported");
    }
    assert_eq!(
        get(&server.admin_url("/nope")).await.status,
        StatusCode::NOT_FOUND
    );
    server.stop().await;
}

#[test]
fn check_config_exits_64_listing_every_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "[server]\nlisten = \"x\"\n[kafka]\n[[credentials]]\nname = \"a\"\nscheme = \"token\"\n",
    )
    .unwrap();
    let out = check_config(&path);
    assert_eq!(out.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for needle in [
        "3 errors",
        "server.listen",
        "kafka.brokers: is required",
        "credentials[0].value: is required",
    ] {
        assert!(
            stderr.contains(needle),
            "{needle:?} missing from:\n{stderr}"
        );
    }

    let good = dir.path().join("good.toml");
    std::fs::write(
        &good,
        "[kafka]\nbrokers = \"b:9092\"\n[[credentials]]\nname = \"a\"\nscheme = \"none\"\n",
    )
    .unwrap();
    let out = check_config(&good);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn check_config(path: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_hookbridge"))
        .args(["check-config", "--config"])
        .arg(path)
        .output()
        .unwrap()
}

/// `hookbridge probe`, which the chart's `helm test` runs against `/readyz`: exit 0 on a
/// 2xx answer, 1 on another status, 69 when nothing answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_exits_by_the_answer() {
    let broker = Broker::start();
    let toml = support::config(&broker, "", credential::none("open"));
    let server = Server::start(&toml).await;
    server.wait_ready().await;
    let probe = |url: String| {
        Command::new(env!("CARGO_BIN_EXE_hookbridge"))
            .args(["probe", "--timeout", "5s", &url])
            .output()
            .unwrap()
    };

    let ready = probe(server.admin_url("/readyz"));
    assert_eq!(ready.status.code(), Some(0), "{ready:?}");
    assert_eq!(
        String::from_utf8_lossy(&ready.stdout).trim(),
        "200 OK ready"
    );

    let missing = probe(server.admin_url("/nowhere"));
    assert_eq!(missing.status.code(), Some(1), "{missing:?}");
    assert!(String::from_utf8_lossy(&missing.stdout).starts_with("404"));

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = format!("http://{}/readyz", listener.local_addr().unwrap());
    drop(listener);
    let refused = probe(closed);
    assert_eq!(refused.status.code(), Some(69), "{refused:?}");
}
