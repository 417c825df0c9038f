//! Rate limits against the real broker: a credential's `rate_limit` answers 429 with
//! no record beyond its rate; `server.failed_auth_limit` locks out an address (taken
//! from `X-Forwarded-For` behind a trusted proxy) without evaluating its credentials.

use http::StatusCode;

use crate::support::{self, Broker, Endpoints, Server, consume, credential, post};

const TOPIC: &str = "everbright.production.milestone-status-change";
const PATH: &str = "/everbright/milestone-status-change";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_credential_beyond_its_rate_gets_429_and_no_record() {
    let broker = Broker::start();
    let toml = support::config(
        &broker,
        "",
        credential::header("engine", "prod-key").set("rate_limit", "3/m"),
    );
    let server = Server::start(&toml).await;
    let url = server.url(PATH);
    let mut statuses = Vec::new();
    for n in 0..5 {
        let body = format!(r#"{{"site":"{}","n":{n}}}"#, support::SITE);
        let answer = post(&url, &[("x-api-key", "prod-key")], body).await;
        if answer.status == StatusCode::TOO_MANY_REQUESTS {
            let wait: u64 = answer.headers["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!((1..=20).contains(&wait), "Retry-After {wait}");
            assert_eq!(
                answer.json(),
                serde_json::json!({"error": "too many requests"})
            );
        }
        statuses.push(answer.status.as_u16());
    }
    assert_eq!(statuses, [200, 200, 200, 429, 429]);
    let records = consume(&broker, TOPIC, 3).await;
    assert_eq!(records.len(), 3, "no record beyond the rate");
    let limited = server
        .metrics()
        .await
        .value("hookbridge_rate_limited_total", &[("credential", "engine")]);
    assert_eq!(limited, 2.0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_that_fails_too_often_is_locked_out_even_with_the_right_key() {
    let broker = Broker::start();
    // The test client connects from 127.0.0.1, which plays the load balancer.
    let toml = support::config(
        &broker,
        "failed_auth_limit = \"3/m\"\ntrusted_proxies = [\"127.0.0.1\"]",
        credential::header("engine", "prod-key"),
    );
    let server = Server::start(&toml).await;
    let url = server.url(PATH);
    let from = |ip: &'static str, key: &'static str| [("x-forwarded-for", ip), ("x-api-key", key)];
    let attacker = "198.51.100.1";
    for _ in 0..3 {
        let answer = post(
            &url,
            &from(attacker, "guess"),
            support::payload(support::SITE),
        )
        .await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    }
    // Locked out for the rest of the minute, even with the right key.
    let answer = post(
        &url,
        &from(attacker, "prod-key"),
        support::payload(support::SITE),
    )
    .await;
    assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = answer.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "Retry-After {wait}");
    // EverBright, behind the same load balancer, is not.
    let answer = post(
        &url,
        &from("203.0.113.5", "prod-key"),
        support::payload(support::SITE),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    let id = answer.json()["id"].as_str().unwrap().to_string();

    let records = consume(&broker, TOPIC, 1).await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].json()["id"], id.as_str());
    let scrape = server.metrics().await;
    assert_eq!(
        scrape.value("hookbridge_failed_auth_limited_total", &[]),
        1.0
    );
    server.stop().await;
}
