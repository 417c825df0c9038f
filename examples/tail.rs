//! Reads records from a topic and prints them: key, headers, and the value (pretty
//! JSON when it is JSON, members in the order they were written: a structured
//! CloudEvent's attributes — id, source, type, subject … — come before its `data`). A plain Kafka consumer, independent of hookbridge's own code,
//! used by `scripts/demo.sh` to show what downstream services receive, and with
//! `--quiet` by `scripts/bench-load.sh` to count what a load run put on Kafka.
//!
//! ```text
//! cargo run --example tail -- --brokers 127.0.0.1:9092 --topic everbright.production.milestone-status-change --count 1
//! ```

use std::time::{Duration, Instant};

use clap::Parser;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};

/// Print the records of a Kafka topic.
#[derive(Parser)]
struct Args {
    /// Bootstrap brokers.
    #[arg(long)]
    brokers: String,
    /// The topic to read from its beginning.
    #[arg(long)]
    topic: String,
    /// Stop after this many records.
    #[arg(long, default_value_t = 1)]
    count: usize,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 20)]
    timeout: u64,
    /// Print only the number of records read (`scripts/bench-load.sh` counts with it).
    #[arg(long)]
    quiet: bool,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &args.brokers)
        .set("group.id", "hookbridge-tail")
        .set("enable.auto.commit", "false")
        .create()?;
    let deadline = Instant::now() + Duration::from_secs(args.timeout);
    let metadata = consumer.fetch_metadata(Some(&args.topic), Duration::from_secs(10))?;
    let partitions = metadata
        .topics()
        .iter()
        .find(|t| t.name() == args.topic)
        .map_or(0, |t| t.partitions().len());
    if partitions == 0 {
        return Err(format!("topic {} not found", args.topic).into());
    }
    let mut assignment = TopicPartitionList::new();
    for p in 0..partitions {
        assignment.add_partition_offset(&args.topic, i32::try_from(p)?, Offset::Beginning)?;
    }
    consumer.assign(&assignment)?;
    let mut seen = 0;
    while seen < args.count {
        if Instant::now() > deadline {
            return Err(format!(
                "only {seen} of {} records within {} s",
                args.count, args.timeout
            )
            .into());
        }
        let Some(message) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let m = message?;
        seen += 1;
        if args.quiet {
            continue;
        }
        println!(
            "--- {} partition {} offset {}",
            m.topic(),
            m.partition(),
            m.offset()
        );
        println!(
            "key: {}",
            m.key().map_or("(none)".into(), String::from_utf8_lossy)
        );
        for h in m.headers().iter().flat_map(|h| h.iter()) {
            println!(
                "header {}: {}",
                h.key,
                String::from_utf8_lossy(h.value.unwrap_or_default())
            );
        }
        println!("{}", pretty(m.payload().unwrap_or_default())?);
    }
    if args.quiet {
        println!("{seen}");
    }
    Ok(())
}

/// The value as pretty JSON, or as text when it is not JSON. A JSON object keeps its
/// members in the order they were written (serde_json's map would sort them and bury a
/// CloudEvent's `id` and `type` under ~100 lines of `data`), with `data` and
/// `data_base64` moved last.
fn pretty(value: &[u8]) -> Result<String, serde_json::Error> {
    let Ok(Members(mut members)) = serde_json::from_slice::<Members>(value) else {
        return match serde_json::from_slice::<serde_json::Value>(value) {
            Ok(json) => serde_json::to_string_pretty(&json),
            Err(_) => Ok(String::from_utf8_lossy(value).into_owned()),
        };
    };
    members.sort_by_key(|(name, _)| name == "data" || name == "data_base64");
    let mut out = String::from("{");
    for (i, (name, member)) in members.iter().enumerate() {
        let separator = if i + 1 < members.len() { "," } else { "" };
        let member = serde_json::to_string_pretty(member)?.replace('\n', "\n  ");
        out.push_str(&format!(
            "\n  {}: {member}{separator}",
            serde_json::to_string(name)?
        ));
    }
    out.push_str("\n}");
    Ok(out)
}

/// A JSON object's members in document order.
struct Members(Vec<(String, serde_json::Value)>);

impl<'de> Deserialize<'de> for Members {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct InOrder;
        impl<'de> Visitor<'de> for InOrder {
            type Value = Members;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members, A::Error> {
                let mut members = Vec::new();
                while let Some(member) = map.next_entry()? {
                    members.push(member);
                }
                Ok(Members(members))
            }
        }
        deserializer.deserialize_map(InOrder)
    }
}
