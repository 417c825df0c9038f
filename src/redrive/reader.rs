//! Reading the dead-letter topics as the consumer group [`GROUP`], from its
//! committed offsets (or the beginning) up to what the topics held when the run
//! started, and committing the offsets the caller says are done.
//!
//! Partitions are assigned directly, not joined through the group's rebalancing:
//! the group only stores progress. Where a run ends is fixed at its start (each
//! partition's high watermark then), so a run ends even while new dead letters keep
//! arriving; a partition is done when the consumer's position reaches that end, which
//! also holds across offsets that carry no record (transaction markers, compaction).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{CommitMode, Consumer, ConsumerContext, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};

use super::GROUP;
use super::window::Position;
use crate::config::Kafka;
use crate::publish::kafka::{self, Verbosity, connection_config};

/// How long one metadata, watermark or offset request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// How soon a group coordinator that is not ready is asked again.
const COORDINATOR_RETRY: Duration = Duration::from_millis(200);

/// How long the consumer waits for a record before it checks its positions.
const POLL: Duration = Duration::from_millis(500);

/// No record and no progress for this long, with records still to read: the brokers
/// are not delivering, and the run stops (what it committed stays).
const STALLED_AFTER: Duration = Duration::from_secs(30);

/// The consumer's librdkafka callbacks: its log lines at debug level, but errors. The
/// consumer shares the producer's `[kafka.properties]`, and librdkafka warns about
/// each producer-only one; what goes wrong reaches the caller as an error anyway.
pub struct Quiet;

impl ClientContext for Quiet {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        kafka::log(Verbosity::Errors, level, facility, message);
    }
}

impl ConsumerContext for Quiet {}

/// One record of a dead-letter topic.
pub struct Read {
    /// Where it was.
    pub at: Position,
    /// Its value.
    pub value: Vec<u8>,
    /// Its headers.
    pub headers: Vec<(String, Vec<u8>)>,
}

/// A partition to read: from `start` up to (not including) `end`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Span {
    start: i64,
    end: i64,
}

/// The dead-letter topics being read.
pub struct Reader {
    consumer: Arc<StreamConsumer<Quiet>>,
    /// Partitions not read to their end yet.
    open: Plan,
    /// Records there were to read when the run started (an upper bound: offsets
    /// without records count too).
    planned: u64,
}

impl Reader {
    /// Connects as [`GROUP`] and plans the run over `topics`: each partition
    /// from the group's committed offset (or its first offset, when there is none or
    /// `from_beginning`) to its high watermark now. Returns the reader and the topics
    /// that do not exist.
    pub async fn open(
        kafka: &Kafka,
        topics: &[String],
        from_beginning: bool,
    ) -> Result<(Reader, Vec<String>), KafkaError> {
        let mut config = connection_config(kafka);
        if config.get("client.id") == Some("hookbridge") {
            config.set("client.id", GROUP);
        }
        config
            .set("group.id", GROUP)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest");
        let consumer: Arc<StreamConsumer<Quiet>> = Arc::new(config.create_with_context(Quiet)?);
        let (topics, plan) = {
            let consumer = consumer.clone();
            let topics = topics.to_vec();
            tokio::task::spawn_blocking(move || plan(&consumer, &topics, from_beginning))
                .await
                .map_err(|_| KafkaError::Canceled)??
        };
        let mut assignment = TopicPartitionList::new();
        for ((topic, partition), span) in &plan {
            assignment.add_partition_offset(topic, *partition, Offset::Offset(span.start))?;
        }
        consumer.assign(&assignment)?;
        let planned = plan
            .values()
            .map(|s| u64::try_from(s.end - s.start).unwrap_or(0))
            .sum();
        let reader = Reader {
            consumer,
            open: plan,
            planned,
        };
        Ok((reader, topics))
    }

    /// How many records the run has to examine, at most.
    pub fn planned(&self) -> u64 {
        self.planned
    }

    /// The next record of the plan, or `None` once every partition was read to the
    /// end it had when the run started.
    pub async fn next(&mut self) -> Result<Option<Read>, KafkaError> {
        let mut last_progress = Instant::now();
        loop {
            if self.open.is_empty() {
                return Ok(None);
            }
            match tokio::time::timeout(POLL, self.consumer.recv()).await {
                Ok(Ok(message)) => {
                    let key = (message.topic().to_string(), message.partition());
                    let offset = message.offset();
                    let Some(end) = self.open.get(&key).map(|span| span.end) else {
                        continue;
                    };
                    if offset + 1 >= end {
                        self.open.remove(&key);
                    }
                    if offset >= end {
                        continue;
                    }
                    return Ok(Some(owned(&message)));
                }
                Ok(Err(e)) => return Err(e),
                Err(_waited) => {
                    if self.close_finished()? {
                        last_progress = Instant::now();
                    } else if last_progress.elapsed() >= STALLED_AFTER {
                        return Err(KafkaError::MessageConsumption(
                            RDKafkaErrorCode::OperationTimedOut,
                        ));
                    }
                }
            }
        }
    }

    /// Closes the partitions whose position reached their end; whether any did.
    fn close_finished(&mut self) -> Result<bool, KafkaError> {
        let positions = self.consumer.position()?;
        let before = self.open.len();
        self.open.retain(|(topic, partition), span| {
            match positions
                .find_partition(topic, *partition)
                .map(|p| p.offset())
            {
                Some(Offset::Offset(position)) => position < span.end,
                _ => true,
            }
        });
        Ok(self.open.len() < before)
    }

    /// Commits `offsets` (the next offset to read, per partition) without waiting.
    pub fn commit(&self, offsets: &BTreeMap<(String, i32), i64>) -> Result<(), KafkaError> {
        self.consumer.commit(&list(offsets)?, CommitMode::Async)
    }

    /// Commits `offsets` and waits for the group coordinator to store them.
    pub async fn commit_and_wait(
        &self,
        offsets: &BTreeMap<(String, i32), i64>,
    ) -> Result<(), KafkaError> {
        let list = list(offsets)?;
        let consumer = self.consumer.clone();
        tokio::task::spawn_blocking(move || consumer.commit(&list, CommitMode::Sync))
            .await
            .map_err(|_| KafkaError::Canceled)?
    }
}

fn list(offsets: &BTreeMap<(String, i32), i64>) -> Result<TopicPartitionList, KafkaError> {
    let mut list = TopicPartitionList::new();
    for ((topic, partition), offset) in offsets {
        list.add_partition_offset(topic, *partition, Offset::Offset(*offset))?;
    }
    Ok(list)
}

/// What a run reads: per (topic, partition), the offsets from the start to the end.
type Plan = BTreeMap<(String, i32), Span>;

/// The partitions of `topics` with records to read, and the topics that do not exist.
/// Blocking.
fn plan(
    consumer: &StreamConsumer<Quiet>,
    topics: &[String],
    from_beginning: bool,
) -> Result<(Vec<String>, Plan), KafkaError> {
    let mut absent = Vec::new();
    let mut partitions = TopicPartitionList::new();
    for topic in topics {
        let metadata = consumer.fetch_metadata(Some(topic), REQUEST_TIMEOUT)?;
        let found = metadata
            .topics()
            .iter()
            .find(|t| t.name() == topic && t.error().is_none());
        match found {
            Some(t) if !t.partitions().is_empty() => {
                for p in t.partitions() {
                    partitions.add_partition(topic, p.id());
                }
            }
            _ => absent.push(topic.clone()),
        }
    }
    let committed = committed(consumer, &partitions)?;
    let mut plan = BTreeMap::new();
    for element in partitions.elements() {
        let (topic, partition) = (element.topic(), element.partition());
        let (low, high) = consumer.fetch_watermarks(topic, partition, REQUEST_TIMEOUT)?;
        let done = match committed
            .find_partition(topic, partition)
            .map(|p| p.offset())
        {
            Some(Offset::Offset(next)) if !from_beginning => next,
            _ => low,
        };
        let start = done.max(low);
        if start < high {
            plan.insert((topic.to_string(), partition), Span { start, end: high });
        }
    }
    Ok((absent, plan))
}

/// The group's committed offsets of `partitions`. A cluster whose group coordinator
/// is still starting (a new cluster's first group) answers that it is not ready yet:
/// asked again until [`REQUEST_TIMEOUT`].
fn committed(
    consumer: &StreamConsumer<Quiet>,
    partitions: &TopicPartitionList,
) -> Result<TopicPartitionList, KafkaError> {
    let deadline = Instant::now() + REQUEST_TIMEOUT;
    loop {
        match consumer.committed_offsets(partitions.clone(), REQUEST_TIMEOUT) {
            Err(e)
                if Instant::now() < deadline
                    && matches!(
                        e.rdkafka_error_code(),
                        Some(
                            RDKafkaErrorCode::NotCoordinator
                                | RDKafkaErrorCode::CoordinatorNotAvailable
                                | RDKafkaErrorCode::CoordinatorLoadInProgress
                        )
                    ) =>
            {
                std::thread::sleep(COORDINATOR_RETRY);
            }
            result => return result,
        }
    }
}

fn owned(message: &impl Message) -> Read {
    let headers = message
        .headers()
        .map(|h| {
            h.iter()
                .map(|h| (h.key.to_string(), h.value.unwrap_or_default().to_vec()))
                .collect()
        })
        .unwrap_or_default();
    Read {
        at: Position {
            topic: message.topic().to_string(),
            partition: message.partition(),
            offset: message.offset(),
        },
        value: message.payload().unwrap_or_default().to_vec(),
        headers,
    }
}
