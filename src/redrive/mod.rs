//! `hookbridge redrive`: dead letters back to their event topics, after a fix to the
//! config (site pointers, body formats) or to hookbridge itself.
//!
//! A run reads the config's dead-letter topics (`reader`) from where the consumer
//! group [`GROUP`] left off up to what they held when it started, runs today's
//! conversion and site lookup on each dead letter's raw bytes (`letter`: no
//! re-authentication, they were authenticated on arrival), republishes those that now
//! make an event — same `id` and `time`, marked `redriven` — and commits each
//! partition's progress only past records that are settled (`window`): republished
//! and acknowledged, or still failing. A second run finds nothing new; records that
//! still fail stay on their topic, counted by reason (`report`). A dry run reads the
//! same records and neither publishes nor commits.
//!
//! A redriven record is appended to its event topic now: it lands after records of the
//! same site that arrived after its dead letter. Its `time` says when the webhook came.

mod letter;
mod reader;
mod report;
mod window;

pub use letter::{Letter, REDRIVEN, Unreadable, Verdict};
pub use report::{Outcome, Report, Tally};

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use rdkafka::error::KafkaError;

use crate::config::{Config, Kafka};
use crate::metrics::Metrics;
use crate::publish::kafka::KafkaPublisher;
use crate::publish::{Class, Publish};
use reader::Reader;
use window::{Failure, Window};

/// The consumer group a redrive commits its progress under.
pub const GROUP: &str = "hookbridge-redrive";

/// How often progress is committed while a run goes on.
const COMMIT_EVERY: Duration = Duration::from_secs(1);

/// How often the progress line is written on a long run.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// How a run goes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Report only: publish nothing, commit nothing.
    pub dry_run: bool,
    /// Examine every dead letter still on the topics, not only those after the
    /// group's committed offsets (those republished before are republished again,
    /// with the same id).
    pub from_beginning: bool,
}

/// Why a run stopped before it caught up.
#[derive(Debug)]
pub enum Error {
    /// The brokers could not be asked, or did not deliver the records.
    Kafka(KafkaError),
    /// The producer could not be created (an invalid `kafka.properties` value).
    Producer(KafkaError),
    /// A republished record was not acknowledged: the run stopped there, with the
    /// progress before it committed.
    Republish {
        /// The dead letter's id.
        id: uuid::Uuid,
        /// Its event topic.
        topic: String,
        /// The producer's error.
        error: crate::publish::PublishError,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Kafka(e) => write!(f, "cannot read the dead-letter topics: {e}"),
            Error::Producer(e) => write!(f, "cannot create the Kafka producer: {e}"),
            Error::Republish { id, topic, error } => {
                let when = match error.class() {
                    Class::Retry => "once the cluster takes records again",
                    Class::Refused | Class::Misconfigured => {
                        "once the topic or the rights on it are fixed"
                    }
                };
                write!(
                    f,
                    "dead letter {id} was not acknowledged on {topic} ({error}); the progress before it is committed: run again {when}"
                )
            }
        }
    }
}

impl std::error::Error for Error {}

/// Redrives the dead letters of `config` (see the module documentation). `progress`
/// gets a line every few seconds of a long run. The report comes back whether the run
/// caught up or stopped.
pub async fn run(
    config: &Config,
    options: Options,
    progress: &mut dyn FnMut(&str),
) -> (Report, Result<(), Error>) {
    let topics = config.deadletter_topics();
    let mut report = Report {
        dry_run: options.dry_run,
        ..Report::default()
    };
    let opened = Reader::open(&config.kafka, &topics, options.from_beginning).await;
    let (mut reader, absent) = match opened {
        Ok(opened) => opened,
        Err(e) => return (report, Err(Error::Kafka(e))),
    };
    for topic in &topics {
        let tally = (!absent.contains(topic)).then(Tally::default);
        report.topics.insert(topic.clone(), tally);
    }
    let publisher = match publisher(config, options, &topics) {
        Ok(publisher) => publisher,
        Err(e) => return (report, Err(Error::Producer(e))),
    };
    let publishing = publisher.as_ref().map(|p| p as &dyn Publish);
    let mut window = Window::new(publishing, config.kafka.ack_timeout, report);
    let read = examine_all(config, &mut reader, &mut window, options, progress).await;
    window.drain().await;
    let committed = match (options.dry_run, window.take_commits()) {
        (false, Some(offsets)) => reader.commit_and_wait(&offsets).await,
        _ => Ok(()),
    };
    let (report, failure) = window.finish();
    let result = match (failure, read, committed) {
        (Some(Failure { id, topic, error }), _, _) => Err(Error::Republish { id, topic, error }),
        (None, Err(e), _) | (None, Ok(()), Err(e)) => Err(Error::Kafka(e)),
        (None, Ok(()), Ok(())) => Ok(()),
    };
    (report, result)
}

/// Reads and examines records until the plan is done or a republication failed,
/// committing and reporting progress on the way.
async fn examine_all(
    config: &Config,
    reader: &mut Reader,
    window: &mut Window<'_>,
    options: Options,
    progress: &mut dyn FnMut(&str),
) -> Result<(), KafkaError> {
    let settings = config.envelope_settings();
    let (mut committed_at, mut reported_at) = (Instant::now(), Instant::now());
    while !window.failed() {
        let Some(read) = reader.next().await? else {
            return Ok(());
        };
        let verdict = Letter::read(&read.value, &read.headers).map(|letter| {
            (
                letter.id,
                letter.retry(config, &settings, SystemTime::now()),
            )
        });
        window.push(read.at, verdict).await;
        if !options.dry_run && committed_at.elapsed() >= COMMIT_EVERY {
            if let Some(offsets) = window.take_commits() {
                reader.commit(&offsets)?;
            }
            committed_at = Instant::now();
        }
        if reported_at.elapsed() >= PROGRESS_EVERY {
            progress(&window.report().progress(reader.planned()));
            reported_at = Instant::now();
        }
    }
    Ok(())
}

/// The producer republished records go through (none in a dry run): hookbridge's own,
/// so they are produced exactly as `serve` produces them (`acks=all`, idempotent),
/// without the heartbeat and the topic size check.
fn publisher(
    config: &Config,
    options: Options,
    deadletter_topics: &[String],
) -> Result<Option<KafkaPublisher>, KafkaError> {
    if options.dry_run {
        return Ok(None);
    }
    let kafka = Kafka {
        heartbeat_topic: None,
        ..config.kafka.clone()
    };
    let probe = deadletter_topics.first().cloned().unwrap_or_default();
    // No topic size check: a record a topic refuses as too large is counted as such.
    let metrics = Arc::new(Metrics::new());
    KafkaPublisher::new(&kafka, metrics, probe, Vec::new()).map(Some)
}
