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
    // Another event: the first one's answer is remembered and would not need Kafka.
    let body = support::numbered_payload("after-resume");
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

/// The topic of the test config's milestone webhooks.
const TOPIC: &str = "everbright.production.milestone-status-change";

/// Posts a distinct payload (`n`) and returns the answer's status and its id when 200.
async fn post_numbered(url: &str, n: usize) -> (StatusCode, Option<String>) {
    let answer = post(url, &[], support::numbered_payload(n)).await;
    let id = (answer.status == StatusCode::OK)
        .then(|| answer.json()["id"].as_str().expect("id").to_string());
    (answer.status, id)
}

/// Asserts that every id in `ids` is on `topic` exactly once, counted by consuming.
async fn assert_each_once(broker: &Broker, ids: &[String]) {
    let records = support::consume(broker, TOPIC, ids.len()).await;
    let mut seen = std::collections::HashMap::<String, usize>::new();
    for record in &records {
        let id = record.json()["id"].as_str().expect("record id").to_string();
        *seen.entry(id).or_default() += 1;
    }
    for id in ids {
        assert_eq!(
            seen.get(id).copied().unwrap_or(0),
            1,
            "record {id} answered 200 is not on {TOPIC} exactly once"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn broker_restart_that_lost_its_state_heals_within_seconds() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    let mut broker = Broker::start();
    let toml = support::config(&broker, "", credential::none("open"));
    let server = Server::start(&toml).await;
    let url = server.url("/everbright/milestone-status-change");
    assert_eq!(post_numbered(&url, 0).await.0, StatusCode::OK);
    server.wait_ready().await;

    // Four senders under steady load, and a /readyz watcher, until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let counter = Arc::new(AtomicUsize::new(1));
    let started = Instant::now();
    let mut senders = Vec::new();
    for _ in 0..4 {
        let (url, stop, counter) = (url.clone(), stop.clone(), counter.clone());
        senders.push(tokio::spawn(async move {
            let mut answers = Vec::new();
            while !stop.load(Ordering::SeqCst) {
                let n = counter.fetch_add(1, Ordering::SeqCst);
                let (status, id) = post_numbered(&url, n).await;
                answers.push((Instant::now(), status, id));
                if status != StatusCode::OK {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
            answers
        }));
    }
    let readyz = server.admin_url("/readyz");
    let watch_stop = stop.clone();
    let watcher = tokio::spawn(async move {
        let mut seen = Vec::new();
        while !watch_stop.load(Ordering::SeqCst) {
            seen.push((Instant::now(), get(&readyz).await.status));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        seen
    });

    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (broker, back) = tokio::task::spawn_blocking(move || {
        broker.restart_empty(Duration::from_millis(1500));
        let back = Instant::now();
        (broker, back)
    })
    .await
    .unwrap();
    // Ten seconds of load with the new broker: the first 200 must come well within.
    tokio::time::sleep_until((back + Duration::from_secs(10)).into()).await;
    stop.store(true, Ordering::SeqCst);
    let mut answers = Vec::new();
    for sender in senders {
        answers.extend(sender.await.unwrap());
    }
    let readiness = watcher.await.unwrap();
    assert!(
        answers.len() > 20,
        "the load was too thin: {}",
        answers.len()
    );
    assert!(
        answers
            .iter()
            .any(|(at, status, _)| *at < back && *status == StatusCode::OK),
        "no 200 before the restart ({:?} in)",
        started.elapsed()
    );

    // Every answer during and after the outage is 200 or 503, never anything else.
    for (_, status, _) in &answers {
        assert!(
            *status == StatusCode::OK || *status == StatusCode::SERVICE_UNAVAILABLE,
            "unexpected {status}"
        );
    }
    let first_ok = answers
        .iter()
        .filter(|(at, status, _)| *at > back && *status == StatusCode::OK)
        .map(|(at, _, _)| *at)
        .min()
        .expect("no 200 within 10 s of the broker's restart");
    let healed = first_ok - back;
    eprintln!("first 200 {healed:?} after the broker restarted");
    assert!(
        healed < Duration::from_secs(8),
        "the first 200 came {healed:?} after the broker was back"
    );
    // While no record could be acked for more than a moment, the pod was unready.
    if healed > Duration::from_secs(2) {
        assert!(
            readiness.iter().any(|(at, status)| *at > back
                && *at < first_ok
                && *status == StatusCode::SERVICE_UNAVAILABLE),
            "/readyz stayed 200 for the {healed:?} no record was acknowledged"
        );
    }
    let ok_after: Vec<String> = answers
        .into_iter()
        .filter(|(at, _, _)| *at > back)
        .filter_map(|(_, _, id)| id)
        .collect();
    assert!(
        ok_after.len() >= 5,
        "only {} 200s after the restart",
        ok_after.len()
    );
    assert_each_once(&broker, &ok_after).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_not_acknowledged_turn_readiness_off_and_replace_the_producer() {
    use crate::support::proxy::KafkaProxy;

    let listener = KafkaProxy::bind().await;
    let advertised = listener.local_addr().unwrap().port();
    let broker = Broker::start_advertising(Some(advertised));
    let proxy = KafkaProxy::start(listener, broker.port());
    let toml = support::config(&broker, "", credential::none("open"))
        .replace(&broker.bootstrap(), &proxy.bootstrap());
    let server = Server::start(&toml).await;
    let url = server.url("/everbright/milestone-status-change");
    let (status, first) = post_numbered(&url, 0).await;
    assert_eq!(status, StatusCode::OK);
    server.wait_ready().await;

    // The broker answers metadata, but no record is ever acknowledged.
    proxy.swallow_produce(true);
    for _ in 0..hookbridge::publish::STUCK_AFTER {
        support::assert_unavailable_within_ack_timeout(&url).await;
    }
    let readyz = server.admin_url("/readyz");
    let answer = get(&readyz).await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(answer.body, "records not acknowledged\n");
    server
        .wait_for_metric(
            "hookbridge_kafka_errors_total",
            &[("kind", "producer-reset")],
            |v| v >= 1.0,
        )
        .await;

    proxy.swallow_produce(false);
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut ids = vec![first.expect("first id")];
    let mut n = 1;
    while ids.len() < 6 {
        let (status, id) = post_numbered(&url, n).await;
        n += 1;
        match id {
            Some(id) => ids.push(id),
            None => {
                assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
                assert!(
                    Instant::now() < deadline,
                    "no 200 within 15 s of the broker acknowledging again"
                );
            }
        }
    }
    assert_eq!(get(&readyz).await.status, StatusCode::OK);
    assert_each_once(&broker, &ids).await;
    server.stop().await;
}
