//! The crash-safe spool: records Kafka could not take in time, kept on local disk
//! until the [`Forwarder`] has them acknowledged.
//!
//! This module owns the directory `spool.dir`: an append-only log of checksummed
//! records in segment files, the acknowledgement cursor, and their recovery after a
//! crash. [`Spool::append`] resolves only once the record is written *and synced*
//! (`fdatasync`), so an answer given after it means "on disk"; concurrent appends share
//! one sync (group commit). Records keep their order; the forwarder removes them only
//! after the broker's ack. What it leaves to others: when to spool a record and what
//! to answer (the request pipeline), how records reach Kafka (the
//! [`Publish`](crate::publish::Publish) implementation), and what a record is made of (the pipeline builds the [`Entry`]).
//!
//! # Storage: a segment log of our own
//!
//! Compared, for exactly this job (FIFO, append then delete-in-order, every append
//! durable before it resolves, records up to ~1.6 MB):
//! - **redb** (copy-on-write B-tree, no dependencies): `Durability::Immediate` syncs
//!   every commit, so group commit would still be ours (batching appends into one
//!   write transaction); every commit rewrites B-tree pages, a large value goes into
//!   overflow pages and is written once more by the tree, deleted pages are reused
//!   but the file does not shrink without a compaction.
//! - **fjall** (LSM tree): a journal plus memtables flushed to sorted tables, with
//!   compaction threads; `PersistMode::SyncAll` gives per-batch durability, but each
//!   record is written at least twice (journal, then table), a queue's deletes become
//!   tombstones at the head that reads must skip until compacted, and it brings a
//!   dozen crates.
//! - **sled**: still a beta whose on-disk format may change, not maintained for years.
//! - **yaque** (a persistent queue): single producer, saves its read state when it is
//!   dropped (so `kill -9` repeats or loses position) and does not sync per send.
//!
//! An append-only log does the job with sequential writes, one `fdatasync` per
//! group, deletion by unlinking whole segments, a torn tail found by a checksum, and
//! one small dependency (`crc32c`): about 1,300 lines of code with its recovery and the
//! forwarder, whose every failure path the tests below reach. The embedded stores are built for random access and
//! updates, which a spool never needs.
//!
//! # Layout of `spool.dir`
//!
//! - `{first_seq:020}.seg`: segments (see `format`), rolled at `spool.segment_bytes`;
//! - `acked`: the cursor, the first record not yet forwarded (see `cursor`);
//! - `lock`: held (`flock`) while a process has the spool open.

mod cursor;
mod doubt;
mod format;
mod forward;
mod reader;
mod recover;
mod segment;
mod shared;
mod writer;

#[cfg(test)]
mod tests;

pub use doubt::{Doubts, Pending};
pub use forward::{Drained, Forwarder, Forwarding, PublisherSource};

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;

use tokio::sync::{oneshot, watch};
use uuid::Uuid;

use crate::config;
use crate::metrics::Metrics;
use crate::publish::Record;
pub(crate) use shared::SyncHook;
use shared::{Shared, Usage};
use writer::{Append, Job, Writer};

/// One spooled record: what Kafka gets, and how its event is recognised.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The CloudEvents id the record carries, kept so a retry of the event is answered
    /// with it.
    pub id: Uuid,
    /// The event's dedup key, as the dedup cache names it.
    pub dedup_key: Vec<u8>,
    /// The record to publish.
    pub record: Record,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Entry) -> bool {
        let (a, b) = (&self.record, &other.record);
        self.id == other.id
            && self.dedup_key == other.dedup_key
            && a.topic == b.topic
            && a.key == b.key
            && a.value == b.value
            && a.headers == b.headers
            && a.timestamp == b.timestamp
    }
}

/// Proof that an appended record is on disk, synced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket {
    /// The record's place in the spool.
    pub seq: u64,
}

/// Why a record was not spooled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendError {
    /// `spool.max_bytes` would be exceeded: retry later.
    Full,
    /// A field is longer than the format holds (never a record hookbridge makes).
    TooLong,
    /// Writing failed (e.g. the disk is full) and was undone: retry later.
    WriteFailed,
    /// A sync failed earlier, so what is on disk is unknown: the spool takes no more
    /// records until a restart recovers it.
    Broken,
}

impl fmt::Display for AppendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AppendError::Full => "the spool is full",
            AppendError::TooLong => "the record has a field too long for the spool",
            AppendError::WriteFailed => "writing the spool failed",
            AppendError::Broken => "the spool is broken by an earlier failed sync",
        })
    }
}

impl std::error::Error for AppendError {}

/// Why the spool directory could not be opened.
#[derive(Debug)]
pub enum OpenError {
    /// Another process holds the directory's lock.
    InUse(PathBuf),
    /// Reading, repairing or creating a file failed.
    Io(PathBuf, io::Error),
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::InUse(dir) => write!(
                f,
                "spool directory {} is in use by another process",
                dir.display()
            ),
            OpenError::Io(dir, e) => {
                write!(f, "cannot open spool directory {}: {e}", dir.display())
            }
        }
    }
}

impl std::error::Error for OpenError {}

/// What opening found in the directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recovered {
    /// Records appended before and not yet forwarded: the forwarder sends them first.
    pub records: u64,
    /// Bytes of the segments kept.
    pub bytes: u64,
    /// Records lost to a torn or corrupt tail (counted in
    /// `hookbridge_spool_corrupt_records_total`).
    pub corrupt_records: u64,
    /// Bytes cut off as damaged.
    pub cut_bytes: u64,
}

/// The open spool. Share it (`Arc`) between the pipeline and the [`Forwarder`].
pub struct Spool {
    shared: Arc<Shared>,
    doubts: Arc<Doubts>,
    jobs: Option<mpsc::Sender<Job>>,
    writer: Option<JoinHandle<()>>,
    _lock: File,
}

impl Spool {
    /// Opens (creating it if needed) and recovers `config.dir`, and starts the writer
    /// thread. Blocking: it reads every segment once.
    pub fn open(
        config: &config::Spool,
        metrics: Arc<Metrics>,
    ) -> Result<(Spool, Recovered), OpenError> {
        Spool::open_with(config, metrics, None)
    }

    pub(crate) fn open_with(
        config: &config::Spool,
        metrics: Arc<Metrics>,
        before_sync: Option<SyncHook>,
    ) -> Result<(Spool, Recovered), OpenError> {
        let dir = config.dir.clone();
        let io = |e: io::Error| OpenError::Io(dir.clone(), e);
        let lock = lock(&dir)?;
        let (cursor, created) = cursor::Cursor::open(&dir).map_err(io)?;
        if created {
            segment::sync_dir(&dir).map_err(io)?;
        }
        let recovery = recover::recover(&dir, cursor.synced()).map_err(io)?;
        let recovered = Recovered {
            records: recovery.records(),
            bytes: recovery.bytes(),
            corrupt_records: recovery.corrupt_records,
            cut_bytes: recovery.cut_bytes,
        };
        let shared = Arc::new(Shared {
            dir: dir.clone(),
            max_bytes: config.max_bytes,
            segments: Mutex::new(
                recovery
                    .segments
                    .iter()
                    .map(|s| (s.first_seq, s.path.clone()))
                    .collect(),
            ),
            durable: watch::Sender::new(recovery.next_seq),
            synced: watch::Sender::new(cursor.synced()),
            acked: AtomicU64::new(recovery.acked),
            pending: AtomicU64::new(0),
            usage: Mutex::new(Usage {
                disk: recovered.bytes,
                queued: 0,
            }),
            gaps: recovery.gaps.clone(),
            broken: AtomicBool::new(false),
            before_sync,
            metrics,
        });
        let writer =
            Writer::new(shared.clone(), config.segment_bytes, recovery, cursor).map_err(io)?;
        let (jobs, queue) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("spool-writer".into())
            .spawn(move || writer.run(queue))
            .map_err(io)?;
        report(&shared, &recovered);
        Ok((
            Spool {
                shared,
                doubts: Arc::default(),
                jobs: Some(jobs),
                writer: Some(thread),
                _lock: lock,
            },
            recovered,
        ))
    }

    /// Appends `entry` behind every record already spooled. Resolves once it is
    /// written and synced, or refused. Once admitted (not [`AppendError::Full`]), the
    /// record is written even if this future is dropped.
    pub async fn append(&self, entry: &Entry) -> Result<Ticket, AppendError> {
        let body = format::encode(entry).map_err(|format::TooLong| AppendError::TooLong)?;
        let (done, outcome) = oneshot::channel();
        self.admit(body, done)?;
        outcome.await.unwrap_or(Err(AppendError::Broken))
    }

    /// Counts the append against `max_bytes` and queues it for the writer.
    fn admit(
        &self,
        body: Vec<u8>,
        done: oneshot::Sender<Result<Ticket, AppendError>>,
    ) -> Result<(), AppendError> {
        if self.shared.broken.load(Ordering::SeqCst) {
            return Err(AppendError::Broken);
        }
        // The worst case: the frame, and the header of a segment it may start.
        let reserved =
            (format::FRAME_HEADER_BYTES + body.len()) as u64 + format::SEGMENT_HEADER_BYTES;
        let jobs = self.jobs.as_ref().ok_or(AppendError::Broken)?;
        let mut usage = self.shared.usage();
        if usage.disk + usage.queued + reserved > self.shared.max_bytes {
            return Err(AppendError::Full);
        }
        usage.queued += reserved;
        self.shared.pending.fetch_add(1, Ordering::SeqCst);
        let append = Append {
            body,
            reserved,
            done,
        };
        // Sent while holding the lock, so the writer sees appends in admission order.
        if jobs.send(Job::Append(append)).is_err() {
            usage.queued -= reserved;
            self.shared.pending.fetch_sub(1, Ordering::SeqCst);
            return Err(AppendError::Broken);
        }
        Ok(())
    }

    /// Whether the spool holds no record, counting appends still being written: while
    /// it is not empty, a new record of any site must be appended, not published
    /// directly, or it could overtake an earlier record of its site. Two atomic loads.
    pub fn is_empty(&self) -> bool {
        self.shared.pending.load(Ordering::SeqCst) == 0 && self.shared.records() == 0
    }

    /// Records synced and not yet forwarded.
    pub fn len(&self) -> u64 {
        self.shared.records()
    }

    /// Bytes of the segment files.
    pub fn bytes(&self) -> u64 {
        self.shared.usage().disk
    }

    /// Bytes an append may still use before [`AppendError::Full`], counting appends
    /// being written (each needs its encoded size plus 32 bytes of framing and header).
    pub fn free_bytes(&self) -> u64 {
        let usage = self.shared.usage();
        self.shared
            .max_bytes
            .saturating_sub(usage.disk + usage.queued)
    }

    /// The spooled records whose first publication is in doubt (see [`Doubts`]).
    pub fn doubts(&self) -> &Arc<Doubts> {
        &self.doubts
    }

    /// Whether a failed sync broke the spool: every append is refused until a restart.
    pub fn is_broken(&self) -> bool {
        self.shared.broken.load(Ordering::SeqCst)
    }

    /// Records that every record before `seq` was forwarded. The cursor is synced, and
    /// segments it passed are removed, by the writer thread in its next turn.
    pub(crate) fn ack_through(&self, seq: u64) {
        let durable = *self.shared.durable.borrow();
        let seq = seq.min(durable);
        if self.shared.acked.fetch_max(seq, Ordering::SeqCst) < seq
            && let Some(jobs) = &self.jobs
        {
            let _ = jobs.send(Job::Ack(seq));
        }
    }

    /// The first record not yet forwarded.
    pub(crate) fn acked(&self) -> u64 {
        self.shared.acked.load(Ordering::SeqCst)
    }

    /// Waits until the synced cursor reaches `seq`.
    #[cfg(test)]
    pub(crate) async fn synced(&self, seq: u64) {
        let mut synced = self.shared.synced.subscribe();
        let _ = synced.wait_for(|s| *s >= seq).await;
    }

    fn reader(&self) -> reader::Reader {
        reader::Reader::new(self.shared.clone(), self.acked())
    }

    fn metrics(&self) -> &Metrics {
        &self.shared.metrics
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        // The writer finishes the queued turns and exits once its channel closes; the
        // lock is released only after it has.
        drop(self.jobs.take());
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

impl fmt::Debug for Spool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Spool")
            .field("dir", &self.shared.dir)
            .field("records", &self.len())
            .finish()
    }
}

/// Creates `dir` if needed and takes its lock, so two processes never share a spool.
fn lock(dir: &Path) -> Result<File, OpenError> {
    let io = |e: io::Error| OpenError::Io(dir.to_path_buf(), e);
    std::fs::create_dir_all(dir).map_err(io)?;
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join("lock"))
        .map_err(io)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(OpenError::InUse(dir.to_path_buf())),
        Err(std::fs::TryLockError::Error(e)) => Err(io(e)),
    }
}

/// Logs and counts what recovery found.
fn report(shared: &Shared, recovered: &Recovered) {
    let metrics = &shared.metrics;
    metrics
        .spool_capacity
        .set(i64::try_from(shared.max_bytes).unwrap_or(i64::MAX));
    metrics
        .spool_corrupt_records
        .inc_by(recovered.corrupt_records);
    shared.publish_gauges();
    if recovered.corrupt_records > 0 {
        tracing::error!(
            corrupt_records = recovered.corrupt_records,
            cut_bytes = recovered.cut_bytes,
            dir = %shared.dir.display(),
            "spool had a torn or corrupt tail; it was cut off, the records before it are kept"
        );
    }
    tracing::info!(
        records = recovered.records,
        bytes = recovered.bytes,
        dir = %shared.dir.display(),
        "spool opened"
    );
}
