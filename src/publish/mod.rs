//! Publishing records and waiting for the broker's acknowledgement.
//!
//! [`Publish`] is the seam between the request pipeline and Kafka: the pipeline hands
//! over a [`Record`] and gets a [`Delivery`] only once the broker acknowledged it. The
//! real implementation is [`kafka::KafkaPublisher`]; handler tests use a fake. The
//! pipeline, not the publisher, bounds the wait (`kafka.ack_timeout`).

pub mod kafka;
mod stats;

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant, SystemTime};

/// A record for a topic.
#[derive(Debug, Clone)]
pub struct Record {
    /// The topic.
    pub topic: String,
    /// The partitioning key (the site UUID), `None` for dead letters.
    pub key: Option<String>,
    /// The record value.
    pub value: Vec<u8>,
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
    /// Any other producer or broker error: `kind` is a stable label, `detail` the
    /// client's message (which never contains record contents).
    Failed {
        /// A stable label for the error kind.
        kind: &'static str,
        /// The client's description.
        detail: String,
    },
}

/// Every `kind` label `hookbridge_kafka_errors_total` can carry, pre-registered so
/// that alerts see zeros rather than absent series.
pub const ERROR_KINDS: [&str; 14] = [
    "queue-full",
    "timed-out",
    "ack-timeout",
    "message-too-large",
    "closed",
    "fenced",
    "producer-reset",
    "transport",
    "authentication",
    "tls",
    "authorization",
    "unknown-topic",
    "client",
    "other",
];

impl PublishError {
    /// A stable label for `hookbridge_kafka_errors_total{kind}`.
    pub fn kind(&self) -> &'static str {
        match self {
            PublishError::QueueFull => "queue-full",
            PublishError::TimedOut => "timed-out",
            PublishError::MessageTooLarge => "message-too-large",
            PublishError::Closed => "closed",
            PublishError::Fenced => "fenced",
            PublishError::Failed { kind, .. } => kind,
        }
    }
}

impl fmt::Display for PublishError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PublishError::Failed { kind, detail } => write!(f, "{kind}: {detail}"),
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

    /// When the broker last answered a metadata request, for readiness.
    fn last_contact(&self) -> Option<Instant>;

    /// Waits up to `timeout` for queued records to be acknowledged. Blocking: call it
    /// off the async worker threads.
    fn flush(&self, timeout: Duration);
}
