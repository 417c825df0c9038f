//! The rdkafka producer behind [`Publish`].
//!
//! Settings hookbridge owns: `acks=all` and `enable.idempotence=true` (no acknowledged
//! record is lost or duplicated by producer retries), and `message.timeout.ms` equal to
//! `kafka.delivery_timeout`, longer than `kafka.ack_timeout`: a record whose sender was
//! answered at its deadline without an ack is in doubt (see [`super::outcome`]), and
//! librdkafka keeps retrying it — idempotently, so the broker stores it at most once —
//! until it is acknowledged or the delivery timeout passes. Its fate then decides what
//! becomes of its event (docs/reference.md, "One event, one record"). Enqueueing never
//! waits: a full queue is an immediate 503.
//!
//! A supervising task asks the broker for metadata every [`PROBE_INTERVAL`] and, with
//! what the records' outcomes and librdkafka's errors told [`Health`], replaces the
//! producer by a fresh one (a new producer id) when the broker fenced it, librdkafka
//! reports a fatal error, the brokers report another cluster id than before, or records
//! keep failing while the broker answers — what a broker that restarted without its
//! state looks like. Nothing acknowledged is lost by a replacement: only records that
//! were never acked were in the old producer; those purged from its queue were never
//! sent, and those purged in flight stay in doubt until their delivery timeout.
//!
//! Beside it, the publisher checks the size limits of the topics it writes to (see
//! [`super::topics`]) at start, when the topics change and every
//! [`LIMITS_INTERVAL`], and sends a heartbeat record every `kafka.heartbeat_interval`
//! when `kafka.heartbeat_topic` is set, so that readiness and recovery do not wait for
//! webhooks.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::{ClientContext, Statistics};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::Instant as Deadline;

use super::errors::{Class, Stored, kind_of, kind_of_code, stored_after};
use super::health::{Health, ProducerHealth, Readiness, Replace};
use super::topics::{self, Finding};
use super::{
    Delivery, ErrorKind, Fate, Outcome, Publish, PublishError, Publishing, Record, by_deadline,
    stats,
};
use crate::config::{Kafka, PropertyValue};
use crate::metrics::Metrics;

/// How often the broker is asked for metadata, for readiness and to tell a stuck
/// producer from an unreachable broker.
pub const PROBE_INTERVAL: Duration = Duration::from_secs(1);

/// How long one metadata probe may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// How often the topics' size limits are looked up again (they change rarely).
pub const LIMITS_INTERVAL: Duration = Duration::from_secs(600);

/// How soon a failed size-limit lookup is tried again.
const LIMITS_RETRY: Duration = Duration::from_secs(30);

/// librdkafka statistics interval, unless `kafka.properties` sets one.
const DEFAULT_STATISTICS_INTERVAL_MS: &str = "15000";

/// How long librdkafka waits to fill a batch, unless `kafka.properties` sets it. Every
/// webhook waits for its own ack, so this is added to each request's latency;
/// librdkafka's default of 5 ms measured at less than half the throughput of 1 ms in
/// `scripts/bench-load.sh` (records queued while a request is in flight still batch).
const DEFAULT_LINGER_MS: &str = "1";

/// The librdkafka client callbacks of one producer: logs, errors and statistics go to
/// tracing, metrics and [`Health`].
pub struct Context {
    metrics: Arc<Metrics>,
    health: Arc<Health>,
    producer: Arc<ProducerHealth>,
    tx_errors: Mutex<HashMap<String, u64>>,
}

/// How much of librdkafka's own log a client passes on to tracing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verbosity {
    /// Each line at its own level.
    All,
    /// Errors at error level, the rest at debug.
    Errors,
}

/// Passes one librdkafka log line on to tracing (target `librdkafka`).
pub fn log(verbosity: Verbosity, level: RDKafkaLogLevel, facility: &str, message: &str) {
    match (level, verbosity) {
        (
            RDKafkaLogLevel::Emerg
            | RDKafkaLogLevel::Alert
            | RDKafkaLogLevel::Critical
            | RDKafkaLogLevel::Error,
            _,
        ) => tracing::error!(target: "librdkafka", facility, "{message}"),
        (RDKafkaLogLevel::Warning, Verbosity::All) => {
            tracing::warn!(target: "librdkafka", facility, "{message}")
        }
        (RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info, Verbosity::All) => {
            tracing::info!(target: "librdkafka", facility, "{message}")
        }
        _ => tracing::debug!(target: "librdkafka", facility, "{message}"),
    }
}

impl ClientContext for Context {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        log(Verbosity::All, level, facility, message);
    }

    fn stats(&self, statistics: Statistics) {
        stats::export(&self.metrics, &statistics, &self.tx_errors);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        let kind = kind_of(&error);
        self.metrics
            .kafka_errors
            .with_label_values(&[kind.as_str()])
            .inc();
        self.health
            .client_error(kind, broker_of(reason), Instant::now());
        if kind == ErrorKind::Fenced {
            self.producer.fenced(kind);
        }
        // librdkafka's own log line (see `log`) already reports it at error level.
        tracing::debug!(kind = kind.as_str(), error = %error, "kafka client error: {reason}");
    }
}

/// The broker a librdkafka error reason is about: reasons start with the broker's name
/// (`sasl_ssl://127.0.0.1:9093/2: Connect to … failed`, `127.0.0.1:9092/bootstrap: …`).
fn broker_of(reason: &str) -> Option<&str> {
    let (name, _) = reason.split_once(": ")?;
    let (address, id) = name.rsplit_once('/')?;
    let named = id == "bootstrap" || (!id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()));
    (named && address.contains(':') && !name.contains(' ')).then_some(name)
}

/// One producer and what [`Health`] knows of it.
struct Current {
    producer: FutureProducer<Context>,
    health: Arc<ProducerHealth>,
}

/// What the publisher and its tasks share.
struct Shared {
    current: ArcSwap<Current>,
    config: ClientConfig,
    metrics: Arc<Metrics>,
    health: Arc<Health>,
    /// How long librdkafka delivers a record (`message.timeout.ms`): a record in doubt
    /// is settled by then.
    delivery_timeout: Duration,
    /// The largest record hookbridge may produce, for the topic limit check.
    max_record_bytes: usize,
    /// The topics the serving config writes to, for the limit check.
    topics: Mutex<Vec<String>>,
    /// Wakes the limit check when `topics` changed.
    topics_changed: Notify,
    /// What the last limit check found.
    findings: Mutex<Vec<Finding>>,
}

/// Publishes to Kafka with rdkafka's `FutureProducer`, replacing it when it cannot
/// get records acknowledged (see the module documentation).
pub struct KafkaPublisher {
    shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
}

impl KafkaPublisher {
    /// Creates the producer and starts its tasks: the supervisor, which probes the
    /// metadata of `probe_topic`; the size-limit check of `topics`; and the heartbeat
    /// when `kafka.heartbeat_topic` is set. Must be called within a Tokio runtime.
    pub fn new(
        kafka: &Kafka,
        metrics: Arc<Metrics>,
        probe_topic: String,
        topics: Vec<String>,
    ) -> Result<Self, KafkaError> {
        let config = client_config(kafka);
        let health = Arc::new(Health::default());
        let producer = health.producer();
        let shared = Arc::new(Shared {
            current: ArcSwap::from_pointee(Current {
                producer: create(&config, &metrics, &health, &producer)?,
                health: producer,
            }),
            config,
            metrics,
            health,
            delivery_timeout: kafka.delivery_timeout,
            max_record_bytes: kafka.max_record_bytes,
            topics: Mutex::new(topics),
            topics_changed: Notify::new(),
            findings: Mutex::new(Vec::new()),
        });
        shared
            .metrics
            .kafka_max_record_bytes
            .set(i64::try_from(kafka.max_record_bytes).unwrap_or(i64::MAX));
        let mut tasks = vec![
            tokio::spawn(supervise(shared.clone(), probe_topic)),
            tokio::spawn(check_limits(shared.clone())),
        ];
        if let Some(topic) = &kafka.heartbeat_topic {
            let interval = kafka.heartbeat_interval;
            tasks.push(tokio::spawn(heartbeat(
                shared.clone(),
                topic.clone(),
                interval,
                kafka.ack_timeout,
            )));
        }
        Ok(KafkaPublisher { shared, tasks })
    }
}

impl Shared {
    /// Swaps in a fresh producer. Only the supervising task calls it.
    fn replace(&self, why: Replace, detail: &str) {
        let health = self.health.producer();
        match create(&self.config, &self.metrics, &self.health, &health) {
            Ok(producer) => {
                self.health.replaced(Instant::now());
                let old = self.current.swap(Arc::new(Current { producer, health }));
                self.metrics
                    .kafka_errors
                    .with_label_values(&[ErrorKind::ProducerReset.as_str()])
                    .inc();
                tracing::warn!(
                    reason = why.as_str(),
                    detail,
                    "replaced the kafka producer with a fresh one"
                );
                // Dropping a producer purges its queue (its waiting senders get 503)
                // and blocks up to 500 ms: not on async threads.
                tokio::task::spawn_blocking(move || drop(old));
            }
            Err(e) => tracing::error!(error = %e, "cannot replace the failing kafka producer"),
        }
    }

    fn findings(&self) -> std::sync::MutexGuard<'_, Vec<Finding>> {
        self.findings.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Probes the broker every [`PROBE_INTERVAL`] and replaces the producer when
/// [`Health`] or librdkafka says it must go; a fencing cuts the wait short.
async fn supervise(shared: Arc<Shared>, topic: String) {
    loop {
        let current = shared.current.load_full();
        let t = topic.clone();
        let (answered_by, cluster_id) = tokio::task::spawn_blocking(move || {
            let client = current.producer.client();
            let Ok(metadata) = client.fetch_metadata(Some(&t), PROBE_TIMEOUT) else {
                return (None, None);
            };
            // The id of the cluster that just answered (librdkafka keeps the last one).
            let id = client.fetch_cluster_id(Duration::ZERO);
            (Some(metadata.orig_broker_name().to_string()), id)
        })
        .await
        .unwrap_or((None, None));
        let now = Instant::now();
        let changed = shared
            .health
            .probed(answered_by.as_deref(), cluster_id, now);
        let current = shared.current.load();
        if let Some((code, reason)) = current.producer.client().fatal_error() {
            // A fatal error for lack of rights is not a fencing: readiness says so.
            let kind = kind_of_code(code);
            let kind = if kind.class() == Class::Misconfigured {
                kind
            } else {
                ErrorKind::Fenced
            };
            current.health.fenced(kind);
            if let Some(why) = shared.health.verdict(&current.health, now) {
                drop(current);
                shared.replace(why, &reason);
            }
        } else if changed {
            drop(current);
            shared.replace(Replace::ClusterChanged, "");
        } else if let Some(why) = shared.health.verdict(&current.health, now) {
            drop(current);
            shared.replace(why, "");
        }
        tokio::select! {
            () = tokio::time::sleep(PROBE_INTERVAL) => {}
            () = shared.health.fenced() => {}
        }
    }
}

/// Looks up the topics' size limits at start, when the topics change, and every
/// [`LIMITS_INTERVAL`]; exports them and warns about those that fall short.
async fn check_limits(shared: Arc<Shared>) {
    let mut reported: Vec<Finding> = Vec::new();
    let mut failed: Option<String> = None;
    loop {
        let topics = shared
            .topics
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if topics.is_empty() {
            // Nothing to check (`hookbridge redrive` counts refusals itself).
            shared.topics_changed.notified().await;
            continue;
        }
        let wait = match topics::check(&shared.config, &topics).await {
            Ok(limits) => {
                failed = None;
                let gauge = &shared.metrics.kafka_topic_max_message_bytes;
                gauge.reset();
                for limit in &limits {
                    gauge
                        .with_label_values(&[&limit.topic])
                        .set(i64::try_from(limit.max_message_bytes).unwrap_or(i64::MAX));
                }
                let findings: Vec<Finding> = limits
                    .iter()
                    .filter_map(|l| l.finding(shared.max_record_bytes))
                    .collect();
                if findings != reported {
                    for line in topics::summary(&findings) {
                        tracing::warn!(max_record_bytes = shared.max_record_bytes, "{line}");
                    }
                    reported.clone_from(&findings);
                }
                *shared.findings() = findings;
                LIMITS_INTERVAL
            }
            Err(e) => {
                // Once per kind of failure: at start the brokers may not answer yet,
                // and without the DescribeConfigs ACL the check can never run.
                let why = e.to_string();
                if failed.as_deref() != Some(why.as_str()) {
                    tracing::warn!(error = %e, "cannot look up the topics' size limits (max.message.bytes); hookbridge needs DescribeConfigs on its topics to check them, and tries again every 30 s");
                    failed = Some(why);
                }
                LIMITS_RETRY
            }
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = shared.topics_changed.notified() => {}
        }
    }
}

/// Sends a small record to `topic` every `interval`, each awaited at most
/// `ack_timeout`: its outcome tells [`Health`] whether records get through when no
/// webhook arrives.
async fn heartbeat(shared: Arc<Shared>, topic: String, interval: Duration, ack_timeout: Duration) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let now = SystemTime::now();
        let record = Record {
            topic: topic.as_str().into(),
            key: Some("hookbridge".into()),
            value: format!("{{\"heartbeat\":{}}}", epoch_millis(now))
                .into_bytes()
                .into(),
            headers: Vec::new(),
            timestamp: now,
        };
        let deadline = Deadline::now() + ack_timeout;
        let result = match publish(&shared, &record, deadline).await {
            Outcome::Acked(_) => "acked",
            Outcome::Failed(e) => {
                tracing::debug!(topic, error = %e, "heartbeat record failed");
                "failed"
            }
            // Its fate does not matter: only whether records get through now.
            Outcome::InDoubt(_) => "failed",
        };
        shared
            .metrics
            .kafka_heartbeats
            .with_label_values(&[result])
            .inc();
    }
}

fn create(
    config: &ClientConfig,
    metrics: &Arc<Metrics>,
    health: &Arc<Health>,
    producer: &Arc<ProducerHealth>,
) -> Result<FutureProducer<Context>, KafkaError> {
    config.create_with_context(Context {
        metrics: metrics.clone(),
        health: health.clone(),
        producer: producer.clone(),
        tx_errors: Mutex::new(HashMap::new()),
    })
}

/// How any client of hookbridge's reaches the cluster: `kafka.brokers` and the user's
/// properties (TLS, SASL, …), which a consumer shares with the producer.
pub fn connection_config(kafka: &Kafka) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("client.id", "hookbridge");
    for (key, value) in &kafka.properties {
        match value {
            PropertyValue::Plain(v) => config.set(key, v),
            PropertyValue::Secret(s) => config.set(key, String::from_utf8_lossy(s.expose())),
        };
    }
    config.set("bootstrap.servers", &kafka.brokers);
    config
}

/// The librdkafka configuration of the producer for `kafka`: hookbridge's defaults,
/// the user's properties, then the keys hookbridge owns (which the config refuses as
/// properties).
pub fn client_config(kafka: &Kafka) -> ClientConfig {
    let mut config = connection_config(kafka);
    for (key, value) in [
        ("statistics.interval.ms", DEFAULT_STATISTICS_INTERVAL_MS),
        ("linger.ms", DEFAULT_LINGER_MS),
        // A connection to every broker, not only to the leaders written to: a broker
        // that goes down is then noticed at once, named by /readyz, and no producer is
        // replaced while it is down (see `health`).
        ("enable.sparse.connections", "false"),
    ] {
        if !kafka.properties.iter().any(|(k, _)| k == key) {
            config.set(key, value);
        }
    }
    if !kafka
        .properties
        .iter()
        .any(|(k, _)| k == "message.max.bytes")
    {
        config.set("message.max.bytes", kafka.max_record_bytes.to_string());
    }
    let delivery_ms = kafka.delivery_timeout.as_millis().max(1).to_string();
    config
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .set("message.timeout.ms", &delivery_ms);
    config
}

/// How long a publisher that is being replaced (after a config reload changed
/// `[kafka]`) may take to deliver what is still queued.
const FLUSH_ON_DROP: Duration = Duration::from_secs(5);

impl Drop for KafkaPublisher {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
        // Dropping a librdkafka producer blocks (purge, then up to 500 ms): hand the
        // last reference to a blocking thread, which flushes first.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let shared = self.shared.clone();
            runtime.spawn_blocking(move || {
                let _ = shared.current.load().producer.flush(FLUSH_ON_DROP);
                drop(shared);
            });
        }
    }
}

/// Hands a copy of `record` to the current producer; the future resolves with the
/// broker's answer or, at `deadline`, with the record in doubt (its fate then comes
/// within the delivery timeout). Tells [`Health`] how it went: an ack, a failure before
/// the deadline, or no report by it (an ack timeout); a late ack too, since it shows
/// that records get through.
fn publish(shared: &Shared, record: &Record, deadline: Deadline) -> Publishing<'static> {
    let mut headers = OwnedHeaders::new_with_capacity(record.headers.len());
    for (key, value) in &record.headers {
        headers = headers.insert(Header {
            key,
            value: Some(value.as_slice()),
        });
    }
    let mut future_record = FutureRecord::to(&record.topic)
        .payload(&record.value[..])
        .headers(headers)
        .timestamp(epoch_millis(record.timestamp));
    if let Some(key) = &record.key {
        future_record = future_record.key(key);
    }
    let current = shared.current.load();
    let watch = Watch {
        health: shared.health.clone(),
        producer: current.health.clone(),
        topic: record.topic.clone(),
        bytes: record.value.len(),
        deadline,
    };
    // The future does not hold the producer: a replaced one is dropped by the
    // supervisor, which purges what it still queued.
    let sent = current
        .producer
        .send_result(future_record)
        .map_err(|(e, _)| e);
    drop(current);
    let doubt_until = Deadline::now() + shared.delivery_timeout;
    let producer = watch.producer.clone();
    Box::pin(async move {
        let delivery = match sent {
            Ok(delivery) => delivery,
            // Not enqueued: never sent.
            Err(e) => return watch.failed_at_once(classify(&e)),
        };
        let fate = async move {
            let fate = match delivery.await {
                Ok(Ok(d)) => Fate::Acked(Delivery {
                    partition: d.partition,
                    offset: d.offset,
                }),
                Ok(Err((e, _))) => match stored_after(&e) {
                    Stored::No => Fate::Lost(classify(&e)),
                    Stored::Maybe => Fate::Unknown(classify(&e)),
                },
                // The producer went away without a report.
                Err(_canceled) => Fate::Unknown(PublishError::Closed),
            };
            watch.settled(&fate);
            fate
        };
        let outcome = by_deadline(fate, deadline, doubt_until).await;
        if let Outcome::InDoubt(doubt) = &outcome
            && doubt.failure().is_none()
        {
            producer.failed(ErrorKind::AckTimeout, Instant::now());
        }
        outcome
    })
}

/// What [`Health`] hears of one record, and the log line of a record Kafka refused.
struct Watch {
    health: Arc<Health>,
    producer: Arc<ProducerHealth>,
    topic: Arc<str>,
    bytes: usize,
    /// When the caller stopped waiting: a failure reported after it was already
    /// counted as an ack timeout.
    deadline: Deadline,
}

impl Watch {
    /// A record the producer did not take.
    fn failed_at_once(self, error: PublishError) -> Outcome {
        refused(&self.topic, self.bytes, &error);
        let kind = error.error_kind();
        self.health
            .failed(&self.producer, &self.topic, kind, Instant::now());
        Outcome::Failed(error)
    }

    /// A record's fate: an ack whenever it comes, a failure only before the deadline.
    fn settled(&self, fate: &Fate) {
        match fate {
            Fate::Acked(_) => self.health.acked(&self.producer),
            Fate::Lost(e) | Fate::Unknown(e) => {
                refused(&self.topic, self.bytes, e);
                if Deadline::now() < self.deadline {
                    let kind = e.error_kind();
                    self.health
                        .failed(&self.producer, &self.topic, kind, Instant::now());
                }
            }
        }
    }
}

/// Logs a record Kafka will never take, or a topic that refuses records: the sender
/// gets a 4xx or 500, and the operator needs the topic and size to act.
fn refused(topic: &str, bytes: usize, error: &PublishError) {
    match error.class() {
        Class::Retry => {}
        Class::Refused => tracing::warn!(
            topic,
            bytes,
            "kafka refused a record as too large: raise the topic's max.message.bytes, or lower server.max_body_bytes"
        ),
        Class::Misconfigured => {
            tracing::error!(topic, bytes, error = %error, "kafka refused a record");
        }
    }
}

impl Publish for KafkaPublisher {
    fn publish(&self, record: &Record, deadline: Deadline) -> Publishing<'_> {
        publish(&self.shared, record, deadline)
    }

    fn readiness(&self) -> Readiness {
        let current = self.shared.current.load();
        self.shared
            .health
            .readiness(&current.health, Instant::now())
    }

    fn warnings(&self) -> Vec<String> {
        let mut lines = self.shared.health.warnings(Instant::now());
        lines.extend(topics::summary(&self.shared.findings()));
        lines
    }

    fn expect_topics(&self, topics: Vec<String>) {
        let mut known = self
            .shared
            .topics
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if *known != topics {
            *known = topics;
            self.shared.topics_changed.notify_one();
        }
    }

    fn flush(&self, timeout: Duration) {
        if let Err(e) = self.shared.current.load().producer.flush(timeout) {
            tracing::warn!(error = %e, "kafka flush did not complete");
        }
    }
}

fn classify(error: &KafkaError) -> PublishError {
    PublishError::of(kind_of(error), || error.to_string())
}

/// Milliseconds since the Unix epoch of `time` (0 before it).
fn epoch_millis(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Secret;

    fn kafka(properties: Vec<(&str, PropertyValue)>) -> Kafka {
        Kafka {
            brokers: "b1:9093,b2:9093".into(),
            topic_template: "t.{environment}.{event}".into(),
            deadletter_topic_template: "t.{environment}.dl".into(),
            ack_timeout: Duration::from_millis(2500),
            delivery_timeout: Duration::from_secs(90),
            envelope: crate::envelope::Mode::Structured,
            properties: properties
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
            heartbeat_topic: None,
            heartbeat_interval: Duration::from_secs(5),
            max_record_bytes: crate::envelope::record_limit(1 << 20),
        }
    }

    #[test]
    fn tls_and_sasl_settings_reach_librdkafka_intact() {
        let plain = |v: &str| PropertyValue::Plain(v.into());
        let config = client_config(&kafka(vec![
            ("security.protocol", plain("SASL_SSL")),
            ("sasl.mechanism", plain("SCRAM-SHA-512")),
            ("sasl.username", plain("hookbridge")),
            (
                "sasl.password",
                PropertyValue::Secret(Secret::new("s3cr3t pass")),
            ),
            ("ssl.ca.location", plain("/etc/hookbridge/kafka/ca.crt")),
            ("linger.ms", plain("20")),
        ]));
        for (key, value) in [
            ("security.protocol", "SASL_SSL"),
            ("sasl.mechanism", "SCRAM-SHA-512"),
            ("sasl.username", "hookbridge"),
            ("sasl.password", "s3cr3t pass"),
            ("ssl.ca.location", "/etc/hookbridge/kafka/ca.crt"),
            ("linger.ms", "20"),
            ("bootstrap.servers", "b1:9093,b2:9093"),
            ("acks", "all"),
            ("enable.idempotence", "true"),
            ("message.timeout.ms", "90000"),
            ("statistics.interval.ms", "15000"),
            ("enable.sparse.connections", "false"),
            ("message.max.bytes", "1594712"),
        ] {
            assert_eq!(config.get(key), Some(value), "{key}");
        }
        assert_eq!(
            client_config(&kafka(Vec::new())).get("linger.ms"),
            Some("1")
        );
    }
}
