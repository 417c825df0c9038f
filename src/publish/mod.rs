//! Publishing records and waiting for the broker's acknowledgement.
//!
//! [`Publish`] is the seam between the request pipeline and Kafka: the pipeline hands
//! over a [`Record`] with the moment it stops waiting, and gets a [`Delivery`] only once
//! the broker acknowledged it — or, at that deadline, a record [in doubt](InDoubt) whose
//! fate comes later (see [`outcome`]). The real implementation is
//! [`kafka::KafkaPublisher`]; handler tests use a fake built on [`by_deadline`].

mod errors;
mod health;
pub mod kafka;
pub mod outcome;
mod stats;
pub mod topics;

pub use errors::{Class, ErrorKind, Stored, TABLE as ERROR_TABLE};
pub use health::{READY_WITHIN, Readiness, STUCK_AFTER};
pub use outcome::{Fate, InDoubt, Outcome, by_deadline};

use bytes::Bytes;

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

/// A record for a topic.
#[derive(Debug, Clone)]
pub struct Record {
    /// The topic (shared with the config: never allocated per record).
    pub topic: Arc<str>,
    /// The partitioning key (the site UUID), `None` for dead letters.
    pub key: Option<String>,
    /// The record value (shared: a binary-mode value is the request body itself).
    pub value: Bytes,
    /// Record headers.
    pub headers: Vec<(Cow<'static, str>, Vec<u8>)>,
    /// The record timestamp: when the request was received.
    pub timestamp: SystemTime,
}

/// Where the broker stored an acknowledged record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    /// The partition.
    pub partition: i32,
    /// The offset in the partition.
    pub offset: i64,
}

/// Why a record was not acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublishError {
    /// The local producer queue is full: retry later.
    QueueFull,
    /// No acknowledgement in time (broker slow or unreachable): retry later.
    TimedOut,
    /// The record exceeds the producer's or the topic's size limit: never retry it.
    MessageTooLarge,
    /// The producer is shutting down.
    Closed,
    /// The broker fenced the producer (idempotence state lost); it is being replaced:
    /// retry later.
    Fenced,
    /// Any other producer or broker error: `kind` is its group, `detail` the client's
    /// message (which never contains record contents).
    Failed {
        /// The group of the error, for the metric label.
        kind: ErrorKind,
        /// The client's description.
        detail: String,
    },
}

impl PublishError {
    /// The error for a failure of `kind`: the kinds a sender should retry become
    /// their own variants, the rest stay [`PublishError::Failed`].
    pub fn of(kind: ErrorKind, detail: impl FnOnce() -> String) -> PublishError {
        match kind {
            ErrorKind::QueueFull => PublishError::QueueFull,
            ErrorKind::TimedOut | ErrorKind::AckTimeout => PublishError::TimedOut,
            ErrorKind::MessageTooLarge => PublishError::MessageTooLarge,
            ErrorKind::Closed => PublishError::Closed,
            ErrorKind::Fenced | ErrorKind::ProducerReset => PublishError::Fenced,
            kind => PublishError::Failed {
                kind,
                detail: detail(),
            },
        }
    }

    /// The group of this error.
    pub fn error_kind(&self) -> ErrorKind {
        match self {
            PublishError::QueueFull => ErrorKind::QueueFull,
            PublishError::TimedOut => ErrorKind::TimedOut,
            PublishError::MessageTooLarge => ErrorKind::MessageTooLarge,
            PublishError::Closed => ErrorKind::Closed,
            PublishError::Fenced => ErrorKind::Fenced,
            PublishError::Failed { kind, .. } => *kind,
        }
    }

    /// A stable label for `hookbridge_kafka_errors_total{kind}`.
    pub fn kind(&self) -> &'static str {
        self.error_kind().as_str()
    }

    /// What this failure means for the sender.
    pub fn class(&self) -> Class {
        self.error_kind().class()
    }
}

impl fmt::Display for PublishError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PublishError::Failed { kind, detail } => write!(f, "{}: {detail}", kind.as_str()),
            other => f.write_str(other.kind()),
        }
    }
}

impl std::error::Error for PublishError {}

/// The future of one publication.
pub type Publishing<'a> = Pin<Box<dyn Future<Output = Outcome> + Send + 'a>>;

/// Something that stores records durably and says when it has.
pub trait Publish: Send + Sync + 'static {
    /// Hands `record` over (a copy of it: the caller keeps its own); resolves once the
    /// broker acknowledged it or refused it, and at `deadline` at the latest, with the
    /// record then [in doubt](Outcome::InDoubt). Enqueueing never blocks: a full queue is
    /// an immediate `QueueFull`.
    fn publish(&self, record: &Record, deadline: Instant) -> Publishing<'_>;

    /// Whether records get acknowledged, for `/readyz`.
    fn readiness(&self) -> Readiness;

    /// Problems that do not make the service unready, one line each, for `/readyz`'s
    /// body: topics that refuse records, or take fewer bytes than a webhook may make.
    fn warnings(&self) -> Vec<String> {
        Vec::new()
    }

    /// The topics the serving config writes to (at start and after each reload), whose
    /// size limits the publisher checks.
    fn expect_topics(&self, topics: Vec<String>) {
        let _ = topics;
    }

    /// Waits up to `timeout` for queued records to be acknowledged. Blocking: call it
    /// off the async worker threads.
    fn flush(&self, timeout: Duration);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_kind_round_trips_through_its_error() {
        for kind in ErrorKind::ALL {
            let error = PublishError::of(kind, || "detail".into());
            let expected = match kind {
                ErrorKind::AckTimeout => ErrorKind::TimedOut,
                ErrorKind::ProducerReset => ErrorKind::Fenced,
                kind => kind,
            };
            assert_eq!(error.error_kind(), expected, "{kind:?}");
        }
    }

    #[test]
    fn an_error_keeps_the_class_of_its_kind() {
        for kind in ErrorKind::ALL {
            let error = PublishError::of(kind, || "detail".into());
            assert_eq!(error.class(), kind.class(), "{kind:?}");
        }
    }
}
