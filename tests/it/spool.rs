//! The spool's forwarder against a real broker: spooled records reach Kafka through
//! the real producer, each site's in the order spooled, also across a broker pause;
//! and a restarted spool resumes where the acks stopped. The spool in the request
//! path, with its HTTP answers, is `spooling`'s.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use hookbridge::config::{self, Config};
use hookbridge::metrics::Metrics;
use hookbridge::publish::kafka::KafkaPublisher;
use hookbridge::publish::{Publish, Record};
use hookbridge::spool::{Entry, Forwarder, Forwarding, PublisherSource, Spool};
use tokio::time::Instant;

use crate::support::{self, Broker, Cluster, consumer, credential};

const SITES: usize = 5;

fn entry(topic: &str, n: usize) -> Entry {
    Entry {
        id: uuid::Uuid::now_v7(),
        dedup_key: n.to_be_bytes().to_vec(),
        record: Record {
            topic: topic.into(),
            key: Some(format!("site-{}", n % SITES)),
            value: format!("{{\"n\":{n}}}").into_bytes().into(),
            headers: vec![(Cow::Borrowed("n"), n.to_string().into_bytes())],
            timestamp: SystemTime::now(),
        },
    }
}

fn spool_config(dir: &Path) -> config::Spool {
    config::Spool {
        dir: dir.to_path_buf(),
        max_bytes: 1 << 30,
        segment_bytes: 64 << 10,
        drain_timeout: std::time::Duration::from_secs(30),
    }
}

/// A real producer for `broker`, with the test config's short ack timeout.
fn publisher(broker: &Broker, metrics: &Arc<Metrics>) -> (PublisherSource, Forwarding) {
    let toml = support::config(broker, "", credential::none("open"));
    let config = Config::parse(&toml, Path::new("."), &|_| None).unwrap();
    let forwarding = Forwarding::new(config.kafka.ack_timeout, config.kafka.delivery_timeout);
    let producer: Arc<dyn Publish> = Arc::new(
        KafkaPublisher::new(
            &config.kafka,
            metrics.clone(),
            "spool-probe".into(),
            Vec::new(),
        )
        .unwrap(),
    );
    (Arc::new(move || producer.clone()), forwarding)
}

async fn append_numbered(spool: &Spool, topic: &str, range: std::ops::Range<usize>) {
    for n in range {
        spool.append(&entry(topic, n)).await.unwrap();
    }
}

/// The numbers consumed from `topic`, per site, in offset order.
fn consumed(broker: &Broker, topic: &str, expected: usize) -> HashMap<String, Vec<usize>> {
    let records = consumer::consume(
        &broker.bootstrap(),
        &[],
        topic,
        expected,
        Duration::from_secs(30),
    );
    let mut by_partition: Vec<_> = records
        .into_iter()
        .map(|r| ((r.partition, r.offset), r))
        .collect();
    by_partition.sort_by_key(|(at, _)| *at);
    let mut per_site: HashMap<String, Vec<usize>> = HashMap::new();
    for (_, record) in by_partition {
        let n: usize = record.headers["n"].parse().unwrap();
        per_site.entry(record.key.unwrap()).or_default().push(n);
    }
    per_site
}

/// Every number in `0..count` arrived, and each site's first arrivals are in order
/// (delivery is at least once: a retry after a timeout may repeat a record).
fn assert_all_in_site_order(per_site: &HashMap<String, Vec<usize>>, count: usize) {
    let mut all: Vec<usize> = per_site.values().flatten().copied().collect();
    all.sort_unstable();
    all.dedup();
    assert_eq!(
        all,
        (0..count).collect::<Vec<_>>(),
        "every spooled record on Kafka"
    );
    for (site, numbers) in per_site {
        let mut firsts = Vec::new();
        for n in numbers {
            if !firsts.contains(n) {
                firsts.push(*n);
            }
        }
        let mut sorted = firsts.clone();
        sorted.sort_unstable();
        assert_eq!(firsts, sorted, "{site} out of order: {numbers:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spooled_records_reach_kafka_in_site_order_across_a_broker_pause() {
    let broker = Broker::start();
    let dir = tempfile::tempdir().unwrap();
    let topic = format!("spool-{}", uuid::Uuid::now_v7());
    let metrics = Arc::new(Metrics::new());
    let (spool, _) = Spool::open(&spool_config(dir.path()), metrics.clone()).unwrap();
    let spool = Arc::new(spool);
    let (source, forwarding) = publisher(&broker, &metrics);
    let forwarder = Arc::new(Forwarder::new(spool.clone(), source, forwarding));

    // Forwarding while the broker answers...
    append_numbered(&spool, &topic, 0..40).await;
    let drained = forwarder
        .drain(Instant::now() + Duration::from_secs(30))
        .await;
    assert_eq!(drained.remaining, 0);

    // ...and while it is paused: nothing is removed, the records wait their turn.
    broker.pause();
    append_numbered(&spool, &topic, 40..80).await;
    let drained = forwarder
        .drain(Instant::now() + forwarding.ack_timeout * 2)
        .await;
    assert!(
        drained.remaining > 0,
        "nothing can be acked by a paused broker"
    );
    broker.resume();
    let drained = forwarder
        .drain(Instant::now() + Duration::from_secs(60))
        .await;
    assert_eq!(
        drained.remaining, 0,
        "the spool drained once the broker was back"
    );
    assert!(metrics.spool_forwarded.with_label_values(&["acked"]).get() >= 80);

    assert_all_in_site_order(&consumed(&broker, &topic, 80), 80);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reopened_spool_forwards_only_what_was_not_acked() {
    let broker = Broker::start();
    let dir = tempfile::tempdir().unwrap();
    let topic = format!("spool-{}", uuid::Uuid::now_v7());
    let metrics = Arc::new(Metrics::new());
    let (source, forwarding) = publisher(&broker, &metrics);
    {
        let (spool, _) = Spool::open(&spool_config(dir.path()), metrics.clone()).unwrap();
        let spool = Arc::new(spool);
        append_numbered(&spool, &topic, 0..25).await;
        let forwarder = Forwarder::new(spool.clone(), source.clone(), forwarding);
        assert_eq!(
            forwarder
                .drain(Instant::now() + Duration::from_secs(30))
                .await
                .remaining,
            0
        );
        append_numbered(&spool, &topic, 25..50).await;
    }
    let (spool, recovered) = Spool::open(&spool_config(dir.path()), metrics.clone()).unwrap();
    assert_eq!(recovered.records, 25);
    let forwarder = Forwarder::new(Arc::new(spool), source, forwarding);
    assert_eq!(
        forwarder
            .drain(Instant::now() + Duration::from_secs(30))
            .await
            .remaining,
        0
    );
    let per_site = consumed(&broker, &topic, 50);
    assert_eq!(
        per_site.values().map(Vec::len).sum::<usize>(),
        50,
        "no record forwarded twice"
    );
    assert_all_in_site_order(&per_site, 50);
}
