//! Secure Kafka on the real broker: SASL/SCRAM-SHA-512 over TLS to Apache Kafka. The
//! right password and CA publish; a wrong password, a CA that did not sign the broker's
//! certificate, or a broker certificate that expired each give 503 within the ack
//! timeout, an unready `/readyz` naming the cause, never a 2xx, and no record.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use http::StatusCode;

use crate::support::kafka::{Lease, Options, SCRAM_USER, Tls};
use crate::support::{self, Cluster, Endpoints, Kafka, Server, credential, get, post};

const PASSWORD: &str = "it-scram-password";
const PATH: &str = "/everbright/site-archived";

/// One SASL_SSL node shared by this file's tests (each on topics of its own).
fn secure() -> &'static Kafka {
    static SECURE: OnceLock<Kafka> = OnceLock::new();
    SECURE.get_or_init(|| {
        Kafka::for_process(Options {
            nodes: 1,
            scram_password: Some(PASSWORD.into()),
            tls: Tls::Valid,
        })
    })
}

/// hookbridge's view of a lease: the SASL_SSL listener, with a password and CA that may
/// be wrong. The tests' own consumer reads through the plaintext listener.
struct Secured<'a> {
    lease: &'a Lease,
    password: &'a str,
    ca: &'a Path,
}

impl Secured<'_> {
    fn config(&self) -> String {
        let ca = format!(
            "\"ssl.ca.location\" = {:?}\n",
            self.ca.display().to_string()
        );
        self.config_trusting(&ca)
    }

    /// The config with `ca` as the `[kafka.properties]` line that names the CA.
    fn config_trusting(&self, ca: &str) -> String {
        let kafka = self.lease.kafka();
        let properties = format!(
            "[kafka.properties]\n\
             \"security.protocol\" = \"{}\"\n\
             \"sasl.mechanism\" = \"SCRAM-SHA-512\"\n\
             \"sasl.username\" = \"{SCRAM_USER}\"\n\
             \"sasl.password\" = {:?}\n\
             {ca}",
            kafka.secure_protocol(),
            self.password,
        );
        support::config(
            self,
            "",
            format!("{properties}{}", credential::none("open")),
        )
    }
}

impl Cluster for Secured<'_> {
    fn bootstrap(&self) -> String {
        self.lease.kafka().secure_bootstrap()
    }

    fn prefix(&self) -> &str {
        self.lease.prefix()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scram_sha_512_over_tls_publishes() {
    let lease = secure().leased();
    let (ca, _) = lease.kafka().ca();
    let secured = Secured {
        lease: &lease,
        password: PASSWORD,
        ca: &ca,
    };
    let server = Server::start(&secured.config()).await;
    let answer = post(&server.url(PATH), &[], support::payload(support::SITE)).await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    server.wait_ready().await;
    let records = support::consume(&lease, &lease.topic("production.site-archived"), 1).await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].json()["id"], answer.json()["id"]);
    server.stop().await;
}

/// hookbridge cannot reach the broker as `secured` says: every webhook is 503 within
/// the ack timeout, `/readyz` names `reason`, and nothing reaches the topic.
async fn assert_refused(secured: Secured<'_>, reason: &str) {
    let server = Server::start(&secured.config()).await;
    for _ in 0..2 {
        support::assert_unavailable_within_ack_timeout(&server.url(PATH)).await;
    }
    let readyz = get(&server.admin_url("/readyz")).await;
    assert_eq!(readyz.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(readyz.body, format!("{reason}\n"));
    server
        .wait_for_metric(
            "hookbridge_kafka_errors_total",
            &[("kind", reason_kind(reason))],
            |v| v >= 1.0,
        )
        .await;
    support::assert_no_records(
        secured.lease,
        &secured.lease.topic("production.site-archived"),
    )
    .await;
    server.stop().await;
}

fn reason_kind(reason: &str) -> &'static str {
    if reason.contains("authentication") {
        "authentication"
    } else {
        "tls"
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_means_503_and_not_ready_for_authentication() {
    let lease = secure().leased();
    let (ca, _) = lease.kafka().ca();
    let secured = Secured {
        lease: &lease,
        password: "not-the-password",
        ca: &ca,
    };
    assert_refused(secured, "kafka authentication failed").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ca_that_did_not_sign_the_broker_means_503_and_not_ready_for_tls() {
    let lease = secure().leased();
    let (_, other_ca) = lease.kafka().ca();
    let secured = Secured {
        lease: &lease,
        password: PASSWORD,
        ca: &other_ca,
    };
    assert_refused(secured, "kafka TLS handshake failed").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_broker_certificate_means_503_and_not_ready_for_tls() {
    static EXPIRED: OnceLock<Kafka> = OnceLock::new();
    let kafka = EXPIRED.get_or_init(|| {
        Kafka::for_process(Options {
            nodes: 1,
            scram_password: Some(PASSWORD.into()),
            tls: Tls::Expired,
        })
    });
    let lease = kafka.leased();
    let (ca, _) = kafka.ca();
    let secured = Secured {
        lease: &lease,
        password: PASSWORD,
        ca: &ca,
    };
    assert_refused(secured, "kafka TLS handshake failed").await;
}

/// The Helm chart's way to trust a cluster CA: its PEM, read from the mounted file as a
/// `{ file }` secret (`ssl.ca.pem`), so that a CA renewed in that file is picked up live.
/// hookbridge starts trusting a CA that did not sign the broker (not ready, 503); the file
/// then gets the right CA, and without a restart hookbridge turns ready and publishes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ca_pem_read_from_a_file_is_reloaded_when_the_file_changes() {
    let lease = secure().leased();
    let (ca, other_ca) = lease.kafka().ca();
    let mounted = tempfile::tempdir().unwrap();
    let pem = mounted.path().join("ca.crt");
    std::fs::copy(&other_ca, &pem).unwrap();
    let secured = Secured {
        lease: &lease,
        password: PASSWORD,
        ca: &pem,
    };
    let config = secured.config_trusting(&format!(
        "\"ssl.ca.pem\" = {{ file = {:?} }}\n",
        pem.display().to_string()
    ));
    let path = mounted.path().join("hookbridge.toml");
    std::fs::write(&path, config).unwrap();
    let loaded = hookbridge::config::Config::load(&path, Arc::new(|_: &str| None)).unwrap();
    let server = Server::start_config(loaded).await;
    support::assert_unavailable_within_ack_timeout(&server.url(PATH)).await;

    std::fs::copy(&ca, &pem).unwrap();
    let reloaded = [("result", "success")];
    server
        .wait_for_metric("hookbridge_config_reloads_total", &reloaded, |n| n >= 1.0)
        .await;
    server.wait_ready().await;
    let answer = post(&server.url(PATH), &[], support::payload(support::SITE)).await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    let records = support::consume(&lease, &lease.topic("production.site-archived"), 1).await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].json()["id"], answer.json()["id"]);
    server.stop().await;
}
