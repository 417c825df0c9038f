//! Whether the producer gets records acknowledged, and when it must be replaced.
//!
//! librdkafka keeps an idempotent producer's id and sequence numbers across broker
//! reconnects. A broker that restarted without its state (or fenced the producer)
//! refuses that id, and librdkafka may go on retrying it without ever reporting an
//! error: every record then times out while the broker answers metadata requests
//! perfectly well. [`Health`] watches both signals — outcomes of records and answers
//! to the metadata probe — and says when the producer is stuck or fenced, so that
//! the publisher replaces it, and what `/readyz` should answer meanwhile.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::ErrorKind;

/// How many records in a row must fail (time out, or find no broker) before the
/// producer counts as not acknowledging: one slow record is not an outage.
pub const STUCK_AFTER: u32 = 3;

/// How long records must have been failing, while the broker answered metadata,
/// before a stuck producer is replaced.
pub const REPLACE_AFTER: Duration = Duration::from_secs(1);

/// How recent the broker's last metadata answer must be for `/readyz` to pass.
pub const READY_WITHIN: Duration = Duration::from_secs(5);

/// What `/readyz` reports about publishing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readiness {
    /// The broker answers and records are being acknowledged (or none failed).
    Ready,
    /// The broker has not answered a metadata request within [`READY_WITHIN`].
    BrokerUnreachable,
    /// The broker answers, but the last [`STUCK_AFTER`] records all failed and none
    /// was acknowledged since, or the broker fenced the producer.
    NotAcknowledging,
}

/// Why the producer must be replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replace {
    /// The broker fenced the producer, or librdkafka reported a fatal error.
    Fenced,
    /// Records keep failing while the broker answers metadata requests.
    Stuck,
}

impl Replace {
    /// For the log line.
    pub const fn as_str(self) -> &'static str {
        match self {
            Replace::Fenced => "the broker fenced the producer or it failed fatally",
            Replace::Stuck => "records are not acknowledged although the broker answers",
        }
    }
}

#[derive(Debug, Default)]
struct State {
    /// The producer the figures below are about; outcomes of an older one are late
    /// news and do not count against the current one.
    generation: u64,
    /// When the broker last answered a metadata request.
    answered: Option<Instant>,
    /// Records of this generation that failed in a row since the last ack.
    failures: u32,
    /// When the first of those failures happened.
    failing_since: Option<Instant>,
    /// The broker fenced this generation.
    fenced: bool,
}

/// The publisher's view of whether records get through; shared by the request path,
/// librdkafka's callbacks and the supervising task.
#[derive(Debug, Default)]
pub struct Health {
    state: Mutex<State>,
    wake: Notify,
}

impl Health {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The current producer's generation.
    pub fn generation(&self) -> u64 {
        self.state().generation
    }

    /// A record was acknowledged (by any generation: the broker takes records).
    pub fn acked(&self) {
        let mut s = self.state();
        s.failures = 0;
        s.failing_since = None;
    }

    /// A record of `generation` failed with `kind` at `now`. Only failures that say
    /// nothing reaches the broker count; a fencing wakes the supervisor at once.
    pub fn failed(&self, generation: u64, kind: ErrorKind, now: Instant) {
        let mut s = self.state();
        if generation != s.generation {
            return;
        }
        match kind {
            ErrorKind::TimedOut | ErrorKind::AckTimeout | ErrorKind::Transport => {
                s.failures = s.failures.saturating_add(1);
                s.failing_since.get_or_insert(now);
            }
            ErrorKind::Fenced => {
                s.fenced = true;
                drop(s);
                self.wake.notify_one();
            }
            _ => {}
        }
    }

    /// The outcome of a metadata probe at `now`.
    pub fn probed(&self, answered: bool, now: Instant) {
        if answered {
            self.state().answered = Some(now);
        }
    }

    /// What `/readyz` should say at `now`.
    pub fn readiness(&self, now: Instant) -> Readiness {
        let s = self.state();
        let answers = s
            .answered
            .is_some_and(|t| now.saturating_duration_since(t) < READY_WITHIN);
        if !answers {
            Readiness::BrokerUnreachable
        } else if s.fenced || s.failures >= STUCK_AFTER {
            Readiness::NotAcknowledging
        } else {
            Readiness::Ready
        }
    }

    /// Whether the current producer must be replaced at `now`.
    pub fn verdict(&self, now: Instant) -> Option<Replace> {
        let s = self.state();
        if s.fenced {
            return Some(Replace::Fenced);
        }
        let since = s.failing_since?;
        let answered_since = s.answered.is_some_and(|t| t > since);
        (s.failures >= STUCK_AFTER
            && answered_since
            && now.saturating_duration_since(since) >= REPLACE_AFTER)
            .then_some(Replace::Stuck)
    }

    /// A fresh producer replaced the current one: returns its generation, whose
    /// record starts clean.
    pub fn replaced(&self) -> u64 {
        let mut s = self.state();
        s.generation += 1;
        s.failures = 0;
        s.failing_since = None;
        s.fenced = false;
        s.generation
    }

    /// Resolves when a fencing was reported since the last call.
    pub async fn fenced(&self) {
        self.wake.notified().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answered(health: &Health, at: Instant) {
        health.probed(true, at);
    }

    #[test]
    fn a_producer_nobody_used_is_ready_while_the_broker_answers() {
        let health = Health::default();
        let t = Instant::now();
        assert_eq!(health.readiness(t), Readiness::BrokerUnreachable);
        answered(&health, t);
        assert_eq!(health.readiness(t), Readiness::Ready);
        assert_eq!(
            health.readiness(t + READY_WITHIN),
            Readiness::BrokerUnreachable
        );
        assert_eq!(health.verdict(t + READY_WITHIN), None);
    }

    #[test]
    fn failures_while_the_broker_answers_mean_stuck_and_an_ack_clears_them() {
        let health = Health::default();
        let t = Instant::now();
        answered(&health, t);
        for i in 0..STUCK_AFTER {
            assert_eq!(health.readiness(t), Readiness::Ready, "after {i} failures");
            health.failed(0, ErrorKind::AckTimeout, t);
        }
        assert_eq!(health.readiness(t), Readiness::NotAcknowledging);
        // Not before the broker answered after the failures began, and not at once.
        assert_eq!(health.verdict(t + REPLACE_AFTER), None);
        answered(&health, t + Duration::from_millis(10));
        assert_eq!(health.verdict(t + Duration::from_millis(10)), None);
        assert_eq!(health.verdict(t + REPLACE_AFTER), Some(Replace::Stuck));
        health.acked();
        assert_eq!(health.readiness(t + REPLACE_AFTER), Readiness::Ready);
        assert_eq!(health.verdict(t + REPLACE_AFTER), None);
    }

    #[test]
    fn only_failures_that_say_nothing_gets_through_count() {
        let health = Health::default();
        let t = Instant::now();
        answered(&health, t);
        for kind in [
            ErrorKind::QueueFull,
            ErrorKind::MessageTooLarge,
            ErrorKind::UnknownTopic,
            ErrorKind::Authorization,
            ErrorKind::Closed,
        ] {
            for _ in 0..STUCK_AFTER {
                health.failed(0, kind, t);
            }
        }
        assert_eq!(health.readiness(t), Readiness::Ready);
        for kind in [
            ErrorKind::TimedOut,
            ErrorKind::Transport,
            ErrorKind::AckTimeout,
        ] {
            health.failed(0, kind, t);
        }
        assert_eq!(health.readiness(t), Readiness::NotAcknowledging);
    }

    #[test]
    fn a_fencing_replaces_at_once_and_the_old_generation_is_forgotten() {
        let health = Health::default();
        let t = Instant::now();
        answered(&health, t);
        health.failed(0, ErrorKind::Fenced, t);
        assert_eq!(health.readiness(t), Readiness::NotAcknowledging);
        assert_eq!(health.verdict(t), Some(Replace::Fenced));
        assert_eq!(health.replaced(), 1);
        assert_eq!(health.generation(), 1);
        assert_eq!(health.verdict(t), None);
        // The old producer's queued records time out later: late news.
        for _ in 0..STUCK_AFTER {
            health.failed(0, ErrorKind::TimedOut, t);
            health.failed(0, ErrorKind::Fenced, t);
        }
        assert_eq!(health.readiness(t), Readiness::Ready);
        assert_eq!(health.verdict(t + REPLACE_AFTER), None);
    }

    #[tokio::test]
    async fn a_fencing_wakes_the_supervisor() {
        let health = Health::default();
        health.failed(0, ErrorKind::Fenced, Instant::now());
        tokio::time::timeout(Duration::from_secs(1), health.fenced())
            .await
            .expect("woken");
    }
}
