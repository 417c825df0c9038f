//! The rdkafka producer behind [`Publish`].
//!
//! Settings hookbridge owns: `acks=all` and `enable.idempotence=true` (no acknowledged
//! record is lost or duplicated by producer retries), and `message.timeout.ms` equal to
//! `kafka.ack_timeout`, so librdkafka gives up on a record when the sender is told 503
//! rather than delivering it long after. Enqueueing never waits: a full queue is an
//! immediate 503. A background probe asks the broker for metadata every
//! [`PROBE_INTERVAL`], which is what `/readyz` reports on.

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

use super::{Delivery, ErrorKind, Publish, PublishError, Publishing, Record, stats};
use crate::config::{Kafka, PropertyValue};
use crate::metrics::Metrics;

/// How often the broker is asked for metadata, for readiness.
pub const PROBE_INTERVAL: Duration = Duration::from_secs(2);

/// How long one metadata probe may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// librdkafka statistics interval, unless `kafka.properties` sets one.
const DEFAULT_STATISTICS_INTERVAL_MS: &str = "15000";

/// How long librdkafka waits to fill a batch, unless `kafka.properties` sets it. Every
/// webhook waits for its own ack, so this is added to each request's latency;
/// librdkafka's default of 5 ms measured at less than half the throughput of 1 ms in
/// `scripts/load.sh` (records queued while a request is in flight still batch).
const DEFAULT_LINGER_MS: &str = "1";

/// The librdkafka client callbacks: logs, errors and statistics go to tracing and
/// metrics.
pub struct Context {
    metrics: Arc<Metrics>,
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
        let kind = kind_of(&error).as_str();
        self.metrics.kafka_errors.with_label_values(&[kind]).inc();
        // librdkafka's own log line (see `log`) already reports it at error level.
        tracing::debug!(kind, error = %error, "kafka client error: {reason}");
    }
}

/// Publishes to Kafka with rdkafka's `FutureProducer`.
///
/// librdkafka puts an idempotent producer into a *fatal* state when the broker fences
/// it (for example after an epoch bump the broker does not support); every later
/// record then fails. So when a publication fails and the producer reports a fatal
/// error, it is replaced by a fresh one (a new producer id) and the sender gets a 503
/// to retry. Nothing acknowledged is lost: only records that were never acked were in
/// the old producer.
pub struct KafkaPublisher {
    current: Arc<ArcSwap<FutureProducer<Context>>>,
    config: ClientConfig,
    metrics: Arc<Metrics>,
    replacing: Mutex<()>,
    contact: Arc<Mutex<Option<Instant>>>,
    probe: JoinHandle<()>,
}

impl KafkaPublisher {
    /// Creates the producer and starts the readiness probe, which asks for the
    /// metadata of `probe_topic`. Must be called within a Tokio runtime.
    pub fn new(
        kafka: &Kafka,
        metrics: Arc<Metrics>,
        probe_topic: String,
    ) -> Result<Self, KafkaError> {
        let config = client_config(kafka);
        let producer = create(&config, &metrics)?;
        let current = Arc::new(ArcSwap::from_pointee(producer));
        let contact = Arc::new(Mutex::new(None));
        let probe = tokio::spawn(probe(current.clone(), probe_topic, contact.clone()));
        Ok(KafkaPublisher {
            current,
            config,
            metrics,
            replacing: Mutex::new(()),
            contact,
            probe,
        })
    }

    /// Replaces `failed` with a fresh producer if it is still the current one and was
    /// fenced by the broker or is in librdkafka's fatal state.
    fn replace_if_fenced(&self, failed: &Arc<FutureProducer<Context>>, error: &PublishError) {
        let fatal = failed.client().fatal_error();
        if fatal.is_none() && *error != PublishError::Fenced {
            return;
        }
        let _one_at_a_time = self.replacing.lock().unwrap_or_else(|p| p.into_inner());
        if !Arc::ptr_eq(&self.current.load(), failed) {
            return;
        }
        match create(&self.config, &self.metrics) {
            Ok(fresh) => {
                let old = self.current.swap(Arc::new(fresh));
                self.metrics
                    .kafka_errors
                    .with_label_values(&[ErrorKind::ProducerReset.as_str()])
                    .inc();
                let reason = fatal.map_or_else(|| error.to_string(), |(_, reason)| reason);
                tracing::warn!(
                    reason,
                    "kafka producer was fenced or failed fatally; replaced it"
                );
                // Dropping a producer purges and waits up to 500 ms: not on async threads.
                tokio::task::spawn_blocking(move || drop(old));
            }
            Err(e) => tracing::error!(error = %e, "cannot replace the failed kafka producer"),
        }
    }
}

fn create(
    config: &ClientConfig,
    metrics: &Arc<Metrics>,
) -> Result<FutureProducer<Context>, KafkaError> {
    config.create_with_context(Context {
        metrics: metrics.clone(),
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
    let ack_ms = kafka.ack_timeout.as_millis().max(1).to_string();
    config
        .set("bootstrap.servers", &kafka.brokers)
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .set("message.timeout.ms", &ack_ms);
    config
}

async fn probe(
    current: Arc<ArcSwap<FutureProducer<Context>>>,
    topic: String,
    contact: Arc<Mutex<Option<Instant>>>,
) {
    loop {
        let p = current.load_full();
        let t = topic.clone();
        let answered = tokio::task::spawn_blocking(move || {
            p.client().fetch_metadata(Some(&t), PROBE_TIMEOUT).is_ok()
        })
        .await
        .unwrap_or(false);
        if answered {
            *contact.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
        }
        tokio::time::sleep(PROBE_INTERVAL).await;
    }
}

/// How long a publisher that is being replaced (after a config reload changed
/// `[kafka]`) may take to deliver what is still queued.
const FLUSH_ON_DROP: Duration = Duration::from_secs(5);

impl Drop for KafkaPublisher {
    fn drop(&mut self) {
        self.probe.abort();
        // Dropping a librdkafka producer blocks (purge, then up to 500 ms): hand the
        // last reference to a blocking thread, which flushes first.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let current = self.current.clone();
            runtime.spawn_blocking(move || {
                let _ = current.load().flush(FLUSH_ON_DROP);
                drop(current);
            });
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
            .payload(&record.value)
            .headers(headers)
            .timestamp(epoch_millis(record.timestamp));
        if let Some(key) = &record.key {
            future_record = future_record.key(key);
        }
        let producer = self.current.load_full();
        let sent = producer
            .send_result(future_record)
            .map_err(|(e, _)| classify(&e));
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
            if let Err(e) = &result {
                self.replace_if_fenced(&producer, e);
            }
            result
        })
    }

    fn last_contact(&self) -> Option<Instant> {
        *self.contact.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn flush(&self, timeout: Duration) {
        if let Err(e) = self.current.load().flush(timeout) {
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
        ] {
            assert_eq!(config.get(key), Some(value), "{key}");
        }
        assert_eq!(
            client_config(&kafka(Vec::new())).get("linger.ms"),
            Some("1")
        );
    }
}
