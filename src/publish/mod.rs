//! Publishing records and waiting for the broker's acknowledgement.
//!
//! [`Publish`] is the seam between the request pipeline and Kafka: the pipeline hands
//! over a [`Record`] and gets a [`Delivery`] only once the broker acknowledged it. The
//! real implementation is [`kafka::KafkaPublisher`]; handler tests use a fake. The
//! pipeline, not the publisher, bounds the wait (`kafka.ack_timeout`).

mod health;
pub mod kafka;
mod stats;

pub use health::{READY_WITHIN, Readiness, STUCK_AFTER};

use bytes::Bytes;

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

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
    /// The record exceeds the producer's or broker's size limit.
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

/// The groups of Kafka errors: the `kind` label of `hookbridge_kafka_errors_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The local producer queue is full.
    QueueFull,
    /// librdkafka gave up on a record or request in time.
    TimedOut,
    /// hookbridge stopped waiting at `kafka.ack_timeout`.
    AckTimeout,
    /// The record is over a size limit.
    MessageTooLarge,
    /// The producer is shutting down (queued records purged).
    Closed,
    /// The broker fenced the idempotent producer, or it failed fatally.
    Fenced,
    /// hookbridge replaced a fenced or failed producer.
    ProducerReset,
    /// Connections to the brokers fail.
    Transport,
    /// SASL authentication failed.
    Authentication,
    /// TLS failed.
    Tls,
    /// The broker refused an operation for lack of rights.
    Authorization,
    /// The topic or partition does not exist.
    UnknownTopic,
    /// An error of the client itself, without a broker error code.
    Client,
    /// Anything else.
    Other,
}

impl ErrorKind {
    /// Every kind, pre-registered as metric series so that alerts see zeros rather
    /// than absent series.
    pub const ALL: [ErrorKind; 14] = [
        ErrorKind::QueueFull,
        ErrorKind::TimedOut,
        ErrorKind::AckTimeout,
        ErrorKind::MessageTooLarge,
        ErrorKind::Closed,
        ErrorKind::Fenced,
        ErrorKind::ProducerReset,
        ErrorKind::Transport,
        ErrorKind::Authentication,
        ErrorKind::Tls,
        ErrorKind::Authorization,
        ErrorKind::UnknownTopic,
        ErrorKind::Client,
        ErrorKind::Other,
    ];

    /// The metric label.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorKind::QueueFull => "queue-full",
            ErrorKind::TimedOut => "timed-out",
            ErrorKind::AckTimeout => "ack-timeout",
            ErrorKind::MessageTooLarge => "message-too-large",
            ErrorKind::Closed => "closed",
            ErrorKind::Fenced => "fenced",
            ErrorKind::ProducerReset => "producer-reset",
            ErrorKind::Transport => "transport",
            ErrorKind::Authentication => "authentication",
            ErrorKind::Tls => "tls",
            ErrorKind::Authorization => "authorization",
            ErrorKind::UnknownTopic => "unknown-topic",
            ErrorKind::Client => "client",
            ErrorKind::Other => "other",
        }
    }
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
pub type Publishing<'a> = Pin<Box<dyn Future<Output = Result<Delivery, PublishError>> + Send + 'a>>;

/// Something that stores records durably and says when it has.
pub trait Publish: Send + Sync + 'static {
    /// Hands `record` over; resolves once the broker acknowledged it (or refused it).
    /// Enqueueing never blocks: a full queue is an immediate `QueueFull`.
    fn publish(&self, record: Record) -> Publishing<'_>;

    /// Whether records get acknowledged, for `/readyz`.
    fn readiness(&self) -> Readiness;

    /// Waits up to `timeout` for queued records to be acknowledged. Blocking: call it
    /// off the async worker threads.
    fn flush(&self, timeout: Duration);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_lists_every_error_kind() {
        for kind in ErrorKind::ALL {
            // Exhaustive: a new kind does not compile until it is handled here, and
            // the count below fails until it is in `ALL`.
            match kind {
                ErrorKind::QueueFull
                | ErrorKind::TimedOut
                | ErrorKind::AckTimeout
                | ErrorKind::MessageTooLarge
                | ErrorKind::Closed
                | ErrorKind::Fenced
                | ErrorKind::ProducerReset
                | ErrorKind::Transport
                | ErrorKind::Authentication
                | ErrorKind::Tls
                | ErrorKind::Authorization
                | ErrorKind::UnknownTopic
                | ErrorKind::Client
                | ErrorKind::Other => {}
            }
        }
        let distinct: std::collections::HashSet<_> = ErrorKind::ALL.into_iter().collect();
        assert_eq!(distinct.len(), 14);
    }

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
        let labels: std::collections::HashSet<_> =
            ErrorKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(labels.len(), ErrorKind::ALL.len(), "labels are distinct");
    }
}
