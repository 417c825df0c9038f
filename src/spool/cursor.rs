//! The acknowledgement cursor: the sequence number of the first record not yet
//! forwarded, kept in the file `acked` so that a restart resumes where the acks
//! stopped.
//!
//! The file holds two 32-byte slots, written alternately in place, each
//! `magic: u32 | generation: u64 | cursor: u64 | crc: u32 | zero: u64` (little-endian,
//! CRC-32C over the first 20 bytes). A write touches one slot and is followed by one
//! `fdatasync`; a write torn by a crash spoils only that slot, and the other one still
//! holds the previous cursor. Opening takes the valid slot with the higher generation.
//! A lost or stale cursor only repeats records (delivery from the spool is at least
//! once); it never skips one, because a segment is deleted only after a cursor past
//! its last record was synced.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// The file name of the cursor in the spool directory.
pub const FILE_NAME: &str = "acked";

const SLOT_BYTES: usize = 32;
const MAGIC: u32 = 0x4842_4143; // "HBAC"

/// The open cursor file.
#[derive(Debug)]
pub struct Cursor {
    file: File,
    generation: u64,
    /// The cursor as last synced.
    synced: u64,
}

impl Cursor {
    /// Opens (or creates) the cursor file in `dir` and reads the last synced cursor
    /// (0 for a new or unreadable file). Whether the file was created is returned so
    /// that the caller syncs the directory.
    pub fn open(dir: &Path) -> io::Result<(Cursor, bool)> {
        let path = dir.join(FILE_NAME);
        let created = !path.exists();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)?;
        let mut bytes = [0u8; 2 * SLOT_BYTES];
        let read = read_up_to(&file, &mut bytes)?;
        let best = [0, 1]
            .into_iter()
            .filter(|slot| (slot + 1) * SLOT_BYTES <= read)
            .filter_map(|slot| parse_slot(&bytes[slot * SLOT_BYTES..(slot + 1) * SLOT_BYTES]))
            .max_by_key(|(generation, _)| *generation);
        let (generation, synced) = best.unwrap_or((0, 0));
        Ok((
            Cursor {
                file,
                generation,
                synced,
            },
            created,
        ))
    }

    /// The cursor as last synced.
    pub fn synced(&self) -> u64 {
        self.synced
    }

    /// Writes `cursor` into the older slot and syncs it.
    pub fn store(&mut self, cursor: u64) -> io::Result<()> {
        let generation = self.generation + 1;
        let slot = (generation % 2) as usize;
        self.file
            .write_all_at(&slot_bytes(generation, cursor), (slot * SLOT_BYTES) as u64)?;
        self.file.sync_data()?;
        self.generation = generation;
        self.synced = cursor;
        Ok(())
    }
}

fn slot_bytes(generation: u64, cursor: u64) -> [u8; SLOT_BYTES] {
    let mut slot = [0u8; SLOT_BYTES];
    slot[..4].copy_from_slice(&MAGIC.to_le_bytes());
    slot[4..12].copy_from_slice(&generation.to_le_bytes());
    slot[12..20].copy_from_slice(&cursor.to_le_bytes());
    let crc = crc32c::crc32c(&slot[..20]);
    slot[20..24].copy_from_slice(&crc.to_le_bytes());
    slot
}

fn parse_slot(slot: &[u8]) -> Option<(u64, u64)> {
    let word = |range: std::ops::Range<usize>| {
        let mut out = [0u8; 8];
        out[..range.len()].copy_from_slice(&slot[range]);
        u64::from_le_bytes(out)
    };
    let valid =
        word(0..4) == u64::from(MAGIC) && word(20..24) == u64::from(crc32c::crc32c(&slot[..20]));
    valid.then(|| (word(4..12), word(12..20)))
}

/// Reads from the start of `file` into `buf` until it is full or the file ends.
fn read_up_to(file: &File, buf: &mut [u8]) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match file.read_at(&mut buf[done..], done as u64)? {
            0 => break,
            n => done += n,
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_file_starts_at_zero_and_keeps_what_was_stored() {
        let dir = tempfile::tempdir().unwrap();
        let (mut cursor, created) = Cursor::open(dir.path()).unwrap();
        assert!(created);
        assert_eq!(cursor.synced(), 0);
        for n in [5, 9, 12] {
            cursor.store(n).unwrap();
        }
        drop(cursor);
        let (cursor, created) = Cursor::open(dir.path()).unwrap();
        assert!(!created);
        assert_eq!(cursor.synced(), 12);
    }

    #[test]
    fn a_torn_slot_falls_back_to_the_previous_cursor() {
        let dir = tempfile::tempdir().unwrap();
        let (mut cursor, _) = Cursor::open(dir.path()).unwrap();
        cursor.store(7).unwrap();
        cursor.store(8).unwrap();
        drop(cursor);
        // Generation 2 went to slot 0: spoil it as a torn write would.
        let path = dir.path().join(FILE_NAME);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[14] ^= 0xFF;
        std::fs::write(&path, &bytes).unwrap();
        let (mut cursor, _) = Cursor::open(dir.path()).unwrap();
        assert_eq!(cursor.synced(), 7);
        // Writing on continues from the surviving generation, into the spoiled slot.
        cursor.store(9).unwrap();
        drop(cursor);
        assert_eq!(Cursor::open(dir.path()).unwrap().0.synced(), 9);
    }

    #[test]
    fn a_short_file_is_a_cursor_at_zero() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE_NAME), b"HBAC").unwrap();
        assert_eq!(Cursor::open(dir.path()).unwrap().0.synced(), 0);
    }
}
