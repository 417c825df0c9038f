//! JSON text as both converters write it: compact, members in the order of
//! the source document, strings escaped exactly as `serde_json` escapes them.
//!
//! `serde_json::Value` sorts object members (without its `preserve_order`
//! feature), so the converters write their output themselves, each from its
//! own structure: XML from flat arrays (`xml::flat`), forms from the tree
//! fields are inserted into (`form::build`). What they share is here:
//! [`write_string`], and for tests, [`Node`], the ordered JSON value that
//! expected output is described with. Nothing here parses JSON.

/// A JSON value whose objects keep their members in insertion order: the
/// model property tests generate and compare.
#[cfg(test)]
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    Null,
    Bool(bool),
    /// Digits that match the JSON number grammar, written as they are.
    Number(String),
    String(String),
    /// Valid, compact JSON text written as it is (an embedded form field).
    Raw(String),
    Array(Vec<Node>),
    /// Members in document order; producers guarantee unique names.
    Object(Vec<(String, Node)>),
}

#[cfg(test)]
impl Node {
    /// Appends the compact JSON text of this value to `out`, through
    /// [`write_string`], so that tests of this writer test that one too.
    pub(crate) fn write_json(&self, out: &mut Vec<u8>) {
        match self {
            Node::Null => out.extend_from_slice(b"null"),
            Node::Bool(true) => out.extend_from_slice(b"true"),
            Node::Bool(false) => out.extend_from_slice(b"false"),
            Node::Number(digits) | Node::Raw(digits) => out.extend_from_slice(digits.as_bytes()),
            Node::String(text) => write_string(text, out),
            Node::Array(items) => write_array(items, out, Node::write_json),
            Node::Object(members) => {
                out.push(b'{');
                for (i, (name, value)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write_string(name, out);
                    out.push(b':');
                    value.write_json(out);
                }
                out.push(b'}');
            }
        }
    }

    /// The compact JSON text of this value.
    pub(crate) fn to_json(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_json(&mut out);
        out
    }
}

/// Writes `text` as a JSON string, escaping exactly as `serde_json` does
/// (short escapes where JSON has them, `\u00xx` for other control characters,
/// everything else verbatim), so output is byte-identical to what a
/// `serde_json` round trip of the same value would produce.
pub(crate) fn write_string(text: &str, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let bytes = text.as_bytes();
    // Bytes before `start` are written; runs without escapes are copied
    // whole.
    let mut start = 0;
    for (i, &byte) in bytes.iter().enumerate() {
        let short = ESCAPES[usize::from(byte)];
        if short == 0 {
            continue;
        }
        out.extend_from_slice(&bytes[start..i]);
        if short == b'u' {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(byte >> 4)]);
            out.push(HEX[usize::from(byte & 0xf)]);
        } else {
            out.push(b'\\');
            out.push(short);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Per byte, what follows the `\` of its escape: 0 for none, `u` for
/// `\u00xx`. A table because a lookup per byte costs less than matching
/// each byte against the cases (the same choice `serde_json` makes).
static ESCAPES: [u8; 256] = {
    let mut table = [0; 256];
    let mut byte = 0;
    while byte < 0x20 {
        table[byte] = b'u';
        byte += 1;
    }
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table[b'\n' as usize] = b'n';
    table[b'\r' as usize] = b'r';
    table[b'\t' as usize] = b't';
    table[0x08] = b'b';
    table[0x0c] = b'f';
    table
};

/// An independent writer for expected values in tests: strings and names
/// go through `serde_json`, so a slip in [`write_string`] cannot hide.
#[cfg(test)]
pub(crate) fn reference_json(node: &Node) -> String {
    let string = |text: &str| serde_json::to_string(text).expect("a str always serializes");
    match node {
        Node::Null => "null".to_owned(),
        Node::Bool(value) => value.to_string(),
        Node::Number(text) | Node::Raw(text) => text.clone(),
        Node::String(text) => string(text),
        Node::Array(items) => {
            let items: Vec<String> = items.iter().map(reference_json).collect();
            format!("[{}]", items.join(","))
        }
        Node::Object(members) => {
            let members: Vec<String> = members
                .iter()
                .map(|(name, value)| format!("{}:{}", string(name), reference_json(value)))
                .collect();
            format!("{{{}}}", members.join(","))
        }
    }
}

/// Whether `bytes` are one valid JSON text. Checked as a `RawValue`, not a
/// `serde_json::Value`: with the `raw_value` feature on, `Value` reads an
/// object whose first member is named `$serde_json::private::RawValue` as
/// the JSON inside that member's string, so it would misjudge valid output.
#[cfg(test)]
pub(crate) fn is_json(bytes: &[u8]) -> bool {
    serde_json::from_slice::<&serde_json::value::RawValue>(bytes).is_ok()
}

/// Hostile input for a converter: arbitrary bytes, or a soup of `tokens` that
/// are meaningful to its syntax.
#[cfg(test)]
pub(crate) fn hostile_bytes(
    tokens: Vec<&'static str>,
) -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
    use proptest::prelude::*;
    let token = prop::sample::select(tokens);
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..2048),
        proptest::collection::vec(token, 0..256).prop_map(|tokens| tokens.concat().into_bytes()),
    ]
}

/// Appends `items` as a JSON array, each written by `write`.
pub(crate) fn write_array<T>(items: &[T], out: &mut Vec<u8>, write: impl Fn(&T, &mut Vec<u8>)) {
    out.push(b'[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write(item, out);
    }
    out.push(b']');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_like_serde_json() {
        let samples = [
            "",
            "plain",
            "quote \" backslash \\ slash /",
            "\n\r\t\u{8}\u{c}\u{0}\u{1f}\u{7f}",
            "é ✓ 😀 \u{2028}",
        ];
        for sample in samples {
            let ours = Node::String(sample.to_owned()).to_json();
            let theirs = serde_json::to_vec(sample).expect("a str always serializes");
            assert_eq!(ours, theirs, "{sample:?}");
        }
    }

    #[test]
    fn every_ascii_character_is_escaped_like_serde_json() {
        for c in (0..0x80u8).map(char::from) {
            let sample = format!("a{c}b{c}");
            let ours = Node::String(sample.clone()).to_json();
            let theirs = serde_json::to_vec(&sample).expect("a str always serializes");
            assert_eq!(ours, theirs, "{sample:?}");
        }
    }

    #[test]
    fn objects_keep_member_order() {
        let node = Node::Object(vec![
            ("z".into(), Node::Null),
            ("a".into(), Node::Bool(true)),
            (
                "m".into(),
                Node::Array(vec![
                    Node::Number("-1.50".into()),
                    Node::Raw("{\"b\":1}".into()),
                ]),
            ),
        ]);
        assert_eq!(
            node.to_json(),
            br#"{"z":null,"a":true,"m":[-1.50,{"b":1}]}"#.to_vec()
        );
    }
}
