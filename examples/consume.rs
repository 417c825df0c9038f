//! A downstream service's consumer, the way the README's "For consumers" section
//! describes it: it joins a consumer group, reads hookbridge's CloudEvents in either
//! binding mode, skips copies it has already handled (same `source` + `id`: a retried
//! webhook that reached Kafka twice, or a redriven record read again), handles each
//! event once (here: prints it), and commits only after handling it.
//!
//! ```text
//! cargo run --example consume -- --brokers 127.0.0.1:9092 --group my-service \
//!     --topic everbright.production.milestone-status-change
//! ```

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use clap::Parser;
use rdkafka::ClientConfig;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::{BorrowedMessage, Headers, Message};
use serde_json::Value;

/// Read hookbridge's topics as a consumer group.
#[derive(Parser)]
struct Args {
    /// Bootstrap brokers.
    #[arg(long)]
    brokers: String,
    /// The consumer group: one per downstream service.
    #[arg(long)]
    group: String,
    /// A topic to read (repeat for several).
    #[arg(long, required = true)]
    topic: Vec<String>,
    /// Stop after this many seconds without a record (default: run until killed).
    #[arg(long)]
    idle_exit: Option<u64>,
}

/// The event ids remembered for deduplication. A real service keeps them where it keeps
/// its own state (a table with a unique (source, id) key), for longer than senders
/// retry; this example keeps the last 100,000 in memory.
struct Seen {
    ids: HashSet<(String, String)>,
    order: VecDeque<(String, String)>,
}

impl Seen {
    const CAPACITY: usize = 100_000;

    /// Whether (source, id) is new; remembers it.
    fn first(&mut self, source: &str, id: &str) -> bool {
        let key = (source.to_string(), id.to_string());
        if !self.ids.insert(key.clone()) {
            return false;
        }
        self.order.push_back(key);
        if self.order.len() > Self::CAPACITY
            && let Some(old) = self.order.pop_front()
        {
            self.ids.remove(&old);
        }
        true
    }
}

/// A CloudEvent's attributes: from the JSON value (structured mode) or the `ce_`
/// headers (binary mode), whose value is then the data.
fn attributes(message: &BorrowedMessage<'_>) -> Option<Value> {
    let headers = message.headers();
    let header = |name: &str| {
        headers.and_then(|h| {
            h.iter()
                .find(|h| h.key == name)
                .and_then(|h| h.value)
                .map(|v| String::from_utf8_lossy(v).into_owned())
        })
    };
    let payload = message.payload().unwrap_or_default();
    if header("content-type").is_some_and(|ct| ct.starts_with("application/cloudevents+json")) {
        return serde_json::from_slice(payload).ok();
    }
    let mut event = serde_json::Map::new();
    for h in headers.into_iter().flat_map(|h| h.iter()) {
        if let (Some(name), Some(value)) = (h.key.strip_prefix("ce_"), h.value) {
            event.insert(name.into(), String::from_utf8_lossy(value).into());
        }
    }
    event.insert("data".into(), serde_json::from_slice(payload).ok()?);
    event.contains_key("id").then_some(Value::Object(event))
}

/// What the service does with an event: here, one line.
fn handle(event: &Value) {
    let text = |name: &str| event[name].as_str().unwrap_or("-").to_string();
    let redriven = event.get("redriven").map_or(String::new(), |t| {
        format!(" redriven={}", t.as_str().unwrap_or(""))
    });
    println!(
        "event {} site={} status={} id={} time={}{redriven}",
        text("type"),
        text("subject"),
        text("status"),
        text("id"),
        text("time"),
    );
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", &args.brokers)
        .set("group.id", &args.group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .create()?;
    let topics: Vec<&str> = args.topic.iter().map(String::as_str).collect();
    consumer.subscribe(&topics)?;
    let mut seen = Seen {
        ids: HashSet::new(),
        order: VecDeque::new(),
    };
    loop {
        let message = match args.idle_exit {
            Some(secs) => {
                match tokio::time::timeout(Duration::from_secs(secs), consumer.recv()).await {
                    Ok(message) => message?,
                    Err(_idle) => return Ok(()),
                }
            }
            None => consumer.recv().await?,
        };
        match attributes(&message) {
            Some(event) => {
                let (source, id) = (event["source"].as_str(), event["id"].as_str());
                if seen.first(source.unwrap_or(""), id.unwrap_or("")) {
                    handle(&event);
                } else {
                    println!(
                        "duplicate {} {}: skipped",
                        source.unwrap_or("-"),
                        id.unwrap_or("-")
                    );
                }
            }
            None => eprintln!(
                "not a CloudEvent at {}:{}",
                message.partition(),
                message.offset()
            ),
        }
        // At least once: the offset moves on only after the event was handled.
        consumer.commit_message(&message, CommitMode::Async)?;
    }
}
