//! Every scheme over real sockets: the right secret publishes, a wrong one is 401 and
//! produces no record.

use http::StatusCode;

use crate::support::{self, Broker, Endpoints, Server, consume, credential, post};

fn credentials() -> String {
    credential::all([
        credential::header("by-header", ["new-key", "old-key"]).events(["milestone-status-change"]),
        credential::token("by-token", "tok-123").events(["task-comment-created"]),
        credential::basic("by-basic", "everbright", "pw-456").events(["invoice-status-change"]),
        credential::none("open").events(["site-archived"]),
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_scheme_accepts_its_secret_and_refuses_others_without_a_record() {
    let broker = Broker::start();
    let server = Server::start(&support::config(&broker, "", credentials())).await;
    let basic_ok = hookbridge::auth::basic::encode("everbright", b"pw-456");
    let basic_bad = hookbridge::auth::basic::encode("everbright", b"pw-457");
    // (event, headers, expected status)
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, StatusCode);
    let cases: Vec<Case> = vec![
        (
            "milestone-status-change",
            vec![("x-api-key", "new-key")],
            StatusCode::OK,
        ),
        (
            "milestone-status-change",
            vec![("x-api-key", "old-key")],
            StatusCode::OK,
        ),
        (
            "milestone-status-change",
            vec![("x-api-key", "wrong-key")],
            StatusCode::UNAUTHORIZED,
        ),
        ("milestone-status-change", vec![], StatusCode::UNAUTHORIZED),
        (
            "task-comment-created",
            vec![("authorization", "Bearer tok-123")],
            StatusCode::OK,
        ),
        (
            "task-comment-created",
            vec![("authorization", "Bearer tok-124")],
            StatusCode::UNAUTHORIZED,
        ),
        (
            "task-comment-created",
            vec![("authorization", "tok-123")],
            StatusCode::UNAUTHORIZED,
        ),
        (
            "invoice-status-change",
            vec![("authorization", &basic_ok)],
            StatusCode::OK,
        ),
        (
            "invoice-status-change",
            vec![("authorization", &basic_bad)],
            StatusCode::UNAUTHORIZED,
        ),
        ("site-archived", vec![], StatusCode::OK),
        (
            "site-archived",
            vec![("x-api-key", "new-key")],
            StatusCode::UNAUTHORIZED,
        ),
    ];
    // Each case its own body: the old and the new key deliver two events.
    for (n, (event, headers, want)) in cases.iter().enumerate() {
        let answer = post(
            &server.url(&format!("/everbright/{event}")),
            headers,
            support::numbered_payload(n),
        )
        .await;
        assert_eq!(
            answer.status, *want,
            "{event} {headers:?}: {:?}",
            answer.body
        );
        if *want == StatusCode::UNAUTHORIZED {
            assert_eq!(answer.json(), serde_json::json!({"error": "unauthorized"}));
            assert!(answer.headers.contains_key("www-authenticate"));
        }
    }
    for (event, accepted) in [
        ("milestone-status-change", 2),
        ("task-comment-created", 1),
        ("invoice-status-change", 1),
        ("site-archived", 1),
    ] {
        let records = consume(&broker, &format!("everbright.production.{event}"), accepted).await;
        assert_eq!(
            records.len(),
            accepted,
            "{event}: only accepted requests produce records"
        );
    }
    let metrics = server.metrics().await;
    for (reason, count) in [
        ("bad-secret", 4.0),
        ("event-not-allowed", 1.0),
        ("missing-credentials", 1.0),
    ] {
        let failures = metrics.value("hookbridge_auth_failures_total", &[("reason", reason)]);
        assert_eq!(failures, count, "{reason}");
    }
    server.stop().await;
}
