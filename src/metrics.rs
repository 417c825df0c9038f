//! Every metric hookbridge exports, in one struct over a private Prometheus registry.
//!
//! The doc comment of each field below is its HELP text, so the reference docs and the
//! scrape cannot disagree. Label values only ever come from the config and from enums
//! (event slugs, credential names, status codes, reason names): never from a raw path
//! or header, so a sender cannot grow the series count.

use std::time::{SystemTime, UNIX_EPOCH};

use prometheus::core::Collector;
use prometheus::{
    Encoder, Gauge, GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec,
    IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};

/// Buckets for HTTP and Kafka latencies, in seconds: 1 ms to the 15 s request budget.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0,
];

/// How a metric type is built from its options.
trait Metric: Collector + Clone + Sized + 'static {
    type Args;
    fn build(opts: Opts, args: Self::Args) -> prometheus::Result<Self>;
}

impl Metric for IntCounterVec {
    type Args = &'static [&'static str];
    fn build(opts: Opts, labels: Self::Args) -> prometheus::Result<Self> {
        IntCounterVec::new(opts, labels)
    }
}

impl Metric for IntGaugeVec {
    type Args = &'static [&'static str];
    fn build(opts: Opts, labels: Self::Args) -> prometheus::Result<Self> {
        IntGaugeVec::new(opts, labels)
    }
}

impl Metric for GaugeVec {
    type Args = &'static [&'static str];
    fn build(opts: Opts, labels: Self::Args) -> prometheus::Result<Self> {
        GaugeVec::new(opts, labels)
    }
}

impl Metric for IntCounter {
    type Args = ();
    fn build(opts: Opts, (): ()) -> prometheus::Result<Self> {
        IntCounter::with_opts(opts)
    }
}

impl Metric for IntGauge {
    type Args = ();
    fn build(opts: Opts, (): ()) -> prometheus::Result<Self> {
        IntGauge::with_opts(opts)
    }
}

impl Metric for Gauge {
    type Args = ();
    fn build(opts: Opts, (): ()) -> prometheus::Result<Self> {
        Gauge::with_opts(opts)
    }
}

impl Metric for Histogram {
    type Args = &'static [f64];
    fn build(opts: Opts, buckets: Self::Args) -> prometheus::Result<Self> {
        Histogram::with_opts(HistogramOpts::from(opts).buckets(buckets.to_vec()))
    }
}

impl Metric for HistogramVec {
    type Args = (&'static [&'static str], &'static [f64]);
    fn build(opts: Opts, (labels, buckets): Self::Args) -> prometheus::Result<Self> {
        HistogramVec::new(HistogramOpts::from(opts).buckets(buckets.to_vec()), labels)
    }
}

fn register<M: Metric>(
    registry: &Registry,
    name: &str,
    help: &str,
    args: M::Args,
) -> prometheus::Result<M> {
    let metric = M::build(Opts::new(name, help.trim()), args)?;
    registry.register(Box::new(metric.clone()))?;
    Ok(metric)
}

macro_rules! metrics {
    ($( $(#[doc = $doc:literal])+ $field:ident: $ty:ty = $name:literal, $args:expr; )+) => {
        /// hookbridge's metrics. Built once and shared; cheap to update from any thread.
        pub struct Metrics {
            registry: Registry,
            $( $(#[doc = $doc])+ pub $field: $ty, )+
        }

        impl Metrics {
            fn register_all(registry: Registry) -> prometheus::Result<Metrics> {
                Ok(Metrics {
                    $( $field: register::<$ty>(&registry, $name, concat!($($doc),+), $args)?, )+
                    registry,
                })
            }
        }
    };
}

metrics! {
    /// Webhook requests answered, by event slug (or "unknown") and HTTP status code.
    http_requests: IntCounterVec = "hookbridge_http_requests_total", &["event", "status"];
    /// Time from receiving a webhook request to answering it, by event slug.
    http_request_duration: HistogramVec = "hookbridge_http_request_duration_seconds", (&["event"], LATENCY_BUCKETS);
    /// Requests refused with 401, by reason.
    auth_failures: IntCounterVec = "hookbridge_auth_failures_total", &["reason"];
    /// Events acknowledged by Kafka on their event topic.
    events_published: IntCounterVec = "hookbridge_events_published_total", &["event", "environment", "credential"];
    /// Authenticated bodies stored on the dead-letter topic, by event and reason.
    deadletters: IntCounterVec = "hookbridge_deadletters_total", &["event", "reason"];
    /// Time from handing a record to the producer to its broker acknowledgement.
    kafka_ack_duration: Histogram = "hookbridge_kafka_ack_duration_seconds", LATENCY_BUCKETS;
    /// Kafka producer errors, by kind.
    kafka_errors: IntCounterVec = "hookbridge_kafka_errors_total", &["kind"];
    /// Events whose record was in doubt (no ack by kafka.ack_timeout, or a failure that
    /// may have stored it), by its fate: acked late, lost (not stored), or unknown at
    /// kafka.delivery_timeout (a retry may store it twice).
    records_in_doubt: IntCounterVec = "hookbridge_records_in_doubt_total", &["fate"];
    /// Webhook requests being processed.
    inflight: IntGauge = "hookbridge_inflight_requests", ();
    /// Remembered answers dropped before the end of their `dedup.window` to make room,
    /// by the credential whose entry was dropped (a copy sent later becomes a second
    /// record).
    dedup_evictions: IntCounterVec = "hookbridge_dedup_evictions_total", &["credential"];
    /// Requests answered with an earlier copy's answer (acknowledged, or awaited while in flight), without a second record.
    deduplicated: IntCounterVec = "hookbridge_deduplicated_total", &["credential"];
    /// Config reload attempts, by result (success or failure).
    config_reloads: IntCounterVec = "hookbridge_config_reloads_total", &["result"];
    /// Unix time of the last successful config load.
    config_last_reload_success: Gauge = "hookbridge_config_last_reload_success_timestamp_seconds", ();
    /// Always 1; the version label tells which build is running.
    build_info: IntGaugeVec = "hookbridge_build_info", &["version"];
    /// Mean round-trip time to each broker over the last statistics interval.
    kafka_broker_rtt_avg: GaugeVec = "hookbridge_kafka_broker_rtt_avg_seconds", &["broker"];
    /// 99th percentile round-trip time to each broker over the last statistics interval.
    kafka_broker_rtt_p99: GaugeVec = "hookbridge_kafka_broker_rtt_p99_seconds", &["broker"];
    /// Requests sent to each broker and awaiting a response.
    kafka_broker_inflight: IntGaugeVec = "hookbridge_kafka_broker_inflight_requests", &["broker"];
    /// Transmission errors towards each broker.
    kafka_broker_tx_errors: IntCounterVec = "hookbridge_kafka_broker_tx_errors_total", &["broker"];
    /// 1 while the connection to the broker is up.
    kafka_broker_up: IntGaugeVec = "hookbridge_kafka_broker_up", &["broker"];
    /// Records in the producer queue, waiting to be sent or acknowledged.
    kafka_queue_messages: IntGauge = "hookbridge_kafka_queue_messages", ();
    /// Bytes of records in the producer queue.
    kafka_queue_bytes: IntGauge = "hookbridge_kafka_queue_bytes", ();
    /// The effective max.message.bytes of each topic hookbridge writes to, as the cluster
    /// reported it (the broker's message.max.bytes for topics not created yet).
    kafka_topic_max_message_bytes: IntGaugeVec = "hookbridge_kafka_topic_max_message_bytes", &["topic"];
    /// The largest record hookbridge may produce: the envelope of a body of
    /// server.max_body_bytes. A topic whose max.message.bytes is below it refuses some webhooks.
    kafka_max_record_bytes: IntGauge = "hookbridge_kafka_max_record_bytes", ();
    /// Heartbeat records (kafka.heartbeat_topic), by result (acked or failed).
    kafka_heartbeats: IntCounterVec = "hookbridge_kafka_heartbeats_total", &["result"];
    /// Authenticated requests refused with 429 by their credential's `rate_limit`.
    rate_limited: IntCounterVec = "hookbridge_rate_limited_total", &["credential"];
    /// Requests refused with 429 because their address failed authentication too often
    /// (`server.failed_auth_limit`).
    failed_auth_limited: IntCounter = "hookbridge_failed_auth_limited_total", ();
    /// Records in the spool: synced to disk and not yet acknowledged by Kafka.
    spool_records: IntGauge = "hookbridge_spool_records", ();
    /// Bytes of the spool's segment files, counted against `spool.max_bytes`.
    spool_bytes: IntGauge = "hookbridge_spool_bytes", ();
    /// The configured `spool.max_bytes` (0 when the spool is off).
    spool_capacity: IntGauge = "hookbridge_spool_capacity_bytes", ();
    /// Age of the oldest record in the spool, from when its request was received (0 when empty).
    spool_oldest_record_age: Gauge = "hookbridge_spool_oldest_record_age_seconds", ();
    /// Records appended to the spool and synced to disk.
    spooled: IntCounter = "hookbridge_spooled_total", ();
    /// Spooled records removed after forwarding, by result: acked by Kafka, landed (not
    /// published: the event's first copy, in doubt when spooled, was stored), or rejected
    /// by Kafka for good (too large).
    spool_forwarded: IntCounterVec = "hookbridge_spool_forwarded_total", &["result"];
    /// Spooled records lost to a torn or corrupt tail found at start, or unreadable when forwarded.
    spool_corrupt_records: IntCounter = "hookbridge_spool_corrupt_records_total", ();
    /// Data syncs (fdatasync) of spool segments; one covers every append of its group.
    spool_syncs: IntCounter = "hookbridge_spool_syncs_total", ();
}

impl Metrics {
    /// A fresh set of metrics with the process collector, and `build_info` set.
    pub fn new() -> Metrics {
        let registry = Registry::new();
        #[cfg(target_os = "linux")]
        let _ = registry.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ));
        // Invariant: the names above are valid and unique, so registration cannot fail;
        // the unit test `registers_and_encodes` proves it.
        let metrics = Metrics::register_all(registry)
            .unwrap_or_else(|e| unreachable!("metric definitions are valid: {e}"));
        metrics
            .build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        for result in ["success", "failure"] {
            metrics.config_reloads.with_label_values(&[result]);
        }
        for result in ["acked", "failed"] {
            metrics.kafka_heartbeats.with_label_values(&[result]);
        }
        for result in ["acked", "landed", "rejected"] {
            metrics.spool_forwarded.with_label_values(&[result]);
        }
        for fate in ["acked", "lost", "unknown"] {
            metrics.records_in_doubt.with_label_values(&[fate]);
        }
        metrics
    }

    /// Records a successful config load (at start or on reload) as happening now.
    pub fn config_loaded(&self) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        self.config_last_reload_success.set(now);
    }

    /// The Prometheus text exposition of every metric.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 * 1024);
        // Encoding into a Vec only fails on invalid metric families, which `new` rules out.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registers_and_encodes() {
        let m = Metrics::new();
        m.http_requests
            .with_label_values(&["site-archived", "200"])
            .inc();
        let text = String::from_utf8(m.encode()).unwrap();
        assert!(text.contains(
            "# HELP hookbridge_http_requests_total Webhook requests answered, by event slug"
        ));
        assert!(
            text.contains(
                "hookbridge_http_requests_total{event=\"site-archived\",status=\"200\"} 1"
            )
        );
        assert!(text.contains(&format!(
            "hookbridge_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        )));
    }
}
