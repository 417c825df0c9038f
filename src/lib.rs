//! hookbridge turns EverBright webhooks into acknowledged CloudEvents on Kafka.
//!
//! # Data flow
//!
//! ```text
//! accept (connection limit) → route {prefix}/{event} + method → read body (size limit, timeout)
//!  → authenticate against the credentials (raw bytes, constant time) → parse JSON (lenient literals)
//!  → find site UUID → build CloudEvents envelope → produce to Kafka (acks=all, idempotent)
//!  → wait for the broker ack (bounded) → answer 200
//! ```
//!
//! The one promise: **a 2xx answer means the broker acknowledged the record.** Anything
//! else gets a non-2xx, so the sender retries: delivery is at least once.
//!
//! # Layout
//!
//! - [`config`]: the TOML file, validated into domain types with every error reported.
//! - [`ingress`]: the listener, its limits, the per-request pipeline, and the one map
//!   from failures to HTTP statuses.
//! - [`auth`]: credentials and how each scheme is verified.
//! - [`envelope`]: lenient JSON, the site UUID, CloudEvents encoding (pure).
//! - [`publish`]: the [`publish::Publish`] seam and the rdkafka producer behind it.
//! - [`metrics`], [`admin`]: what operators watch; [`shutdown`]: the signal to stop.
//! - [`app`]: the state a request works with, swapped whole on reload.
//! - [`everbright`]: the events and environments EverBright has.

#![forbid(unsafe_code)]

pub mod admin;
pub mod app;
pub mod auth;
pub mod config;
pub mod envelope;
pub mod everbright;
pub mod ingress;
pub mod metrics;
pub mod publish;
pub mod sender;
pub mod shutdown;

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::net::TcpListener;

use app::{App, State};
use config::Config;
use metrics::Metrics;
use publish::Publish;
use publish::kafka::KafkaPublisher;

/// The two listeners, bound by the caller (so tests can bind port 0).
#[derive(Debug)]
pub struct Listeners {
    /// Where webhooks arrive (`server.listen`).
    pub webhook: TcpListener,
    /// `/metrics`, `/livez`, `/readyz` (`server.admin_listen`).
    pub admin: TcpListener,
}

/// Why hookbridge could not run.
#[derive(Debug)]
pub enum Error {
    /// The Kafka producer could not be created (e.g. an invalid `kafka.properties` value).
    Kafka(rdkafka::error::KafkaError),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Kafka(e) => write!(f, "cannot create the Kafka producer: {e}"),
        }
    }
}

impl std::error::Error for Error {}

/// Runs hookbridge with a Kafka producer until `shutdown` resolves, then drains and
/// flushes.
pub async fn run(
    listeners: Listeners,
    config: Config,
    shutdown: impl Future<Output = ()>,
) -> Result<(), Error> {
    let metrics = Arc::new(Metrics::new());
    let probe_topic = config.deadletter_topic(
        config
            .credentials
            .first()
            .map_or(everbright::Environment::Production, |c| c.environment),
        everbright::Event::ALL[0],
    );
    let publisher =
        KafkaPublisher::new(&config.kafka, metrics.clone(), probe_topic).map_err(Error::Kafka)?;
    serve(listeners, config, Arc::new(publisher), metrics, shutdown).await;
    Ok(())
}

/// Runs hookbridge publishing through `publisher` (the seam tests use) until
/// `shutdown` resolves: readiness turns off, the listener closes, requests in flight
/// finish within `server.shutdown_grace`, and the publisher is flushed.
pub async fn serve(
    listeners: Listeners,
    config: Config,
    publisher: Arc<dyn Publish>,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()>,
) {
    let flush_timeout = config.kafka.ack_timeout;
    let app = App::new(config, publisher, &metrics);
    metrics.config_last_reload_success.set(unix_now());
    let state = Arc::new(State::new(app, metrics));
    let (stop_admin, admin_stopped) = tokio::sync::oneshot::channel::<()>();
    let admin = tokio::spawn(admin::serve(listeners.admin, state.clone(), async {
        let _ = admin_stopped.await;
    }));

    let draining = {
        let state = state.clone();
        async move {
            shutdown.await;
            state.start_draining();
        }
    };
    ingress::serve(listeners.webhook, state.clone(), draining).await;

    let publisher = state.app().publisher.clone();
    let _ = tokio::task::spawn_blocking(move || publisher.flush(flush_timeout)).await;
    tracing::info!("producer flushed, stopping");
    let _ = stop_admin.send(());
    let _ = admin.await;
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}
