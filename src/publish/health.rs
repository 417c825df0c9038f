//! Whether records get through, what `/readyz` says about it, and when the producer
//! must be replaced.
//!
//! Two kinds of knowledge meet here. [`Health`] holds what is known of the cluster:
//! when a broker last answered a metadata request, which brokers librdkafka could not
//! connect to, whether SASL or TLS failed, which topics refuse records, and how often
//! the producer was replaced lately. [`ProducerHealth`] holds what is known of one
//! producer: how many of its records failed in a row, and whether the broker fenced
//! it. A replaced producer takes its record with it, so late failures of its queued
//! records never count against the fresh one.
//!
//! librdkafka keeps an idempotent producer's id and sequence numbers across broker
//! reconnects. A broker that restarted without its state refuses that id, and
//! librdkafka may go on retrying without reporting an error: every record then times
//! out while the broker answers metadata requests. Records also time out while a
//! broker answers when the cluster cannot take writes (other brokers down, too few
//! in-sync replicas, no controller quorum), where a fresh producer does not help. So a
//! stuck producer is replaced only while no broker refuses connections (a broker that
//! was down must answer again first, and gets [`REPLACE_AFTER`] to acknowledge what
//! was queued), and each further replacement without an ack in between waits twice as
//! long as the one before (at most [`REPLACE_BACKOFF_MAX`]): no replacement storm.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::errors::{Class, ErrorKind};

/// How many records in a row must fail (time out, or find no broker) before the
/// producer counts as not acknowledging: one slow record is not an outage.
pub const STUCK_AFTER: u32 = 3;

/// How long records must have been failing, while the broker answered metadata,
/// before a stuck producer is first replaced.
pub const REPLACE_AFTER: Duration = Duration::from_secs(1);

/// The longest wait between two replacements with no ack in between.
pub const REPLACE_BACKOFF_MAX: Duration = Duration::from_secs(60);

/// How recent the broker's last metadata answer must be for `/readyz` to pass; also
/// how long an authentication or TLS failure is remembered.
pub const READY_WITHIN: Duration = Duration::from_secs(5);

/// How long a broker that refused connections counts as down, unless it answers a
/// metadata request first (librdkafka retries a connection at most every 10 s).
pub const DOWN_FOR: Duration = Duration::from_secs(60);

/// The most brokers remembered as unreachable (librdkafka names them; a cluster has
/// few).
const MAX_DOWN: usize = 64;

/// The most topics remembered as refusing records (hookbridge writes to at most two per
/// event and environment).
const MAX_TROUBLED_TOPICS: usize = 128;

/// What `/readyz` reports about publishing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    /// The broker answers and records are being acknowledged (or none failed).
    Ready,
    /// No broker answered a metadata request within [`READY_WITHIN`]; `unreachable`
    /// names the brokers librdkafka could not connect to meanwhile.
    BrokerUnreachable {
        /// Brokers (`host:port/id`) with a recent connection failure, sorted.
        unreachable: Vec<String>,
    },
    /// The brokers refuse hookbridge's SASL credentials.
    AuthenticationFailed,
    /// The TLS handshake with the brokers fails (untrusted or expired certificate…).
    TlsFailed,
    /// The producer failed fatally for lack of rights (e.g. the IdempotentWrite ACL).
    NotAuthorized,
    /// The broker answers, but the last [`STUCK_AFTER`] records all failed and none
    /// was acknowledged since, or the broker fenced the producer. `unreachable` names
    /// the brokers librdkafka could not connect to meanwhile.
    NotAcknowledging {
        /// Brokers (`host:port/id`) with a recent connection failure, sorted.
        unreachable: Vec<String>,
    },
}

impl Readiness {
    /// Whether `/readyz` answers 200.
    pub fn is_ready(&self) -> bool {
        *self == Readiness::Ready
    }

    /// The first line of `/readyz`'s body.
    pub fn reason(&self) -> String {
        match self {
            Readiness::Ready => "ready".into(),
            Readiness::BrokerUnreachable { unreachable } => {
                with_brokers("broker not reachable", unreachable)
            }
            Readiness::AuthenticationFailed => "kafka authentication failed".into(),
            Readiness::TlsFailed => "kafka TLS handshake failed".into(),
            Readiness::NotAuthorized => "kafka authorization failed".into(),
            Readiness::NotAcknowledging { unreachable } => {
                with_brokers("records not acknowledged", unreachable)
            }
        }
    }
}

/// `reason`, and the brokers that refuse connections when there are any.
fn with_brokers(reason: &str, unreachable: &[String]) -> String {
    if unreachable.is_empty() {
        reason.into()
    } else {
        format!("{reason}; cannot connect to {}", unreachable.join(", "))
    }
}

/// Why the producer must be replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replace {
    /// The broker fenced the producer, or librdkafka reported a fatal error.
    Fenced,
    /// Records keep failing while the broker answers metadata requests.
    Stuck,
    /// The cluster answering is another one than before (a new cluster id): it knows
    /// nothing of the producer.
    ClusterChanged,
}

impl Replace {
    /// For the log line.
    pub const fn as_str(self) -> &'static str {
        match self {
            Replace::Fenced => "the broker fenced the producer or it failed fatally",
            Replace::Stuck => "records are not acknowledged although the broker answers",
            Replace::ClusterChanged => "the brokers belong to another cluster than before",
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Each update below is a few field writes with nothing fallible between them, so a
    // panic elsewhere cannot leave the state half-written.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What is known of one producer's records; held by the producer, its callbacks and
/// its records' outcomes.
#[derive(Debug)]
pub struct ProducerHealth {
    state: Mutex<ProducerState>,
    wake: Arc<Notify>,
}

#[derive(Debug, Default)]
struct ProducerState {
    /// Records that failed in a row since the last ack.
    failures: u32,
    /// When the first of those failures happened.
    failing_since: Option<Instant>,
    /// The broker fenced this producer, or it failed fatally.
    fenced: Option<ErrorKind>,
}

impl ProducerHealth {
    /// A record of this producer was acknowledged.
    pub fn acked(&self) {
        let mut s = lock(&self.state);
        s.failures = 0;
        s.failing_since = None;
    }

    /// A record of this producer failed with `kind` at `now`. Only failures that say
    /// nothing reaches the broker count; a fencing wakes the supervisor at once.
    pub fn failed(&self, kind: ErrorKind, now: Instant) {
        if kind.is_outage() {
            let mut s = lock(&self.state);
            s.failures = s.failures.saturating_add(1);
            s.failing_since.get_or_insert(now);
        } else if kind == ErrorKind::Fenced {
            self.fenced(kind);
        }
        // The rest say nothing about whether records get through: the local queue, a
        // record too large, a producer being closed, a topic of its own, the
        // credentials (which the supervisor sees through the client's errors).
    }

    /// The producer cannot go on: fenced, or failed fatally with an error of `kind`.
    pub fn fenced(&self, kind: ErrorKind) {
        lock(&self.state).fenced = Some(kind);
        self.wake.notify_one();
    }
}

#[derive(Debug, Default)]
struct ClusterState {
    /// When a broker last answered a metadata request.
    answered: Option<Instant>,
    /// The last SASL or TLS failure librdkafka reported, and when (until a broker
    /// answers again).
    refused: Option<(ErrorKind, Instant)>,
    /// Brokers librdkafka could not connect to, by address (`host:port`): the name it
    /// gave (`host:port/id`) and when it last failed.
    down: HashMap<String, (String, Instant)>,
    /// When a broker that was down last answered again.
    recovered_at: Option<Instant>,
    /// The cluster id the brokers reported last.
    cluster_id: Option<String>,
    /// Topics whose records failed as misconfigured, with why and when.
    troubled: HashMap<String, (ErrorKind, Instant)>,
    /// Replacements since the last ack, and when the last one happened.
    replacements: u32,
    replaced_at: Option<Instant>,
}

/// The publisher's view of the cluster; shared by the request path, librdkafka's
/// callbacks and the supervising task.
#[derive(Debug, Default)]
pub struct Health {
    state: Mutex<ClusterState>,
    wake: Arc<Notify>,
}

impl Health {
    /// The record of a fresh producer.
    pub fn producer(&self) -> Arc<ProducerHealth> {
        Arc::new(ProducerHealth {
            state: Mutex::new(ProducerState::default()),
            wake: self.wake.clone(),
        })
    }

    /// A record was acknowledged (by any producer: the cluster takes records).
    pub fn acked(&self, producer: &ProducerHealth) {
        producer.acked();
        let mut s = lock(&self.state);
        s.replacements = 0;
    }

    /// A record for `topic` failed with `kind` at `now`.
    pub fn failed(&self, producer: &ProducerHealth, topic: &str, kind: ErrorKind, now: Instant) {
        producer.failed(kind, now);
        if kind.class() == Class::Misconfigured
            && !matches!(kind, ErrorKind::Authentication | ErrorKind::Tls)
        {
            let mut s = lock(&self.state);
            if s.troubled.len() < MAX_TROUBLED_TOPICS || s.troubled.contains_key(topic) {
                s.troubled.insert(topic.to_string(), (kind, now));
            }
        }
    }

    /// librdkafka reported a client-level error of `kind` at `now`: a connection to
    /// `broker` failed (`host:port/id`, as it names brokers), or SASL or TLS failed.
    pub fn client_error(&self, kind: ErrorKind, broker: Option<&str>, now: Instant) {
        let mut s = lock(&self.state);
        match kind {
            ErrorKind::Authentication | ErrorKind::Tls => s.refused = Some((kind, now)),
            ErrorKind::Transport => {
                if let Some(broker) = broker {
                    let address = address_of(broker).to_string();
                    if s.down.len() >= MAX_DOWN && !s.down.contains_key(&address) {
                        s.down
                            .retain(|_, (_, at)| now.saturating_duration_since(*at) < DOWN_FOR);
                    }
                    if s.down.len() < MAX_DOWN || s.down.contains_key(&address) {
                        s.down.insert(address, (broker.to_string(), now));
                    }
                }
            }
            _ => {}
        }
    }

    /// The outcome of a metadata probe at `now`: the broker that answered (as librdkafka
    /// names it) and the cluster id it reported. Returns whether that cluster is another
    /// than before.
    pub fn probed(
        &self,
        answered_by: Option<&str>,
        cluster_id: Option<String>,
        now: Instant,
    ) -> bool {
        let mut s = lock(&self.state);
        let Some(broker) = answered_by else {
            return false;
        };
        s.answered = Some(now);
        s.refused = None;
        if s.down.remove(address_of(broker)).is_some() {
            s.recovered_at = Some(now);
        }
        match (&s.cluster_id, cluster_id) {
            (Some(known), Some(id)) if *known != id => {
                s.cluster_id = Some(id);
                true
            }
            (_, Some(id)) => {
                s.cluster_id = Some(id);
                false
            }
            (_, None) => false,
        }
    }

    /// What `/readyz` should say at `now` about `producer`, the current one.
    pub fn readiness(&self, producer: &ProducerHealth, now: Instant) -> Readiness {
        let recent = |at: Instant| now.saturating_duration_since(at) < READY_WITHIN;
        let s = lock(&self.state);
        let unreachable = || {
            let mut names: Vec<String> = s
                .down
                .values()
                .filter(|(_, at)| now.saturating_duration_since(*at) < DOWN_FOR)
                .map(|(broker, _)| broker.clone())
                .collect();
            names.sort();
            names
        };
        if !s.answered.is_some_and(recent) {
            // librdkafka reports a refused login once per reconnection (at most every
            // 10 s), and nothing answered since: it still stands.
            let refused = |at: Instant| now.saturating_duration_since(at) < DOWN_FOR;
            return match s.refused {
                Some((ErrorKind::Authentication, at)) if refused(at) => {
                    Readiness::AuthenticationFailed
                }
                Some((ErrorKind::Tls, at)) if refused(at) => Readiness::TlsFailed,
                _ => Readiness::BrokerUnreachable {
                    unreachable: unreachable(),
                },
            };
        }
        let p = lock(&producer.state);
        match p.fenced {
            Some(kind) if kind.class() == Class::Misconfigured => Readiness::NotAuthorized,
            None if p.failures < STUCK_AFTER => Readiness::Ready,
            _ => Readiness::NotAcknowledging {
                unreachable: unreachable(),
            },
        }
    }

    /// Lines `/readyz` adds below its first: topics that refused records lately.
    pub fn warnings(&self, now: Instant) -> Vec<String> {
        let s = lock(&self.state);
        let mut lines: Vec<String> = s
            .troubled
            .iter()
            .filter(|(_, (_, at))| now.saturating_duration_since(*at) < READY_WITHIN * 12)
            .map(|(topic, (kind, _))| format!("topic {topic} refuses records: {}", kind.as_str()))
            .collect();
        lines.sort();
        lines
    }

    /// Whether `producer` must be replaced at `now`, and why.
    pub fn verdict(&self, producer: &ProducerHealth, now: Instant) -> Option<Replace> {
        let s = lock(&self.state);
        let p = lock(&producer.state);
        let why = if p.fenced.is_some() {
            Replace::Fenced
        } else {
            let since = p.failing_since?;
            let answered_since = s.answered.is_some_and(|t| t > since);
            let brokers_down = s
                .down
                .values()
                .any(|(_, at)| now.saturating_duration_since(*at) < DOWN_FOR);
            let settled = s.recovered_at.map_or(since, |r| r.max(since));
            let stuck = p.failures >= STUCK_AFTER
                && answered_since
                && !brokers_down
                && now.saturating_duration_since(settled) >= REPLACE_AFTER;
            if !stuck {
                return None;
            }
            Replace::Stuck
        };
        // The first replacement at once; each further one without an ack in between
        // after twice the wait of the one before.
        let wait = REPLACE_AFTER
            .saturating_mul(1 << s.replacements.min(16))
            .min(REPLACE_BACKOFF_MAX);
        let due = s
            .replaced_at
            .is_none_or(|at| s.replacements == 0 || now.saturating_duration_since(at) >= wait);
        due.then_some(why)
    }

    /// A fresh producer replaced the current one at `now`.
    pub fn replaced(&self, now: Instant) {
        let mut s = lock(&self.state);
        s.replacements = s.replacements.saturating_add(1);
        s.replaced_at = Some(now);
    }

    /// Resolves when a fencing was reported since the last call.
    pub async fn fenced(&self) {
        self.wake.notified().await;
    }
}

/// The `host:port` of a broker as librdkafka names it (`sasl_ssl://host:port/id`).
fn address_of(broker: &str) -> &str {
    let broker = broker.split_once("://").map_or(broker, |(_, rest)| rest);
    broker
        .rsplit_once('/')
        .map_or(broker, |(address, _)| address)
}

#[cfg(test)]
mod tests;
