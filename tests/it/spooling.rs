//! The spool in the request path, against real brokers: a paused broker means 202
//! `spooled` within the ack timeout, and every spooled record reaches Kafka once the
//! broker is back, one site's in the order sent — across a `kill -9` of hookbridge,
//! and drained by SIGTERM before the process exits.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use http::StatusCode;

use crate::support::kafka::Options;
use crate::support::{
    self, Broker, Cluster, Consumed, Endpoints, Kafka, Process, Server, Signal, credential, get,
    post,
};

/// The topic of the test config's milestone webhooks.
const TOPIC: &str = "production.milestone-status-change";

/// Two sites, so that order is per site.
const SITES: [&str; 2] = [
    "11111111-2222-4333-8444-555555555555",
    "66666666-7777-4888-9999-aaaaaaaaaaaa",
];

/// Event `n`, for site `n % 2`.
fn event(n: usize) -> String {
    format!(
        r#"{{"site":"{}","status":"APPROVED","n":{n}}}"#,
        SITES[n % SITES.len()]
    )
}

/// A config on `broker` with the spool in `dir` (`max_bytes` of disk).
fn spooling_config(broker: &impl Cluster, dir: &Path, max_bytes: u64) -> String {
    let spool = format!(
        "[spool]\ndir = \"{}\"\nmax_bytes = {max_bytes}\nsegment_bytes = 65536\n",
        dir.display()
    );
    support::config(
        broker,
        support::EPHEMERAL_PORTS,
        format!("{}\n{spool}", credential::none("open")),
    )
}

/// Sends events `range` one after the other: each must be answered 202 `spooled`
/// within the ack timeout (3 s) plus a second.
async fn send_spooled(url: &str, range: std::ops::Range<usize>) {
    for n in range {
        let started = Instant::now();
        let answer = post(url, &[], event(n)).await;
        let took = started.elapsed();
        assert_eq!(
            answer.status,
            StatusCode::ACCEPTED,
            "{n}: {:?}",
            answer.body
        );
        assert_eq!(answer.json()["spooled"], true, "{n}");
        assert!(took <= Duration::from_secs(4), "{n} took {took:?}");
    }
}

/// The `n` of each record on `topic`, per site, in offset order, once at least
/// `count` are there.
async fn per_site(broker: &impl Cluster, count: usize) -> HashMap<String, Vec<u64>> {
    let mut records: Vec<Consumed> = support::consume(broker, &broker.topic(TOPIC), count).await;
    records.sort_by_key(|r| (r.partition, r.offset));
    let mut sites: HashMap<String, Vec<u64>> = HashMap::new();
    for record in &records {
        let event = record.json();
        let site = event["data"]["site"].as_str().unwrap().to_string();
        let n = event["data"]["n"].as_u64().unwrap();
        sites.entry(site).or_default().push(n);
    }
    sites
}

/// What each site was sent, in order.
fn sent(count: usize) -> HashMap<String, Vec<u64>> {
    let mut sites: HashMap<String, Vec<u64>> = HashMap::new();
    for n in 0..count {
        sites
            .entry(SITES[n % SITES.len()].to_string())
            .or_default()
            .push(n as u64);
    }
    sites
}

/// Each site's first copies on Kafka (see [`first_copies`]) once they are `expected`,
/// or what they are after 30 s: a second copy (at least once) may fill the count of
/// records before the last first copy arrives.
async fn first_copies_once_all_in(
    broker: &impl Cluster,
    expected: &HashMap<String, Vec<u64>>,
) -> HashMap<String, Vec<u64>> {
    let count = expected.values().map(Vec::len).sum();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = first_copies(per_site(broker, count).await);
        if &got == expected || Instant::now() >= deadline {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Each site's events with later copies of an event dropped (delivery from the spool
/// after a crash is at least once).
fn first_copies(mut sites: HashMap<String, Vec<u64>>) -> HashMap<String, Vec<u64>> {
    for order in sites.values_mut() {
        let mut seen = std::collections::HashSet::new();
        order.retain(|n| seen.insert(*n));
    }
    sites
}

/// Events sent while `pause` holds are answered 202 `spooled`, a retry gets the same
/// 202, `/readyz` stays 200; after `resume`, every record is on Kafka once (the first
/// one, in doubt when spooled, was not published twice), each site's in order.
async fn paused_then_resumed(broker: &impl Cluster, pause: impl FnOnce(), resume: impl FnOnce()) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&spooling_config(broker, dir.path(), 1 << 24)).await;
    let url = server.url("/everbright/milestone-status-change");
    assert_eq!(post(&url, &[], event(1000)).await.status, StatusCode::OK);
    server.wait_ready().await;

    pause();
    send_spooled(&url, 0..20).await;
    let retry = post(&url, &[], event(7)).await;
    assert_eq!(retry.status, StatusCode::ACCEPTED);
    assert_eq!(
        retry
            .headers
            .get("hookbridge-deduplicated")
            .map(|v| v.to_str().unwrap()),
        Some("true")
    );
    let readyz = get(&server.admin_url("/readyz")).await;
    assert_eq!(readyz.status, StatusCode::OK, "{:?}", readyz.body);
    resume();

    let mut expected = sent(20);
    expected.get_mut(SITES[0]).unwrap().insert(0, 1000);
    let got = per_site(broker, 21).await;
    assert_eq!(
        got, expected,
        "every record once, each site's in the order sent"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tansu_paused_means_202_spooled_and_every_record_once_in_order_after_resume() {
    let broker = Broker::start();
    paused_then_resumed(&broker, || broker.pause(), || broker.resume()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_paused_means_202_spooled_and_every_record_once_in_order_after_resume() {
    let kafka = Kafka::start(Options::default());
    paused_then_resumed(&kafka, || kafka.pause(1), || kafka.resume(1)).await;
}

/// Events spooled while `pause` holds, hookbridge killed with `kill -9`, `resume`,
/// hookbridge started again: every 202'd record reaches Kafka, each site's in order
/// (a record may arrive twice: its first copy was in doubt when the process died).
async fn killed_while_spooling(broker: &impl Cluster, pause: impl FnOnce(), resume: impl FnOnce()) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("hookbridge.toml");
    let spool = dir.path().join("spool");
    std::fs::write(&config, spooling_config(broker, &spool, 1 << 24)).unwrap();
    let mut hookbridge = Process::serve(&config).await;
    let url = hookbridge.url("/everbright/milestone-status-change");
    hookbridge.wait_ready().await;

    pause();
    send_spooled(&url, 0..30).await;
    hookbridge.kill().await;
    resume();

    let hookbridge = Process::serve(&config).await;
    let got = first_copies_once_all_in(broker, &sent(30)).await;
    assert_eq!(got, sent(30), "every 202'd record, each site's in order");
    drop(hookbridge);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tansu_kill_9_with_records_spooled_loses_none_and_keeps_each_sites_order() {
    let broker = Broker::start();
    killed_while_spooling(&broker, || broker.pause(), || broker.resume()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_kill_9_with_records_spooled_loses_none_and_keeps_each_sites_order() {
    let kafka = Kafka::start(Options::default());
    killed_while_spooling(&kafka, || kafka.pause(1), || kafka.resume(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_the_spool_to_a_reachable_broker_before_exiting() {
    let broker = Broker::start();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("hookbridge.toml");
    std::fs::write(
        &config,
        spooling_config(&broker, &dir.path().join("spool"), 1 << 24),
    )
    .unwrap();
    let mut hookbridge = Process::serve(&config).await;
    let url = hookbridge.url("/everbright/milestone-status-change");
    hookbridge.wait_ready().await;

    broker.pause();
    send_spooled(&url, 0..10).await;
    hookbridge.signal(Signal::Term).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    broker.resume();
    let status = hookbridge.wait_exit(Duration::from_secs(20)).await;
    assert_eq!(status.code(), Some(0));
    assert!(
        hookbridge
            .logs()
            .iter()
            .any(|l| l.contains("spool drained")),
        "{:#?}",
        hookbridge.logs()
    );
    assert_eq!(
        per_site(&broker, 10).await,
        sent(10),
        "every record once, in order"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_spool_is_503_and_not_ready_until_it_drains() {
    let broker = Broker::start();
    let dir = tempfile::tempdir().unwrap();
    let toml = spooling_config(&broker, dir.path(), 262_144)
        .replace("[server]", "[server]\nmax_body_bytes = 16384");
    let server = Server::start(&toml).await;
    let url = server.url("/everbright/milestone-status-change");
    server.wait_ready().await;

    broker.pause();
    let padding = "x".repeat(15_000);
    let mut statuses = Vec::new();
    for n in 0..40 {
        let body = format!(
            r#"{{"site":"{}","status":"APPROVED","n":{n},"pad":"{padding}"}}"#,
            SITES[0]
        );
        let answer = post(&url, &[], body).await;
        statuses.push(answer.status);
        if answer.status == StatusCode::SERVICE_UNAVAILABLE {
            assert!(answer.headers.contains_key("retry-after"));
            break;
        }
        assert_eq!(
            answer.status,
            StatusCode::ACCEPTED,
            "{n}: {:?}",
            answer.body
        );
    }
    assert_eq!(
        statuses.last(),
        Some(&StatusCode::SERVICE_UNAVAILABLE),
        "{statuses:?}"
    );
    let readyz = get(&server.admin_url("/readyz")).await;
    assert_eq!(readyz.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(readyz.body.starts_with(b"spool full"), "{:?}", readyz.body);

    broker.resume();
    server.wait_ready().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spool_cut_in_its_last_record_forwards_the_records_before_it_and_counts_the_cut() {
    let broker = Broker::start();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("hookbridge.toml");
    let spool = dir.path().join("spool");
    std::fs::write(&config, spooling_config(&broker, &spool, 1 << 24)).unwrap();
    let mut hookbridge = Process::serve(&config).await;
    let url = hookbridge.url("/everbright/milestone-status-change");
    hookbridge.wait_ready().await;

    broker.pause();
    send_spooled(&url, 0..10).await;
    hookbridge.kill().await;
    // A torn write: the last segment loses the end of its last record.
    let mut segments: Vec<_> = std::fs::read_dir(&spool)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .collect();
    segments.sort();
    let last = segments.last().expect("a segment");
    let length = std::fs::metadata(last).unwrap().len();
    let file = std::fs::OpenOptions::new().write(true).open(last).unwrap();
    file.set_len(length - 10).unwrap();
    drop(file);
    broker.resume();

    let hookbridge = Process::serve(&config).await;
    let corrupt = hookbridge
        .wait_for_metric("hookbridge_spool_corrupt_records_total", &[], |n| n >= 1.0)
        .await;
    assert_eq!(corrupt, 1.0);
    let got = first_copies_once_all_in(&broker, &sent(9)).await;
    assert_eq!(
        got,
        sent(9),
        "the records before the cut, each site's in order"
    );
    drop(hookbridge);
}
