//! The rdkafka producer behind [`Publish`].
//!
//! Settings hookbridge owns: `acks=all` and `enable.idempotence=true` (no acknowledged
//! record is lost or duplicated by producer retries), and `message.timeout.ms` equal to
//! `kafka.ack_timeout`, so librdkafka gives up on a record when the sender is told 503
//! rather than delivering it long after. Enqueueing never waits: a full queue is an
//! immediate 503.
//!
//! A supervising task asks the broker for metadata every [`PROBE_INTERVAL`] and, with
//! what the records' outcomes told [`Health`], replaces the producer by a fresh one (a
//! new producer id) when the broker fenced it, librdkafka reports a fatal error, or
//! records keep failing while the broker answers — what a broker that restarted
//! without its state looks like. Nothing acknowledged is lost by a replacement: only
//! records that were never acked were in the old producer, and their senders got 503.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::{ClientContext, Statistics};
use tokio::task::JoinHandle;

use super::health::{Health, Readiness, Replace};
use super::{Delivery, ErrorKind, Publish, PublishError, Publishing, Record, stats};
use crate::config::{Kafka, PropertyValue};
use crate::metrics::Metrics;

/// How often the broker is asked for metadata, for readiness and to tell a stuck
/// producer from an unreachable broker.
pub const PROBE_INTERVAL: Duration = Duration::from_secs(1);

/// How long one metadata probe may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// librdkafka statistics interval, unless `kafka.properties` sets one.
const DEFAULT_STATISTICS_INTERVAL_MS: &str = "15000";

/// How long librdkafka waits to fill a batch, unless `kafka.properties` sets it. Every
/// webhook waits for its own ack, so this is added to each request's latency;
/// librdkafka's default of 5 ms measured at less than half the throughput of 1 ms in
/// `scripts/bench-load.sh` (records queued while a request is in flight still batch).
const DEFAULT_LINGER_MS: &str = "1";

/// The librdkafka client callbacks of one producer: logs, errors and statistics go to
/// tracing and metrics; a fencing goes to [`Health`].
pub struct Context {
    metrics: Arc<Metrics>,
    health: Arc<Health>,
    generation: u64,
    tx_errors: Mutex<HashMap<String, u64>>,
}

impl ClientContext for Context {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        match level {
            RDKafkaLogLevel::Emerg
            | RDKafkaLogLevel::Alert
            | RDKafkaLogLevel::Critical
            | RDKafkaLogLevel::Error => {
                tracing::error!(target: "librdkafka", facility, "{message}")
            }
            RDKafkaLogLevel::Warning => tracing::warn!(target: "librdkafka", facility, "{message}"),
            RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
                tracing::info!(target: "librdkafka", facility, "{message}")
            }
            RDKafkaLogLevel::Debug => tracing::debug!(target: "librdkafka", facility, "{message}"),
        }
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
        if kind == ErrorKind::Fenced {
            self.health.failed(self.generation, kind, Instant::now());
        }
        // librdkafka's own log line (see `log`) already reports it at error level.
        tracing::debug!(kind = kind.as_str(), error = %error, "kafka client error: {reason}");
    }
}

/// One producer and the generation [`Health`] knows it by.
struct Current {
    producer: FutureProducer<Context>,
    generation: u64,
}

/// What the publisher and its supervising task share.
struct Shared {
    current: ArcSwap<Current>,
    config: ClientConfig,
    metrics: Arc<Metrics>,
    health: Arc<Health>,
    /// A request that stopped waiting after this long counts as an ack timeout.
    patience: Duration,
}

/// Publishes to Kafka with rdkafka's `FutureProducer`, replacing it when it cannot
/// get records acknowledged (see the module documentation).
pub struct KafkaPublisher {
    shared: Arc<Shared>,
    supervisor: JoinHandle<()>,
}

impl KafkaPublisher {
    /// Creates the producer and starts the supervising task, which probes the
    /// metadata of `probe_topic`. Must be called within a Tokio runtime.
    pub fn new(
        kafka: &Kafka,
        metrics: Arc<Metrics>,
        probe_topic: String,
    ) -> Result<Self, KafkaError> {
        let config = client_config(kafka);
        let health = Arc::new(Health::default());
        let producer = create(&config, &metrics, &health, health.generation())?;
        let shared = Arc::new(Shared {
            current: ArcSwap::from_pointee(Current {
                producer,
                generation: health.generation(),
            }),
            config,
            metrics,
            health,
            // The pipeline stops waiting at `ack_timeout`, measured from a moment
            // before this publisher's own clock starts.
            patience: kafka.ack_timeout.mul_f64(0.9),
        });
        let supervisor = tokio::spawn(supervise(shared.clone(), probe_topic));
        Ok(KafkaPublisher { shared, supervisor })
    }
}

impl Shared {
    /// Swaps in a fresh producer. Only the supervising task calls it.
    fn replace(&self, why: Replace, detail: &str) {
        let generation = self.health.generation() + 1;
        match create(&self.config, &self.metrics, &self.health, generation) {
            Ok(producer) => {
                let fresh = self.health.replaced();
                debug_assert_eq!(fresh, generation, "one task replaces producers");
                let old = self.current.swap(Arc::new(Current {
                    producer,
                    generation,
                }));
                self.metrics
                    .kafka_errors
                    .with_label_values(&[ErrorKind::ProducerReset.as_str()])
                    .inc();
                tracing::warn!(
                    reason = why.as_str(),
                    detail,
                    generation,
                    "replaced the kafka producer with a fresh one"
                );
                // Dropping a producer purges its queue (its waiting senders get 503)
                // and blocks up to 500 ms: not on async threads.
                tokio::task::spawn_blocking(move || drop(old));
            }
            Err(e) => tracing::error!(error = %e, "cannot replace the failing kafka producer"),
        }
    }
}

/// Probes the broker every [`PROBE_INTERVAL`] and replaces the producer when
/// [`Health`] or librdkafka says it must go; a fencing cuts the wait short.
async fn supervise(shared: Arc<Shared>, topic: String) {
    loop {
        let current = shared.current.load_full();
        let t = topic.clone();
        let answered = tokio::task::spawn_blocking(move || {
            current
                .producer
                .client()
                .fetch_metadata(Some(&t), PROBE_TIMEOUT)
                .is_ok()
        })
        .await
        .unwrap_or(false);
        let now = Instant::now();
        shared.health.probed(answered, now);
        let fatal = shared.current.load().producer.client().fatal_error();
        if let Some((_, reason)) = fatal {
            shared.replace(Replace::Fenced, &reason);
        } else if let Some(why) = shared.health.verdict(now) {
            shared.replace(why, "");
        }
        tokio::select! {
            () = tokio::time::sleep(PROBE_INTERVAL) => {}
            () = shared.health.fenced() => {}
        }
    }
}

fn create(
    config: &ClientConfig,
    metrics: &Arc<Metrics>,
    health: &Arc<Health>,
    generation: u64,
) -> Result<FutureProducer<Context>, KafkaError> {
    config.create_with_context(Context {
        metrics: metrics.clone(),
        health: health.clone(),
        generation,
        tx_errors: Mutex::new(HashMap::new()),
    })
}

/// The librdkafka configuration for `kafka`: the user's properties, then the keys
/// hookbridge owns (which the config refuses as properties).
pub fn client_config(kafka: &Kafka) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("client.id", "hookbridge")
        .set("statistics.interval.ms", DEFAULT_STATISTICS_INTERVAL_MS)
        .set("linger.ms", DEFAULT_LINGER_MS);
    for (key, value) in &kafka.properties {
        match value {
            PropertyValue::Plain(v) => config.set(key, v),
            PropertyValue::Secret(s) => config.set(key, String::from_utf8_lossy(s.expose())),
        };
    }
    if !kafka
        .properties
        .iter()
        .any(|(k, _)| k == "message.max.bytes")
    {
        config.set("message.max.bytes", kafka.max_record_bytes.to_string());
    }
    let ack_ms = kafka.ack_timeout.as_millis().max(1).to_string();
    config
        .set("bootstrap.servers", &kafka.brokers)
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .set("message.timeout.ms", &ack_ms);
    config
}

/// How long a publisher that is being replaced (after a config reload changed
/// `[kafka]`) may take to deliver what is still queued.
const FLUSH_ON_DROP: Duration = Duration::from_secs(5);

impl Drop for KafkaPublisher {
    fn drop(&mut self) {
        self.supervisor.abort();
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

/// Tells [`Health`] how one record fared, including when the request stopped waiting
/// for it (dropped this guard) before the broker answered.
struct Outcome {
    health: Arc<Health>,
    generation: u64,
    since: Instant,
    patience: Duration,
    settled: bool,
}

impl Outcome {
    fn settle(&mut self, result: &Result<Delivery, PublishError>) {
        self.settled = true;
        match result {
            Ok(_) => self.health.acked(),
            Err(e) => self
                .health
                .failed(self.generation, e.error_kind(), Instant::now()),
        }
    }
}

impl Drop for Outcome {
    fn drop(&mut self) {
        // A request gives up at `kafka.ack_timeout`; one dropped earlier (its client
        // hung up) says nothing about the broker.
        if !self.settled && self.since.elapsed() >= self.patience {
            self.health
                .failed(self.generation, ErrorKind::AckTimeout, Instant::now());
        }
    }
}

impl Publish for KafkaPublisher {
    fn publish(&self, record: Record) -> Publishing<'_> {
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
        let current = self.shared.current.load();
        let mut outcome = Outcome {
            health: self.shared.health.clone(),
            generation: current.generation,
            since: Instant::now(),
            patience: self.shared.patience,
            settled: false,
        };
        // The future does not hold the producer: a replaced one is dropped by the
        // supervisor, which purges what it still queued (those requests get 503).
        let sent = current
            .producer
            .send_result(future_record)
            .map_err(|(e, _)| classify(&e));
        drop(current);
        Box::pin(async move {
            let result = match sent {
                Ok(delivery) => match delivery.await {
                    Ok(Ok(d)) => Ok(Delivery {
                        partition: d.partition,
                        offset: d.offset,
                    }),
                    Ok(Err((e, _))) => Err(classify(&e)),
                    Err(_canceled) => Err(PublishError::Closed),
                },
                Err(e) => Err(e),
            };
            outcome.settle(&result);
            result
        })
    }

    fn readiness(&self) -> Readiness {
        self.shared.health.readiness(Instant::now())
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

/// The one grouping of librdkafka errors into the small, fixed set of kinds.
fn kind_of(error: &KafkaError) -> ErrorKind {
    use RDKafkaErrorCode as C;
    let Some(code) = error.rdkafka_error_code() else {
        return ErrorKind::Client;
    };
    match code {
        C::QueueFull => ErrorKind::QueueFull,
        C::PurgeQueue | C::PurgeInflight => ErrorKind::Closed,
        C::MessageTimedOut | C::RequestTimedOut => ErrorKind::TimedOut,
        C::MessageSizeTooLarge | C::InvalidMessageSize => ErrorKind::MessageTooLarge,
        C::BrokerTransportFailure | C::AllBrokersDown | C::Resolve | C::NetworkException => {
            ErrorKind::Transport
        }
        C::Authentication | C::SaslAuthenticationFailed => ErrorKind::Authentication,
        C::SSL => ErrorKind::Tls,
        C::TopicAuthorizationFailed | C::ClusterAuthorizationFailed => ErrorKind::Authorization,
        C::UnknownTopicOrPartition | C::UnknownTopic | C::UnknownPartition => {
            ErrorKind::UnknownTopic
        }
        C::Fatal
        | C::ProducerFenced
        | C::InvalidProducerEpoch
        | C::UnknownProducerId
        | C::OutOfOrderSequenceNumber => ErrorKind::Fenced,
        _ => ErrorKind::Other,
    }
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
            envelope: crate::envelope::Mode::Structured,
            properties: properties
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
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
            ("message.timeout.ms", "2500"),
            ("statistics.interval.ms", "15000"),
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
