//! Guards that hold against a determined client, on the real server: one credential's
//! flood of distinct events cannot evict another credential's dedup answers; the
//! failed-login limit neither fails open when its table is full nor charges a trusted
//! proxy (whatever the form of `X-Forwarded-For`), and counts an IPv6 /64 or an
//! IPv4-mapped address as the client it is.

use http::StatusCode;

use crate::support::{self, Broker, Endpoints, Server, consume, credential, post};

const TOPIC: &str = "everbright.production.milestone-status-change";
const PATH: &str = "/everbright/milestone-status-change";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_credential_evicts_its_own_answers_not_another_credentials() {
    let broker = Broker::start();
    let credentials = credential::all([
        credential::header("quiet", "quiet-key"),
        credential::header("flood", "flood-key"),
    ]);
    let toml = support::config(
        &broker,
        "max_inflight = 4",
        format!("[dedup]\ncapacity = 16\n{credentials}"),
    );
    let server = Server::start(&toml).await;
    let url = server.url(PATH);
    let quiet = [("x-api-key", "quiet-key")];
    let first = post(&url, &quiet, support::numbered_payload("quiet-1")).await;
    assert_eq!(first.status, StatusCode::OK);
    let flood = 60;
    for n in 0..flood {
        let answer = post(
            &url,
            &[("x-api-key", "flood-key")],
            support::numbered_payload(format!("flood-{n}")),
        )
        .await;
        assert_eq!(answer.status, StatusCode::OK, "flood {n}");
    }
    // The quiet credential's retry, well inside its window, is still recognised.
    let retry = post(&url, &quiet, support::numbered_payload("quiet-1")).await;
    assert_eq!(retry.status, StatusCode::OK);
    assert_eq!(retry.headers["hookbridge-deduplicated"], "true");
    assert_eq!(retry.json()["id"], first.json()["id"]);

    let records = consume(&broker, TOPIC, 1 + flood).await;
    let ids: Vec<_> = records.iter().map(|r| r.json()["id"].clone()).collect();
    let quiet_records = ids.iter().filter(|id| **id == first.json()["id"]).count();
    assert_eq!(
        quiet_records, 1,
        "one record for the quiet credential's event"
    );
    assert_eq!(records.len(), 1 + flood);
    let scrape = server.metrics().await;
    let evictions = |c| scrape.value("hookbridge_dedup_evictions_total", &[("credential", c)]);
    assert!(evictions("flood") >= 40.0, "{}", evictions("flood"));
    assert_eq!(evictions("quiet"), 0.0);
    server.stop().await;
}

/// A server behind a trusted load balancer (the test client, on 127.0.0.1).
async fn behind_a_proxy(broker: &Broker, extra: &str) -> Server {
    let server = format!("failed_auth_limit = \"3/m\"\ntrusted_proxies = [\"127.0.0.1\"]\n{extra}");
    let toml = support::config(broker, &server, credential::header("engine", "prod-key"));
    Server::start(&toml).await
}

/// The status of a request forwarded for `client` (no header: `None`) with `key`.
async fn status(url: &str, client: Option<&str>, key: &str) -> StatusCode {
    let mut headers = vec![("x-api-key", key)];
    if let Some(client) = client {
        headers.push(("x-forwarded-for", client));
    }
    post(url, &headers, support::payload(support::SITE))
        .await
        .status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_table_of_failed_logins_still_locks_out_a_new_attacker() {
    let broker = Broker::start();
    let server = behind_a_proxy(&broker, "failed_auth_max_clients = 20").await;
    let url = server.url(PATH);
    for n in 0..100 {
        let client = format!("198.18.{}.{}", n / 200, n % 200 + 1);
        let answer = status(&url, Some(&client), "guess").await;
        assert_eq!(answer, StatusCode::UNAUTHORIZED);
    }
    let attacker = Some("203.0.113.99");
    for _ in 0..3 {
        assert_eq!(
            status(&url, attacker, "guess").await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        status(&url, attacker, "guess").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_addresses_with_ports_are_the_client_and_the_proxy_is_never_charged() {
    let broker = Broker::start();
    let server = behind_a_proxy(&broker, "").await;
    let url = server.url(PATH);
    // Requests from the proxy itself, without a header: nobody to charge.
    for _ in 0..5 {
        assert_eq!(status(&url, None, "guess").await, StatusCode::UNAUTHORIZED);
    }
    // `ip:port`, as some cloud load balancers write it: the port is not the client.
    for port in [4711, 4712, 4713] {
        let client = format!("198.51.100.1:{port}");
        assert_eq!(
            status(&url, Some(&client), "guess").await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        status(&url, Some("198.51.100.1:5000"), "prod-key").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // EverBright behind the same proxy, in either form, is not locked out.
    for client in [Some("[2001:db8::5]:443"), Some("203.0.113.5:80"), None] {
        assert_eq!(
            status(&url, client, "prod-key").await,
            StatusCode::OK,
            "{client:?}"
        );
    }
    consume(&broker, TOPIC, 3).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ipv6_slash_64_is_one_client_and_v4_mapped_is_v4() {
    let broker = Broker::start();
    let server = behind_a_proxy(&broker, "").await;
    let url = server.url(PATH);
    for host in ["2001:db8:1:2::a", "2001:db8:1:2::b", "2001:db8:1:2:ffff::1"] {
        assert_eq!(
            status(&url, Some(host), "guess").await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        status(&url, Some("2001:db8:1:2::c"), "prod-key").await,
        StatusCode::TOO_MANY_REQUESTS,
        "another address of the same /64"
    );
    assert_eq!(
        status(&url, Some("2001:db8:1:3::a"), "prod-key").await,
        StatusCode::OK,
        "the next /64 is another client"
    );
    for client in ["198.18.0.1", "::ffff:198.18.0.1", "198.18.0.1"] {
        assert_eq!(
            status(&url, Some(client), "guess").await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        status(&url, Some("::ffff:198.18.0.1"), "prod-key").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    consume(&broker, TOPIC, 1).await;
    server.stop().await;
}
