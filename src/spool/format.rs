//! The bytes on disk: segment headers, checksummed frames, and the encoding of an
//! [`Entry`] inside a frame.
//!
//! A segment file is a 16-byte header (the magic `HBSPOOL`, a format version byte, the
//! segment's first sequence number as u64 little-endian) followed by frames. A frame is
//!
//! ```text
//! len: u32 LE | crc: u32 LE | seq: u64 LE | body: len bytes
//! ```
//!
//! where `crc` is CRC-32C over `len`, `seq` and `body`, so a torn length, a torn body and
//! a frame from another place in the file are all caught. The body is one entry,
//! starting with its own version byte. Everything here is pure: files are the business
//! of `segment`.

use std::borrow::Cow;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use uuid::Uuid;

use super::Entry;
use crate::publish::Record;

/// The magic at the start of every segment, with the format version as its last byte.
pub const SEGMENT_MAGIC: [u8; 8] = *b"HBSPOOL\x01";

/// Bytes of a segment header: the magic and the first sequence number.
pub const SEGMENT_HEADER_BYTES: u64 = 16;

/// Bytes of a frame before its body: length, checksum, sequence number.
pub const FRAME_HEADER_BYTES: usize = 16;

/// The largest body a frame may declare (64 MiB, far above any record hookbridge
/// makes): a longer length is corruption, never an allocation.
pub const MAX_BODY_BYTES: u32 = 64 << 20;

/// The version byte of an encoded entry.
const ENTRY_VERSION: u8 = 1;

/// The header of a segment whose first record is `first_seq`.
pub fn segment_header(first_seq: u64) -> [u8; SEGMENT_HEADER_BYTES as usize] {
    let mut header = [0u8; SEGMENT_HEADER_BYTES as usize];
    header[..8].copy_from_slice(&SEGMENT_MAGIC);
    header[8..].copy_from_slice(&first_seq.to_le_bytes());
    header
}

/// The first sequence number a segment header names, if it is one.
pub fn parse_segment_header(bytes: &[u8]) -> Option<u64> {
    let header = bytes.get(..SEGMENT_HEADER_BYTES as usize)?;
    (header[..8] == SEGMENT_MAGIC).then(|| u64::from_le_bytes(le8(&header[8..])))
}

/// The frame of `body` as record number `seq`.
pub fn frame(seq: u64, body: &[u8]) -> Vec<u8> {
    let len = u32::try_from(body.len()).unwrap_or(u32::MAX);
    let mut out = Vec::with_capacity(FRAME_HEADER_BYTES + body.len());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&checksum(len, seq, body).to_le_bytes());
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(body);
    out
}

fn checksum(len: u32, seq: u64, body: &[u8]) -> u32 {
    let crc = crc32c::crc32c(&len.to_le_bytes());
    let crc = crc32c::crc32c_append(crc, &seq.to_le_bytes());
    crc32c::crc32c_append(crc, body)
}

/// A frame's fixed-size head, before its body is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHead {
    /// Bytes of the body that follows.
    pub len: u32,
    crc: u32,
    /// The record's sequence number.
    pub seq: u64,
}

impl FrameHead {
    /// Reads a head; `None` when the length is beyond [`MAX_BODY_BYTES`].
    pub fn parse(bytes: &[u8; FRAME_HEADER_BYTES]) -> Option<FrameHead> {
        let len = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        let crc = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
        let seq = u64::from_le_bytes(le8(&bytes[8..]));
        (len <= MAX_BODY_BYTES).then_some(FrameHead { len, crc, seq })
    }

    /// Whether `body` is what this head's checksum was computed over.
    pub fn verifies(&self, body: &[u8]) -> bool {
        body.len() == self.len as usize && checksum(self.len, self.seq, body) == self.crc
    }

    /// Bytes of the whole frame.
    pub fn frame_bytes(&self) -> u64 {
        FRAME_HEADER_BYTES as u64 + u64::from(self.len)
    }
}

fn le8(bytes: &[u8]) -> [u8; 8] {
    let mut out = [0u8; 8];
    out.copy_from_slice(&bytes[..8]);
    out
}

/// Why a frame body is not an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// The body ends before a field does.
    Truncated,
    /// An entry version this build does not know.
    UnknownVersion(u8),
    /// A topic, key or header name is not UTF-8.
    NotUtf8,
    /// Bytes remain after the last field.
    TrailingBytes,
}

/// A field longer than the format holds (a topic, dedup key or header name over
/// 64 KiB, more than 65,535 headers, a value over 4 GiB): never a record hookbridge
/// makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLong;

/// Encodes an entry (with its version byte) as a frame body.
pub fn encode(entry: &Entry) -> Result<Vec<u8>, TooLong> {
    let record = &entry.record;
    let (secs, nanos) = match record.timestamp.duration_since(UNIX_EPOCH) {
        Ok(since) => (since.as_secs(), since.subsec_nanos()),
        Err(_) => (0, 0),
    };
    let mut out = Vec::with_capacity(64 + entry.dedup_key.len() + record.value.len());
    out.push(ENTRY_VERSION);
    out.extend_from_slice(&secs.to_le_bytes());
    out.extend_from_slice(&nanos.to_le_bytes());
    out.extend_from_slice(entry.id.as_bytes());
    put_short(&mut out, &entry.dedup_key)?;
    put_short(&mut out, record.topic.as_bytes())?;
    match &record.key {
        Some(key) => {
            out.push(1);
            put_long(&mut out, key.as_bytes())?;
        }
        None => out.push(0),
    }
    put_long(&mut out, &record.value)?;
    let count = u16::try_from(record.headers.len()).map_err(|_| TooLong)?;
    out.extend_from_slice(&count.to_le_bytes());
    for (name, value) in &record.headers {
        put_short(&mut out, name.as_bytes())?;
        put_long(&mut out, value)?;
    }
    Ok(out)
}

fn put_short(out: &mut Vec<u8>, bytes: &[u8]) -> Result<(), TooLong> {
    let len = u16::try_from(bytes.len()).map_err(|_| TooLong)?;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(bytes);
    Ok(())
}

fn put_long(out: &mut Vec<u8>, bytes: &[u8]) -> Result<(), TooLong> {
    let len = u32::try_from(bytes.len()).map_err(|_| TooLong)?;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(bytes);
    Ok(())
}

/// Decodes a frame body written by [`encode`].
pub fn decode(body: &[u8]) -> Result<Entry, DecodeError> {
    let mut input = Input(body);
    let version = input.take(1)?[0];
    if version != ENTRY_VERSION {
        return Err(DecodeError::UnknownVersion(version));
    }
    let secs = u64::from_le_bytes(le8(input.take(8)?));
    let nanos = u32::from_le_bytes(input.array()?);
    let mut id = [0u8; 16];
    id.copy_from_slice(input.take(16)?);
    let dedup_key = input.short()?.to_vec();
    let topic = utf8(input.short()?)?;
    let key = match input.take(1)?[0] {
        0 => None,
        _ => Some(utf8(input.long()?)?),
    };
    let value = input.long()?.to_vec();
    let count = u16::from_le_bytes(input.array()?);
    let mut headers = Vec::with_capacity(usize::from(count));
    for _ in 0..count {
        let name = utf8(input.short()?)?;
        headers.push((Cow::Owned(name), input.long()?.to_vec()));
    }
    if !input.0.is_empty() {
        return Err(DecodeError::TrailingBytes);
    }
    let timestamp = UNIX_EPOCH + Duration::new(secs, nanos.min(999_999_999));
    Ok(Entry {
        id: Uuid::from_bytes(id),
        dedup_key,
        record: Record {
            topic: topic.into(),
            key,
            value: value.into(),
            headers,
            timestamp: timestamp.max(SystemTime::UNIX_EPOCH),
        },
    })
}

fn utf8(bytes: &[u8]) -> Result<String, DecodeError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| DecodeError::NotUtf8)
}

/// The unread rest of a body.
struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.0.len() < n {
            return Err(DecodeError::Truncated);
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn short(&mut self) -> Result<&'a [u8], DecodeError> {
        let len = u16::from_le_bytes(self.array()?);
        self.take(usize::from(len))
    }

    fn long(&mut self) -> Result<&'a [u8], DecodeError> {
        let len = u32::from_le_bytes(self.array()?);
        self.take(len as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn entry(n: u64, value_len: usize) -> Entry {
        Entry {
            id: Uuid::from_u64_pair(n, !n),
            dedup_key: n.to_be_bytes().repeat(4),
            record: Record {
                topic: "everbright.production.site-archived".into(),
                key: (!n.is_multiple_of(3)).then(|| format!("site-{}", n % 5)),
                value: (0..value_len).map(|i| (i as u64 ^ n) as u8).collect(),
                headers: vec![
                    (Cow::Borrowed("ce_id"), n.to_string().into_bytes()),
                    (Cow::Borrowed("x-empty"), Vec::new()),
                ],
                timestamp: UNIX_EPOCH + Duration::new(1_700_000_000 + n, 123_456_789),
            },
        }
    }

    #[test]
    fn an_entry_round_trips_with_every_field() {
        for n in [0, 1, 2, 3] {
            let original = entry(n, 100 * n as usize);
            let decoded = decode(&encode(&original).unwrap()).unwrap();
            assert_eq!(decoded, original);
        }
    }

    #[test]
    fn the_layout_is_pinned() {
        // A change here is a change of the on-disk format: bump ENTRY_VERSION (and keep
        // decoding the old one) or SEGMENT_MAGIC.
        let entry = Entry {
            id: Uuid::from_bytes([7; 16]),
            dedup_key: vec![0xAA],
            record: Record {
                topic: "t".into(),
                key: Some("k".into()),
                value: bytes::Bytes::from_static(b"v"),
                headers: vec![(Cow::Borrowed("h"), b"x".to_vec())],
                timestamp: UNIX_EPOCH + Duration::new(2, 3),
            },
        };
        let body = encode(&entry).unwrap();
        assert_eq!(
            hex::encode(&body),
            concat!(
                "01",
                "0200000000000000",
                "03000000",
                "07070707070707070707070707070707",
                "0100aa",
                "010074",
                "01",
                "010000006b",
                "0100000076",
                "0100",
                "010068",
                "0100000078",
            )
        );
        let frame = frame(5, &body);
        assert_eq!(&frame[..4], &(body.len() as u32).to_le_bytes());
        assert_eq!(&frame[8..16], &5u64.to_le_bytes());
        assert_eq!(
            hex::encode(segment_header(9)),
            concat!("484253504f4f4c01", "0900000000000000")
        );
    }

    #[test]
    fn a_frame_verifies_only_its_own_bytes() {
        let body = encode(&entry(4, 50)).unwrap();
        let frame = frame(4, &body);
        let head = FrameHead::parse(frame[..FRAME_HEADER_BYTES].try_into().unwrap()).unwrap();
        assert_eq!((head.len as usize, head.seq), (body.len(), 4));
        assert!(head.verifies(&frame[FRAME_HEADER_BYTES..]));
        for i in 0..frame.len() {
            let mut flipped = frame.clone();
            flipped[i] ^= 0x01;
            let head = FrameHead::parse(flipped[..FRAME_HEADER_BYTES].try_into().unwrap());
            let verifies = head.is_some_and(|h| {
                flipped
                    .get(FRAME_HEADER_BYTES..FRAME_HEADER_BYTES + h.len as usize)
                    .is_some_and(|b| h.verifies(b))
            });
            assert!(!verifies, "a flip of byte {i} went unnoticed");
        }
    }

    #[test]
    fn an_absurd_length_is_refused_before_any_allocation() {
        let mut head = [0u8; FRAME_HEADER_BYTES];
        head[..4].copy_from_slice(&(MAX_BODY_BYTES + 1).to_le_bytes());
        assert_eq!(FrameHead::parse(&head), None);
    }

    #[test]
    fn bodies_that_are_not_entries_are_named() {
        let body = encode(&entry(1, 10)).unwrap();
        assert_eq!(decode(&body[..body.len() - 1]), Err(DecodeError::Truncated));
        assert_eq!(
            decode(&[body.as_slice(), &[0]].concat()),
            Err(DecodeError::TrailingBytes)
        );
        let mut other = body.clone();
        other[0] = 9;
        assert_eq!(decode(&other), Err(DecodeError::UnknownVersion(9)));
        assert_eq!(decode(&[]), Err(DecodeError::Truncated));
    }

    #[test]
    fn a_segment_header_names_its_first_record() {
        assert_eq!(parse_segment_header(&segment_header(42)), Some(42));
        assert_eq!(parse_segment_header(b"HBSPOOL\x02\0\0\0\0\0\0\0\0"), None);
        assert_eq!(parse_segment_header(b"short"), None);
    }
}
