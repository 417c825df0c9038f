//! One element's pieces, and the mapping rules that turn them into a JSON
//! value (rules 1–4 and type inference in the module docs). Parsing and
//! limits live in `parse`; this file only decides shapes.

use std::collections::HashMap;

use super::XmlOptions;
use crate::tree::Node;

/// The element name whose children form an array.
const LIST_ITEM: &str = "list-item";

/// An element being read: attributes, converted children and text runs.
#[derive(Debug, Default)]
pub(super) struct Element {
    pub(super) name: String,
    attributes: Vec<(String, String)>,
    children: Vec<(String, Node)>,
    /// Kept (non-blank) runs, in document order.
    runs: Vec<String>,
    /// The run being read.
    run: String,
    /// Whether the run being read holds CDATA or a character reference.
    run_is_literal: bool,
}

impl Element {
    pub(super) fn new(name: String) -> Self {
        Element {
            name,
            ..Element::default()
        }
    }

    pub(super) fn add_attribute(&mut self, name: String, value: String) {
        self.attributes.push((name, value));
    }

    /// Appends character data that was written as plain text.
    pub(super) fn push_text(&mut self, text: &str) {
        self.run.push_str(text);
    }

    /// Appends CDATA or a decoded character reference: content that counts
    /// even when it is empty or whitespace.
    pub(super) fn push_literal(&mut self, text: &str) {
        self.run.push_str(text);
        self.run_is_literal = true;
    }

    /// Closes the current run; called when a child element starts.
    pub(super) fn end_run(&mut self) {
        let run = std::mem::take(&mut self.run);
        if self.run_is_literal || !is_blank(&run) {
            self.runs.push(run);
        }
        self.run_is_literal = false;
    }

    pub(super) fn add_child(&mut self, name: String, value: Node) {
        self.children.push((name, value));
    }

    /// The element's JSON value.
    pub(super) fn into_node(mut self, options: &XmlOptions) -> Node {
        self.end_run();
        let Element {
            attributes,
            children,
            mut runs,
            ..
        } = self;
        let is_list = !children.is_empty() && children.iter().all(|(name, _)| name == LIST_ITEM);
        match (attributes.is_empty(), children.is_empty(), runs.len()) {
            (true, true, 0) => return Node::Null,
            (true, true, 1) => return scalar(runs.swap_remove(0), options),
            (true, false, 0) if is_list => {
                return Node::Array(children.into_iter().map(|(_, node)| node).collect());
            }
            _ => {}
        }
        let mut members: Vec<(String, Node)> = attributes
            .into_iter()
            .map(|(name, value)| (format!("@{name}"), Node::String(value)))
            .collect();
        let text = match runs.len() {
            0 => None,
            1 if children.is_empty() => Some(scalar(runs.swap_remove(0), options)),
            1 => Some(Node::String(runs.swap_remove(0))),
            _ => Some(Node::Array(runs.into_iter().map(Node::String).collect())),
        };
        if let Some(text) = text {
            members.push(("#text".to_owned(), text));
        }
        members.extend(group_by_name(children));
        Node::Object(members)
    }
}

/// Groups children by name at the place of each name's first occurrence:
/// one occurrence keeps its value, several become an array. Uses a map so
/// that many distinct siblings stay linear.
fn group_by_name(children: Vec<(String, Node)>) -> Vec<(String, Node)> {
    let mut groups: Vec<(String, Vec<Node>)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for (name, node) in children {
        match index.get(&name) {
            Some(&at) => groups[at].1.push(node),
            None => {
                index.insert(name.clone(), groups.len());
                groups.push((name, vec![node]));
            }
        }
    }
    groups
        .into_iter()
        .map(|(name, mut nodes)| match nodes.len() {
            1 => (name, nodes.swap_remove(0)),
            _ => (name, Node::Array(nodes)),
        })
        .collect()
}

/// Whether a run holds only the whitespace XML allows between markup.
pub(super) fn is_blank(text: &str) -> bool {
    text.bytes()
        .all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
}

/// The JSON value of an element's text, applying type inference if asked.
fn scalar(text: String, options: &XmlOptions) -> Node {
    if !options.infer_types {
        return Node::String(text);
    }
    match text.as_str() {
        "true" | "True" => Node::Bool(true),
        "false" | "False" => Node::Bool(false),
        _ if is_json_number(&text) => Node::Number(text),
        _ => Node::String(text),
    }
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
