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
pub(super) fn parse(name: &str, segments: &mut Vec<Segment>) -> Result<(), PathError> {
    segments.clear();
    let first_end = name.find(['[', '.']).unwrap_or(name.len());
    let first = &name[..first_end];
    if first.is_empty() || first.contains(']') {
        return Err(PathError::Malformed);
    }
    segments.push(Segment::Key(0..first_end));
    // Where the rest of the name starts.
    let mut at = first_end;
    while at < name.len() {
        if segments.len() == MAX_DEPTH {
            return Err(PathError::TooDeep);
        }
        let rest = &name[at..];
        let segment = if let Some(inner) = rest.strip_prefix('[') {
            let close = inner.find(']').ok_or(PathError::Malformed)?;
            if inner[..close].contains('[') {
                return Err(PathError::Malformed);
            }
            let part = at + 1..at + 1 + close;
            at = part.end + 1;
            if part.is_empty() {
                Segment::Append
            } else {
                part_segment(name, part)?
            }
        } else if let Some(inner) = rest.strip_prefix('.') {
            let end = inner.find(['[', '.']).unwrap_or(inner.len());
            if end == 0 || inner[..end].contains(']') {
                return Err(PathError::Malformed);
            }
            let part = at + 1..at + 1 + end;
            at = part.end;
            part_segment(name, part)?
        } else {
            return Err(PathError::Malformed);
        };
        segments.push(segment);
    }
    Ok(())
}

/// The part of `name` at `range`: a canonical decimal is an index,
/// anything else a key.
fn part_segment(name: &str, range: Range<usize>) -> Result<Segment, PathError> {
    let part = &name[range.clone()];
    let canonical =
        part == "0" || (part.bytes().all(|b| b.is_ascii_digit()) && !part.starts_with('0'));
    if !canonical {
        return Ok(Segment::Key(range));
    }
    part.parse()
        .map(Segment::Index)
        .map_err(|_| PathError::IndexTooLarge)
}
