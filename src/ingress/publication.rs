//! The first copy of an event: its record, the publication, and the answer remembered.
//!
//! A request that claimed its event (see [`crate::dedup`]) hands the rest to a task of
//! its own and awaits it. The task outlives the request: when the client hangs up or
//! the request times out, hyper drops the request's future, but the record may already
//! be with the producer, so the task still waits for the ack, counts it, and stores the
//! answer for the sender's retry. It holds the request's in-flight permit until then,
//! so `server.max_inflight` still bounds the work under way.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use http::header::CONTENT_TYPE;
use prometheus::IntGauge;
use tokio::sync::OwnedSemaphorePermit;
use uuid::Uuid;

use super::reject::{Reject, Unavailable};
use crate::app::{Answer, App, State};
use crate::auth::{self, Credential};
use crate::dedup::Claim;
use crate::envelope::{Incoming, Reason};
use crate::everbright::{Environment, Event};
use crate::metrics::Metrics;
use crate::publish::{Delivery, ErrorKind, Record};

/// A request admitted past the in-flight limit; counted while alive.
pub(super) struct Admitted {
    pub(super) _permit: OwnedSemaphorePermit,
    pub(super) gauge: IntGauge,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.gauge.dec();
    }
}

/// The first copy of an event, ready to be published by a task of its own.
pub(super) struct First {
    pub(super) state: Arc<State>,
    pub(super) app: Arc<App>,
    pub(super) claim: Claim<Answer>,
    /// Held until the task ends, so the work counts against `server.max_inflight`.
    pub(super) _admitted: Admitted,
    pub(super) event: Event,
    pub(super) environment: Environment,
    pub(super) credential: String,
    /// Until when the answer is remembered.
    pub(super) remember_until: SystemTime,
}

impl First {
    /// Publishes `record` in a task that finishes even if this future is dropped, and
    /// returns its answer.
    pub(super) async fn publish(
        self,
        record: Record,
        id: Uuid,
        dead_letter: Option<Reason>,
    ) -> Result<Answer, Reject> {
        match tokio::spawn(self.run(record, id, dead_letter)).await {
            Ok(result) => result,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            // Only a runtime shutting down cancels a task it did not abort.
            Err(_cancelled) => Err(Reject::Unavailable(Unavailable::Draining)),
        }
    }

    async fn run(
        self,
        record: Record,
        id: Uuid,
        dead_letter: Option<Reason>,
    ) -> Result<Answer, Reject> {
        let topic = record.topic.clone();
        let metrics = &self.state.metrics;
        // On failure the claim drops here, releasing the event for a retry.
        let delivery = publish(metrics, &self.app, record).await?;
        count_published(
            metrics,
            self.event,
            self.environment,
            &self.credential,
            dead_letter,
        );
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
}

/// The record for an authenticated request: the envelope with the event's id,
/// captured headers, and the event or dead-letter topic.
pub(super) fn record(
    app: &App,
    event: Event,
    credential: &Credential,
    request: &auth::Request<'_>,
    received: SystemTime,
    id: Uuid,
) -> (Record, Option<Reason>) {
    let envelope = app.envelope.build(&Incoming {
        id,
        event,
        environment: credential.environment,
        credential: &credential.name,
        organization: credential.organization.as_deref(),
        content_type: request
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
        body: request.body,
        received,
    });
    let mut headers = envelope.headers;
    for name in &app.capture_headers {
        if let Some(value) = request.headers.get(name) {
            headers.push((name.as_str().to_string().into(), value.as_bytes().to_vec()));
        }
    }
    let dead_letter = envelope.dead_letter;
    let topic = app.topic(credential.environment, event, dead_letter.is_some());
    let record = Record {
        topic: topic.to_string(),
        key: envelope.key,
        value: envelope.value,
        headers,
        timestamp: received,
    };
    (record, dead_letter)
}

/// Hands the record to the publisher and waits, at most `kafka.ack_timeout`, for the
/// broker's acknowledgement.
async fn publish(metrics: &Metrics, app: &App, record: Record) -> Result<Delivery, Reject> {
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

/// Counts an acknowledged record: an event, or a dead letter by reason.
fn count_published(
    metrics: &Metrics,
    event: Event,
    environment: Environment,
    credential: &str,
    dead_letter: Option<Reason>,
) {
    match dead_letter {
        None => metrics
            .events_published
            .with_label_values(&[event.slug(), environment.as_str(), credential])
            .inc(),
        Some(reason) => metrics
            .deadletters
            .with_label_values(&[event.slug(), reason.as_str()])
            .inc(),
    }
}
