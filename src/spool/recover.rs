//! Opening a spool directory after a stop or a crash: every segment is scanned, a
//! torn or corrupt tail is cut off (the records before it stay), segments the cursor
//! has passed are removed, and what was lost is counted.
//!
//! What counts as lost: records missing between one segment's last valid record and
//! the next segment's first (exactly known), plus one for a damaged tail of the last
//! segment (its length is unknowable: a torn write there is normally one record, the
//! one whose append never resolved). Records the cursor has passed are never counted.

use std::io;
use std::path::{Path, PathBuf};

use super::segment::{self, Scan};

/// A segment that survived recovery.
#[derive(Debug, Clone)]
pub struct Survivor {
    /// Its first sequence number.
    pub first_seq: u64,
    /// The sequence number after its last record.
    pub end_seq: u64,
    /// Its bytes on disk.
    pub bytes: u64,
    /// Its path.
    pub path: PathBuf,
}

/// The state of the directory after recovery.
#[derive(Debug, Default)]
pub struct Recovery {
    /// The remaining segments, oldest first.
    pub segments: Vec<Survivor>,
    /// The first record not yet forwarded.
    pub acked: u64,
    /// The sequence number the next append gets.
    pub next_seq: u64,
    /// Records lost to damage (see the module documentation).
    pub corrupt_records: u64,
    /// Ranges of sequence numbers lost between two segments, `(from, to)`: readers
    /// jump over them.
    pub gaps: Vec<(u64, u64)>,
    /// Bytes cut off or removed as damaged.
    pub cut_bytes: u64,
}

impl Recovery {
    /// Records held: appended and not yet forwarded.
    pub fn records(&self) -> u64 {
        self.next_seq - self.acked - lost_after(&self.gaps, self.acked)
    }

    /// Bytes of the remaining segments.
    pub fn bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.bytes).sum()
    }
}

/// Recovers `dir`, whose synced cursor is `cursor`. Changes the directory (truncates,
/// removes, syncs it) so that the result is what is on disk.
pub fn recover(dir: &Path, cursor: u64) -> io::Result<Recovery> {
    let listed = segment::list(dir)?;
    let count = listed.len();
    let mut recovery = Recovery::default();
    let mut expected: Option<u64> = None;
    let mut removed = false;
    for (i, (named, path)) in listed.into_iter().enumerate() {
        let last = i + 1 == count;
        let scan = segment::scan(&path)?;
        match scan.first_seq.filter(|first| *first == named) {
            Some(first) => {
                if let Some(from) = expected.map(|e| e.max(cursor)).filter(|from| *from < first) {
                    recovery.corrupt_records += first - from;
                    recovery.gaps.push((from, first));
                }
                if scan.damaged() {
                    segment::truncate(&path, scan.valid_bytes)?;
                    recovery.cut_bytes += scan.file_bytes - scan.valid_bytes;
                    if last {
                        recovery.corrupt_records += 1;
                    }
                }
                expected = Some(first + scan.records);
                recovery.segments.push(survivor(&scan, first, path));
            }
            None => {
                // Not a segment of ours (a header torn while it was created, or damage):
                // its records, if it had any, are counted by the gap from its name to
                // the next segment.
                expected = Some(expected.map_or(named, |e| e.max(named)));
                std::fs::remove_file(&path)?;
                removed = true;
                recovery.cut_bytes += scan.file_bytes;
                // An empty file is a segment created by a turn that never resolved.
                if last && scan.file_bytes > 0 {
                    recovery.corrupt_records += 1;
                }
            }
        }
    }
    let first = recovery.segments.first().map(|s| s.first_seq);
    recovery.next_seq = expected.unwrap_or(0).max(cursor);
    recovery.acked = cursor.max(first.unwrap_or(cursor)).min(recovery.next_seq);
    removed |= remove_forwarded(&mut recovery)?;
    if removed {
        segment::sync_dir(dir)?;
    }
    Ok(recovery)
}

/// Sequence numbers at or after `seq` that `gaps` says do not exist.
pub fn lost_after(gaps: &[(u64, u64)], seq: u64) -> u64 {
    gaps.iter()
        .map(|(from, to)| to.saturating_sub(*from.max(&seq)))
        .sum()
}

fn survivor(scan: &Scan, first_seq: u64, path: PathBuf) -> Survivor {
    Survivor {
        first_seq,
        end_seq: first_seq + scan.records,
        bytes: scan.valid_bytes,
        path,
    }
}

/// Removes the segments whose every record is before the cursor (a crash between
/// syncing the cursor and removing them leaves such segments behind).
fn remove_forwarded(recovery: &mut Recovery) -> io::Result<bool> {
    let acked = recovery.acked;
    let before = recovery.segments.len();
    let mut kept = Vec::with_capacity(before);
    for segment in recovery.segments.drain(..) {
        if segment.end_seq <= acked {
            std::fs::remove_file(&segment.path)?;
        } else {
            kept.push(segment);
        }
    }
    recovery.segments = kept;
    Ok(recovery.segments.len() != before)
}
