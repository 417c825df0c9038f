//! Reading records back with a real Kafka consumer (rdkafka), independent of
//! hookbridge's producer code. Partitions are assigned directly (no group join), and
//! records are counted by consuming: tansu's watermarks are not reliable.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

/// A consumed record.
#[derive(Debug, Clone)]
pub struct Consumed {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<String>,
    pub value: Vec<u8>,
    pub headers: HashMap<String, String>,
    pub timestamp_ms: Option<i64>,
}

impl Consumed {
    /// The value as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.value).expect("record value is JSON")
    }
}

/// Every record of `topic` seen within `wait`, returning early once `expected` are in
/// (then lingering a little to catch any extra ones).
pub fn consume(
    bootstrap: &str,
    properties: &[(&str, String)],
    topic: &str,
    expected: usize,
    wait: Duration,
) -> Vec<Consumed> {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("it-{}", uuid::Uuid::now_v7()))
        .set("enable.auto.commit", "false")
        .set("session.timeout.ms", "6000");
    for (key, value) in properties {
        config.set(*key, value);
    }
    let consumer: BaseConsumer = config.create().expect("consumer");
    let deadline = Instant::now() + wait;
    let partitions = loop {
        let found = consumer
            .fetch_metadata(Some(topic), Duration::from_secs(2))
            .ok()
            .and_then(|m| {
                m.topics()
                    .iter()
                    .find(|t| t.name() == topic && t.error().is_none())
                    .map(|t| t.partitions().len())
            })
            .filter(|n| *n > 0);
        match found {
            Some(n) => break n,
            None if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            None => return Vec::new(),
        }
    };
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p as i32, Offset::Beginning)
            .expect("partition");
    }
    consumer.assign(&tpl).expect("assign");
    let mut out = Vec::new();
    let mut linger_until: Option<Instant> = None;
    loop {
        let now = Instant::now();
        if now >= deadline || linger_until.is_some_and(|t| now >= t) {
            break;
        }
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
            let headers = m
                .headers()
                .map(|h| {
                    h.iter()
                        .map(|h| {
                            (
                                h.key.to_string(),
                                String::from_utf8_lossy(h.value.unwrap_or_default()).into_owned(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            out.push(Consumed {
                partition: m.partition(),
                offset: m.offset(),
                key: m.key().map(|k| String::from_utf8_lossy(k).into_owned()),
                value: m.payload().unwrap_or_default().to_vec(),
                headers,
                timestamp_ms: m.timestamp().to_millis(),
            });
        }
        if out.len() >= expected && linger_until.is_none() {
            linger_until = Some(Instant::now() + Duration::from_millis(750));
        }
    }
    out
}
