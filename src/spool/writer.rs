//! The one thread that writes the spool: group commit of appends, segment rolls, the
//! cursor, and the removal of forwarded segments.
//!
//! Appends queue up on a channel while the thread is busy; each turn takes everything
//! queued, writes it with as few `write` calls as segment boundaries allow, syncs once
//! (`fdatasync`), and only then resolves every append of the turn. So concurrent
//! appends share one sync, and an append never resolves before the sync that covers
//! it. Sequence numbers are given here, in the order written, so a failed turn leaves
//! no gap: its bytes are cut off again and the numbers reused.
//!
//! A failed sync leaves the file's state unknowable (the kernel may have dropped the
//! dirty pages), so it breaks the spool: every later append is refused until a restart
//! recovers the directory from what is really on disk.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Write};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::Receiver;

use tokio::sync::oneshot;

use super::cursor::Cursor;
use super::format::{self, FRAME_HEADER_BYTES, SEGMENT_HEADER_BYTES};
use super::recover::Recovery;
use super::segment;
use super::{AppendError, Shared, Ticket};

/// What the thread is asked to do.
pub enum Job {
    /// Append an encoded entry.
    Append(Append),
    /// Every record before this sequence number was forwarded.
    Ack(u64),
}

/// One admitted append.
pub struct Append {
    /// The encoded entry.
    pub body: Vec<u8>,
    /// Bytes counted against `max_bytes` when it was admitted.
    pub reserved: u64,
    /// Where its outcome goes.
    pub done: oneshot::Sender<Result<Ticket, AppendError>>,
}

/// Frames waiting for one `write`.
#[derive(Default)]
struct Buffer {
    bytes: Vec<u8>,
    records: u64,
}

/// The segment being appended to.
struct Active {
    first_seq: u64,
    file: File,
    bytes: u64,
}

/// A full segment, kept until its records are forwarded.
struct Closed {
    first_seq: u64,
    bytes: u64,
}

/// The writing thread's state.
pub struct Writer {
    shared: Arc<Shared>,
    segment_bytes: u64,
    active: Option<Active>,
    closed: VecDeque<Closed>,
    next_seq: u64,
    cursor: Cursor,
    acked: u64,
}

impl Writer {
    /// The writer of a recovered directory: the last segment stays the active one.
    pub fn new(
        shared: Arc<Shared>,
        segment_bytes: u64,
        recovery: Recovery,
        cursor: Cursor,
    ) -> io::Result<Writer> {
        let mut closed: VecDeque<Closed> = recovery
            .segments
            .iter()
            .map(|s| Closed {
                first_seq: s.first_seq,
                bytes: s.bytes,
            })
            .collect();
        let active = match closed.pop_back() {
            Some(last) => Some(Active {
                first_seq: last.first_seq,
                file: std::fs::OpenOptions::new()
                    .append(true)
                    .open(segment::path(&shared.dir, last.first_seq))?,
                bytes: last.bytes,
            }),
            None => None,
        };
        Ok(Writer {
            shared,
            segment_bytes,
            active,
            closed,
            next_seq: recovery.next_seq,
            cursor,
            acked: recovery.acked,
        })
    }

    /// Serves jobs until every sender is gone.
    pub fn run(mut self, jobs: Receiver<Job>) {
        while let Ok(first) = jobs.recv() {
            let mut appends = Vec::new();
            let mut ack = None;
            for job in std::iter::once(first).chain(jobs.try_iter()) {
                match job {
                    Job::Append(append) => appends.push(append),
                    Job::Ack(seq) => ack = ack.max(Some(seq)),
                }
            }
            if !appends.is_empty() {
                self.commit(appends);
            }
            if let Some(seq) = ack {
                self.acknowledge(seq);
            }
            self.shared.publish_gauges();
        }
    }

    /// Writes and syncs one turn's appends, then resolves them: those written and
    /// synced with their tickets, the rest with the error that stopped the turn.
    fn commit(&mut self, appends: Vec<Append>) {
        let start = self.next_seq;
        let disk_before = self.disk_bytes();
        let reserved: u64 = appends.iter().map(|a| a.reserved).sum();
        let outcome = if self.shared.broken.load(Ordering::SeqCst) {
            Err(AppendError::Broken)
        } else {
            self.write_synced(&appends)
        };
        let written = self.next_seq - start;
        self.shared
            .settle(reserved, self.disk_bytes().saturating_sub(disk_before));
        if written > 0 {
            self.shared.durable.send_replace(self.next_seq);
            self.shared.metrics.spooled.inc_by(written);
        }
        self.shared.publish_gauges();
        for (i, append) in (0u64..).zip(appends) {
            // An append past the durable ones exists only when the turn failed.
            let result = if i < written {
                Ok(Ticket { seq: start + i })
            } else {
                Err(outcome.err().unwrap_or(AppendError::WriteFailed))
            };
            self.shared.pending.fetch_sub(1, Ordering::SeqCst);
            let _ = append.done.send(result);
        }
    }

    /// Writes the appends as the next records, rolling segments as they fill, and
    /// syncs every segment written to. Records reach the disk in order, so after a
    /// failure the first `next_seq - start` of them are durable and the rest are not.
    fn write_synced(&mut self, appends: &[Append]) -> Result<(), AppendError> {
        let mut buffer = Buffer::default();
        for append in appends {
            let frame_bytes = (FRAME_HEADER_BYTES + append.body.len()) as u64;
            if self.must_roll(buffer.bytes.len() as u64, frame_bytes) {
                self.flush(&mut buffer)?;
                self.roll()?;
            }
            let seq = self.next_seq + buffer.records;
            buffer
                .bytes
                .extend_from_slice(&format::frame(seq, &append.body));
            buffer.records += 1;
        }
        self.flush(&mut buffer)
    }

    /// Whether a frame of `frame` bytes, after `buffered` bytes not yet written, must
    /// go to a new segment: there is no active one, or it holds records and would pass
    /// `segment_bytes`.
    fn must_roll(&self, buffered: u64, frame: u64) -> bool {
        match &self.active {
            None => true,
            Some(active) => {
                let used = active.bytes + buffered;
                used > SEGMENT_HEADER_BYTES && used + frame > self.segment_bytes
            }
        }
    }

    /// Writes the buffered frames to the active segment and syncs it. A failed write
    /// is cut off again (the spool goes on); a failed sync breaks the spool.
    fn flush(&mut self, buffer: &mut Buffer) -> Result<(), AppendError> {
        if buffer.records == 0 {
            return Ok(());
        }
        let Some(active) = self.active.as_mut() else {
            return Err(self
                .shared
                .break_spool(&io::Error::other("no active segment")));
        };
        if let Err(e) = active.file.write_all(&buffer.bytes) {
            tracing::error!(error = %e, "spool write failed; the records of this turn are refused");
            let cut = active.file.set_len(active.bytes);
            return match cut.and_then(|()| active.file.sync_data()) {
                Ok(()) => Err(AppendError::WriteFailed),
                Err(e) => Err(self.shared.break_spool(&e)),
            };
        }
        active.bytes += buffer.bytes.len() as u64;
        let synced = match &self.shared.before_sync {
            Some(hook) => hook().and_then(|()| active.file.sync_data()),
            None => active.file.sync_data(),
        };
        if let Err(e) = synced {
            return Err(self.shared.break_spool(&e));
        }
        self.shared.metrics.spool_syncs.inc();
        self.next_seq += buffer.records;
        *buffer = Buffer::default();
        Ok(())
    }

    /// Closes the active segment (already synced) and starts one at `next_seq`.
    fn roll(&mut self) -> Result<(), AppendError> {
        let first_seq = self.next_seq;
        let dir = &self.shared.dir;
        let file = match segment::create(dir, first_seq) {
            Ok(file) => file,
            Err(e) => {
                tracing::error!(error = %e, "spool segment could not be created; the records of this turn are refused");
                let _ = std::fs::remove_file(segment::path(dir, first_seq));
                return Err(AppendError::WriteFailed);
            }
        };
        if let Err(e) = segment::sync_dir(dir) {
            return Err(self.shared.break_spool(&e));
        }
        if let Some(old) = self.active.take() {
            self.closed.push_back(Closed {
                first_seq: old.first_seq,
                bytes: old.bytes,
            });
        }
        self.active = Some(Active {
            first_seq,
            file,
            bytes: SEGMENT_HEADER_BYTES,
        });
        self.shared.add_segment(first_seq);
        Ok(())
    }

    fn disk_bytes(&self) -> u64 {
        let closed: u64 = self.closed.iter().map(|c| c.bytes).sum();
        closed + self.active.as_ref().map_or(0, |a| a.bytes)
    }

    /// Persists the cursor and removes the segments it passed.
    fn acknowledge(&mut self, seq: u64) {
        self.acked = self.acked.max(seq.min(self.next_seq));
        if self.acked <= self.cursor.synced() {
            return;
        }
        if let Err(e) = self.cursor.store(self.acked) {
            tracing::error!(error = %e, "spool cursor could not be written; records may be forwarded again after a restart");
            return;
        }
        if let Err(e) = self.remove_forwarded() {
            tracing::error!(error = %e, "a forwarded spool segment could not be removed");
        }
        self.shared.synced.send_replace(self.acked);
    }

    /// Removes closed segments whose records are all forwarded, and the active one
    /// when everything written is.
    fn remove_forwarded(&mut self) -> io::Result<()> {
        let mut freed = 0;
        while let Some(oldest) = self.closed.front() {
            let end = self.closed.get(1).map_or_else(
                || self.active.as_ref().map_or(self.next_seq, |a| a.first_seq),
                |c| c.first_seq,
            );
            if end > self.acked {
                break;
            }
            std::fs::remove_file(segment::path(&self.shared.dir, oldest.first_seq))?;
            self.shared.remove_segment(oldest.first_seq);
            freed += oldest.bytes;
            self.closed.pop_front();
        }
        if self.closed.is_empty()
            && self.acked == self.next_seq
            && let Some(active) = self.active.take()
        {
            std::fs::remove_file(segment::path(&self.shared.dir, active.first_seq))?;
            self.shared.remove_segment(active.first_seq);
            freed += active.bytes;
        }
        if freed > 0 {
            segment::sync_dir(&self.shared.dir)?;
            self.shared.freed(freed);
        }
        Ok(())
    }
}
