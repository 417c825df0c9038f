//! The running service's state: one immutable [`App`] per config, swapped whole on
//! reload, inside a [`State`] that lives as long as the process.
//!
//! A request loads the current `App` once and uses it to the end, so a reload never
//! changes the rules under a request already in flight.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use http::HeaderName;
use prometheus::{Histogram, IntCounter};
use tokio::sync::Semaphore;
use uuid::Uuid;

use crate::auth::{Authenticator, Credential};
use crate::config::{Config, Dedup, Server};
use crate::dedup::{Cache, Owner};
use crate::envelope::{self, Reason};
use crate::everbright::{Environment, Event};
use crate::limit::{FailedAuth, TokenBucket};
use crate::log_budget::LogBudget;
use crate::metrics::Metrics;
use crate::publish::{Delivery, ErrorKind, Publish};
use crate::route::Router;
use crate::spool::Spool;

/// Everything a request needs, built from one config.
pub struct App {
    /// Listener limits and timeouts.
    pub server: Server,
    /// How long to wait for a broker acknowledgement.
    pub ack_timeout: Duration,
    /// The largest record a webhook may make (`kafka.max_record_bytes`).
    pub max_record_bytes: usize,
    /// Path → event.
    pub router: Router,
    /// Credentials.
    pub auth: Authenticator,
    /// Body reading and envelope encoding.
    pub envelope: envelope::Settings,
    /// Request headers copied onto records.
    pub capture_headers: Vec<HeaderName>,
    /// How long answers are remembered (the capacity is fixed at start).
    pub dedup: Dedup,
    /// Where records go.
    pub publisher: Arc<dyn Publish>,
    /// The token bucket of each credential with a `rate_limit`.
    pub rate_limits: HashMap<String, TokenBucket>,
    /// `server.failed_auth_limit`, with the failures counted so far.
    pub failed_auth: Option<FailedAuth>,
    topics: Vec<Arc<str>>,
    deadletter_topics: Vec<Arc<str>>,
    by_event: Vec<EventSeries>,
    by_credential: Vec<CredentialSeries>,
}

/// The series a request of one event updates, resolved once per config (a label
/// lookup hashes the labels and takes a lock; a handle does neither).
pub struct EventSeries {
    /// `hookbridge_http_requests_total{event, status="200"}`.
    pub ok: IntCounter,
    /// `hookbridge_http_requests_total{event, status="202"}`.
    pub accepted: IntCounter,
    /// `hookbridge_http_request_duration_seconds{event}`.
    pub duration: Histogram,
    /// The `event` label.
    pub label: &'static str,
}

/// The series of one credential, resolved once per config.
pub struct CredentialSeries {
    /// The credential's name, shared (it owns the credential's dedup entries).
    pub name: Owner,
    /// `hookbridge_events_published_total` by event (`Event as usize`), for the
    /// events the credential may deliver.
    pub published: Vec<Option<IntCounter>>,
    /// `hookbridge_deduplicated_total{credential}`.
    pub deduplicated: IntCounter,
    /// `hookbridge_rate_limited_total{credential}`.
    pub rate_limited: IntCounter,
}

impl App {
    /// Builds the app for `config`, publishing through `publisher`. Pre-creates the
    /// metric series dashboards and alerts expect to exist at zero.
    pub fn new(config: Config, publisher: Arc<dyn Publish>, metrics: &Metrics) -> App {
        let grid = |f: &dyn Fn(Environment, Event) -> Arc<str>| -> Vec<Arc<str>> {
            Environment::ALL
                .into_iter()
                .flat_map(|env| Event::ALL.into_iter().map(move |event| (env, event)))
                .map(|(env, event)| f(env, event))
                .collect()
        };
        let topics = grid(&|env, event| config.topic(env, event).into());
        let deadletter_topics = grid(&|env, event| config.deadletter_topic(env, event).into());
        let by_credential = config
            .credentials
            .iter()
            .map(|c| CredentialSeries::new(metrics, c))
            .collect();
        let by_event = Event::ALL
            .into_iter()
            .map(Event::slug)
            .chain([UNKNOWN_EVENT])
            .map(|label| EventSeries::new(metrics, label))
            .collect();
        for reason in crate::auth::Failure::REASONS {
            metrics.auth_failures.with_label_values(&[reason]);
        }
        for kind in ErrorKind::ALL {
            metrics.kafka_errors.with_label_values(&[kind.as_str()]);
        }
        for event in Event::ALL {
            for reason in envelope::Reason::ALL {
                metrics
                    .deadletters
                    .with_label_values(&[event.slug(), reason.as_str()]);
            }
        }
        App {
            router: Router::new(&config.server.path_prefix, &config.routes),
            ack_timeout: config.kafka.ack_timeout,
            max_record_bytes: config.kafka.max_record_bytes,
            envelope: config.envelope_settings(),
            capture_headers: config.payload.capture_headers,
            rate_limits: config
                .rate_limits
                .iter()
                .map(|(name, rate)| (name.clone(), TokenBucket::new(*rate, Instant::now())))
                .collect(),
            failed_auth: config.server.failed_auth_limit.map(|rate| {
                let server = &config.server;
                let (prefix, max) = (
                    server.failed_auth_ipv6_prefix,
                    server.failed_auth_max_clients,
                );
                FailedAuth::new(rate, prefix, max)
            }),
            dedup: config.dedup,
            auth: Authenticator::new(config.credentials),
            server: config.server,
            publisher,
            topics,
            deadletter_topics,
            by_event,
            by_credential,
        }
    }

    /// The topic for an event from `environment`, or its dead-letter topic.
    pub fn topic(&self, environment: Environment, event: Event, dead_letter: bool) -> &Arc<str> {
        let i = environment as usize * Event::ALL.len() + event as usize;
        if dead_letter {
            &self.deadletter_topics[i]
        } else {
            &self.topics[i]
        }
    }

    /// The series of requests for `event` (`None`: no route matched).
    pub fn event_series(&self, event: Option<Event>) -> &EventSeries {
        let i = event.map_or(Event::ALL.len(), |e| e as usize);
        &self.by_event[i]
    }

    /// The series of `credential`, one of this app's.
    pub fn credential_series(&self, credential: &Credential) -> &CredentialSeries {
        self.credential_series_at(self.auth.position(credential))
    }

    /// The series of the credential at `position` in `auth.credentials()`.
    pub fn credential_series_at(&self, position: usize) -> &CredentialSeries {
        &self.by_credential[position]
    }
}

/// The `event` label of a request no route matched.
pub const UNKNOWN_EVENT: &str = "unknown";

impl EventSeries {
    fn new(metrics: &Metrics, label: &'static str) -> EventSeries {
        EventSeries {
            ok: metrics.http_requests.with_label_values(&[label, "200"]),
            accepted: metrics.http_requests.with_label_values(&[label, "202"]),
            duration: metrics.http_request_duration.with_label_values(&[label]),
            label,
        }
    }
}

impl CredentialSeries {
    fn new(metrics: &Metrics, c: &Credential) -> CredentialSeries {
        let published = Event::ALL
            .into_iter()
            .map(|event| {
                c.events.contains(event).then(|| {
                    let labels = [event.slug(), c.environment.as_str(), &c.name];
                    metrics.events_published.with_label_values(&labels)
                })
            })
            .collect();
        // Evictions are counted by the name the cache gives (rare: a label lookup is
        // fine), but the series exists at zero from the start.
        metrics.dedup_evictions.with_label_values(&[&c.name]);
        CredentialSeries {
            name: Owner::from(c.name.as_str()),
            published,
            deduplicated: metrics.deduplicated.with_label_values(&[&c.name]),
            rate_limited: metrics.rate_limited.with_label_values(&[&c.name]),
        }
    }
}

/// A webhook answered with 2xx: its record is acknowledged. Remembered by the dedup
/// cache, so every copy of the event within the window gets the same answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The CloudEvents id.
    pub id: Uuid,
    /// Where the record went.
    pub topic: Arc<str>,
    /// The broker's acknowledgement; `None`: the record is in the spool, synced, and
    /// will reach Kafka (answered 202 `spooled`).
    pub delivery: Option<Delivery>,
    /// Set when the record is a dead letter (answered 202).
    pub dead_letter: Option<Reason>,
    /// Whether this answer is an earlier copy's, given without a second record.
    pub deduplicated: bool,
}

/// Process-lifetime state: the current [`App`], metrics, the in-flight limit, the
/// dedup cache and the draining flag.
pub struct State {
    app: ArcSwap<App>,
    /// The metrics, shared by every `App`.
    pub metrics: Arc<Metrics>,
    draining: AtomicBool,
    inflight: Arc<Semaphore>,
    dedup: Arc<Cache<Answer>>,
    /// How many `webhook refused` lines are written.
    pub refusal_log: LogBudget,
    /// Starts each webhook's spans when traces are on.
    pub tracer: Option<crate::trace::Tracer>,
    /// The spool (`[spool]`), opened at start; it outlives reloads.
    spool: Option<Arc<Spool>>,
}

impl State {
    /// State serving `app`, with `server.max_inflight` and `dedup.capacity` taken from
    /// its config.
    pub fn new(app: App, metrics: Arc<Metrics>) -> State {
        let inflight = Arc::new(Semaphore::new(app.server.max_inflight));
        let dedup = Arc::new(Cache::new(app.dedup.capacity));
        State {
            app: ArcSwap::from_pointee(app),
            metrics,
            draining: AtomicBool::new(false),
            inflight,
            dedup,
            refusal_log: LogBudget::default(),
            tracer: None,
            spool: None,
        }
    }

    /// This state, spooling into `spool` what Kafka does not take in time.
    pub fn with_spool(self, spool: Arc<Spool>) -> State {
        State {
            spool: Some(spool),
            ..self
        }
    }

    /// The spool, when `[spool]` is on.
    pub fn spool(&self) -> Option<&Arc<Spool>> {
        self.spool.as_ref()
    }

    /// The current app; hold it for the whole request.
    pub fn app(&self) -> Arc<App> {
        self.app.load_full()
    }

    /// Replaces the app; requests in flight keep the one they loaded.
    pub fn swap(&self, app: App) {
        self.app.store(Arc::new(app));
    }

    /// Marks the service as shutting down: `/readyz` fails and new requests get 503.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    /// Whether the service is shutting down.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    /// Events being published and answers of recently acknowledged ones.
    pub fn dedup(&self) -> &Arc<Cache<Answer>> {
        &self.dedup
    }

    /// The in-flight request limit.
    pub fn inflight(&self) -> &Arc<Semaphore> {
        &self.inflight
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::auth::Failure;
    use crate::publish::{PublishError, Publishing, Readiness, Record};

    struct Unused;

    impl Publish for Unused {
        fn publish(&self, _record: &Record, _deadline: tokio::time::Instant) -> Publishing<'_> {
            Box::pin(async { Err(PublishError::Closed).into() })
        }
        fn readiness(&self) -> Readiness {
            Readiness::BrokerUnreachable {
                unreachable: Vec::new(),
            }
        }
        fn flush(&self, _timeout: Duration) {}
    }

    /// The series of `metric` with exactly these labels, as the scrape shows them.
    fn has_series(scrape: &str, metric: &str, labels: &[(&str, &str)]) -> bool {
        let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
        let series = format!("{metric}{{{}}} 0", labels.join(","));
        scrape.lines().any(|line| line == series)
    }

    #[test]
    fn every_label_a_request_can_produce_is_pre_registered_at_zero() {
        let config = Config::parse(
            "[kafka]\nbrokers = \"b:9092\"\n[[credentials]]\nname = \"open\"\nscheme = \"none\"\n",
            Path::new("."),
            &|_| None,
        )
        .unwrap();
        let metrics = Metrics::new();
        let _app = App::new(config, Arc::new(Unused), &metrics);
        let scrape = String::from_utf8(metrics.encode()).unwrap();
        for reason in Failure::REASONS {
            let labels = [("reason", *reason)];
            assert!(
                has_series(&scrape, "hookbridge_auth_failures_total", &labels),
                "{reason}"
            );
        }
        for kind in ErrorKind::ALL {
            let labels = [("kind", kind.as_str())];
            assert!(
                has_series(&scrape, "hookbridge_kafka_errors_total", &labels),
                "{kind:?}"
            );
        }
        for event in Event::ALL {
            for reason in Reason::ALL {
                let labels = [("event", event.slug()), ("reason", reason.as_str())];
                assert!(has_series(&scrape, "hookbridge_deadletters_total", &labels));
            }
            let labels = [
                ("credential", "open"),
                ("environment", "production"),
                ("event", event.slug()),
            ];
            assert!(has_series(
                &scrape,
                "hookbridge_events_published_total",
                &labels
            ));
        }
        let deduplicated = [("credential", "open")];
        assert!(has_series(
            &scrape,
            "hookbridge_deduplicated_total",
            &deduplicated
        ));
    }
}
