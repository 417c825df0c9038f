//! The tree that fields are inserted into, in first-appearance order, the
//! rules for repeats, dense indices and conflicting shapes, and its JSON
//! writer.

use std::borrow::Cow;
use std::collections::HashMap;
use std::ops::Range;

use super::path::Segment;
use super::value::Leaf;
use crate::tree::write_string;

/// Members up to which a name is looked up by comparing it with each
/// member's, which costs less than hashing it; past this many a map keeps
/// lookups constant, so that many distinct names stay linear.
const SCAN_MEMBERS: usize = 32;

/// Why a field does not fit the tree built so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Conflict {
    /// The path needs an object, array or value where another shape is.
    MixedShape,
    /// An index beyond the array's current length.
    IndexTooLarge,
}

/// One place in the tree. Names and values borrow from the body unless they
/// were decoded.
#[derive(Debug)]
enum Slot<'a> {
    /// Just created for a field's value; filled before `insert` returns.
    Vacant,
    Value(Leaf<'a>),
    List(Vec<Slot<'a>>),
    Map(Map<'a>),
}

/// Object members in first-appearance order.
#[derive(Debug, Default)]
struct Map<'a> {
    members: Vec<(Cow<'a, str>, Slot<'a>)>,
    /// Member positions by name, kept once there are more than
    /// [`SCAN_MEMBERS`] members.
    index: HashMap<Cow<'a, str>, usize>,
}

impl<'a> Map<'a> {
    /// The member named by `range` of the field name `field`, created by
    /// `fresh` if there is none.
    fn member(
        &mut self,
        field: &Cow<'a, str>,
        range: &Range<usize>,
        fresh: impl FnOnce() -> Slot<'a>,
    ) -> &mut Slot<'a> {
        let name = &field[range.clone()];
        let found = if self.members.len() <= SCAN_MEMBERS {
            self.members.iter().position(|(member, _)| member == name)
        } else {
            self.index.get(name).copied()
        };
        let at = match found {
            Some(at) => at,
            None => {
                // Borrowed from the body when the field name is, copied
                // when it had to be decoded.
                let name = match field {
                    Cow::Borrowed(field) => Cow::Borrowed(&field[range.clone()]),
                    Cow::Owned(_) => Cow::Owned(name.to_owned()),
                };
                self.members.push((name, fresh()));
                if self.members.len() > SCAN_MEMBERS {
                    self.index_from(self.index.len());
                }
                self.members.len() - 1
            }
        };
        &mut self.members[at].1
    }

    /// Adds members from `start` on to the index.
    fn index_from(&mut self, start: usize) {
        for (at, (name, _)) in self.members.iter().enumerate().skip(start) {
            self.index.insert(name.clone(), at);
        }
    }

    /// Recursion follows field names, which `MAX_DEPTH` bounds.
    fn write_json(&self, out: &mut Vec<u8>) {
        out.push(b'{');
        for (i, (name, slot)) in self.members.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_string(name, out);
            out.push(b':');
            slot.write_json(out);
        }
        out.push(b'}');
    }
}

impl Slot<'_> {
    fn write_json(&self, out: &mut Vec<u8>) {
        match self {
            // Unreachable after a successful insert; null is the honest reading.
            Slot::Vacant => out.extend_from_slice(b"null"),
            Slot::Value(leaf) => leaf.write_json(out),
            Slot::List(items) => {
                crate::tree::write_array(items, out, |item, out| item.write_json(out))
            }
            Slot::Map(map) => map.write_json(out),
        }
    }
}

/// The document being built; its top level is always an object.
#[derive(Debug, Default)]
pub(super) struct Tree<'a> {
    root: Map<'a>,
}

impl<'a> Tree<'a> {
    /// Stores `value` at `path` (non-empty, starting with a key), which was
    /// parsed from the field name `name`.
    #[expect(
        clippy::ptr_arg,
        reason = "whether the name is borrowed decides whether members can borrow it"
    )]
    pub(super) fn insert(
        &mut self,
        name: &Cow<'a, str>,
        path: &[Segment],
        value: Leaf<'a>,
    ) -> Result<(), Conflict> {
        let Some((Segment::Key(first), rest)) = path.split_first() else {
            return Err(Conflict::MixedShape);
        };
        let mut slot = self.root.member(name, first, || fresh_for(rest.first()));
        for (i, segment) in rest.iter().enumerate() {
            slot = step(slot, name, segment, rest.get(i + 1))?;
        }
        assign(slot, value)
    }

    /// Appends the compact JSON text of the document to `out`.
    pub(super) fn write_json(&self, out: &mut Vec<u8>) {
        self.root.write_json(out);
    }
}

/// A new slot shaped for the segment that will address into it.
fn fresh_for<'a>(next: Option<&Segment>) -> Slot<'a> {
    match next {
        None => Slot::Vacant,
        Some(Segment::Key(_)) => Slot::Map(Map::default()),
        Some(Segment::Index(_) | Segment::Append) => Slot::List(Vec::new()),
    }
}

/// Moves from `slot` to its child at `segment`, creating it if needed. A
/// value addressed as an array becomes that array's first item.
fn step<'s, 'a>(
    slot: &'s mut Slot<'a>,
    name: &Cow<'a, str>,
    segment: &Segment,
    next: Option<&Segment>,
) -> Result<&'s mut Slot<'a>, Conflict> {
    if matches!(slot, Slot::Value(_)) && !matches!(segment, Segment::Key(_)) {
        let value = std::mem::replace(slot, Slot::Vacant);
        *slot = Slot::List(vec![value]);
    }
    match (slot, segment) {
        (Slot::Map(map), Segment::Key(range)) => Ok(map.member(name, range, || fresh_for(next))),
        (Slot::List(items), Segment::Index(index)) => {
            let index = *index;
            if index > items.len() {
                return Err(Conflict::IndexTooLarge);
            }
            if index == items.len() {
                items.push(fresh_for(next));
            }
            Ok(&mut items[index])
        }
        (Slot::List(items), Segment::Append) => {
            items.push(fresh_for(next));
            let last = items.len() - 1;
            Ok(&mut items[last])
        }
        _ => Err(Conflict::MixedShape),
    }
}

/// Puts a field's value in its slot: sets it, or collects repeats.
fn assign<'a>(slot: &mut Slot<'a>, value: Leaf<'a>) -> Result<(), Conflict> {
    match slot {
        Slot::Vacant => *slot = Slot::Value(value),
        Slot::Value(_) => {
            let earlier = std::mem::replace(slot, Slot::Vacant);
            *slot = Slot::List(vec![earlier, Slot::Value(value)]);
        }
        Slot::List(items) => items.push(Slot::Value(value)),
        Slot::Map(_) => return Err(Conflict::MixedShape),
    }
    Ok(())
}
