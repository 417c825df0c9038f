//! What the spool, its writer thread and its readers share: the segment index, the
//! durable and acknowledged positions, the bytes used, and the gauges they make.

use std::collections::BTreeMap;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::watch;

use super::{AppendError, recover, segment};
use crate::metrics::Metrics;

/// Called before each data sync (tests make a sync wait or fail with it).
pub(crate) type SyncHook = Arc<dyn Fn() -> io::Result<()> + Send + Sync>;

/// Bytes counted against `max_bytes`.
#[derive(Debug, Default)]
pub struct Usage {
    /// Bytes of the segment files.
    pub disk: u64,
    /// Bytes reserved by appends not yet written.
    pub queued: u64,
}

/// What the spool, its writer thread and its readers share.
pub struct Shared {
    /// `spool.dir`.
    pub dir: PathBuf,
    /// `spool.max_bytes`.
    pub max_bytes: u64,
    /// Where the spool's gauges and counters go.
    pub metrics: Arc<Metrics>,
    /// The live segments by first sequence number.
    pub segments: Mutex<BTreeMap<u64, PathBuf>>,
    /// The sequence number after the last synced record.
    pub durable: watch::Sender<u64>,
    /// The cursor as last synced.
    pub synced: watch::Sender<u64>,
    /// The first record not yet forwarded (ahead of `synced` until the writer syncs it).
    pub acked: AtomicU64,
    /// Appends admitted and not yet resolved.
    pub pending: AtomicU64,
    /// Bytes counted against `max_bytes`.
    pub usage: Mutex<Usage>,
    /// Numbers lost between segments found at recovery (see `recover`).
    pub gaps: Vec<(u64, u64)>,
    /// Set by a failed sync: appends are refused until a restart.
    pub broken: AtomicBool,
    /// Called before each data sync (tests only).
    pub before_sync: Option<SyncHook>,
}

impl Shared {
    /// The byte counts, locked.
    pub fn usage(&self) -> MutexGuard<'_, Usage> {
        // A panic while holding the lock leaves plain numbers behind: still usable.
        self.usage.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The segment index, locked.
    pub fn segments(&self) -> MutexGuard<'_, BTreeMap<u64, PathBuf>> {
        self.segments.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A turn's `reserved` bytes are no longer queued; `written` more are on disk.
    pub fn settle(&self, reserved: u64, written: u64) {
        let mut usage = self.usage();
        usage.queued = usage.queued.saturating_sub(reserved);
        usage.disk += written;
    }

    /// Removed segments freed `bytes`.
    pub fn freed(&self, bytes: u64) {
        let mut usage = self.usage();
        usage.disk = usage.disk.saturating_sub(bytes);
    }

    pub fn add_segment(&self, first_seq: u64) {
        self.segments()
            .insert(first_seq, segment::path(&self.dir, first_seq));
    }

    pub fn remove_segment(&self, first_seq: u64) {
        self.segments().remove(&first_seq);
    }

    /// Marks the spool broken after a failed sync.
    pub fn break_spool(&self, error: &io::Error) -> AppendError {
        tracing::error!(error = %error, "spool sync failed; the spool takes no more records until hookbridge restarts");
        self.broken.store(true, Ordering::SeqCst);
        AppendError::Broken
    }

    /// Records held: synced and not yet forwarded.
    pub fn records(&self) -> u64 {
        let durable = *self.durable.borrow();
        let acked = self.acked.load(Ordering::SeqCst);
        durable
            .saturating_sub(acked)
            .saturating_sub(recover::lost_after(&self.gaps, acked))
    }

    pub fn publish_gauges(&self) {
        let disk = self.usage().disk;
        self.metrics
            .spool_bytes
            .set(i64::try_from(disk).unwrap_or(i64::MAX));
        let records = self.records();
        self.metrics
            .spool_records
            .set(i64::try_from(records).unwrap_or(i64::MAX));
    }
}
