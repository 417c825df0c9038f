//! Every Kafka error hookbridge can meet, in one table: its group (the `kind` label of
//! `hookbridge_kafka_errors_total`) and what it means for the sender ([`Class`]).
//!
//! The table is [`TABLE`]: broker error codes of the produce path and librdkafka's own
//! local errors, each with the kind it belongs to. docs/reference.md shows the same
//! table to users, and a unit test holds the two together. Codes not in the table
//! (consumer-group, transaction and admin errors, which a producer never receives)
//! fall into [`ErrorKind::Other`]. This module decides nothing about readiness or
//! producer replacement: [`super::health`] does, by kind.

use rdkafka::error::{KafkaError, RDKafkaErrorCode};

/// What a failed record means for the webhook that carried it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// The cluster cannot take records right now (broker down, leader moving, too few
    /// in-sync replicas, queue full, no ack in time): 503 + `Retry-After`.
    Retry,
    /// Kafka will never take this record (it is too large for the topic): 413, so the
    /// sender does not retry it for ever.
    Refused,
    /// hookbridge or the cluster is misconfigured (credentials, certificates, ACLs,
    /// a topic that does not exist or refuses records of this form): 500, and
    /// `/readyz` says so.
    Misconfigured,
}

impl Class {
    /// The name docs/reference.md uses.
    pub const fn as_str(self) -> &'static str {
        match self {
            Class::Retry => "retry later (503)",
            Class::Refused => "never for this record (413)",
            Class::Misconfigured => "misconfigured (500)",
        }
    }
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
    /// The record is over a size limit (librdkafka's, or the topic's).
    MessageTooLarge,
    /// The producer is shutting down (queued records purged).
    Closed,
    /// The broker fenced the idempotent producer, or it failed fatally.
    Fenced,
    /// hookbridge replaced a fenced or failed producer.
    ProducerReset,
    /// Connections to the brokers fail.
    Transport,
    /// Fewer in-sync replicas than the topic's `min.insync.replicas`.
    NotEnoughReplicas,
    /// A partition has no leader, or the producer asked a broker that no longer leads it.
    LeaderUnavailable,
    /// Another error the broker says is worth retrying (throttled, storage error,
    /// corrupted in transit, …).
    Retriable,
    /// SASL authentication failed.
    Authentication,
    /// TLS failed.
    Tls,
    /// The broker refused an operation for lack of rights.
    Authorization,
    /// The topic or partition does not exist (and was not created), or its name is
    /// invalid.
    UnknownTopic,
    /// The topic refuses records of this form (policy, compaction without a key,
    /// timestamp rules, compression it does not support).
    RecordRefused,
    /// An error of the client itself, without a broker error code.
    Client,
    /// Anything else.
    Other,
}

impl ErrorKind {
    /// Every kind, pre-registered as metric series so that alerts see zeros rather
    /// than absent series.
    pub const ALL: [ErrorKind; 18] = [
        ErrorKind::QueueFull,
        ErrorKind::TimedOut,
        ErrorKind::AckTimeout,
        ErrorKind::MessageTooLarge,
        ErrorKind::Closed,
        ErrorKind::Fenced,
        ErrorKind::ProducerReset,
        ErrorKind::Transport,
        ErrorKind::NotEnoughReplicas,
        ErrorKind::LeaderUnavailable,
        ErrorKind::Retriable,
        ErrorKind::Authentication,
        ErrorKind::Tls,
        ErrorKind::Authorization,
        ErrorKind::UnknownTopic,
        ErrorKind::RecordRefused,
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
            ErrorKind::NotEnoughReplicas => "not-enough-replicas",
            ErrorKind::LeaderUnavailable => "leader-unavailable",
            ErrorKind::Retriable => "retriable",
            ErrorKind::Authentication => "authentication",
            ErrorKind::Tls => "tls",
            ErrorKind::Authorization => "authorization",
            ErrorKind::UnknownTopic => "unknown-topic",
            ErrorKind::RecordRefused => "record-refused",
            ErrorKind::Client => "client",
            ErrorKind::Other => "other",
        }
    }

    /// Whether a record failing with this kind says that records do not get through
    /// now (no ack in time, no broker, no leader, too few replicas), rather than a fault
    /// of this record, its topic, the credentials or the local producer.
    pub const fn is_outage(self) -> bool {
        matches!(
            self,
            ErrorKind::TimedOut
                | ErrorKind::AckTimeout
                | ErrorKind::Transport
                | ErrorKind::NotEnoughReplicas
                | ErrorKind::LeaderUnavailable
                | ErrorKind::Retriable
        )
    }

    /// What a record failing with this kind means for its sender.
    pub const fn class(self) -> Class {
        match self {
            ErrorKind::QueueFull
            | ErrorKind::TimedOut
            | ErrorKind::AckTimeout
            | ErrorKind::Closed
            | ErrorKind::Fenced
            | ErrorKind::ProducerReset
            | ErrorKind::Transport
            | ErrorKind::NotEnoughReplicas
            | ErrorKind::LeaderUnavailable
            | ErrorKind::Retriable => Class::Retry,
            ErrorKind::MessageTooLarge => Class::Refused,
            ErrorKind::Authentication
            | ErrorKind::Tls
            | ErrorKind::Authorization
            | ErrorKind::UnknownTopic
            | ErrorKind::RecordRefused
            | ErrorKind::Client
            | ErrorKind::Other => Class::Misconfigured,
        }
    }
}

/// Every error code a producer can meet, with its kind. Broker codes are Kafka's
/// protocol errors (positive); librdkafka's local errors are negative.
pub const TABLE: &[(RDKafkaErrorCode, ErrorKind)] = {
    use ErrorKind as K;
    use RDKafkaErrorCode as C;
    &[
        // librdkafka's own.
        (C::QueueFull, K::QueueFull),
        (C::MessageTimedOut, K::TimedOut),
        (C::OperationTimedOut, K::TimedOut),
        (C::TimedOutQueue, K::TimedOut),
        (C::PurgeQueue, K::Closed),
        (C::PurgeInflight, K::Closed),
        (C::BrokerDestroy, K::Closed),
        (C::DestroyBroker, K::Closed),
        (C::BrokerTransportFailure, K::Transport),
        (C::AllBrokersDown, K::Transport),
        (C::Resolve, K::Transport),
        (C::Fatal, K::Fenced),
        (C::Fenced, K::Fenced),
        (C::Authentication, K::Authentication),
        (C::SSL, K::Tls),
        (C::UnknownTopic, K::UnknownTopic),
        (C::UnknownPartition, K::UnknownTopic),
        (C::ISRInsufficient, K::NotEnoughReplicas),
        (C::BadCompression, K::RecordRefused),
        (C::InvalidArgument, K::Client),
        (C::State, K::Client),
        (C::Fail, K::Client),
        (C::CriticalSystemResource, K::Client),
        (C::FileSystem, K::Client),
        // Broker errors of the produce path, retriable.
        (C::RequestTimedOut, K::TimedOut),
        (C::NetworkException, K::Transport),
        (C::BrokerNotAvailable, K::Transport),
        (C::NotEnoughReplicas, K::NotEnoughReplicas),
        (C::NotEnoughReplicasAfterAppend, K::NotEnoughReplicas),
        (C::LeaderNotAvailable, K::LeaderUnavailable),
        (C::NotLeaderForPartition, K::LeaderUnavailable),
        (C::FencedLeaderEpoch, K::LeaderUnavailable),
        (C::UnknownLeaderEpoch, K::LeaderUnavailable),
        (C::ReplicaNotAvailable, K::LeaderUnavailable),
        (C::InvalidMessage, K::Retriable),
        (C::KafkaStorageError, K::Retriable),
        (C::ThrottlingQuotaExceeded, K::Retriable),
        (C::NotController, K::Retriable),
        (C::CoordinatorLoadInProgress, K::Retriable),
        (C::CoordinatorNotAvailable, K::Retriable),
        (C::ConcurrentTransactions, K::Retriable),
        // The idempotent producer's state.
        (C::OutOfOrderSequenceNumber, K::Fenced),
        (C::InvalidProducerEpoch, K::Fenced),
        (C::UnknownProducerId, K::Fenced),
        (C::ProducerFenced, K::Fenced),
        (C::InvalidProducerIdMapping, K::Fenced),
        // Never for this record.
        (C::MessageSizeTooLarge, K::MessageTooLarge),
        (C::MessageBatchTooLarge, K::MessageTooLarge),
        (C::InvalidMessageSize, K::MessageTooLarge),
        // Misconfigured: the cluster's credentials, rights or topics.
        (C::SaslAuthenticationFailed, K::Authentication),
        (C::UnsupportedSASLMechanism, K::Authentication),
        (C::IllegalSASLState, K::Authentication),
        (C::TopicAuthorizationFailed, K::Authorization),
        (C::ClusterAuthorizationFailed, K::Authorization),
        (C::TransactionalIdAuthorizationFailed, K::Authorization),
        (C::UnknownTopicOrPartition, K::UnknownTopic),
        (C::InvalidTopic, K::UnknownTopic),
        (C::UnknownTopicId, K::UnknownTopic),
        (C::InvalidRecord, K::RecordRefused),
        (C::InvalidTimestamp, K::RecordRefused),
        (C::PolicyViolation, K::RecordRefused),
        (C::UnsupportedCompressionType, K::RecordRefused),
        (C::UnsupportedForMessageFormat, K::RecordRefused),
        (C::UnsupportedVersion, K::RecordRefused),
        (C::InvalidRequiredAcks, K::RecordRefused),
        (C::InvalidRequest, K::RecordRefused),
    ]
};

/// The kind of a librdkafka error code: its row of [`TABLE`], else
/// [`ErrorKind::Other`].
pub fn kind_of_code(code: RDKafkaErrorCode) -> ErrorKind {
    TABLE
        .iter()
        .find(|(c, _)| *c == code)
        .map_or(ErrorKind::Other, |(_, kind)| *kind)
}

/// The kind of an rdkafka error; one without a librdkafka code is the client's own.
pub fn kind_of(error: &KafkaError) -> ErrorKind {
    error
        .rdkafka_error_code()
        .map_or(ErrorKind::Client, kind_of_code)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use rdkafka::types::RDKafkaRespErr;

    use super::*;

    #[test]
    fn all_lists_every_error_kind_once_with_a_distinct_label() {
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
                | ErrorKind::NotEnoughReplicas
                | ErrorKind::LeaderUnavailable
                | ErrorKind::Retriable
                | ErrorKind::Authentication
                | ErrorKind::Tls
                | ErrorKind::Authorization
                | ErrorKind::UnknownTopic
                | ErrorKind::RecordRefused
                | ErrorKind::Client
                | ErrorKind::Other => {}
            }
        }
        let distinct: HashSet<_> = ErrorKind::ALL.into_iter().collect();
        assert_eq!(distinct.len(), 18);
        let labels: HashSet<_> = ErrorKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(labels.len(), ErrorKind::ALL.len());
    }

    #[test]
    fn an_outage_is_worth_retrying() {
        for kind in ErrorKind::ALL {
            if kind.is_outage() {
                assert_eq!(kind.class(), Class::Retry, "{kind:?}");
            }
        }
    }

    #[test]
    fn each_code_is_in_the_table_once() {
        let codes: HashSet<i32> = TABLE.iter().map(|(c, _)| *c as i32).collect();
        assert_eq!(codes.len(), TABLE.len());
    }

    /// The number a docs row names, as librdkafka's code.
    fn code(number: i32) -> RDKafkaErrorCode {
        RDKafkaErrorCode::from(
            RDKafkaRespErr::try_from(number)
                .unwrap_or_else(|_| panic!("{number} is not a librdkafka error code")),
        )
    }

    /// Rows of the table under "Kafka errors" in docs/reference.md:
    /// `| 19 | NOT_ENOUGH_REPLICAS | not-enough-replicas | retry later (503) |`.
    fn documented() -> Vec<(i32, String, String, String)> {
        let reference = include_str!("../../docs/reference.md");
        let section = reference
            .split("\n### Kafka errors\n")
            .nth(1)
            .expect("docs/reference.md has a \"### Kafka errors\" section");
        section
            .lines()
            .take_while(|l| !l.starts_with('#'))
            .filter_map(|line| {
                let cells: Vec<&str> = line
                    .trim()
                    .trim_matches('|')
                    .split('|')
                    .map(str::trim)
                    .collect();
                let number = cells.first()?.parse::<i32>().ok()?;
                let [_, name, kind, class] = cells.as_slice() else {
                    panic!("a Kafka errors row has four cells: {line}");
                };
                Some((
                    number,
                    name.to_string(),
                    kind.trim_matches('`').to_string(),
                    class.to_string(),
                ))
            })
            .collect()
    }

    #[test]
    fn the_documented_table_is_the_code() {
        let rows = documented();
        assert_eq!(
            rows.len(),
            TABLE.len(),
            "docs/reference.md lists {} codes, the table {}",
            rows.len(),
            TABLE.len()
        );
        for (number, name, kind, class) in &rows {
            let actual = kind_of_code(code(*number));
            assert_eq!(actual.as_str(), kind, "{number} {name}: kind");
            assert_eq!(actual.class().as_str(), class, "{number} {name}: class");
        }
        let documented: HashSet<i32> = rows.iter().map(|r| r.0).collect();
        for (c, _) in TABLE {
            assert!(documented.contains(&(*c as i32)), "{c:?} is not documented");
        }
    }

    #[test]
    fn codes_outside_the_table_are_other_and_misconfigured() {
        assert_eq!(kind_of_code(code(30)), ErrorKind::Other); // GROUP_AUTHORIZATION_FAILED
        assert_eq!(ErrorKind::Other.class(), Class::Misconfigured);
    }
}
