//! What became of a record by its caller's deadline: acknowledged, not stored, or in
//! doubt — and, for a record in doubt, its fate once it is known.
//!
//! A produce request already written to a broker's socket cannot be recalled: a broker
//! that stops answering may still store it when it wakes, after the caller stopped
//! waiting. So "no ack by the deadline" is not a failure but a doubt, which the
//! producer settles later, within its delivery timeout (`kafka.delivery_timeout`),
//! by retrying the record idempotently: acknowledged, or definitely not stored, or —
//! where librdkafka cannot tell (a record timed out after it was sent, or purged in
//! flight) — unknown once the delivery timeout has passed. [`by_deadline`] turns a
//! record's whole delivery into that outcome for any publisher. What a caller does with
//! a record in doubt (hold its event, spool it) is the caller's.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use tokio::time::Instant;

use super::{Delivery, ErrorKind, PublishError};

/// How a record's delivery ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fate {
    /// The broker acknowledged it.
    Acked(Delivery),
    /// It is not stored and never will be (never sent, or refused by the broker): the
    /// event may be published again.
    Lost(PublishError),
    /// It failed in a way that may have stored it all the same (timed out after it was
    /// sent, purged in flight): nothing tells whether it is on Kafka.
    Unknown(PublishError),
}

/// A record's outcome by the deadline its caller gave.
#[derive(Debug)]
pub enum Outcome {
    /// The broker acknowledged it.
    Acked(Delivery),
    /// It is not stored and never will be.
    Failed(PublishError),
    /// Neither acknowledged nor known to be lost: see [`InDoubt`].
    InDoubt(InDoubt),
}

/// A record that may yet be stored: no report by the deadline, or a failure that may
/// have stored it. Its [`fate`](InDoubt::fate) is known within the publisher's
/// delivery timeout.
pub struct InDoubt {
    failure: Option<PublishError>,
    fate: Pin<Box<dyn Future<Output = Fate> + Send>>,
}

impl InDoubt {
    /// A record in doubt whose fate `fate` tells (it must resolve in bounded time).
    /// `failure`: the failure that may have stored it; `None` when no report came by
    /// the deadline.
    pub fn new(
        failure: Option<PublishError>,
        fate: impl Future<Output = Fate> + Send + 'static,
    ) -> InDoubt {
        InDoubt {
            failure,
            fate: Box::pin(fate),
        }
    }

    /// Why the record is in doubt, as a Kafka error: the failure that may have stored
    /// it, or [`ErrorKind::AckTimeout`] when no report came by the deadline.
    pub fn kind(&self) -> ErrorKind {
        self.failure
            .as_ref()
            .map_or(ErrorKind::AckTimeout, PublishError::error_kind)
    }

    /// The failure that may have stored the record; `None`: no report by the deadline.
    pub fn failure(&self) -> Option<&PublishError> {
        self.failure.as_ref()
    }

    /// Waits for the record's fate.
    pub async fn fate(self) -> Fate {
        self.fate.await
    }
}

impl fmt::Debug for InDoubt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InDoubt")
            .field("failure", &self.failure)
            .finish_non_exhaustive()
    }
}

impl Outcome {
    /// The final result, waiting out a record in doubt (for callers that can wait: the
    /// spool's forwarder, `redrive`). A fate still unknown is an error, whose record
    /// may be on Kafka.
    pub async fn settled(self) -> Result<Delivery, PublishError> {
        let fate = match self {
            Outcome::Acked(delivery) => return Ok(delivery),
            Outcome::Failed(error) => return Err(error),
            Outcome::InDoubt(doubt) => doubt.fate().await,
        };
        match fate {
            Fate::Acked(delivery) => Ok(delivery),
            Fate::Lost(error) | Fate::Unknown(error) => Err(error),
        }
    }
}

impl From<Result<Delivery, PublishError>> for Outcome {
    /// A result known by the deadline: acknowledged, or not stored.
    fn from(result: Result<Delivery, PublishError>) -> Outcome {
        match result {
            Ok(delivery) => Outcome::Acked(delivery),
            Err(error) => Outcome::Failed(error),
        }
    }
}

/// The outcome by `deadline` of `delivery`, a record's whole delivery (which resolves
/// with its [`Fate`]). A record not settled by then is in doubt, and so is one whose
/// fate is [`Fate::Unknown`]: that fate is given at `doubt_until` (when the record was
/// handed over, plus the publisher's delivery timeout), not before, since the record may
/// be stored until then; a delivery that has not ended by `doubt_until` ends there as
/// unknown.
pub async fn by_deadline(
    delivery: impl Future<Output = Fate> + Send + 'static,
    deadline: Instant,
    doubt_until: Instant,
) -> Outcome {
    let mut delivery = Box::pin(delivery);
    tokio::select! {
        biased;
        fate = &mut delivery => match fate {
            Fate::Acked(delivery) => Outcome::Acked(delivery),
            Fate::Lost(error) => Outcome::Failed(error),
            Fate::Unknown(error) => {
                let failure = Some(error.clone());
                Outcome::InDoubt(InDoubt::new(failure, unknown_at(doubt_until, error)))
            }
        },
        () = tokio::time::sleep_until(deadline) => {
            Outcome::InDoubt(InDoubt::new(None, rest(delivery, doubt_until)))
        }
    }
}

/// The rest of a delivery that was in doubt at its deadline.
async fn rest(delivery: impl Future<Output = Fate>, doubt_until: Instant) -> Fate {
    match tokio::time::timeout_at(doubt_until, delivery).await {
        Ok(Fate::Unknown(error)) => unknown_at(doubt_until, error).await,
        Ok(known) => known,
        Err(_elapsed) => Fate::Unknown(PublishError::TimedOut),
    }
}

async fn unknown_at(doubt_until: Instant, error: PublishError) -> Fate {
    tokio::time::sleep_until(doubt_until).await;
    Fate::Unknown(error)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const AT: Delivery = Delivery {
        partition: 1,
        offset: 7,
    };

    /// A delivery that ends with `fate` after `after`.
    async fn after(after: Duration, fate: Fate) -> Fate {
        tokio::time::sleep(after).await;
        fate
    }

    fn window() -> (Instant, Instant) {
        let now = Instant::now();
        (now + Duration::from_secs(5), now + Duration::from_secs(60))
    }

    #[tokio::test(start_paused = true)]
    async fn what_is_settled_by_the_deadline_is_the_outcome() {
        let (deadline, doubt_until) = window();
        let acked = by_deadline(
            after(Duration::from_secs(1), Fate::Acked(AT)),
            deadline,
            doubt_until,
        );
        assert!(matches!(acked.await, Outcome::Acked(AT)));
        let lost = Fate::Lost(PublishError::QueueFull);
        let failed = by_deadline(after(Duration::ZERO, lost), deadline, doubt_until).await;
        assert!(matches!(failed, Outcome::Failed(PublishError::QueueFull)));
    }

    #[tokio::test(start_paused = true)]
    async fn a_record_late_for_its_deadline_is_in_doubt_until_its_fate_comes() {
        let started = Instant::now();
        let (deadline, doubt_until) = window();
        let late = after(Duration::from_secs(20), Fate::Acked(AT));
        let Outcome::InDoubt(doubt) = by_deadline(late, deadline, doubt_until).await else {
            panic!("in doubt expected");
        };
        assert_eq!(
            started.elapsed(),
            Duration::from_secs(5),
            "answered at the deadline"
        );
        assert_eq!(doubt.kind(), ErrorKind::AckTimeout);
        assert_eq!(doubt.fate().await, Fate::Acked(AT));
        assert_eq!(started.elapsed(), Duration::from_secs(20));
    }

    #[tokio::test(start_paused = true)]
    async fn a_record_that_may_be_stored_stays_in_doubt_until_the_delivery_timeout() {
        let started = Instant::now();
        let (deadline, doubt_until) = window();
        // Purged in flight after a second: reported at once, decided only at the end.
        let purged = Fate::Unknown(PublishError::Closed);
        let Outcome::InDoubt(doubt) =
            by_deadline(after(Duration::from_secs(1), purged), deadline, doubt_until).await
        else {
            panic!("in doubt expected");
        };
        assert_eq!(started.elapsed(), Duration::from_secs(1));
        assert_eq!(doubt.kind(), ErrorKind::Closed);
        assert_eq!(doubt.fate().await, Fate::Unknown(PublishError::Closed));
        assert_eq!(started.elapsed(), Duration::from_secs(60));
    }

    #[tokio::test(start_paused = true)]
    async fn a_delivery_that_never_ends_is_unknown_at_the_delivery_timeout() {
        let started = Instant::now();
        let (deadline, doubt_until) = window();
        let never = std::future::pending::<Fate>();
        let outcome = by_deadline(never, deadline, doubt_until).await;
        assert_eq!(
            outcome.settled().await,
            Err(PublishError::TimedOut),
            "given up, maybe stored"
        );
        assert_eq!(started.elapsed(), Duration::from_secs(60));
    }

    #[tokio::test(start_paused = true)]
    async fn a_lost_record_after_the_deadline_is_known_at_once() {
        let started = Instant::now();
        let (deadline, doubt_until) = window();
        let purged = Fate::Lost(PublishError::Closed);
        let outcome = by_deadline(after(Duration::from_secs(9), purged), deadline, doubt_until);
        assert_eq!(outcome.await.settled().await, Err(PublishError::Closed));
        assert_eq!(started.elapsed(), Duration::from_secs(9));
    }
}
