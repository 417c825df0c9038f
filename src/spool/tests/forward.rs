//! The forwarder against a fake publisher that acks, fails or hangs per attempt.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::time::Instant;

use super::*;
use crate::publish::{Delivery, Publish, PublishError, Publishing, Readiness};

/// What the fake does with one attempt.
#[derive(Clone)]
enum Behaviour {
    /// Acks after this long.
    Ack(Duration),
    Fail(PublishError),
    /// Never answers.
    Hang,
}

/// Decides each attempt from the record's number (its `ce_id` header) and how many
/// attempts that record had before.
type Script = Box<dyn Fn(u64, u32) -> Behaviour + Send + Sync>;

#[derive(Default)]
struct Seen {
    attempts: HashMap<u64, u32>,
    /// Record numbers in the order their acks were given.
    acked: Vec<u64>,
    in_flight: HashMap<String, u32>,
    most_in_flight_per_key: u32,
    in_flight_total: u32,
    most_in_flight: u32,
}

struct Fake {
    script: Script,
    seen: Mutex<Seen>,
}

impl Fake {
    fn new(script: impl Fn(u64, u32) -> Behaviour + Send + Sync + 'static) -> Arc<Fake> {
        Arc::new(Fake {
            script: Box::new(script),
            seen: Mutex::new(Seen::default()),
        })
    }

    fn acked(&self) -> Vec<u64> {
        self.seen.lock().unwrap().acked.clone()
    }
}

/// Leaves the in-flight count when the attempt ends, however it ends.
struct Flight<'a> {
    fake: &'a Fake,
    key: String,
}

impl Drop for Flight<'_> {
    fn drop(&mut self) {
        let mut seen = self.fake.seen.lock().unwrap();
        *seen.in_flight.get_mut(&self.key).unwrap() -= 1;
        seen.in_flight_total -= 1;
    }
}

impl Publish for Fake {
    fn publish(&self, record: &Record, _deadline: tokio::time::Instant) -> Publishing<'_> {
        let n: u64 = String::from_utf8_lossy(&record.headers[0].1)
            .parse()
            .unwrap();
        let key = record.key.clone().unwrap_or_default();
        let behaviour = {
            let mut seen = self.seen.lock().unwrap();
            let attempt = seen.attempts.entry(n).or_default();
            let behaviour = (self.script)(n, *attempt);
            *attempt += 1;
            let per_key = seen.in_flight.entry(key.clone()).or_default();
            *per_key += 1;
            let per_key = *per_key;
            seen.most_in_flight_per_key = seen.most_in_flight_per_key.max(per_key);
            seen.in_flight_total += 1;
            seen.most_in_flight = seen.most_in_flight.max(seen.in_flight_total);
            behaviour
        };
        Box::pin(async move {
            let _flight = Flight { fake: self, key };
            let result = match behaviour {
                Behaviour::Ack(after) => {
                    tokio::time::sleep(after).await;
                    self.seen.lock().unwrap().acked.push(n);
                    Ok(Delivery {
                        partition: 0,
                        offset: n as i64,
                    })
                }
                Behaviour::Fail(e) => Err(e),
                // A publisher that never answers, not even at the deadline.
                Behaviour::Hang => std::future::pending().await,
            };
            result.into()
        })
    }

    fn readiness(&self) -> Readiness {
        Readiness::Ready
    }

    fn flush(&self, _: Duration) {}
}

fn quick() -> Forwarding {
    Forwarding {
        concurrency: 8,
        ack_timeout: Duration::from_millis(200),
        attempt_timeout: Duration::from_millis(300),
        first_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(40),
    }
}

async fn spooled(dir: &Path, count: u64, sites: u64) -> (Arc<Spool>, Arc<Metrics>) {
    let (spool, _, metrics) = open(&settings(dir, 1 << 26, 8192));
    let entries: Vec<Entry> = (0..count).map(|n| entry(n, 200, sites)).collect();
    for r in append_all(&spool, &entries).await {
        r.unwrap();
    }
    (Arc::new(spool), metrics)
}

fn forwarder(spool: &Arc<Spool>, fake: &Arc<Fake>, settings: Forwarding) -> Arc<Forwarder> {
    let fake = fake.clone();
    let source: PublisherSource = Arc::new(move || fake.clone() as Arc<dyn Publish>);
    Arc::new(Forwarder::new(spool.clone(), source, settings))
}

/// Runs the forwarder until the spool is empty (or 20 s pass), then stops it.
async fn forward_all(forwarder: &Arc<Forwarder>, spool: &Spool) {
    let drained = forwarder
        .drain(Instant::now() + Duration::from_secs(20))
        .await;
    assert_eq!(drained.remaining, 0, "the spool did not drain");
    assert!(spool.is_empty());
}

/// Each site's record numbers in the order they were acked, against the order spooled.
fn assert_site_order(acked: &[u64], count: u64, sites: u64) {
    let mut distinct = acked.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(
        distinct,
        (0..count).collect::<Vec<_>>(),
        "every record acked"
    );
    for site in 0..sites {
        let order: Vec<u64> = acked
            .iter()
            .copied()
            .filter(|n| n % sites == site)
            .collect();
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(order, sorted, "site {site} out of order");
    }
}

#[tokio::test]
async fn everything_is_forwarded_once_in_site_order_and_the_spool_empties() {
    let dir = tempfile::tempdir().unwrap();
    let (spool, metrics) = spooled(dir.path(), 200, 7).await;
    let fake = Fake::new(|n, _| Behaviour::Ack(Duration::from_millis(n * 7 % 5)));
    forward_all(&forwarder(&spool, &fake, quick()), &spool).await;
    let acked = fake.acked();
    assert_eq!(acked.len(), 200, "no record published twice");
    assert_site_order(&acked, 200, 7);
    let (per_key, most) = {
        let seen = fake.seen.lock().unwrap();
        (seen.most_in_flight_per_key, seen.most_in_flight)
    };
    assert_eq!(per_key, 1, "one record per site in flight");
    assert!(most > 1 && most <= 8, "{most}");
    assert_eq!(
        metrics.spool_forwarded.with_label_values(&["acked"]).get(),
        200
    );
    spool.synced(200).await;
    assert_eq!(
        segment_files(dir.path()),
        Vec::<u64>::new(),
        "forwarded segments go"
    );
    assert_eq!(metrics.spool_records.get(), 0);
    assert_eq!(metrics.spool_oldest_record_age.get(), 0.0);
}

#[tokio::test]
async fn failures_back_off_and_retry_without_reordering_a_site() {
    let dir = tempfile::tempdir().unwrap();
    let (spool, _) = spooled(dir.path(), 60, 4).await;
    let fake = Fake::new(|n, attempt| match (n % 5, attempt) {
        (0, 0..=2) => Behaviour::Fail(PublishError::TimedOut),
        (3, 0) => Behaviour::Fail(PublishError::QueueFull),
        _ => Behaviour::Ack(Duration::ZERO),
    });
    forward_all(&forwarder(&spool, &fake, quick()), &spool).await;
    let acked = fake.acked();
    assert_eq!(acked.len(), 60);
    assert_site_order(&acked, 60, 4);
    assert_eq!(fake.seen.lock().unwrap().attempts[&0], 4);
}

#[tokio::test]
async fn an_attempt_that_hangs_is_given_up_and_retried() {
    let dir = tempfile::tempdir().unwrap();
    let (spool, _) = spooled(dir.path(), 12, 3).await;
    let fake = Fake::new(|n, attempt| match (n, attempt) {
        (5, 0) => Behaviour::Hang,
        _ => Behaviour::Ack(Duration::ZERO),
    });
    forward_all(&forwarder(&spool, &fake, quick()), &spool).await;
    assert_site_order(&fake.acked(), 12, 3);
    assert_eq!(fake.seen.lock().unwrap().attempts[&5], 2);
}

#[tokio::test]
async fn a_record_kafka_refuses_for_good_is_removed_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let (spool, metrics) = spooled(dir.path(), 10, 2).await;
    let fake = Fake::new(|n, _| match n {
        3 => Behaviour::Fail(PublishError::MessageTooLarge),
        _ => Behaviour::Ack(Duration::ZERO),
    });
    forward_all(&forwarder(&spool, &fake, quick()), &spool).await;
    let mut acked = fake.acked();
    acked.sort_unstable();
    assert_eq!(acked, [0, 1, 2, 4, 5, 6, 7, 8, 9]);
    assert_eq!(
        metrics
            .spool_forwarded
            .with_label_values(&["rejected"])
            .get(),
        1
    );
    assert_eq!(
        metrics.spool_forwarded.with_label_values(&["acked"]).get(),
        9
    );
}

#[tokio::test]
async fn a_drain_stops_at_its_deadline_when_kafka_does_not_answer() {
    let dir = tempfile::tempdir().unwrap();
    let (spool, metrics) = spooled(dir.path(), 20, 20).await;
    let fake = Fake::new(|_, _| Behaviour::Hang);
    let forwarder = forwarder(
        &spool,
        &fake,
        Forwarding {
            attempt_timeout: Duration::from_secs(60),
            ..quick()
        },
    );
    let started = Instant::now();
    let drained = forwarder.drain(started + Duration::from_millis(300)).await;
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(5),
        "{took:?}"
    );
    assert_eq!(drained.remaining, 20);
    assert!(
        metrics.spool_oldest_record_age.get() > 1_000_000.0,
        "entries are from 2023"
    );
    // Nothing abandoned is lost: the records are still there for the next run.
    assert_eq!(spool.len(), 20);
}

#[tokio::test]
async fn run_forwards_new_records_until_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let (spool, _, _) = open(&settings(dir.path(), 1 << 24, 8192));
    let spool = Arc::new(spool);
    let fake = Fake::new(|_, _| Behaviour::Ack(Duration::ZERO));
    let forwarder = forwarder(&spool, &fake, quick());
    let (stop, stopped) = oneshot::channel::<()>();
    let running = tokio::spawn({
        let forwarder = forwarder.clone();
        async move {
            forwarder
                .run(async {
                    let _ = stopped.await;
                })
                .await
        }
    });
    for n in 0..5 {
        spool.append(&entry(n, 10, 2)).await.unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while !spool.is_empty() {
        assert!(
            Instant::now() < deadline,
            "appended records were not forwarded"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    stop.send(()).unwrap();
    running.await.unwrap();
    assert_site_order(&fake.acked(), 5, 2);
}

#[tokio::test]
async fn a_restart_forwards_what_was_not_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (spool, _) = spooled(dir.path(), 30, 30).await;
        // Kafka takes the first ten only; the forwarder gives up at its deadline.
        let fake = Fake::new(|n, _| match n {
            0..10 => Behaviour::Ack(Duration::ZERO),
            _ => Behaviour::Fail(PublishError::TimedOut),
        });
        let forwarder = forwarder(&spool, &fake, quick());
        let drained = forwarder
            .drain(Instant::now() + Duration::from_millis(500))
            .await;
        assert_eq!(drained.remaining, 20);
        spool.synced(10).await;
    }
    let (spool, recovered, _) = open(&settings(dir.path(), 1 << 26, 8192));
    assert_eq!(recovered.records, 20);
    let spool = Arc::new(spool);
    let fake = Fake::new(|_, _| Behaviour::Ack(Duration::ZERO));
    forward_all(&forwarder(&spool, &fake, quick()), &spool).await;
    let mut acked = fake.acked();
    acked.sort_unstable();
    assert_eq!(acked, (10..30).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_record_whose_first_copy_landed_is_removed_without_a_second_copy() {
    let dir = tempfile::tempdir().unwrap();
    let (spool, _, metrics) = open(&settings(dir.path(), 1 << 26, 8192));
    let spool = Arc::new(spool);
    let entries: Vec<Entry> = (0..3).map(|n| entry(n, 200, 3)).collect();
    // Records 0 and 1 were spooled while their first copies were in doubt.
    let landed = spool.doubts().register(entries[0].dedup_key.clone());
    let lost = spool.doubts().register(entries[1].dedup_key.clone());
    for r in append_all(&spool, &entries).await {
        r.unwrap();
    }
    let fake = Fake::new(|_, _| Behaviour::Ack(Duration::ZERO));
    let forwarder = forwarder(&spool, &fake, quick());
    let forwarding = {
        let (forwarder, spool) = (forwarder.clone(), spool.clone());
        tokio::spawn(async move { forward_all(&forwarder, &spool).await })
    };
    // The forwarder waits for the fates; record 2 does not.
    let deadline = Instant::now() + Duration::from_secs(10);
    while fake.acked() != [2] {
        assert!(
            Instant::now() < deadline,
            "record 2 not forwarded: {:?}",
            fake.acked()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    landed.landed(true);
    lost.landed(false);
    forwarding.await.unwrap();
    assert_eq!(
        fake.acked(),
        [2, 1],
        "record 0 was stored by its first copy"
    );
    let forwarded = |result| metrics.spool_forwarded.with_label_values(&[result]).get();
    assert_eq!((forwarded("acked"), forwarded("landed")), (2, 1));
    assert!(spool.doubts().is_empty());
}
