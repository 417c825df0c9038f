//! SIGTERM with requests in flight: each still gets its 200 and its record, readiness
//! turns off, new connections are refused, and the process exits 0.

use std::time::{Duration, Instant};

use http::StatusCode;

use crate::support::{
    self, Broker, Cluster, Endpoints, Process, Signal, consume, credential, get, post,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_requests_in_flight_and_exits_zero() {
    let broker = Broker::start();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("hookbridge.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[server]
{}
read_timeout = "2s"
request_timeout = "20s"
shutdown_grace = "20s"
[kafka]
brokers = "{}"
ack_timeout = "10s"
{}
"#,
            support::EPHEMERAL_PORTS,
            broker.bootstrap(),
            credential::none("open"),
        ),
    )
    .unwrap();
    let mut hookbridge = Process::serve(&config).await;
    let webhook = hookbridge.url("/everbright/milestone-status-change");
    let readyz = hookbridge.admin_url("/readyz");
    hookbridge.wait_ready().await;

    // Hold the acks back so that the requests are in flight when SIGTERM arrives.
    broker.pause();
    let requests: Vec<_> = (0..5)
        .map(|n| {
            let url = webhook.clone();
            tokio::spawn(async move { post(&url, &[], support::numbered_payload(n)).await })
        })
        .collect();
    hookbridge
        .wait_for_metric("hookbridge_inflight_requests", &[], |n| n == 5.0)
        .await;
    hookbridge.signal(Signal::Term).await;
    let deadline = Instant::now() + Duration::from_secs(3);
    while get(&readyz).await.status != StatusCode::SERVICE_UNAVAILABLE {
        assert!(
            Instant::now() < deadline,
            "/readyz did not turn 503 while draining"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        tokio::net::TcpStream::connect(hookbridge.webhook())
            .await
            .is_err(),
        "the webhook listener still accepts connections while draining"
    );

    broker.resume();
    for request in requests {
        let answer = request.await.unwrap();
        assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    }
    let status = hookbridge.wait_exit(Duration::from_secs(30)).await;
    assert_eq!(status.code(), Some(0));
    let records = consume(&broker, "everbright.production.milestone-status-change", 5).await;
    assert_eq!(records.len(), 5);
}
