//! SIGTERM with requests in flight: each still gets its 200 and its record, readiness
//! turns off, new connections are refused, and the process exits 0.

use std::time::{Duration, Instant};

use http::StatusCode;

use crate::support::{self, Broker, consume, get, post};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_requests_in_flight_and_exits_zero() {
    let broker = Broker::start();
    let (listen, admin) = (broker::free_port(), broker::free_port());
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("hookbridge.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[server]
listen = "127.0.0.1:{listen}"
admin_listen = "127.0.0.1:{admin}"
read_timeout = "2s"
request_timeout = "20s"
shutdown_grace = "20s"
[kafka]
brokers = "{}"
ack_timeout = "10s"
[[credentials]]
name = "open"
scheme = "none"
"#,
            broker.bootstrap()
        ),
    )
    .unwrap();
    let mut child = support::spawn_serve(&config);
    let webhook = format!("http://127.0.0.1:{listen}/everbright/milestone-status-change");
    let readyz = format!("http://127.0.0.1:{admin}/readyz");
    let metrics = format!("http://127.0.0.1:{admin}/metrics");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if tokio::net::TcpStream::connect(("127.0.0.1", admin))
            .await
            .is_ok()
            && get(&readyz).await.status == StatusCode::OK
        {
            break;
        }
        assert!(Instant::now() < deadline, "hookbridge did not become ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Hold the acks back so that the requests are in flight when SIGTERM arrives.
    broker.pause();
    let requests: Vec<_> = (0..5)
        .map(|_| {
            let url = webhook.clone();
            tokio::spawn(async move { post(&url, &[], support::payload(support::SITE)).await })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let text = String::from_utf8(get(&metrics).await.body.to_vec()).unwrap();
        if text.contains("hookbridge_inflight_requests 5") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "requests did not get in flight:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    support::signal(&child, "-TERM");
    let deadline = Instant::now() + Duration::from_secs(3);
    while get(&readyz).await.status != StatusCode::SERVICE_UNAVAILABLE {
        assert!(
            Instant::now() < deadline,
            "/readyz did not turn 503 while draining"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        tokio::net::TcpStream::connect(("127.0.0.1", listen))
            .await
            .is_err(),
        "the webhook listener still accepts connections while draining"
    );

    broker.resume();
    for request in requests {
        let answer = request.await.unwrap();
        assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    }
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    let records = consume(&broker, "everbright.production.milestone-status-change", 5).await;
    assert_eq!(records.len(), 5);
}

use crate::support::broker;
