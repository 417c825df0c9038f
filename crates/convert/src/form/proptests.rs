//! Round trips JSON → form (bracket or dot notation, as encoders write it)
//! → JSON, embedded JSON fields, and hostile input that must neither panic
//! nor stall.
//!
//! What a form carries, and so what is generated: a top-level object (empty
//! included) of strings, non-empty arrays and non-empty objects, nested to
//! any depth within the limits; names are non-empty, free of `[`, `]` and
//! `.`, and not canonical decimals (those are indices below the top level).
//! Values are any strings; with `json_fields` on, strings that would be
//! embedded (a JSON object or array) are not generated as strings, but as
//! JSON, checked separately.

use proptest::collection::vec;
use proptest::prelude::*;

use super::{FormOptions, to_json};
use crate::tree::{Node, hostile_bytes, is_json, reference_json};

/// How arrays whose items are all strings are written.
#[derive(Debug, Clone, Copy)]
enum LeafArrays {
    /// `a[0]=x&a[1]=y`
    Indexed,
    /// `a[]=x&a[]=y`
    Appended,
    /// `a=x&a=y` (indexed when there is only one item)
    Repeated,
}

/// How a body is written.
#[derive(Debug, Clone, Copy)]
struct Style {
    dots: bool,
    leaf_arrays: LeafArrays,
}

fn encode(fields: &Node, style: Style) -> String {
    let mut pairs = Vec::new();
    if let Node::Object(members) = fields {
        for (name, value) in members {
            flatten(name.clone(), value, style, &mut pairs);
        }
    }
    let mut form = form_urlencoded::Serializer::new(String::new());
    for (name, value) in &pairs {
        form.append_pair(name, value);
    }
    form.finish()
}

fn flatten(path: String, value: &Node, style: Style, pairs: &mut Vec<(String, String)>) {
    let child = |part: &str| match style.dots {
        true => format!("{path}.{part}"),
        false => format!("{path}[{part}]"),
    };
    match value {
        Node::String(text) => pairs.push((path.clone(), text.clone())),
        Node::Raw(json) => pairs.push((path.clone(), json.clone())),
        Node::Object(members) => {
            for (name, value) in members {
                flatten(child(name), value, style, pairs);
            }
        }
        Node::Array(items) => {
            let strings = items.iter().all(|i| matches!(i, Node::String(_)));
            for (i, item) in items.iter().enumerate() {
                let name = match (strings, style.leaf_arrays) {
                    (true, LeafArrays::Appended) => format!("{path}[]"),
                    (true, LeafArrays::Repeated) if items.len() > 1 => path.clone(),
                    _ => child(&i.to_string()),
                };
                flatten(name, item, style, pairs);
            }
        }
        Node::Null | Node::Bool(_) | Node::Number(_) => unreachable!("not generated"),
    }
}

fn style() -> impl Strategy<Value = Style> {
    let leaf_arrays = prop_oneof![
        Just(LeafArrays::Indexed),
        Just(LeafArrays::Appended),
        Just(LeafArrays::Repeated)
    ];
    (any::<bool>(), leaf_arrays).prop_map(|(dots, leaf_arrays)| Style { dots, leaf_arrays })
}

fn any_text_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => proptest::char::range(' ', '~'),
        2 => prop::sample::select(vec!['&', '=', '+', '%', ' ', '\n', '{', '[', 'é', '✓', '😀', '\0']),
        1 => any::<char>(),
    ]
}

/// A string that `json_fields` leaves a string.
fn text() -> impl Strategy<Value = String> {
    vec(any_text_char(), 0..12)
        .prop_map(String::from_iter)
        .prop_filter("not embedded JSON", |t| {
            let trimmed = t.trim_start_matches([' ', '\t', '\n', '\r']);
            !(trimmed.starts_with(['{', '['])
                && serde_json::from_str::<serde_json::Value>(trimmed).is_ok())
        })
}

fn name() -> impl Strategy<Value = String> {
    vec(any_text_char(), 1..8)
        .prop_map(String::from_iter)
        .prop_filter("a member name", |n| {
            let decimal =
                n == "0" || (n.bytes().all(|b| b.is_ascii_digit()) && !n.starts_with('0'));
            !decimal && !n.contains(['[', ']', '.'])
        })
}

fn unique(members: Vec<(String, Node)>) -> Vec<(String, Node)> {
    let mut seen = std::collections::HashSet::new();
    members
        .into_iter()
        .filter(|(k, _)| seen.insert(k.clone()))
        .collect()
}

fn nested() -> impl Strategy<Value = Node> {
    text()
        .prop_map(Node::String)
        .prop_recursive(5, 64, 4, |inner| {
            prop_oneof![
                vec(inner.clone(), 1..4).prop_map(Node::Array),
                vec((name(), inner), 1..4).prop_map(|m| Node::Object(unique(m))),
            ]
        })
}

fn document() -> impl Strategy<Value = Node> {
    vec((name(), nested()), 0..5).prop_map(|m| Node::Object(unique(m)))
}

/// JSON objects and arrays of every scalar kind, for embedded fields.
fn embedded() -> impl Strategy<Value = Node> {
    let scalar = prop_oneof![
        Just(Node::Null),
        any::<bool>().prop_map(Node::Bool),
        "-?(0|[1-9][0-9]{0,20})(\\.[0-9]{1,4})?([eE][+-]?[0-9]{1,3})?".prop_map(Node::Number),
        vec(any_text_char(), 0..8).prop_map(|c| Node::String(String::from_iter(c))),
    ];
    let container = |inner: BoxedStrategy<Node>| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Node::Array),
            vec(
                (
                    vec(any_text_char(), 0..4).prop_map(String::from_iter),
                    inner
                ),
                0..4
            )
            .prop_map(|m| Node::Object(unique(m))),
        ]
    };
    container(scalar.prop_recursive(4, 32, 4, container).boxed())
}

fn hostile() -> impl Strategy<Value = Vec<u8>> {
    hostile_bytes(vec![
        "a",
        "b",
        "[",
        "]",
        "[]",
        "[0]",
        "[1]",
        "[x]",
        ".",
        ".0",
        "=",
        "&",
        "%",
        "%5B",
        "%5D",
        "%FF",
        "%C3%A9",
        "%C3",
        "+",
        "{",
        "}",
        "\"",
        ":",
        "0",
        "99999999999999999999999",
        "[true]",
        "é",
    ])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn nested_strings_round_trip(original in document(), style in style(), json_fields: bool) {
        let body = encode(&original, style);
        let json = to_json(body.as_bytes(), &FormOptions { json_fields })
            .map_err(|e| TestCaseError::fail(format!("{e} for {body}")))?;
        prop_assert_eq!(String::from_utf8(json).unwrap(), reference_json(&original), "{}", body);
    }

    #[test]
    fn json_fields_round_trip(embedded in embedded(), name in name(), style in style()) {
        let field = Node::Raw(reference_json(&embedded));
        let original = Node::Object(vec![(name, field)]);
        let body = encode(&original, style);
        let json = to_json(body.as_bytes(), &FormOptions { json_fields: true })
            .map_err(|e| TestCaseError::fail(format!("{e} for {body}")))?;
        prop_assert_eq!(String::from_utf8(json).unwrap(), reference_json(&original), "{}", body);
    }

    #[test]
    fn hostile_input_never_panics(body in hostile(), json_fields: bool) {
        if let Ok(json) = to_json(&body, &FormOptions { json_fields }) {
            prop_assert!(is_json(&json));
        }
    }
}
