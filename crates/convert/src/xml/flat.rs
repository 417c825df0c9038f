//! The converted document as a few flat arrays, and its JSON writer.
//!
//! Values refer to their text, items and members by index ranges instead of
//! owning them, so converting a document appends to a handful of growing
//! vectors rather than allocating (and later freeing) a string or vector per
//! element. Each value is pushed once, when its element closes, and written
//! once at the end, so work and memory stay linear in the body's length.
//! Shapes are decided in `element`; this file only stores and writes them.

use std::ops::Range;

use crate::tree::write_string;

/// A range into one of [`Flat`]'s arrays; `Copy`, unlike `Range`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Span {
    start: usize,
    end: usize,
}

impl Span {
    pub(super) fn new(range: Range<usize>) -> Self {
        Span {
            start: range.start,
            end: range.end,
        }
    }

    fn range(self) -> Range<usize> {
        self.start..self.end
    }
}

/// A JSON value; spans index [`Flat::text`], [`Flat::items`] or
/// [`Flat::members`] as each variant says.
#[derive(Debug, Clone, Copy)]
enum Value {
    Null,
    Bool(bool),
    /// Text that matches the JSON number grammar, written as it is.
    Number(Span),
    String(Span),
    /// Items in [`Flat::items`].
    Array(Span),
    /// Members in [`Flat::members`].
    Object(Span),
}

/// An index into [`Flat`]'s values.
pub(super) type ValueId = usize;

/// One object member: its name in [`Flat::text`] and its value.
pub(super) type Member = (Span, ValueId);

/// Every value of one document, and the text they refer to.
#[derive(Debug, Default)]
pub(super) struct Flat {
    /// Names (attribute names with their `@`), attribute values and text
    /// runs, each pushed once and never moved.
    text: String,
    values: Vec<Value>,
    items: Vec<ValueId>,
    members: Vec<Member>,
}

impl Flat {
    /// Storage sized for a document of `len` bytes, so that a typical one
    /// does not grow its vectors more than once or twice. Beyond 1 MiB the
    /// vectors grow as they fill instead: a huge body may well be refused
    /// a few bytes in.
    pub(super) fn with_capacity(len: usize) -> Self {
        let len = len.min(1 << 20);
        Flat {
            text: String::with_capacity(len / 2),
            values: Vec::with_capacity(len / 32),
            items: Vec::with_capacity(len / 128),
            members: Vec::with_capacity(len / 32),
        }
    }

    /// Appends `pieces` as one text and returns its span.
    pub(super) fn push_text(&mut self, pieces: &[&str]) -> Span {
        let start = self.text.len();
        for piece in pieces {
            self.text.push_str(piece);
        }
        Span::new(start..self.text.len())
    }

    /// Appends to the text being read (a run spans several events).
    pub(super) fn extend_text(&mut self, piece: &str) {
        self.text.push_str(piece);
    }

    /// The end of the text so far: where the next run starts.
    pub(super) fn text_end(&self) -> usize {
        self.text.len()
    }

    /// Drops text pushed since `start` (a blank run) so it is not kept.
    pub(super) fn truncate_text(&mut self, start: usize) {
        self.text.truncate(start);
    }

    pub(super) fn text(&self, span: Span) -> &str {
        &self.text[span.range()]
    }

    pub(super) fn null(&mut self) -> ValueId {
        self.push(Value::Null)
    }

    pub(super) fn bool(&mut self, value: bool) -> ValueId {
        self.push(Value::Bool(value))
    }

    /// `text` must match the JSON number grammar.
    pub(super) fn number(&mut self, text: Span) -> ValueId {
        self.push(Value::Number(text))
    }

    pub(super) fn string(&mut self, text: Span) -> ValueId {
        self.push(Value::String(text))
    }

    /// An array of the strings at `texts`.
    pub(super) fn strings(&mut self, texts: &[Span]) -> ValueId {
        let first = self.values.len();
        self.values
            .extend(texts.iter().map(|&text| Value::String(text)));
        self.array(first..self.values.len())
    }

    pub(super) fn array(&mut self, items: impl IntoIterator<Item = ValueId>) -> ValueId {
        let start = self.items.len();
        self.items.extend(items);
        let span = Span::new(start..self.items.len());
        self.push(Value::Array(span))
    }

    /// Starts an object: the members pushed with [`Flat::member`] until
    /// [`Flat::end_object`] are its members. Pushing values in between is
    /// fine; starting another object is not.
    pub(super) fn start_object(&self) -> usize {
        self.members.len()
    }

    pub(super) fn member(&mut self, name: Span, value: ValueId) {
        self.members.push((name, value));
    }

    pub(super) fn end_object(&mut self, start: usize) -> ValueId {
        let span = Span::new(start..self.members.len());
        self.push(Value::Object(span))
    }

    fn push(&mut self, value: Value) -> ValueId {
        self.values.push(value);
        self.values.len() - 1
    }

    /// Appends the compact JSON text of `value` to `out`.
    ///
    /// Recursion follows the output's nesting: at most two levels per
    /// element level (an array of repeated elements inside an object), so
    /// at most twice the parser's `MAX_DEPTH`.
    pub(super) fn write_json(&self, value: ValueId, out: &mut Vec<u8>) {
        match self.values[value] {
            Value::Null => out.extend_from_slice(b"null"),
            Value::Bool(true) => out.extend_from_slice(b"true"),
            Value::Bool(false) => out.extend_from_slice(b"false"),
            Value::Number(text) => out.extend_from_slice(self.text(text).as_bytes()),
            Value::String(text) => write_string(self.text(text), out),
            Value::Array(items) => {
                out.push(b'[');
                for (i, &item) in self.items[items.range()].iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    self.write_json(item, out);
                }
                out.push(b']');
            }
            Value::Object(members) => {
                out.push(b'{');
                for (i, &(name, value)) in self.members[members.range()].iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write_string(self.text(name), out);
                    out.push(b':');
                    self.write_json(value, out);
                }
                out.push(b'}');
            }
        }
    }
}
