//! The records of a redrive in flight, in the order they were read, and the offsets
//! it may commit.
//!
//! A dead letter's offset may be committed only once everything read before it from
//! the same partition is settled: republished and acknowledged, or still failing (it
//! stays where it is, counted). So the window settles its records front first; a
//! republished record that the brokers did not take blocks its partition — nothing of
//! it is committed past that record — and ends the run, so the next run starts there.
//! Publications overlap (up to [`MAX_RECORDS`] and [`MAX_BYTES`] in flight), which
//! keeps a long redrive from waiting one acknowledgement at a time.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use tokio::time::Instant;
use uuid::Uuid;

use super::letter::{Unreadable, Verdict};
use super::report::{Outcome, Report};
use crate::publish::{Class, Publish, PublishError, Publishing};

/// Records in flight at most.
pub const MAX_RECORDS: usize = 1000;

/// Bytes of record values in flight at most.
pub const MAX_BYTES: usize = 32 << 20;

/// Where a record was read.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    /// The dead-letter topic.
    pub topic: String,
    /// Its partition.
    pub partition: i32,
    /// The record's offset.
    pub offset: i64,
}

/// The republication that stopped a run.
#[derive(Debug, Clone)]
pub struct Failure {
    /// The dead letter's (and the event's) id.
    pub id: Uuid,
    /// The event topic it was for.
    pub topic: String,
    /// Why the brokers did not take it.
    pub error: PublishError,
}

enum Step<'p> {
    Settled(Outcome),
    Publishing {
        id: Uuid,
        topic: String,
        bytes: usize,
        publishing: Publishing<'p>,
    },
}

struct Entry<'p> {
    at: Position,
    step: Step<'p>,
}

/// The records in flight; `publisher` is `None` in a dry run.
pub struct Window<'p> {
    publisher: Option<&'p dyn Publish>,
    /// How long a record's ack is waited for before it is in doubt (then its fate is
    /// waited for: a redrive can wait).
    ack_timeout: Duration,
    entries: VecDeque<Entry<'p>>,
    bytes: usize,
    /// The next offset to read, per (topic, partition), of what is settled.
    committable: BTreeMap<(String, i32), i64>,
    /// What changed since [`Window::take_commits`] last ran.
    changed: bool,
    blocked: BTreeSet<(String, i32)>,
    failure: Option<Failure>,
    report: Report,
}

impl<'p> Window<'p> {
    /// An empty window that publishes through `publisher` (none: a dry run), with acks
    /// due within `ack_timeout`, and counts into `report`.
    pub fn new(publisher: Option<&'p dyn Publish>, ack_timeout: Duration, report: Report) -> Self {
        Window {
            publisher,
            ack_timeout,
            entries: VecDeque::new(),
            bytes: 0,
            committable: BTreeMap::new(),
            changed: false,
            blocked: BTreeSet::new(),
            failure: None,
            report,
        }
    }

    /// Takes the record read at `at`, with what today's config makes of it: a record
    /// to republish is handed to the publisher; then the oldest records are settled
    /// until the window is within its limits.
    pub async fn push(&mut self, at: Position, read: Result<(Uuid, Verdict), Unreadable>) {
        let step = match (read, self.publisher) {
            (Err(_), _) => Step::Settled(Outcome::Unreadable),
            (Ok((_, Verdict::StillFailing(reason))), _) => {
                Step::Settled(Outcome::StillFailing(reason.as_str()))
            }
            (Ok((_, Verdict::Republish(_))), None) => Step::Settled(Outcome::WouldRepublish),
            (Ok((id, Verdict::Republish(record))), Some(publisher)) => {
                let (topic, bytes) = (record.topic.to_string(), record.value.len());
                self.bytes += bytes;
                Step::Publishing {
                    id,
                    topic,
                    bytes,
                    publishing: publisher.publish(&record, Instant::now() + self.ack_timeout),
                }
            }
        };
        self.entries.push_back(Entry { at, step });
        while self.entries.len() > MAX_RECORDS || self.bytes > MAX_BYTES {
            self.settle_oldest().await;
        }
    }

    /// Settles every record in flight.
    pub async fn drain(&mut self) {
        while !self.entries.is_empty() {
            self.settle_oldest().await;
        }
    }

    /// Whether a republication failed (the run should stop reading).
    pub fn failed(&self) -> bool {
        self.failure.is_some()
    }

    /// The offsets to commit, when they changed since the last call: for each
    /// partition, the offset after its last settled record.
    pub fn take_commits(&mut self) -> Option<BTreeMap<(String, i32), i64>> {
        std::mem::take(&mut self.changed).then(|| self.committable.clone())
    }

    /// The counts so far.
    pub fn report(&self) -> &Report {
        &self.report
    }

    /// The counts, and the failure that stopped the run if one did.
    pub fn finish(self) -> (Report, Option<Failure>) {
        (self.report, self.failure)
    }

    async fn settle_oldest(&mut self) {
        let Some(Entry { at, step }) = self.entries.pop_front() else {
            return;
        };
        let outcome = match step {
            Step::Settled(outcome) => outcome,
            Step::Publishing {
                id,
                topic,
                bytes,
                publishing,
            } => {
                let result = publishing.await.settled().await;
                self.bytes -= bytes;
                match result {
                    Ok(_) => Outcome::Republished,
                    Err(e) if e.class() == Class::Refused => Outcome::StillFailing(e.kind()),
                    Err(error) => {
                        self.blocked.insert((at.topic.clone(), at.partition));
                        self.failure.get_or_insert(Failure { id, topic, error });
                        return;
                    }
                }
            }
        };
        self.report.add(&at.topic, outcome);
        let partition = (at.topic, at.partition);
        if !self.blocked.contains(&partition) {
            self.committable.insert(partition, at.offset + 1);
            self.changed = true;
        }
    }
}

#[cfg(test)]
mod tests;
