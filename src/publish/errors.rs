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

/// Whether a record that failed with an error may be on Kafka all the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// Not stored: it was never sent, or the broker refused it.
    No,
    /// Perhaps stored: it may have been written before the failure (timed out after it
    /// was sent, purged in flight, a connection lost with the request on it, appended
    /// but not replicated). Its event is in doubt.
    Maybe,
}

impl Stored {
    /// The name docs/reference.md uses.
    pub const fn as_str(self) -> &'static str {
        match self {
            Stored::No => "not stored",
            Stored::Maybe => "in doubt",
        }
    }
}

/// Every error code a producer can meet, with its kind and whether a record failing
/// with it may be stored. Broker codes are Kafka's protocol errors (positive);
/// librdkafka's local errors are negative.
pub const TABLE: &[(RDKafkaErrorCode, ErrorKind, Stored)] = {
    use ErrorKind as K;
    use RDKafkaErrorCode as C;
    use Stored as S;
    &[
        // librdkafka's own.
        (C::QueueFull, K::QueueFull, S::No),
        (C::MessageTimedOut, K::TimedOut, S::Maybe),
        (C::OperationTimedOut, K::TimedOut, S::Maybe),
        (C::TimedOutQueue, K::TimedOut, S::No),
        (C::PurgeQueue, K::Closed, S::No),
        (C::PurgeInflight, K::Closed, S::Maybe),
        (C::BrokerDestroy, K::Closed, S::Maybe),
        (C::DestroyBroker, K::Closed, S::Maybe),
        (C::BrokerTransportFailure, K::Transport, S::Maybe),
        (C::AllBrokersDown, K::Transport, S::Maybe),
        (C::Resolve, K::Transport, S::Maybe),
        (C::Fatal, K::Fenced, S::Maybe),
        (C::Fenced, K::Fenced, S::Maybe),
        (C::Authentication, K::Authentication, S::No),
        (C::SSL, K::Tls, S::No),
        (C::UnknownTopic, K::UnknownTopic, S::No),
        (C::UnknownPartition, K::UnknownTopic, S::No),
        (C::ISRInsufficient, K::NotEnoughReplicas, S::No),
        (C::BadCompression, K::RecordRefused, S::No),
        (C::InvalidArgument, K::Client, S::No),
        (C::State, K::Client, S::No),
        (C::Fail, K::Client, S::No),
        (C::CriticalSystemResource, K::Client, S::No),
        (C::FileSystem, K::Client, S::No),
        // Broker errors of the produce path, retriable.
        (C::RequestTimedOut, K::TimedOut, S::Maybe),
        (C::NetworkException, K::Transport, S::Maybe),
        (C::BrokerNotAvailable, K::Transport, S::No),
        (C::NotEnoughReplicas, K::NotEnoughReplicas, S::No),
        (
            C::NotEnoughReplicasAfterAppend,
            K::NotEnoughReplicas,
            S::Maybe,
        ),
        (C::LeaderNotAvailable, K::LeaderUnavailable, S::No),
        (C::NotLeaderForPartition, K::LeaderUnavailable, S::No),
        (C::FencedLeaderEpoch, K::LeaderUnavailable, S::No),
        (C::UnknownLeaderEpoch, K::LeaderUnavailable, S::No),
        (C::ReplicaNotAvailable, K::LeaderUnavailable, S::No),
        (C::InvalidMessage, K::Retriable, S::No),
        (C::KafkaStorageError, K::Retriable, S::Maybe),
        (C::ThrottlingQuotaExceeded, K::Retriable, S::No),
        (C::NotController, K::Retriable, S::No),
        (C::CoordinatorLoadInProgress, K::Retriable, S::No),
        (C::CoordinatorNotAvailable, K::Retriable, S::No),
        (C::ConcurrentTransactions, K::Retriable, S::No),
        // The idempotent producer's state.
        (C::OutOfOrderSequenceNumber, K::Fenced, S::No),
        (C::InvalidProducerEpoch, K::Fenced, S::No),
        (C::UnknownProducerId, K::Fenced, S::No),
        (C::ProducerFenced, K::Fenced, S::No),
        (C::InvalidProducerIdMapping, K::Fenced, S::No),
        // Never for this record.
        (C::MessageSizeTooLarge, K::MessageTooLarge, S::No),
        (C::MessageBatchTooLarge, K::MessageTooLarge, S::No),
        (C::InvalidMessageSize, K::MessageTooLarge, S::No),
        // Misconfigured: the cluster's credentials, rights or topics.
        (C::SaslAuthenticationFailed, K::Authentication, S::No),
        (C::UnsupportedSASLMechanism, K::Authentication, S::No),
        (C::IllegalSASLState, K::Authentication, S::No),
        (C::TopicAuthorizationFailed, K::Authorization, S::No),
        (C::ClusterAuthorizationFailed, K::Authorization, S::No),
        (
            C::TransactionalIdAuthorizationFailed,
            K::Authorization,
            S::No,
        ),
        (C::UnknownTopicOrPartition, K::UnknownTopic, S::No),
        (C::InvalidTopic, K::UnknownTopic, S::No),
        (C::UnknownTopicId, K::UnknownTopic, S::No),
        (C::InvalidRecord, K::RecordRefused, S::No),
        (C::InvalidTimestamp, K::RecordRefused, S::No),
        (C::PolicyViolation, K::RecordRefused, S::No),
        (C::UnsupportedCompressionType, K::RecordRefused, S::No),
        (C::UnsupportedForMessageFormat, K::RecordRefused, S::No),
        (C::UnsupportedVersion, K::RecordRefused, S::No),
        (C::InvalidRequiredAcks, K::RecordRefused, S::No),
        (C::InvalidRequest, K::RecordRefused, S::No),
    ]
};

/// The kind of a librdkafka error code: its row of [`TABLE`], else
/// [`ErrorKind::Other`].
pub fn kind_of_code(code: RDKafkaErrorCode) -> ErrorKind {
    TABLE
        .iter()
        .find(|(c, _, _)| *c == code)
        .map_or(ErrorKind::Other, |(_, kind, _)| *kind)
}

/// Whether a record that failed with `error` may be stored all the same: its row of
/// [`TABLE`]; a code outside it, or an error without one, may be.
pub fn stored_after(error: &KafkaError) -> Stored {
    let Some(code) = error.rdkafka_error_code() else {
        return Stored::Maybe;
    };
    TABLE
        .iter()
        .find(|(c, _, _)| *c == code)
        .map_or(Stored::Maybe, |(_, _, stored)| *stored)
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
        let codes: HashSet<i32> = TABLE.iter().map(|(c, _, _)| *c as i32).collect();
        assert_eq!(codes.len(), TABLE.len());
    }

    /// The number a docs row names, as librdkafka's code.
    fn code(number: i32) -> RDKafkaErrorCode {
        RDKafkaErrorCode::from(
            RDKafkaRespErr::try_from(number)
                .unwrap_or_else(|_| panic!("{number} is not a librdkafka error code")),
        )
    }

    /// A row of the table under "Kafka errors" in docs/reference.md:
    /// `| 19 | NOT_ENOUGH_REPLICAS | not-enough-replicas | retry later (503) | not stored |`.
    struct Row {
        number: i32,
        name: String,
        kind: String,
        class: String,
        stored: String,
    }

    fn documented() -> Vec<Row> {
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
                let [_, name, kind, class, stored] = cells.as_slice() else {
                    panic!("a Kafka errors row has five cells: {line}");
                };
                Some(Row {
                    number,
                    name: name.to_string(),
                    kind: kind.trim_matches('`').to_string(),
                    class: class.to_string(),
                    stored: stored.to_string(),
                })
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
        for row in &rows {
            let (number, name) = (row.number, &row.name);
            let actual = kind_of_code(code(number));
            assert_eq!(actual.as_str(), row.kind, "{number} {name}: kind");
            assert_eq!(actual.class().as_str(), row.class, "{number} {name}: class");
            let error = KafkaError::MessageProduction(code(number));
            assert_eq!(
                stored_after(&error).as_str(),
                row.stored,
                "{number} {name}: stored"
            );
        }
        let documented: HashSet<i32> = rows.iter().map(|r| r.number).collect();
        for (c, _, _) in TABLE {
            assert!(documented.contains(&(*c as i32)), "{c:?} is not documented");
        }
    }

    #[test]
    fn codes_outside_the_table_are_other_and_misconfigured() {
        assert_eq!(kind_of_code(code(30)), ErrorKind::Other); // GROUP_AUTHORIZATION_FAILED
        assert_eq!(ErrorKind::Other.class(), Class::Misconfigured);
        let unlisted = KafkaError::MessageProduction(code(30));
        assert_eq!(
            stored_after(&unlisted),
            Stored::Maybe,
            "in doubt unless known"
        );
        assert_eq!(stored_after(&KafkaError::Canceled), Stored::Maybe);
    }

    #[test]
    fn only_a_record_that_may_have_been_sent_is_in_doubt() {
        let stored = |code| stored_after(&KafkaError::MessageProduction(code));
        // Never sent, or refused by the broker.
        for code in [
            RDKafkaErrorCode::QueueFull,
            RDKafkaErrorCode::PurgeQueue,
            RDKafkaErrorCode::MessageSizeTooLarge,
            RDKafkaErrorCode::NotEnoughReplicas,
        ] {
            assert_eq!(stored(code), Stored::No, "{code:?}");
        }
        // Sent, and then the answer was lost.
        for code in [
            RDKafkaErrorCode::MessageTimedOut,
            RDKafkaErrorCode::PurgeInflight,
            RDKafkaErrorCode::NotEnoughReplicasAfterAppend,
        ] {
            assert_eq!(stored(code), Stored::Maybe, "{code:?}");
        }
    }
}
