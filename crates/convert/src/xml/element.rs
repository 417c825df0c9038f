//! The open elements, and the mapping rules that turn each into a JSON
//! value as it closes (rules 1–4 and type inference in the module docs).
//! Parsing and limits live in `parse`, storing and writing values in `flat`;
//! this file only decides shapes.

use std::collections::HashMap;

use super::XmlOptions;
use super::flat::{Flat, Member, Span, ValueId};

/// The element name whose children form an array.
const LIST_ITEM: &str = "list-item";

/// Siblings up to which repeated names are found by comparing each name
/// with the earlier ones, which costs less than hashing them; beyond it a
/// map keeps grouping linear.
const SCAN_SIBLINGS: usize = 16;

/// An open element. Its attributes, converted children and kept runs are
/// the entries of the shared stacks in [`Elements`] from these starts on:
/// an element's children close before it does, so their entries always lie
/// above its own and are gone by the time it closes.
#[derive(Debug)]
struct Open {
    name: Span,
    attributes: usize,
    children: usize,
    runs: usize,
}

/// The elements of one document: the open ones, and the values of those
/// that have closed.
#[derive(Debug)]
pub(super) struct Elements {
    flat: Flat,
    /// Outermost first.
    open: Vec<Open>,
    /// Names (with their `@`) and values of the open elements' attributes.
    attributes: Vec<(Span, Span)>,
    /// Names and values of the open elements' closed children.
    children: Vec<Member>,
    /// The open elements' kept (non-blank) runs, in document order.
    runs: Vec<Span>,
    /// Where the run being read starts in the text. It belongs to the
    /// innermost open element and is always the end of the text: a child
    /// starting ends it, and everything a child pushes precedes the next.
    run_start: usize,
    /// Whether the run being read holds CDATA or a character reference.
    run_is_literal: bool,
    /// The member name `#text`, stored once.
    text_name: Span,
}

impl Elements {
    /// Room for a document of `len` bytes.
    pub(super) fn new(len: usize) -> Self {
        let mut flat = Flat::with_capacity(len);
        let text_name = flat.push_text(&["#text"]);
        Elements {
            run_start: flat.text_end(),
            flat,
            open: Vec::new(),
            attributes: Vec::new(),
            children: Vec::new(),
            runs: Vec::new(),
            run_is_literal: false,
            text_name,
        }
    }

    /// How many elements are open.
    pub(super) fn depth(&self) -> usize {
        self.open.len()
    }

    /// Starts an element named `name` inside the innermost open one.
    pub(super) fn open(&mut self, name: &str) {
        if !self.open.is_empty() {
            self.end_run();
        }
        let name = self.flat.push_text(&[name]);
        self.open.push(Open {
            name,
            attributes: self.attributes.len(),
            children: self.children.len(),
            runs: self.runs.len(),
        });
        self.run_start = self.flat.text_end();
    }

    /// Adds an attribute to the element just opened.
    pub(super) fn add_attribute(&mut self, name: &str, value: &str) {
        let name = self.flat.push_text(&["@", name]);
        let value = self.flat.push_text(&[value]);
        self.attributes.push((name, value));
        self.run_start = self.flat.text_end();
    }

    /// Appends character data that was written as plain text to the
    /// innermost open element.
    pub(super) fn push_text(&mut self, text: &str) {
        self.flat.extend_text(text);
    }

    /// Appends CDATA or a decoded character reference: content that counts
    /// even when it is empty or whitespace.
    pub(super) fn push_literal(&mut self, text: &str) {
        self.flat.extend_text(text);
        self.run_is_literal = true;
    }

    /// Closes the innermost open element and returns its value, which is
    /// also added to its parent's children. `None` if no element is open.
    pub(super) fn close(&mut self, options: &XmlOptions) -> Option<ValueId> {
        let element = self.open.pop()?;
        self.end_run();
        let value = self.value(&element, options);
        self.attributes.truncate(element.attributes);
        self.children.truncate(element.children);
        self.runs.truncate(element.runs);
        if !self.open.is_empty() {
            self.children.push((element.name, value));
        }
        self.run_start = self.flat.text_end();
        Some(value)
    }

    /// The compact JSON text of `value`.
    pub(super) fn to_json(&self, value: ValueId) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.flat.text_end());
        self.flat.write_json(value, &mut out);
        out
    }

    /// Keeps the run being read unless it is blank; called when a child
    /// starts or the element ends.
    fn end_run(&mut self) {
        let run = Span::new(self.run_start..self.flat.text_end());
        if self.run_is_literal || !is_blank(self.flat.text(run)) {
            self.runs.push(run);
        } else {
            self.flat.truncate_text(self.run_start);
        }
        self.run_is_literal = false;
        self.run_start = self.flat.text_end();
    }

    /// The value of `element`, whose entries are still on the stacks.
    fn value(&mut self, element: &Open, options: &XmlOptions) -> ValueId {
        let flat = &mut self.flat;
        let attributes = &self.attributes[element.attributes..];
        let children = &self.children[element.children..];
        let runs = &self.runs[element.runs..];
        let is_list = !children.is_empty()
            && children
                .iter()
                .all(|&(name, _)| flat.text(name) == LIST_ITEM);
        match (attributes.is_empty(), children.is_empty(), runs) {
            (true, true, []) => return flat.null(),
            (true, true, &[run]) => return scalar(flat, run, options),
            (true, false, []) if is_list => {
                return flat.array(children.iter().map(|&(_, value)| value));
            }
            _ => {}
        }
        let object = flat.start_object();
        for &(name, value) in attributes {
            let value = flat.string(value);
            flat.member(name, value);
        }
        let text = match runs {
            [] => None,
            &[run] if children.is_empty() => Some(scalar(flat, run, options)),
            &[run] => Some(flat.string(run)),
            runs => Some(flat.strings(runs)),
        };
        if let Some(text) = text {
            flat.member(self.text_name, text);
        }
        add_grouped(flat, children);
        flat.end_object(object)
    }
}

/// Adds children as members, grouped by name at the place of each name's
/// first occurrence: one occurrence keeps its value, several become an
/// array. Linear in the number of children.
fn add_grouped(flat: &mut Flat, children: &[Member]) {
    let Some(first) = first_of_names(flat, children) else {
        for &(name, value) in children {
            flat.member(name, value);
        }
        return;
    };
    // Chain each name's children in document order: `next[i]` is the next
    // child named as child `i` is, `last[f]` the latest one so far named as
    // child `f`, the first of its name.
    let mut next = vec![None; children.len()];
    let mut last: Vec<usize> = (0..children.len()).collect();
    for (i, &first) in first.iter().enumerate() {
        if first != i {
            next[last[first]] = Some(i);
            last[first] = i;
        }
    }
    for (i, &(name, value)) in children.iter().enumerate() {
        if first[i] != i {
            continue;
        }
        let value = match next[i] {
            None => value,
            Some(_) => {
                flat.array(std::iter::successors(Some(i), |&j| next[j]).map(|j| children[j].1))
            }
        };
        flat.member(name, value);
    }
}

/// For each child, the index of the first child with its name; `None` when
/// all names differ, the usual case, which needs no grouping.
fn first_of_names(flat: &Flat, children: &[Member]) -> Option<Vec<usize>> {
    let name = |i: usize| flat.text(children[i].0);
    if children.len() <= SCAN_SIBLINGS {
        let first = |i: usize| (0..i).find(|&j| name(j) == name(i)).unwrap_or(i);
        let repeats = (1..children.len()).any(|i| first(i) != i);
        return repeats.then(|| (0..children.len()).map(first).collect());
    }
    let mut seen: HashMap<&str, usize> = HashMap::with_capacity(children.len());
    let first: Vec<usize> = (0..children.len())
        .map(|i| *seen.entry(name(i)).or_insert(i))
        .collect();
    let repeats = seen.len() < children.len();
    repeats.then_some(first)
}

/// The JSON value of an element's text, applying type inference if asked.
fn scalar(flat: &mut Flat, run: Span, options: &XmlOptions) -> ValueId {
    if !options.infer_types {
        return flat.string(run);
    }
    let text = flat.text(run);
    if text == "true" || text == "True" {
        flat.bool(true)
    } else if text == "false" || text == "False" {
        flat.bool(false)
    } else if is_json_number(text) {
        flat.number(run)
    } else {
        flat.string(run)
    }
}

/// Whether a run holds only the whitespace XML allows between markup.
pub(super) fn is_blank(text: &str) -> bool {
    text.bytes()
        .all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
}

/// Whether `text` is exactly a JSON number:
/// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
pub(super) fn is_json_number(text: &str) -> bool {
    fn digits(bytes: &[u8]) -> usize {
        bytes.iter().take_while(|b| b.is_ascii_digit()).count()
    }
    let bytes = text.as_bytes();
    let mut at = usize::from(bytes.first() == Some(&b'-'));
    match bytes.get(at) {
        Some(b'0') => at += 1,
        Some(b'1'..=b'9') => at += digits(&bytes[at..]),
        _ => return false,
    }
    if bytes.get(at) == Some(&b'.') {
        let fraction = digits(&bytes[at + 1..]);
        if fraction == 0 {
            return false;
        }
        at += 1 + fraction;
    }
    if matches!(bytes.get(at), Some(b'e' | b'E')) {
        at += 1;
        if matches!(bytes.get(at), Some(b'+' | b'-')) {
            at += 1;
        }
        let exponent = digits(&bytes[at..]);
        if exponent == 0 {
            return false;
        }
        at += exponent;
    }
    at == bytes.len()
}
