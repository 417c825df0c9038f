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
//! possible). How the record is built is the pipeline's; this module never looks
//! inside it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::{Instant, SystemTime};

use uuid::Uuid;

use super::admission::Admitted;
use super::reject::{Reject, Unavailable};
use crate::app::{Answer, App, State};
use crate::dedup::Claim;
use crate::envelope::Reason;
use crate::everbright::Event;
use crate::metrics::Metrics;
use crate::publish::{Delivery, ErrorKind, Record};

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
    /// Publishes `record` and returns its answer; the publication finishes even if
    /// this future is dropped.
    pub(super) async fn publish(
        self,
        record: Record,
        id: Uuid,
        dead_letter: Option<Reason>,
    ) -> Result<Answer, Reject> {
        Detached(Some(Box::pin(self.run(record, id, dead_letter)))).await
    }

    async fn run(
        self,
        record: Record,
        id: Uuid,
        dead_letter: Option<Reason>,
    ) -> Result<Answer, Reject> {
        let topic = record.topic.clone();
        // On failure the claim drops here, releasing the event for a retry.
        let delivery = acknowledged(&self.state.metrics, &self.app, record).await?;
        self.count(dead_letter);
        let answer = Answer {
            id,
            topic,
            delivery,
            dead_letter,
            deduplicated: false,
        };
        self.claim.complete(answer.clone(), self.remember_until);
        Ok(answer)
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

/// Hands the record to the publisher and waits, at most `kafka.ack_timeout`, for the
/// broker's acknowledgement.
async fn acknowledged(metrics: &Metrics, app: &App, record: Record) -> Result<Delivery, Reject> {
    let sent = Instant::now();
    let delivery = match tokio::time::timeout(app.ack_timeout, app.publisher.publish(record)).await
    {
        Ok(Ok(delivery)) => delivery,
        Ok(Err(e)) => {
            metrics.kafka_errors.with_label_values(&[e.kind()]).inc();
            return Err(e.into());
        }
        Err(_elapsed) => {
            metrics
                .kafka_errors
                .with_label_values(&[ErrorKind::AckTimeout.as_str()])
                .inc();
            return Err(Reject::Unavailable(Unavailable::AckTimeout));
        }
    };
    metrics
        .kafka_ack_duration
        .observe(sent.elapsed().as_secs_f64());
    Ok(delivery)
}
