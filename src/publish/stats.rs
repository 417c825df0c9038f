//! librdkafka statistics as Prometheus metrics.
//!
//! librdkafka emits a statistics document every `statistics.interval.ms`; the parts an
//! operator watches — per-broker round-trip time, requests in flight, transmit errors,
//! connection state, and the producer queue — are copied into [`Metrics`]. Broker
//! labels are librdkafka's broker names (`host:port/id`), which come from the
//! configured bootstrap list and the cluster's own metadata.

use std::collections::HashMap;
use std::sync::Mutex;

use rdkafka::Statistics;

use crate::metrics::Metrics;

/// Copies `stats` into `metrics`. `tx_errors` remembers the last cumulative transmit
/// error count per broker, so the Prometheus counter only ever moves forward.
pub(super) fn export(
    metrics: &Metrics,
    stats: &Statistics,
    tx_errors: &Mutex<HashMap<String, u64>>,
) {
    metrics
        .kafka_queue_messages
        .set(saturating_i64(stats.msg_cnt));
    metrics
        .kafka_queue_bytes
        .set(saturating_i64(stats.msg_size));
    let mut last = tx_errors
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    for broker in stats.brokers.values() {
        let label = [broker.name.as_str()];
        if let Some(rtt) = &broker.rtt {
            metrics
                .kafka_broker_rtt_avg
                .with_label_values(&label)
                .set(micros(rtt.avg));
            metrics
                .kafka_broker_rtt_p99
                .with_label_values(&label)
                .set(micros(rtt.p99));
        }
        metrics
            .kafka_broker_inflight
            .with_label_values(&label)
            .set(broker.waitresp_cnt);
        metrics
            .kafka_broker_up
            .with_label_values(&label)
            .set(i64::from(broker.state == "UP"));
        let previous = last.insert(broker.name.clone(), broker.txerrs).unwrap_or(0);
        // A new producer (after a reload) counts from zero again.
        let delta = broker.txerrs.checked_sub(previous).unwrap_or(broker.txerrs);
        metrics
            .kafka_broker_tx_errors
            .with_label_values(&label)
            .inc_by(delta);
    }
}

fn micros(us: i64) -> f64 {
    us as f64 / 1e6
}

fn saturating_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exports_queue_and_broker_figures() {
        let doc = r#"{"name":"p","client_id":"c","type":"producer","ts":1,"time":1,"age":1,
            "replyq":0,"msg_cnt":3,"msg_size":300,"msg_max":10,"msg_size_max":1000,
            "tx":1,"tx_bytes":1,"rx":1,"rx_bytes":1,"txmsgs":1,"txmsg_bytes":1,"rxmsgs":0,
            "rxmsg_bytes":0,"simple_cnt":0,"metadata_cache_cnt":1,
            "brokers":{"b/1":{"name":"b/1","nodeid":1,"nodename":"b","source":"learned",
              "state":"UP","stateage":1,"outbuf_cnt":0,"outbuf_msg_cnt":0,"waitresp_cnt":2,
              "waitresp_msg_cnt":0,"tx":1,"txbytes":1,"txerrs":5,"txretries":0,"txidle":0,
              "req_timeouts":0,"rx":1,"rxbytes":1,"rxerrs":0,"rxcorriderrs":0,"rxpartial":0,
              "rxidle":0,"zbuf_grow":0,"buf_grow":0,"wakeups":0,"connects":1,"disconnects":0,
              "req":{},"toppars":{},
              "rtt":{"min":1,"max":9,"avg":2500,"sum":1,"cnt":1,"stddev":0,"hdrsize":1,
                "p50":1,"p75":1,"p90":1,"p95":1,"p99":9000,"p99_99":1,"outofrange":0}}},
            "topics":{}}"#;
        let stats: Statistics = serde_json::from_str(doc).unwrap();
        let metrics = Metrics::new();
        let memory = Mutex::new(HashMap::new());
        export(&metrics, &stats, &memory);
        export(&metrics, &stats, &memory);
        assert_eq!(metrics.kafka_queue_messages.get(), 3);
        assert_eq!(metrics.kafka_queue_bytes.get(), 300);
        assert_eq!(metrics.kafka_broker_up.with_label_values(&["b/1"]).get(), 1);
        assert_eq!(
            metrics
                .kafka_broker_inflight
                .with_label_values(&["b/1"])
                .get(),
            2
        );
        assert_eq!(
            metrics
                .kafka_broker_tx_errors
                .with_label_values(&["b/1"])
                .get(),
            5
        );
        assert!(
            (metrics
                .kafka_broker_rtt_p99
                .with_label_values(&["b/1"])
                .get()
                - 0.009)
                .abs()
                < 1e-9
        );
    }
}
