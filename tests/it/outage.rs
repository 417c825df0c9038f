//! A broker that stops answering: 503 within the ack timeout, never a 2xx; and 200
//! again once it is back.

use std::time::{Duration, Instant};

use http::StatusCode;

use crate::support::{self, Broker, Endpoints, Server, credential, get, post};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paused_broker_means_503_within_ack_timeout_then_200_after_resume() {
    let broker = Broker::start();
    let toml = support::config(&broker, "", credential::none("open"));
    let server = Server::start(&toml).await;
    let url = server.url("/everbright/milestone-status-change");
    let body = support::payload(support::SITE);
    assert_eq!(post(&url, &[], body.clone()).await.status, StatusCode::OK);
    server.wait_ready().await;

    broker.pause();
    for _ in 0..3 {
        support::assert_unavailable_within_ack_timeout(&url).await;
    }
    // Readiness follows the broker (no metadata answer for 10 s).
    let deadline = Instant::now() + Duration::from_secs(20);
    while get(&server.admin_url("/readyz")).await.status == StatusCode::OK {
        assert!(
            Instant::now() < deadline,
            "/readyz stayed 200 with the broker paused"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    broker.resume();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let answer = post(&url, &[], body.clone()).await;
        if answer.status == StatusCode::OK {
            break;
        }
        assert_eq!(
            answer.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{:?}",
            answer.body
        );
        assert!(
            Instant::now() < deadline,
            "no 200 within 30 s of the broker resuming"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    server.wait_ready().await;
    server.stop().await;
}
