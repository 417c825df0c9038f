//! The tree that fields are inserted into, in first-appearance order, and
//! the rules for repeats, dense indices and conflicting shapes.

use std::collections::HashMap;

use super::path::Segment;
use crate::tree::Node;

/// Why a field does not fit the tree built so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Conflict {
    /// The path needs an object, array or value where another shape is.
    MixedShape,
    /// An index beyond the array's current length.
    IndexTooLarge,
}

/// One place in the tree.
#[derive(Debug)]
enum Slot {
    /// Just created for a field's value; filled before `insert` returns.
    Vacant,
    Value(Node),
    List(Vec<Slot>),
    Map(Map),
}

/// Object members in first-appearance order, indexed by name so that many
/// distinct names stay linear.
#[derive(Debug, Default)]
struct Map {
    members: Vec<(String, Slot)>,
    index: HashMap<String, usize>,
}

impl Map {
    fn member(&mut self, name: &str, fresh: impl FnOnce() -> Slot) -> &mut Slot {
        let at = match self.index.get(name) {
            Some(&at) => at,
            None => {
                self.index.insert(name.to_owned(), self.members.len());
                self.members.push((name.to_owned(), fresh()));
                self.members.len() - 1
            }
        };
        &mut self.members[at].1
    }
}

/// The document being built; its top level is always an object.
#[derive(Debug, Default)]
pub(super) struct Tree {
    root: Map,
}

impl Tree {
    /// Stores `value` at `path` (non-empty, starting with a key).
    pub(super) fn insert(&mut self, path: &[Segment], value: Node) -> Result<(), Conflict> {
        let Some((Segment::Key(first), rest)) = path.split_first() else {
            return Err(Conflict::MixedShape);
        };
        let mut slot = self.root.member(first, || fresh_for(rest.first()));
        for (i, segment) in rest.iter().enumerate() {
            slot = step(slot, segment, rest.get(i + 1))?;
        }
        assign(slot, value)
    }

    /// The finished JSON value.
    pub(super) fn into_node(self) -> Node {
        map_node(self.root)
    }
}

/// A new slot shaped for the segment that will address into it.
fn fresh_for(next: Option<&Segment>) -> Slot {
    match next {
        None => Slot::Vacant,
        Some(Segment::Key(_)) => Slot::Map(Map::default()),
        Some(Segment::Index(_) | Segment::Append) => Slot::List(Vec::new()),
    }
}

/// Moves from `slot` to its child at `segment`, creating it if needed. A
/// value addressed as an array becomes that array's first item.
fn step<'s>(
    slot: &'s mut Slot,
    segment: &Segment,
    next: Option<&Segment>,
) -> Result<&'s mut Slot, Conflict> {
    if matches!(slot, Slot::Value(_)) && !matches!(segment, Segment::Key(_)) {
        let value = std::mem::replace(slot, Slot::Vacant);
        *slot = Slot::List(vec![value]);
    }
    match (slot, segment) {
        (Slot::Map(map), Segment::Key(name)) => Ok(map.member(name, || fresh_for(next))),
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
fn assign(slot: &mut Slot, value: Node) -> Result<(), Conflict> {
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

/// Recursion follows field names, which `MAX_DEPTH` bounds.
fn slot_node(slot: Slot) -> Node {
    match slot {
        // Unreachable after a successful insert; null is the honest reading.
        Slot::Vacant => Node::Null,
        Slot::Value(node) => node,
        Slot::List(items) => Node::Array(items.into_iter().map(slot_node).collect()),
        Slot::Map(map) => map_node(map),
    }
}

fn map_node(map: Map) -> Node {
    Node::Object(
        map.members
            .into_iter()
            .map(|(name, slot)| (name, slot_node(slot)))
            .collect(),
    )
}
