//! The forwarder: drains the spool to Kafka in order, and removes a record only after
//! the broker acknowledged it.
//!
//! Records are read in log order and published through [`Publish`] with at most
//! [`Forwarding::concurrency`] in flight, and **at most one per partition key**: a
//! site's next record is published only once the previous one is acknowledged, so a
//! failure and its retry can never put a site's records out of order on Kafka. A
//! failed attempt (broker unreachable, timed out, queue full, any retryable error)
//! goes back in its place and the forwarder pauses, doubling from
//! [`Forwarding::first_backoff`] to [`Forwarding::max_backoff`]; the first failure of a
//! run is logged, and the run's end. A record Kafka will never take
//! ([`Class::Refused`]: over the topic's size limit) is removed, logged and counted as
//! `rejected`, rather than blocking the spool for ever; a misconfiguration (rights,
//! a missing topic) is retried, since fixing it delivers the records. The acknowledged prefix becomes the spool's cursor.
//!
//! Delivery is at least once: an attempt in doubt is waited for until its fate is known
//! (so a record that may yet be stored is not published twice by the forwarder), but
//! one whose fate stays unknown is published again, and so is a record acknowledged
//! just before a crash (with the same CloudEvents id, so consumers deduplicating by
//! `source` + `id` see one event). A record spooled while its event's first copy was in
//! doubt is not published when that copy turns out to be stored ([`super::Doubts`]).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::task::{Id, JoinSet};
use tokio::time::Instant;

use super::reader::{Read, Reader};
use super::{Entry, Spool};
use crate::backoff::Backoff;
use crate::publish::{Class, Publish, PublishError};

/// How the forwarder finds the publisher in use now (a config reload may replace it).
pub type PublisherSource = Arc<dyn Fn() -> Arc<dyn Publish> + Send + Sync>;

/// How often the oldest record's age is refreshed while nothing else happens.
const AGE_TICK: Duration = Duration::from_secs(1);

/// How the forwarder works.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Forwarding {
    /// Records published at once (each of a different partition key).
    pub concurrency: usize,
    /// How long an attempt waits for its ack before its record is in doubt; the
    /// attempt then waits for the record's fate (known within `kafka.delivery_timeout`),
    /// so that a record that may still be stored is not published a second time.
    pub ack_timeout: Duration,
    /// How long one attempt may take in all before it counts as failed: only a guard
    /// against a publisher that never settles a record.
    pub attempt_timeout: Duration,
    /// The pause after a first failure.
    pub first_backoff: Duration,
    /// The longest pause between attempts.
    pub max_backoff: Duration,
}

impl Forwarding {
    /// The settings for a producer whose acks are due within `ack_timeout` and whose
    /// records are settled within `delivery_timeout`: 32 records in flight, attempts
    /// bounded at `delivery_timeout` + 1 s, pauses from 100 ms to 5 s.
    pub fn new(ack_timeout: Duration, delivery_timeout: Duration) -> Forwarding {
        Forwarding {
            concurrency: 32,
            ack_timeout,
            attempt_timeout: delivery_timeout + Duration::from_secs(1),
            first_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
        }
    }
}

/// What a [`Forwarder::drain`] left behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Drained {
    /// Records still in the spool (0: drained).
    pub remaining: u64,
}

/// Drains a [`Spool`] through a publisher.
pub struct Forwarder {
    spool: Arc<Spool>,
    publisher: PublisherSource,
    settings: Forwarding,
    /// Held by the one forwarding loop at a time: a second one waits, so no record is
    /// ever published by two loops.
    running: tokio::sync::Mutex<()>,
}

impl Forwarder {
    /// A forwarder of `spool` through whatever `publisher` returns at each attempt.
    pub fn new(spool: Arc<Spool>, publisher: PublisherSource, settings: Forwarding) -> Forwarder {
        Forwarder {
            spool,
            publisher,
            settings,
            running: tokio::sync::Mutex::new(()),
        }
    }

    /// Forwards records as they are spooled until `shutdown` resolves, then lets the
    /// attempts in flight finish (each within `attempt_timeout`).
    pub async fn run(&self, shutdown: impl Future<Output = ()>) {
        let _running = self.running.lock().await;
        let mut run = Run::new(self);
        run.forward(shutdown, false).await;
        run.wind_down(Instant::now() + self.settings.attempt_timeout)
            .await;
    }

    /// Forwards until the spool is empty or `deadline` passes (for shutdown: call it
    /// once nothing appends any more). Attempts still in flight at the deadline are
    /// abandoned; their records stay in the spool.
    pub async fn drain(&self, deadline: Instant) -> Drained {
        let _running = self.running.lock().await;
        let mut run = Run::new(self);
        run.forward(tokio::time::sleep_until(deadline), true).await;
        run.wind_down(deadline).await;
        Drained {
            remaining: self.spool.len(),
        }
    }
}

/// What woke the forwarding loop.
enum Wake {
    Stop,
    Finished(Result<(Id, Attempt), tokio::task::JoinError>),
    Readable,
    Resume,
    Tick,
}

/// The outcome of one attempt.
type Attempt = Result<Forwarded, PublishError>;

/// How a record left the spool.
#[derive(Debug)]
enum Forwarded {
    /// The broker acknowledged it.
    Acked,
    /// Not published: its event's first copy, in doubt when it was spooled, was stored
    /// (see [`super::Doubts`]).
    Landed,
}

/// One forwarding loop's state: what was read and not yet acknowledged.
struct Run<'f> {
    forwarder: &'f Forwarder,
    reader: Option<Reader>,
    /// Read and not started (or failed and waiting to be retried), in log order.
    waiting: VecDeque<(u64, Entry)>,
    /// Being published, by sequence number.
    flying: BTreeMap<u64, Entry>,
    tasks: JoinSet<Attempt>,
    task_seq: HashMap<Id, u64>,
    backoff: Backoff,
    paused_until: Option<Instant>,
}

impl<'f> Run<'f> {
    fn new(forwarder: &'f Forwarder) -> Run<'f> {
        let settings = forwarder.settings;
        Run {
            forwarder,
            reader: Some(forwarder.spool.reader()),
            waiting: VecDeque::new(),
            flying: BTreeMap::new(),
            tasks: JoinSet::new(),
            task_seq: HashMap::new(),
            backoff: Backoff::new(settings.first_backoff, settings.max_backoff),
            paused_until: None,
        }
    }

    /// The loop: start what may start, then wait for the next thing to happen.
    async fn forward(&mut self, stop: impl Future<Output = ()>, until_empty: bool) {
        tokio::pin!(stop);
        loop {
            self.start_ready();
            self.report_age();
            if until_empty && self.forwarder.spool.is_empty() && self.tasks.is_empty() {
                return;
            }
            match self.wake(&mut stop).await {
                Wake::Stop => return,
                Wake::Finished(result) => self.finished(result),
                Wake::Readable => self.read_more().await,
                Wake::Resume => self.paused_until = None,
                Wake::Tick => {}
            }
        }
    }

    async fn wake(&mut self, stop: &mut std::pin::Pin<&mut impl Future<Output = ()>>) -> Wake {
        let read_ahead = self.forwarder.settings.concurrency * 2;
        let want_read = self.paused_until.is_none() && self.waiting.len() < read_ahead;
        let readable = self.reader.as_ref().map(Reader::readable);
        let paused_until = self.paused_until;
        tokio::select! {
            biased;
            () = stop.as_mut() => Wake::Stop,
            Some(result) = self.tasks.join_next_with_id(), if !self.tasks.is_empty() => Wake::Finished(result),
            () = async { if let Some(r) = readable { r.await } }, if want_read && self.reader.is_some() => Wake::Readable,
            () = tokio::time::sleep_until(paused_until.unwrap_or_else(Instant::now)), if paused_until.is_some() => Wake::Resume,
            () = tokio::time::sleep(AGE_TICK) => Wake::Tick,
        }
    }

    /// Starts waiting records, in order, while there is room, skipping those whose key
    /// is in flight or behind an earlier waiting record of the same key.
    fn start_ready(&mut self) {
        if self.paused_until.is_some() {
            return;
        }
        let mut blocked: HashSet<String> = self
            .flying
            .values()
            .filter_map(|e| e.record.key.clone())
            .collect();
        let mut i = 0;
        while i < self.waiting.len() && self.tasks.len() < self.forwarder.settings.concurrency {
            let key = &self.waiting[i].1.record.key;
            if let Some(key) = key
                && !blocked.insert(key.clone())
            {
                i += 1;
                continue;
            }
            if let Some((seq, entry)) = self.waiting.remove(i) {
                self.launch(seq, entry);
            }
        }
    }

    /// Publishes one record in a task of its own, waiting for its fate if it is in
    /// doubt, bounded by `attempt_timeout`.
    fn launch(&mut self, seq: u64, entry: Entry) {
        let publisher = (self.forwarder.publisher)();
        let settings = self.forwarder.settings;
        let record = entry.record.clone();
        let (doubts, dedup_key) = (
            self.forwarder.spool.doubts().clone(),
            entry.dedup_key.clone(),
        );
        let handle = self.tasks.spawn(async move {
            if doubts.landed(&dedup_key).await {
                return Ok(Forwarded::Landed);
            }
            let deadline = Instant::now() + settings.ack_timeout;
            let settled = async { publisher.publish(&record, deadline).await.settled().await };
            tokio::time::timeout(settings.attempt_timeout, settled)
                .await
                .unwrap_or(Err(PublishError::TimedOut))
                .map(|_delivery| Forwarded::Acked)
        });
        self.task_seq.insert(handle.id(), seq);
        self.flying.insert(seq, entry);
    }

    /// Settles a finished attempt: acknowledged or rejected for good → removed;
    /// anything else → back in line, and a pause.
    fn finished(&mut self, result: Result<(Id, Attempt), tokio::task::JoinError>) {
        let (id, attempt) = match result {
            Ok((id, attempt)) => (id, attempt),
            Err(e) => (e.id(), Err(PublishError::Closed)),
        };
        let Some(seq) = self.task_seq.remove(&id) else {
            return;
        };
        let Some(entry) = self.flying.remove(&seq) else {
            return;
        };
        let metrics = self.forwarder.spool.metrics();
        match attempt {
            Ok(Forwarded::Acked) => {
                if let Some(failures) = self.backoff.succeeded() {
                    tracing::info!(failures, "spool forwarding works again");
                }
                metrics.spool_forwarded.with_label_values(&["acked"]).inc();
            }
            Ok(Forwarded::Landed) => {
                tracing::debug!(id = %entry.id, "spooled record's first copy was stored; not published again");
                metrics.spool_forwarded.with_label_values(&["landed"]).inc();
            }
            Err(error) if error.class() == Class::Refused => {
                tracing::error!(id = %entry.id, topic = %entry.record.topic, bytes = entry.record.value.len(), kind = error.kind(), "spooled record refused by Kafka for good; removed from the spool");
                metrics
                    .spool_forwarded
                    .with_label_values(&["rejected"])
                    .inc();
            }
            Err(error) => {
                self.retry_later(seq, entry, &error);
                return;
            }
        }
        self.acknowledge();
    }

    /// Puts a failed record back in its place and pauses.
    fn retry_later(&mut self, seq: u64, entry: Entry, error: &PublishError) {
        let at = self.waiting.partition_point(|(s, _)| *s < seq);
        self.waiting.insert(at, (seq, entry));
        let (pause, first) = self.backoff.failed();
        if first {
            tracing::warn!(kind = error.kind(), error = %error, "spool forwarding failed; retrying with backoff");
        }
        self.paused_until = Some(Instant::now() + pause);
    }

    /// Reads what is there, up to the read-ahead, off the async threads.
    async fn read_more(&mut self) {
        let Some(mut reader) = self.reader.take() else {
            return;
        };
        let max = self.forwarder.settings.concurrency * 2
            - self
                .waiting
                .len()
                .min(self.forwarder.settings.concurrency * 2);
        let read = tokio::task::spawn_blocking(move || {
            let read = reader.read(max.max(1));
            (reader, read)
        })
        .await;
        let (reader, read) = match read {
            Ok(done) => done,
            Err(e) => {
                tracing::error!(error = %e, "spool reader failed");
                self.reader = Some(self.forwarder.spool.reader());
                return;
            }
        };
        self.reader = Some(reader);
        match read {
            Ok(records) => self.take(records),
            Err(e) => {
                tracing::error!(error = %e, "spool read failed; retrying with backoff");
                let (pause, _) = self.backoff.failed();
                self.paused_until = Some(Instant::now() + pause);
            }
        }
    }

    /// Queues records read; one whose body is not an entry is counted and dropped.
    fn take(&mut self, records: Vec<Read>) {
        let mut dropped = false;
        for read in records {
            match read.entry {
                Ok(entry) => self.waiting.push_back((read.seq, entry)),
                Err(e) => {
                    tracing::error!(seq = read.seq, error = ?e, "spooled record cannot be decoded; dropped");
                    self.forwarder.spool.metrics().spool_corrupt_records.inc();
                    dropped = true;
                }
            }
        }
        if dropped {
            self.acknowledge();
        }
    }

    /// The first record not yet settled: nothing before it is in flight or waiting.
    fn cursor(&self) -> u64 {
        let next = self
            .reader
            .as_ref()
            .map_or_else(|| self.forwarder.spool.acked(), Reader::next_seq);
        let flying = self.flying.keys().next().copied();
        let waiting = self.waiting.front().map(|(seq, _)| *seq);
        [flying, waiting].into_iter().flatten().fold(next, u64::min)
    }

    fn acknowledge(&self) {
        self.forwarder.spool.ack_through(self.cursor());
    }

    /// Sets the age of the oldest record held, from when its request was received.
    fn report_age(&self) {
        let oldest = self
            .flying
            .first_key_value()
            .map(|(seq, e)| (*seq, e.record.timestamp))
            .into_iter()
            .chain(
                self.waiting
                    .front()
                    .map(|(seq, e)| (*seq, e.record.timestamp)),
            )
            .min_by_key(|(seq, _)| *seq);
        let gauge = &self.forwarder.spool.metrics().spool_oldest_record_age;
        match oldest {
            Some((_, at)) => gauge.set(age(at)),
            None if self.forwarder.spool.is_empty() => gauge.set(0.0),
            None => {}
        }
    }

    /// Lets the attempts in flight finish until `deadline`; the rest are abandoned.
    async fn wind_down(&mut self, deadline: Instant) {
        while !self.tasks.is_empty() {
            match tokio::time::timeout_at(deadline, self.tasks.join_next_with_id()).await {
                Ok(Some(result)) => self.finished(result),
                Ok(None) | Err(_) => break,
            }
        }
        self.tasks.abort_all();
        self.report_age();
    }
}

fn age(at: SystemTime) -> f64 {
    SystemTime::now()
        .duration_since(at)
        .map_or(0.0, |d| d.as_secs_f64())
}
