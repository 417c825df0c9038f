//! Reading synced records in order, for the forwarder.
//!
//! A reader follows the log from a sequence number on, through the segments the writer
//! names in the shared index, and never past the last synced record. Every frame is
//! checked again (checksum and sequence number), so damage that happened after the
//! write is an error here rather than a wrong record on Kafka.

use std::fs::File;
use std::future::Future;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use super::format::{self, DecodeError, FRAME_HEADER_BYTES, FrameHead, SEGMENT_HEADER_BYTES};
use super::{Entry, Shared};

/// One record read: its place, and the entry unless its body does not decode.
#[derive(Debug)]
pub struct Read {
    /// Its sequence number.
    pub seq: u64,
    /// The entry, or why a body with a valid checksum is not one.
    pub entry: Result<Entry, DecodeError>,
}

/// The segment being read.
struct Open {
    first_seq: u64,
    file: File,
    /// Where the frame of `seq` starts.
    offset: u64,
    seq: u64,
}

/// A position in the log.
pub struct Reader {
    shared: Arc<Shared>,
    next: u64,
    open: Option<Open>,
}

impl Reader {
    /// A reader whose first record is `next`.
    pub fn new(shared: Arc<Shared>, next: u64) -> Reader {
        Reader {
            shared,
            next,
            open: None,
        }
    }

    /// The sequence number of the next record to read.
    pub fn next_seq(&self) -> u64 {
        self.next
    }

    /// Resolves once a record is there to read. Holds no borrow of the reader, and
    /// may be dropped at any time.
    pub fn readable(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut durable = self.shared.durable.subscribe();
        let next = self.next;
        async move {
            let _ = durable.wait_for(|d| *d > next).await;
        }
    }

    /// Reads up to `max` synced records. Blocking: run it off the async threads.
    pub fn read(&mut self, max: usize) -> io::Result<Vec<Read>> {
        let durable = *self.shared.durable.borrow();
        let mut out = Vec::new();
        while out.len() < max && self.next < durable {
            if let Some((_, to)) = self
                .shared
                .gaps
                .iter()
                .find(|(f, t)| (*f..*t).contains(&self.next))
            {
                self.next = *to;
                continue;
            }
            let open = self.position()?;
            let (head, body) = read_frame(open)?;
            out.push(Read {
                seq: head.seq,
                entry: format::decode(&body),
            });
            open.offset += head.frame_bytes();
            open.seq += 1;
            self.next += 1;
        }
        Ok(out)
    }

    /// The open segment, positioned at `next`.
    fn position(&mut self) -> io::Result<&mut Open> {
        let located = self
            .shared
            .segments()
            .range(..=self.next)
            .next_back()
            .map(|(first, path)| (*first, path.clone()));
        let Some((first_seq, path)) = located else {
            return Err(damaged(format!("no segment holds record {}", self.next)));
        };
        let reusable = self
            .open
            .as_ref()
            .is_some_and(|o| o.first_seq == first_seq && o.seq <= self.next);
        if !reusable {
            self.open = Some(Open {
                first_seq,
                file: File::open(&path)?,
                offset: SEGMENT_HEADER_BYTES,
                seq: first_seq,
            });
        }
        let next = self.next;
        let open = self
            .open
            .as_mut()
            .ok_or_else(|| damaged("no open segment".into()))?;
        while open.seq < next {
            open.offset += read_head(open)?.frame_bytes();
            open.seq += 1;
        }
        Ok(open)
    }
}

fn read_head(open: &Open) -> io::Result<FrameHead> {
    let mut bytes = [0u8; FRAME_HEADER_BYTES];
    open.file.read_exact_at(&mut bytes, open.offset)?;
    FrameHead::parse(&bytes)
        .filter(|head| head.seq == open.seq)
        .ok_or_else(|| damaged(format!("the frame of record {} is damaged", open.seq)))
}

fn read_frame(open: &Open) -> io::Result<(FrameHead, Vec<u8>)> {
    let head = read_head(open)?;
    let mut body = vec![0u8; head.len as usize];
    open.file
        .read_exact_at(&mut body, open.offset + FRAME_HEADER_BYTES as u64)?;
    if !head.verifies(&body) {
        return Err(damaged(format!("record {} fails its checksum", open.seq)));
    }
    Ok((head, body))
}

fn damaged(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("spool damaged: {what}"))
}
