//! Field names → paths: the bracket and dot notation (`a[b][0]`, `a.b.0`,
//! `a[]`) parsed into segments. Shapes and indices are checked against the
//! tree in `build`; this file only reads names.

use std::ops::Range;

use super::MAX_DEPTH;

/// One step of a field's path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Segment {
    /// An object member, named by this byte range of the field name (so
    /// that the tree can borrow the name from the body when it can).
    Key(Range<usize>),
    /// An array item by position.
    Index(usize),
    /// A new array item (`[]`).
    Append,
}

/// Why a name is not a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PathError {
    Malformed,
    TooDeep,
    /// An index that does not even fit in `usize`.
    IndexTooLarge,
}

/// Parses a decoded field name into `segments` (cleared first, so that one
/// vector serves every field). The first segment is always a key.
///
/// Works on bytes: the delimiters are ASCII, and no byte of a non-ASCII
/// character is, so every range found is a range of whole characters.
pub(super) fn parse(name: &str, segments: &mut Vec<Segment>) -> Result<(), PathError> {
    let bytes = name.as_bytes();
    segments.clear();
    // A part ends where the next one starts; a `]` inside a part or as
    // its end (outside brackets) makes the name malformed.
    let first_end = find(bytes, 0, |b| matches!(b, b'[' | b'.' | b']')).unwrap_or(bytes.len());
    if first_end == 0 || bytes.get(first_end) == Some(&b']') {
        return Err(PathError::Malformed);
    }
    segments.push(Segment::Key(0..first_end));
    // Where the rest of the name starts.
    let mut at = first_end;
    while at < bytes.len() {
        if segments.len() == MAX_DEPTH {
            return Err(PathError::TooDeep);
        }
        let part_start = at + 1;
        let segment = if bytes[at] == b'[' {
            // A `[` before the closing `]`, or none, is malformed.
            let close = match find(bytes, part_start, |b| matches!(b, b']' | b'[')) {
                Some(close) if bytes[close] == b']' => close,
                _ => return Err(PathError::Malformed),
            };
            at = close + 1;
            if close == part_start {
                Segment::Append
            } else {
                part_segment(bytes, part_start..close)?
            }
        } else if bytes[at] == b'.' {
            let end =
                find(bytes, part_start, |b| matches!(b, b'[' | b'.' | b']')).unwrap_or(bytes.len());
            if end == part_start || bytes.get(end) == Some(&b']') {
                return Err(PathError::Malformed);
            }
            at = end;
            part_segment(bytes, part_start..end)?
        } else {
            return Err(PathError::Malformed);
        };
        segments.push(segment);
    }
    Ok(())
}

/// Where the first byte at or after `from` that `stop` accepts is.
fn find(bytes: &[u8], from: usize, stop: impl Fn(u8) -> bool) -> Option<usize> {
    bytes[from..]
        .iter()
        .position(|&b| stop(b))
        .map(|at| from + at)
}

/// The part of the name at `range` (not empty): a canonical decimal is an
/// index, anything else a key.
fn part_segment(bytes: &[u8], range: Range<usize>) -> Result<Segment, PathError> {
    let part = &bytes[range.clone()];
    let canonical = part == b"0" || (part[0] != b'0' && part.iter().all(u8::is_ascii_digit));
    if !canonical {
        return Ok(Segment::Key(range));
    }
    part.iter()
        .try_fold(0usize, |index, &digit| {
            index
                .checked_mul(10)?
                .checked_add(usize::from(digit - b'0'))
        })
        .map(Segment::Index)
        .ok_or(PathError::IndexTooLarge)
}
