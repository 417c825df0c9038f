//! hookbridge turns EverBright webhooks into acknowledged CloudEvents on Kafka.
//!
//! # Data flow
//!
//! ```text
//! accept (connection limit) → route {prefix}/{event} + method → admit (lock-out, in-flight limit)
//!  → read body (size limit, timeout) → authenticate against the credentials (raw bytes, constant time)
//!  → event key from the body's one SHA-256 (a copy of an event in flight or answered gets that answer)
//!  → rate limit → parse JSON (lenient literals) → find site UUID → build CloudEvents envelope
//!  → produce to Kafka (acks=all, idempotent) → wait for the broker ack (bounded)
//!  → remember the answer → answer 200 and log one line
//! ```
//!
//! The one promise: **a 2xx answer means the broker acknowledged the record.** Anything
//! else gets a non-2xx, so the sender retries; every copy of an event within
//! `dedup.window` gets the first copy's answer and id, without a second record.
//!
//! # Layout
//!
//! - [`config`]: the TOML file, validated into domain types with every error reported.
//! - [`ingress`]: the webhook listener, the per-request pipeline (one request object
//!   whose methods are the steps), admission, the answer and its log line, and the one
//!   map from failures to HTTP statuses; [`listener`]: accepting connections within
//!   limits, for the webhook and admin listeners alike; [`route`]: URL path → event.
//! - [`body`]: the body as received and its one SHA-256, shared by every stage.
//! - [`auth`]: credentials and how each scheme is verified.
//! - [`dedup`]: the event key and id, and the cache that answers every copy of an event
//!   with one record.
//! - [`envelope`]: lenient JSON, the site UUID, CloudEvents encoding (pure).
//! - [`trace`]: OpenTelemetry, off by default: the server and producer spans and the
//!   W3C trace context a record carries.
//! - [`publish`]: the [`publish::Publish`] seam and the rdkafka producer behind it.
//! - [`spool`]: the crash-safe spool on local disk (records Kafka could not take in
//!   time) and the forwarder that drains it through [`publish::Publish`].
//! - [`metrics`], [`admin`]: what operators watch; [`log_budget`]: how many refusal
//!   lines are written; [`log_format`]: the JSON log line ([`json_text`]: the JSON
//!   string escaping it shares with the envelope); [`limit`]: rate limits and
//!   failed logins per client; [`shutdown`]: the signal to stop; [`backoff`]: pauses
//!   between retries.
//! - [`sender`]: `hookbridge sign` and `send`, a stand-in for EverBright; [`probe`]:
//!   `hookbridge probe`, a GET for checks where the image has no curl.
//! - [`contract`]: `hookbridge contract`, the AsyncAPI document and JSON Schemas of the
//!   topics a config writes, for the teams that consume them.
//! - [`redrive`]: `hookbridge redrive`, dead letters republished once a fixed config
//!   can read them.
//! - [`app`]: the state a request works with, swapped whole on [`reload`].
//! - [`everbright`]: the events and environments EverBright has.
//!
//! Imports point one way, down the data flow:
//!
//! ```text
//! main → lib → {ingress, admin, reload, probe → sender, contract → redrive}
//!      → app → {config, publish, spool, route}
//!      → {auth, dedup, envelope, metrics, everbright, listener, log_budget, log_format, limit, backoff}
//!      → {body, json_text, trace}
//! ```
//!
//! No module imports one above it, and nothing below the crate root refers to it.

pub mod admin;
pub mod app;
pub mod auth;
pub mod backoff;
pub mod body;
pub mod config;
pub mod contract;
pub mod dedup;
pub mod envelope;
pub mod everbright;
pub mod ingress;
pub mod json_text;
pub mod limit;
pub mod listener;
pub mod log_budget;
pub mod log_format;
pub mod metrics;
pub mod probe;
pub mod publish;
pub mod redrive;
pub mod reload;
pub mod route;
pub mod sender;
pub mod shutdown;
pub mod spool;
pub mod trace;

use std::fmt;
use std::future::Future;
use std::sync::Arc;

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

impl Listeners {
    /// The bound addresses, which differ from the configured ones for port 0.
    fn addresses(&self) -> (String, String) {
        let show = |l: &TcpListener| {
            l.local_addr()
                .map_or_else(|e| e.to_string(), |a| a.to_string())
        };
        (show(&self.webhook), show(&self.admin))
    }
}

/// Why hookbridge could not run.
#[derive(Debug)]
pub enum Error {
    /// The Kafka producer could not be created (e.g. an invalid `kafka.properties` value).
    Kafka(rdkafka::error::KafkaError),
    /// Traces are on but their exporter could not be set up.
    Traces(trace::Error),
    /// The spool directory could not be opened (in use by another process, unreadable,
    /// not writable).
    Spool(spool::OpenError),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Kafka(e) => write!(f, "cannot create the Kafka producer: {e}"),
            Error::Traces(e) => e.fmt(f),
            Error::Spool(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for Error {}

/// Runs hookbridge with a Kafka producer until `shutdown` resolves: readiness turns
/// off, the listener closes, requests in flight finish within `server.shutdown_grace`,
/// the spool (if any) is drained to Kafka within `spool.drain_timeout`, and the
/// producer is flushed. A config read from a file (see
/// [`Config::load`]) is reloaded live on SIGHUP and when its files change.
pub async fn run(
    listeners: Listeners,
    config: Config,
    shutdown: impl Future<Output = ()>,
) -> Result<(), Error> {
    run_traced(listeners, config, None, shutdown).await
}

/// [`run`], with traces exported as `traces` says (off when `None`); the spans still
/// queued are exported before it returns.
pub async fn run_traced(
    listeners: Listeners,
    config: Config,
    traces: Option<trace::Settings>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), Error> {
    let (listen, admin_addr) = listeners.addresses();
    let metrics = Arc::new(Metrics::new());
    let connect = kafka_connect(metrics.clone());
    let publisher = connect(&config).map_err(Error::Kafka)?;
    let traces = start_traces(traces.as_ref())?;
    let drain_timeout = config.spool.as_ref().map(|s| s.drain_timeout);
    let spool = match config.spool.clone() {
        Some(settings) => Some(open_spool(settings, metrics.clone()).await?),
        None => None,
    };
    let forwarding =
        spool::Forwarding::new(config.kafka.ack_timeout, config.kafka.delivery_timeout);
    let origin = config.origin.clone();
    let running = reload::Running::of(&config);
    let app = App::new(config, publisher, &metrics);
    metrics.config_loaded();
    let mut state = State::new(app, metrics);
    state.tracer = traces.as_ref().map(trace::Traces::tracer);
    if let Some(spool) = &spool {
        state = state.with_spool(spool.clone());
    }
    let state = Arc::new(state);
    let forwarder = spool.zip(drain_timeout).map(|(spool, drain_timeout)| {
        (Forwarding::start(spool, &state, forwarding), drain_timeout)
    });

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let stopped = move || {
        let mut rx = stopped.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };
    let admin = tokio::spawn(admin::serve(listeners.admin, state.clone(), stopped()));
    let reloader = origin.map(|origin| {
        tokio::spawn(reload::watch(
            state.clone(),
            origin,
            running,
            connect,
            reload::hangup(),
            stopped(),
        ))
    });
    // Announced once every signal handler is installed (the shutdown future was made
    // by the caller, SIGHUP just above): scripts and tests that bind port 0 read the
    // bound addresses from this line, then may signal at once.
    tracing::info!(%listen, admin = %admin_addr, version = env!("CARGO_PKG_VERSION"), "hookbridge listening");

    let draining = {
        let state = state.clone();
        async move {
            shutdown.await;
            state.start_draining();
        }
    };
    ingress::serve(listeners.webhook, state.clone(), draining).await;
    let _ = stop.send(true);
    if let Some(reloader) = reloader {
        let _ = reloader.await;
    }
    if let Some((forwarder, drain_timeout)) = forwarder {
        // The requests in flight are answered: what is left of the spool gets its own
        // window, so a drain never shortens the requests' grace or the reverse.
        forwarder
            .drain(tokio::time::Instant::now() + drain_timeout)
            .await;
    }

    flush(&state).await;
    if let Some(traces) = traces {
        let _ = tokio::task::spawn_blocking(move || traces.shutdown()).await;
    }
    let _ = admin.await;
    Ok(())
}

/// The exporter `settings` ask for, if any, logged (the endpoint without credentials).
fn start_traces(settings: Option<&trace::Settings>) -> Result<Option<trace::Traces>, Error> {
    let Some(settings) = settings else {
        return Ok(None);
    };
    let traces =
        trace::Traces::start(settings, tokio::runtime::Handle::current()).map_err(Error::Traces)?;
    tracing::info!(
        endpoint = %settings.shown_endpoint(),
        service = %settings.service_name,
        sampler = ?settings.sampler,
        "traces exported over OTLP/HTTP"
    );
    Ok(Some(traces))
}

/// Opens `[spool]`'s directory off the async threads (it reads every segment once).
async fn open_spool(
    settings: config::Spool,
    metrics: Arc<Metrics>,
) -> Result<Arc<spool::Spool>, Error> {
    let opened = tokio::task::spawn_blocking(move || spool::Spool::open(&settings, metrics)).await;
    match opened {
        Ok(Ok((spool, _recovered))) => Ok(Arc::new(spool)),
        Ok(Err(e)) => Err(Error::Spool(e)),
        Err(panicked) => std::panic::resume_unwind(panicked.into_panic()),
    }
}

/// The spool's forwarder, running in a task of its own from start to shutdown.
struct Forwarding {
    spool: Arc<spool::Spool>,
    forwarder: Arc<spool::Forwarder>,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Forwarding {
    /// Starts forwarding `spool` through the publisher `state` serves with (the one
    /// of the config in use at each attempt).
    fn start(
        spool: Arc<spool::Spool>,
        state: &Arc<State>,
        settings: spool::Forwarding,
    ) -> Forwarding {
        let publisher: spool::PublisherSource = {
            let state = state.clone();
            Arc::new(move || state.app().publisher.clone())
        };
        let forwarder = Arc::new(spool::Forwarder::new(spool.clone(), publisher, settings));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn({
            let forwarder = forwarder.clone();
            async move {
                forwarder
                    .run(async {
                        let _ = stopped.await;
                    })
                    .await;
            }
        });
        Forwarding {
            spool,
            forwarder,
            stop,
            task,
        }
    }

    /// At shutdown, once nothing appends any more: lets the attempts in flight finish,
    /// then forwards what is left, until `deadline`. What is not forwarded by then stays
    /// in the spool for the next start.
    async fn drain(self, deadline: tokio::time::Instant) {
        let Forwarding {
            spool,
            forwarder,
            stop,
            mut task,
        } = self;
        let _ = stop.send(());
        let drained = tokio::time::timeout_at(deadline, async {
            let _ = (&mut task).await;
            forwarder.drain(deadline).await
        })
        .await;
        task.abort();
        let remaining = spool.len();
        match drained {
            Ok(_) if remaining == 0 => tracing::info!("spool drained"),
            _ => tracing::warn!(
                remaining,
                "spool not drained within spool.drain_timeout; the records stay for the next start"
            ),
        }
    }
}

/// How a config's Kafka producer is made: with the shared metrics, and a readiness
/// probe on one of the config's own dead-letter topics.
fn kafka_connect(metrics: Arc<Metrics>) -> Arc<reload::Connect> {
    Arc::new(move |config: &Config| {
        let environment = config
            .credentials
            .first()
            .map_or(everbright::Environment::Production, |c| c.environment);
        let probe_topic = config.deadletter_topic(environment, everbright::Event::ALL[0]);
        KafkaPublisher::new(&config.kafka, metrics.clone(), probe_topic, config.topics())
            .map(|p| Arc::new(p) as Arc<dyn Publish>)
    })
}

/// Waits for what the producer still holds, off the async threads, as long as the
/// config serving at the end allows (a reload may have changed `kafka.ack_timeout`).
async fn flush(state: &State) {
    let app = state.app();
    let (publisher, flush_timeout) = (app.publisher.clone(), app.ack_timeout);
    drop(app);
    let _ = tokio::task::spawn_blocking(move || publisher.flush(flush_timeout)).await;
    tracing::info!("producer flushed, stopping");
}
