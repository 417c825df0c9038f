//! The first copy of an event: its publication, counted, and its answer remembered.
//!
//! A request that claimed its event (see [`crate::dedup`]) publishes it within its own
//! task, and the publication outlives the request: when the client hangs up or the
//! request times out, hyper drops the request's future, but the record may already be
//! with the producer — so the unfinished publication is handed to a task of its own
//! ([`Detached`]), which still waits for the ack, counts it, and stores the answer for
//! the sender's retry. It holds the request's in-flight permit until then, so
//! `server.max_inflight` still bounds the work under way. A task is spawned only for a
//! request that is dropped mid-publication, not for every request (a spawn and its
//! cross-task wake-up cost more than the boxed future that makes the hand-over
//! possible).
//!
//! The publisher is given one deadline, `kafka.ack_timeout` from the hand-over: the
//! only clock of the wait. A record not acknowledged by then is *in doubt* (it may
//! still be stored when the broker wakes): its sender gets 503, and a task of its own
//! keeps the claim and the permit until the record's fate is known (within
//! `kafka.delivery_timeout`) — acked, the answer is remembered, so the sender's retry
//! gets it and no second record; not stored, or still unknown at the delivery timeout,
//! the claim is released.
//!
//! With the spool on (`[spool]`), a record Kafka does not take in time — a failure worth
//! retrying, or in doubt — is appended to the spool instead and answered 202 `spooled`
//! (remembered for the retries), and while the spool holds records every new one goes
//! behind them. A record in doubt that was spooled is still delivered in the background;
//! its fate tells the forwarder whether the spooled copy must be published
//! ([`crate::spool::Doubts`]). How the record is built is the pipeline's; this module
//! never looks inside it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::SystemTime;

use tokio::time::Instant;

use uuid::Uuid;

use super::admission::Admitted;
use super::reject::{Reject, Unavailable};
use crate::app::{Answer, App, State};
use crate::dedup::{Claim, EventKey};
use crate::envelope::Reason;
use crate::everbright::Event;
use crate::metrics::Metrics;
use crate::publish::{Class, Fate, InDoubt, Outcome, PublishError, Record};
use crate::spool::{Entry, Spool};

/// The publication of an event's first copy, by a task of its own.
pub(super) struct Publication {
    pub(super) state: Arc<State>,
    pub(super) app: Arc<App>,
    pub(super) claim: Claim<Answer>,
    /// Held until the task ends, so the work counts against `server.max_inflight`.
    pub(super) _admitted: Admitted,
    pub(super) event: Event,
    /// The credential's position in the app's list (for its series).
    pub(super) credential: usize,
    /// Until when the answer is remembered.
    pub(super) remember_until: SystemTime,
}

impl Publication {
    /// Publishes `record` (of the event `key`) and returns its answer; the publication
    /// finishes even if this future is dropped.
    pub(super) async fn publish(
        self,
        record: Record,
        key: EventKey,
        dead_letter: Option<Reason>,
    ) -> Result<Answer, Reject> {
        Detached(Some(Box::pin(self.run(record, key, dead_letter)))).await
    }

    async fn run(
        self,
        record: Record,
        key: EventKey,
        dead_letter: Option<Reason>,
    ) -> Result<Answer, Reject> {
        let spool = self.state.spool().cloned();
        if let Some(spool) = spool.as_ref().filter(|s| !s.is_empty()) {
            // Behind the records already spooled, so that one site's keep their order.
            return self.spool(spool, record, key, dead_letter).await;
        }
        let (id, topic) = (key.id(), record.topic.clone());
        let sent = Instant::now();
        let deadline = sent + self.app.ack_timeout;
        let metrics = &self.state.metrics;
        let delivery = match self.app.publisher.publish(&record, deadline).await {
            Outcome::Acked(delivery) => delivery,
            Outcome::Failed(e) => {
                let retry = e.class() == Class::Retry;
                let reject = failed(metrics, e);
                return match spool {
                    Some(spool) if retry => self.spool(&spool, record, key, dead_letter).await,
                    // The claim drops here, releasing the event for a retry.
                    _ => Err(reject),
                };
            }
            Outcome::InDoubt(doubt) => {
                let reject = in_doubt(metrics, &doubt);
                if let Some(spool) = spool {
                    return self
                        .spool_in_doubt(&spool, doubt, reject, record, key, dead_letter)
                        .await;
                }
                tokio::spawn(self.settle(doubt, topic, id, dead_letter));
                return Err(reject);
            }
        };
        metrics
            .kafka_ack_duration
            .observe(sent.elapsed().as_secs_f64());
        Ok(self.acked(Answer {
            id,
            topic,
            delivery: Some(delivery),
            dead_letter,
            deduplicated: false,
        }))
    }

    /// Appends the record to the spool and answers 202 `spooled`, remembered for the
    /// event's retries; a spool that refuses it is a 503 (and the event is released).
    async fn spool(
        self,
        spool: &Spool,
        record: Record,
        key: EventKey,
        dead_letter: Option<Reason>,
    ) -> Result<Answer, Reject> {
        let answer = appended(spool, record, key, dead_letter).await?;
        self.claim.complete(answer.clone(), self.remember_until);
        Ok(answer)
    }

    /// A record in doubt with the spool on: spooled and answered 202, its first copy
    /// still delivered in the background, where its fate tells the forwarder whether to
    /// publish the spooled copy. A spool that refuses it leaves the record in doubt
    /// without it (503, the event held until its fate is known).
    async fn spool_in_doubt(
        self,
        spool: &Spool,
        doubt: InDoubt,
        reject: Reject,
        record: Record,
        key: EventKey,
        dead_letter: Option<Reason>,
    ) -> Result<Answer, Reject> {
        let (id, topic) = (key.id(), record.topic.clone());
        // Registered before the append, so the forwarder never reads the record first.
        let pending = spool.doubts().register(key.as_bytes().to_vec());
        match appended(spool, record, key, dead_letter).await {
            Ok(answer) => {
                self.claim.complete(answer.clone(), self.remember_until);
                let (state, admitted) = (self.state, self._admitted);
                tokio::spawn(async move {
                    let fate = doubt.fate().await;
                    count_fate(&state.metrics, id, &topic, &fate);
                    pending.landed(matches!(fate, Fate::Acked(_)));
                    drop(admitted);
                });
                Ok(answer)
            }
            Err(refused) => {
                drop(pending);
                tracing::warn!(%id, %topic, reason = refused.reason(), "record in doubt could not be spooled");
                tokio::spawn(self.settle(doubt, topic, id, dead_letter));
                Err(reject)
            }
        }
    }

    /// Waits, in a task of its own, for the fate of a record in doubt whose sender was
    /// answered 503, holding the event's claim (a retry waits for it) and the in-flight
    /// permit: acked, its answer is remembered for the retry; otherwise the claim drops
    /// and the event may be published again.
    async fn settle(self, doubt: InDoubt, topic: Arc<str>, id: Uuid, dead_letter: Option<Reason>) {
        let fate = doubt.fate().await;
        count_fate(&self.state.metrics, id, &topic, &fate);
        if let Fate::Acked(delivery) = fate {
            self.acked(Answer {
                id,
                topic,
                delivery: Some(delivery),
                dead_letter,
                deduplicated: false,
            });
        }
    }

    /// Counts an acknowledged record and remembers its answer for the retries.
    fn acked(self, answer: Answer) -> Answer {
        self.count(answer.dead_letter);
        self.claim.complete(answer.clone(), self.remember_until);
        answer
    }

    /// Counts an acknowledged record: an event, or a dead letter by reason.
    fn count(&self, dead_letter: Option<Reason>) {
        match dead_letter {
            None => {
                let series = &self.app.credential_series_at(self.credential);
                if let Some(published) = &series.published[self.event as usize] {
                    published.inc();
                }
            }
            Some(reason) => self
                .state
                .metrics
                .deadletters
                .with_label_values(&[self.event.slug(), reason.as_str()])
                .inc(),
        }
    }
}

/// A publication polled by the request's own task until it finishes, or — when the
/// request is dropped first — by a task of its own.
struct Detached(Option<Running>);

/// A publication under way.
type Running = Pin<Box<dyn Future<Output = Result<Answer, Reject>> + Send>>;

impl Future for Detached {
    type Output = Result<Answer, Reject>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(publication) = self.0.as_mut() else {
            return Poll::Pending; // polled after completion: never by `async fn`
        };
        let result = ready!(publication.as_mut().poll(cx));
        self.0 = None;
        Poll::Ready(result)
    }
}

impl Drop for Detached {
    fn drop(&mut self) {
        let Some(publication) = self.0.take() else {
            return;
        };
        // Outside a runtime (it is shutting down) there is nothing left to finish on.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(publication);
        }
    }
}

/// Appends the record of the event `key` to the spool: its 202 answer, or the 503 of
/// a spool that refused it.
async fn appended(
    spool: &Spool,
    record: Record,
    key: EventKey,
    dead_letter: Option<Reason>,
) -> Result<Answer, Reject> {
    let topic = record.topic.clone();
    let entry = Entry {
        id: key.id(),
        dedup_key: key.as_bytes().to_vec(),
        record,
    };
    match spool.append(&entry).await {
        Ok(_ticket) => Ok(Answer {
            id: entry.id,
            topic,
            delivery: None,
            dead_letter,
            deduplicated: false,
        }),
        Err(e) => Err(Reject::Unavailable(Unavailable::Spool(e))),
    }
}

/// Counts and logs the fate of a record in doubt.
fn count_fate(metrics: &Metrics, id: Uuid, topic: &str, fate: &Fate) {
    let counted = &metrics.records_in_doubt;
    match fate {
        Fate::Acked(_) => counted.with_label_values(&["acked"]).inc(),
        Fate::Lost(error) => {
            counted.with_label_values(&["lost"]).inc();
            tracing::info!(%id, topic, %error, "record in doubt was not stored; its event may be sent again");
        }
        Fate::Unknown(error) => {
            counted.with_label_values(&["unknown"]).inc();
            tracing::warn!(%id, topic, %error, "record in doubt still unknown at kafka.delivery_timeout; a retry of its event may store it twice");
        }
    }
}

/// A record the broker will not store: counted, and the sender's answer.
fn failed(metrics: &Metrics, error: PublishError) -> Reject {
    metrics
        .kafka_errors
        .with_label_values(&[error.kind()])
        .inc();
    error.into()
}

/// A record in doubt at the sender's deadline: counted as its error (an ack timeout
/// when no report came), and answered 503 so that the sender retries.
fn in_doubt(metrics: &Metrics, doubt: &InDoubt) -> Reject {
    let kind = doubt.kind();
    metrics
        .kafka_errors
        .with_label_values(&[kind.as_str()])
        .inc();
    match doubt.failure() {
        Some(error) => Reject::Unavailable(Unavailable::Producer(error.clone())),
        None => Reject::Unavailable(Unavailable::AckTimeout),
    }
}
