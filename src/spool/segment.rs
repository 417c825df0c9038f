//! Segment files: their names, their creation, and the scan that finds where the valid
//! frames of one end.
//!
//! A segment is named after its first record, `{first_seq:020}.seg`, so a directory
//! listing sorted by name is the log in order. It is created with its header written
//! and synced, and the directory synced, before any record goes into it, so a segment
//! that exists after a crash always has its header (unless the disk lied).

use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use super::format::{self, FRAME_HEADER_BYTES, FrameHead, SEGMENT_HEADER_BYTES};

const EXTENSION: &str = "seg";

/// The path of the segment whose first record is `first_seq`.
pub fn path(dir: &Path, first_seq: u64) -> PathBuf {
    dir.join(format!("{first_seq:020}.{EXTENSION}"))
}

/// The segments in `dir`, as (first sequence number by name, path), oldest first.
/// Other files (the lock, the cursor) are not segments.
pub fn list(dir: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let first = path
            .extension()
            .filter(|e| *e == EXTENSION)
            .and(path.file_stem())
            .and_then(|stem| stem.to_str())
            .and_then(|stem| stem.parse::<u64>().ok());
        if let Some(first) = first {
            out.push((first, path));
        }
    }
    out.sort_unstable_by_key(|(first, _)| *first);
    Ok(out)
}

/// Creates the segment for `first_seq` with its header, synced; the caller syncs the
/// directory. Opened for appending.
pub fn create(dir: &Path, first_seq: u64) -> io::Result<File> {
    let mut file = OpenOptions::new()
        .append(true)
        .create_new(true)
        .open(path(dir, first_seq))?;
    file.write_all(&format::segment_header(first_seq))?;
    file.sync_data()?;
    Ok(file)
}

/// Syncs the directory itself, so that created and removed files are durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// What a scan of one segment found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scan {
    /// The first sequence number its header names; `None` when the header is missing
    /// or not a spool header.
    pub first_seq: Option<u64>,
    /// Valid frames, numbered on from `first_seq` without a gap.
    pub records: u64,
    /// Bytes of the header and the valid frames: where the valid part ends.
    pub valid_bytes: u64,
    /// Bytes of the file.
    pub file_bytes: u64,
}

impl Scan {
    /// Whether bytes follow the last valid frame (a torn or corrupt tail).
    pub fn damaged(&self) -> bool {
        self.valid_bytes < self.file_bytes
    }
}

/// Reads a segment frame by frame, checking each checksum and sequence number, up to
/// the end of the file or the first frame that fails.
pub fn scan(path: &Path) -> io::Result<Scan> {
    let file = File::open(path)?;
    let file_bytes = file.metadata()?.len();
    let mut input = BufReader::with_capacity(256 * 1024, file);
    let mut header = [0u8; SEGMENT_HEADER_BYTES as usize];
    let mut scan = Scan {
        first_seq: None,
        records: 0,
        valid_bytes: 0,
        file_bytes,
    };
    if !read_full(&mut input, &mut header)? {
        return Ok(scan);
    }
    let Some(first_seq) = format::parse_segment_header(&header) else {
        return Ok(scan);
    };
    scan.first_seq = Some(first_seq);
    scan.valid_bytes = SEGMENT_HEADER_BYTES;
    let mut body = Vec::new();
    while let Some(head) = next_head(&mut input, file_bytes - scan.valid_bytes)? {
        if head.seq != first_seq + scan.records {
            break;
        }
        body.resize(head.len as usize, 0);
        if !read_full(&mut input, &mut body)? || !head.verifies(&body) {
            break;
        }
        scan.records += 1;
        scan.valid_bytes += head.frame_bytes();
    }
    Ok(scan)
}

/// The next frame head, if a whole one is there and its body fits in `remaining`.
fn next_head(input: &mut impl Read, remaining: u64) -> io::Result<Option<FrameHead>> {
    let mut bytes = [0u8; FRAME_HEADER_BYTES];
    if !read_full(input, &mut bytes)? {
        return Ok(None);
    }
    Ok(FrameHead::parse(&bytes).filter(|head| head.frame_bytes() <= remaining))
}

/// Fills `buf`; `false` when the input ends first.
pub fn read_full(input: &mut impl Read, buf: &mut [u8]) -> io::Result<bool> {
    match input.read_exact(buf) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(e),
    }
}

/// Cuts the segment at `len` bytes and syncs it.
pub fn truncate(path: &Path, len: u64) -> io::Result<()> {
    let file = OpenOptions::new().write(true).open(path)?;
    file.set_len(len)?;
    file.sync_data()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_segment(dir: &Path, first: u64, bodies: &[&[u8]]) -> PathBuf {
        let mut file = create(dir, first).unwrap();
        for (i, body) in bodies.iter().enumerate() {
            file.write_all(&format::frame(first + i as u64, body))
                .unwrap();
        }
        path(dir, first)
    }

    #[test]
    fn names_sort_as_the_log_and_other_files_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        for first in [10, 9, 100] {
            create(dir.path(), first).unwrap();
        }
        std::fs::write(dir.path().join("acked"), b"").unwrap();
        std::fs::write(dir.path().join("lock"), b"").unwrap();
        let firsts: Vec<u64> = list(dir.path())
            .unwrap()
            .into_iter()
            .map(|(f, _)| f)
            .collect();
        assert_eq!(firsts, [9, 10, 100]);
    }

    #[test]
    fn a_clean_segment_scans_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_segment(dir.path(), 5, &[b"a", b"bb", b""]);
        let scan = scan(&path).unwrap();
        assert_eq!((scan.first_seq, scan.records), (Some(5), 3));
        assert!(!scan.damaged());
    }

    #[test]
    fn a_frame_out_of_sequence_ends_the_valid_part() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_segment(dir.path(), 5, &[b"a"]);
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        // A valid frame, but numbered as if one were missing.
        file.write_all(&format::frame(7, b"c")).unwrap();
        let scan = scan(&path).unwrap();
        assert_eq!(scan.records, 1);
        assert!(scan.damaged());
    }

    #[test]
    fn a_missing_header_is_no_segment() {
        let dir = tempfile::tempdir().unwrap();
        let path = path(dir.path(), 3);
        std::fs::write(&path, b"HBSP").unwrap();
        assert_eq!(scan(&path).unwrap().first_seq, None);
        std::fs::write(&path, [0u8; 40]).unwrap();
        assert_eq!(scan(&path).unwrap().first_seq, None);
    }
}
