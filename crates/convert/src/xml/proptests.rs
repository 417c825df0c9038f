//! Round trips JSON → XML (rendered as Django REST framework's XMLRenderer
//! does) → JSON, and hostile input that must neither panic nor stall.
//!
//! What XML carries, and so what is generated: any JSON value whose object
//! names are XML names other than `list-item` (names starting with `@` are
//! rendered as attributes and hold strings). The comparison is modulo the
//! documented normalisation: an empty array or object comes back as `null`;
//! without type inference booleans come back as `"True"`/`"False"` and
//! numbers as their digits; with it, strings that read as booleans or
//! numbers are not generated, since they come back as those.

use proptest::collection::vec;
use proptest::prelude::*;

use super::element::is_json_number;
use super::{XmlOptions, to_json};
use crate::tree::{Node, hostile_bytes, is_json, reference_json};

/// The document as the XMLRenderer would write it (plus attributes for
/// `@` members, and CDATA / character references where plain text could
/// not say it: empty, blank, or carriage returns).
fn render(value: &Node) -> String {
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    element("root", value, &mut xml);
    xml
}

fn element(name: &str, value: &Node, xml: &mut String) {
    xml.push('<');
    xml.push_str(name);
    if let Node::Object(members) = value {
        for (key, value) in members {
            if let (Some(attribute), Node::String(text)) = (key.strip_prefix('@'), value) {
                xml.push_str(&format!(" {attribute}=\"{}\"", escape_attribute(text)));
            }
        }
    }
    xml.push('>');
    match value {
        Node::Null => {}
        Node::Bool(true) => xml.push_str("True"),
        Node::Bool(false) => xml.push_str("False"),
        Node::Number(digits) => xml.push_str(digits),
        Node::String(text) => xml.push_str(&escape_text(text)),
        Node::Raw(_) => unreachable!("not generated"),
        Node::Array(items) => items
            .iter()
            .for_each(|item| element("list-item", item, xml)),
        Node::Object(members) => members
            .iter()
            .filter(|(key, _)| !key.starts_with('@'))
            .for_each(|(key, value)| element(key, value, xml)),
    }
    xml.push_str("</");
    xml.push_str(name);
    xml.push('>');
}

fn escape_text(text: &str) -> String {
    if text.is_empty() {
        return "<![CDATA[]]>".to_owned();
    }
    let blank = text.chars().all(|c| matches!(c, ' ' | '\t' | '\n' | '\r'));
    text.chars()
        .map(|c| match c {
            '&' => "&amp;".to_owned(),
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '\r' => "&#13;".to_owned(),
            c if blank => format!("&#{};", u32::from(c)),
            c => c.to_string(),
        })
        .collect()
}

fn escape_attribute(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '&' => "&amp;".to_owned(),
            '<' => "&lt;".to_owned(),
            '"' => "&quot;".to_owned(),
            '\t' | '\n' | '\r' => format!("&#{};", u32::from(c)),
            c => c.to_string(),
        })
        .collect()
}

/// What a value comes back as (see the module docs).
fn normalised(value: &Node, infer_types: bool) -> Node {
    match value {
        Node::Array(items) if items.is_empty() => Node::Null,
        Node::Object(members) if members.is_empty() => Node::Null,
        Node::Bool(b) if !infer_types => Node::String(if *b { "True" } else { "False" }.into()),
        Node::Number(digits) if !infer_types => Node::String(digits.clone()),
        Node::Array(items) => {
            Node::Array(items.iter().map(|i| normalised(i, infer_types)).collect())
        }
        Node::Object(members) => Node::Object(
            members
                .iter()
                .map(|(k, v)| (k.clone(), normalised(v, infer_types)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn xml_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => proptest::char::range(' ', '~'),
        2 => prop::sample::select(vec![
            '<', '>', '&', '"', '\'', ']', ' ', '\t', '\n', '\r', 'é', '✓', '😀', '\u{85}', '\u{2028}',
        ]),
        1 => any::<char>().prop_filter("an XML character", |c| {
            matches!(c, '\t' | '\n' | '\r') || (*c >= ' ' && !matches!(c, '\u{FFFE}' | '\u{FFFF}'))
        }),
    ]
}

fn text() -> impl Strategy<Value = String> {
    vec(xml_char(), 0..12).prop_map(String::from_iter)
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z_][a-zA-Z0-9_.-]{0,8}",
        "[a-z]{1,3}:[a-z]{1,3}",
        "[éßж][a-z0-9]{0,3}",
    ]
    .prop_filter("not an array marker", |n| n != "list-item")
}

fn attribute_name() -> impl Strategy<Value = String> {
    name().prop_filter("not a namespace declaration", |n| !n.starts_with("xmlns"))
}

/// Scalars XML can carry: strings always; booleans and numbers too (they
/// come back as strings without inference); with inference, no string that
/// reads as a boolean or number.
fn scalar(infer_types: bool) -> impl Strategy<Value = Node> {
    prop_oneof![
        1 => Just(Node::Null),
        1 => any::<bool>().prop_map(Node::Bool),
        1 => "-?(0|[1-9][0-9]{0,20})(\\.[0-9]{1,4})?([eE][+-]?[0-9]{1,3})?".prop_map(Node::Number),
        5 => text()
            .prop_filter("reads as a string", move |t| {
                !infer_types
                    || !(is_json_number(t) || matches!(t.as_str(), "true" | "True" | "false" | "False"))
            })
            .prop_map(Node::String),
    ]
}

/// Keeps the first of members with the same name.
fn unique(members: Vec<(String, Node)>) -> Vec<(String, Node)> {
    let mut seen = std::collections::HashSet::new();
    members
        .into_iter()
        .filter(|(k, _)| seen.insert(k.clone()))
        .collect()
}

fn value(infer_types: bool) -> impl Strategy<Value = Node> {
    scalar(infer_types).prop_recursive(5, 64, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Node::Array),
            (
                vec((attribute_name(), text()), 0..3),
                vec((name(), inner), 0..4)
            )
                .prop_map(|(attributes, children)| {
                    let attributes = attributes
                        .into_iter()
                        .map(|(k, v)| (format!("@{k}"), Node::String(v)));
                    Node::Object(unique(attributes.chain(children).collect()))
                }),
        ]
    })
}

fn assert_round_trip(original: &Node, infer_types: bool) -> Result<(), TestCaseError> {
    let xml = render(original);
    let json = to_json(xml.as_bytes(), &XmlOptions { infer_types })
        .map_err(|e| TestCaseError::fail(format!("{e} for {xml}")))?;
    let expected = reference_json(&normalised(original, infer_types));
    prop_assert_eq!(String::from_utf8(json).unwrap(), expected, "{}", xml);
    Ok(())
}

/// Any byte soup, and markup-shaped soup that reaches deeper states.
fn hostile() -> impl Strategy<Value = Vec<u8>> {
    hostile_bytes(vec![
        "<a>",
        "</a>",
        "<b x='1' y=\"&amp;\">",
        "</b>",
        "<list-item>",
        "</list-item>",
        "<r/>",
        "&amp;",
        "&#x41;",
        "&#0;",
        "&lol;",
        "&",
        ";",
        "<![CDATA[",
        "]]>",
        "<!--",
        "-->",
        "<?pi x?>",
        "<!DOCTYPE r [<!ENTITY e 'x'>]>",
        "<?xml version='1.0'?>",
        "text",
        " ",
        "\r\n",
        "<",
        ">",
        "\"",
        "=",
        "é",
        "\u{0}",
        "xmlns:a='u'",
        "True",
        "12.5",
    ])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn strings_and_structure_round_trip(original in value(false)) {
        assert_round_trip(&original, false)?;
    }

    #[test]
    fn inferred_scalars_round_trip(original in value(true)) {
        assert_round_trip(&original, true)?;
    }

    #[test]
    fn hostile_input_never_panics(body in hostile(), infer_types: bool) {
        if let Ok(json) = to_json(&body, &XmlOptions { infer_types }) {
            prop_assert!(is_json(&json));
        }
    }
}
