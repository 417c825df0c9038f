//! SASL/SCRAM (and TLS) to a real Kafka-protocol endpoint: the right password
//! publishes; a wrong one gives 503 within the ack timeout and an unready /readyz,
//! never a 2xx, and nothing reaches the topic.
//!
//! tansu 0.6.0 cannot authenticate by itself, so `support/sasl-broker.sh` puts a
//! SCRAM/TLS front (`support/sasl-front.py`) before it; librdkafka performs a real SASL
//! handshake with it.

use http::StatusCode;

use crate::support::broker::sasl_properties;
use crate::support::{self, Broker, Endpoints, Server, credential, get, post};

const TOPIC: &str = "everbright.production.site-archived";
const PATH: &str = "/everbright/site-archived";

/// hookbridge with `kafka_properties` publishes one webhook to `broker`.
async fn assert_publishes(broker: &Broker, kafka_properties: String) {
    let rest = format!("{kafka_properties}{}", credential::none("open"));
    let server = Server::start(&support::config(broker, "", &rest)).await;
    let answer = post(&server.url(PATH), &[], support::payload(support::SITE)).await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    server.wait_ready().await;
    assert_eq!(support::consume(broker, TOPIC, 1).await.len(), 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scram_sha_256_with_the_right_password_publishes() {
    let broker = Broker::start_sasl("it-right-password");
    assert_publishes(
        &broker,
        sasl_properties(None, "SCRAM-SHA-256", "it-right-password"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scram_sha_512_over_tls_publishes() {
    let tls = tempfile::tempdir().unwrap();
    let broker = Broker::start_sasl_ssl("it-tls-password", tls.path());
    let ca = tls.path().join("ca.crt");
    assert_publishes(
        &broker,
        sasl_properties(Some(&ca), "SCRAM-SHA-512", "it-tls-password"),
    )
    .await;
}

/// The Helm chart's way to trust a cluster CA: its PEM as `ssl.ca.pem`, read from the
/// mounted file as a `{ file }` secret, so that a renewed CA reloads like a rotated password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scram_sha_512_over_tls_with_the_ca_pem_read_from_a_file_publishes() {
    let tls = tempfile::tempdir().unwrap();
    let broker = Broker::start_sasl_ssl("it-tls-pem-password", tls.path());
    let ca = tls.path().join("ca.crt");
    let properties = sasl_properties(None, "SCRAM-SHA-512", "it-tls-pem-password")
        .replace("\"SASL_PLAINTEXT\"", "\"SASL_SSL\"")
        + &format!(
            "\"ssl.ca.pem\" = {{ file = {:?} }}\n",
            ca.display().to_string()
        );
    assert_publishes(&broker, properties).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_means_503_within_ack_timeout_and_not_ready() {
    let broker = Broker::start_sasl("it-broker-password");
    let rest = format!(
        "{}{}",
        sasl_properties(None, "SCRAM-SHA-256", "not-the-password"),
        credential::none("open")
    );
    let server = Server::start(&support::config(&broker, "", &rest)).await;
    for _ in 0..2 {
        support::assert_unavailable_within_ack_timeout(&server.url(PATH)).await;
    }
    assert_eq!(
        get(&server.admin_url("/readyz")).await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    support::assert_no_records(&broker, TOPIC).await;
    server.stop().await;
}
