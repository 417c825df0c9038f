//! Field names → paths: the bracket and dot notation (`a[b][0]`, `a.b.0`,
//! `a[]`) parsed into segments. Shapes and indices are checked against the
//! tree in `build`; this file only reads names.

use super::MAX_DEPTH;

/// One step of a field's path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Segment {
    /// An object member.
    Key(String),
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

/// Parses a decoded field name. The first segment is always a key.
pub(super) fn parse(name: &str) -> Result<Vec<Segment>, PathError> {
    let first_end = name.find(['[', '.']).unwrap_or(name.len());
    let first = &name[..first_end];
    if first.is_empty() || first.contains(']') {
        return Err(PathError::Malformed);
    }
    let mut segments = vec![Segment::Key(first.to_owned())];
    let mut rest = &name[first_end..];
    while !rest.is_empty() {
        if segments.len() == MAX_DEPTH {
            return Err(PathError::TooDeep);
        }
        let segment = if let Some(inner) = rest.strip_prefix('[') {
            let close = inner.find(']').ok_or(PathError::Malformed)?;
            let part = &inner[..close];
            if part.contains('[') {
                return Err(PathError::Malformed);
            }
            rest = &inner[close + 1..];
            if part.is_empty() {
                Segment::Append
            } else {
                part_segment(part)?
            }
        } else if let Some(inner) = rest.strip_prefix('.') {
            let end = inner.find(['[', '.']).unwrap_or(inner.len());
            let part = &inner[..end];
            if part.is_empty() || part.contains(']') {
                return Err(PathError::Malformed);
            }
            rest = &inner[end..];
            part_segment(part)?
        } else {
            return Err(PathError::Malformed);
        };
        segments.push(segment);
    }
    Ok(segments)
}

/// A named part: a canonical decimal is an index, anything else a key.
fn part_segment(part: &str) -> Result<Segment, PathError> {
    let canonical =
        part == "0" || (part.bytes().all(|b| b.is_ascii_digit()) && !part.starts_with('0'));
    if !canonical {
        return Ok(Segment::Key(part.to_owned()));
    }
    part.parse()
        .map(Segment::Index)
        .map_err(|_| PathError::IndexTooLarge)
}
