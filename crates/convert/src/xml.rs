//! XML bodies → JSON, for partners whose EverBright credential sends XML.
//!
//! The mapping is aimed at the XML that Python web frameworks emit for
//! dicts and lists (Django REST framework's `XMLRenderer`: a `<root>`
//! document, a dict key per child element, `<list-item>` per list item,
//! `None` as an empty element, booleans as `True`/`False`). It is
//! deterministic, keeps document order and never consults a schema. This
//! module does not fetch anything, expand DTD entities, resolve namespaces or
//! guess at encodings: such input is refused with an [`XmlError`].
//!
//! # Mapping
//!
//! | XML | JSON |
//! |---|---|
//! | `<root><site>abc</site><n>1</n></root>` | `{"site":"abc","n":"1"}` — the document element is unwrapped, whatever its name |
//! | `<root>abc</root>` | `"abc"` |
//! | `<root><a/><b></b><c> </c></root>` | `{"a":null,"b":null,"c":null}` — empty or whitespace-only elements |
//! | `<root><a>1</a><b/><a>2</a></root>` | `{"a":["1","2"],"b":null}` — repeated names group at the first one's place |
//! | `<root><list-item>1</list-item><list-item>2</list-item></root>` | `["1","2"]` |
//! | `<root><tags><list-item>x</list-item></tags></root>` | `{"tags":["x"]}` — one `<list-item>` is still an array |
//! | `<root><a id="7">x</a></root>` | `{"a":{"@id":"7","#text":"x"}}` |
//! | `<root><a id="7"/></root>` | `{"a":{"@id":"7"}}` |
//! | `<root><p>Hi <b>you</b> there</p></root>` | `{"p":{"#text":["Hi "," there"],"b":"you"}}` — mixed content |
//! | `<root><a> x </a><b><![CDATA[ ]]></b><c>&#32;</c></root>` | `{"a":" x ","b":" ","c":" "}` — text is kept verbatim |
//! | `<root><e><![CDATA[]]></e></root>` | `{"e":""}` |
//! | `<root><a>&lt;&#233;&#x263A;</a></root>` | `{"a":"<é☺"}` |
//! | `<r xmlns:e="urn:e"><e:site e:v="1">x</e:site></r>` | `{"e:site":{"@e:v":"1","#text":"x"}}` |
//!
//! The rules, precisely:
//!
//! - **Elements.** An element's value is built from its attributes, its
//!   child elements and its *text runs* (the character data between two
//!   tags; comments and processing instructions are skipped and do not split
//!   a run). A run is *blank* when it consists only of literal spaces, tabs
//!   and line breaks; blank runs are dropped. A run that contains CDATA or a
//!   character reference is never blank, so `<![CDATA[]]>` and `&#32;` spell
//!   the strings `""` and `" "`.
//!   1. Nothing left (no attributes, children or runs) → `null`.
//!   2. Only a run → a string (or, with [`XmlOptions::infer_types`], a
//!      scalar). Text is taken verbatim: no trimming, no whitespace folding;
//!      line breaks are normalised to `\n` as XML requires.
//!   3. Only child elements, all named `list-item` → an array of their
//!      values, in order.
//!   4. Anything else → an object: first `"@name"` per attribute (document
//!      order, values always strings), then `"#text"` if there are runs, then
//!      one member per distinct child name, placed where that name first
//!      occurs. A name that occurs once maps to its value, a name that
//!      occurs several times to an array of the values in document order.
//!      `"#text"` holds the run (inferred as in rule 2) when there are no
//!      child elements; in mixed content it holds the run as a string when
//!      there is one and an array of strings when there are several.
//! - **Names** are kept as written, prefix included (`e:site`); namespaces
//!   are not resolved. `xmlns` and `xmlns:*` attributes are dropped (they are
//!   syntax, not data). Names must be XML names (ASCII letters, digits, `_`,
//!   `:`, `-`, `.`, not starting with a digit, `-` or `.`; non-ASCII accepted
//!   as is), so no element name can collide with `@…` or `#text`.
//! - **References.** The five predefined entities and character references
//!   to any character but U+0000 are decoded; any other entity reference is
//!   refused ([`XmlError::EntityRefused`]). Attribute values are normalised
//!   as XML requires: literal tabs and line breaks become spaces, while
//!   `&#9;`/`&#10;`/`&#13;` keep theirs.
//! - **Type inference** (only with [`XmlOptions::infer_types`]; it applies to
//!   rule 2 and to `"#text"` of elements without child elements, never to
//!   attributes or mixed content): `true`/`True` → `true`, `false`/`False` →
//!   `false`, text matching the JSON number grammar (`-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?`,
//!   so not `007`, `+1`, `1.` or ` 1`) → that number with its exact digits.
//!   `None` and `null` stay strings: frameworks render `None` as an empty
//!   element, so such text was a string at the source.
//! - **Document.** One document element; before and after it only
//!   whitespace, comments and processing instructions. An XML declaration
//!   may open the document; it must declare no encoding but UTF-8, and the
//!   body must be UTF-8 (a UTF-8 byte order mark is skipped). `<!DOCTYPE`
//!   is refused, which rules out external entities and entity expansion.
//!
//! What XML cannot carry: without type inference there are no numbers or
//! booleans (they arrive as strings); an empty array or object and `null` all
//! render as an empty element and come back as `null`; an array of one item
//! under a repeated-name (not `list-item`) layout comes back as a scalar.
//!
//! # Limits
//!
//! Input is read by a streaming parser; nesting is bounded by [`MAX_DEPTH`]
//! and the document's size by [`MAX_ATTRIBUTES`] and [`MAX_NODES`], so work
//! and memory are linear in the body's length and nothing recurses deeper
//! than [`MAX_DEPTH`].
//!
//! ```
//! use hookbridge_convert::xml::{to_json, XmlOptions};
//!
//! let body = b"<?xml version=\"1.0\" encoding=\"utf-8\"?>\n\
//!     <root><site>5a0c</site><active>True</active>\
//!     <tasks><list-item><id>12</id></list-item></tasks></root>";
//! let plain = to_json(body, &XmlOptions { infer_types: false }).unwrap();
//! assert_eq!(plain, br#"{"site":"5a0c","active":"True","tasks":[{"id":"12"}]}"#);
//! let typed = to_json(body, &XmlOptions { infer_types: true }).unwrap();
//! assert_eq!(typed, br#"{"site":"5a0c","active":true,"tasks":[{"id":12}]}"#);
//! ```

use std::fmt;

mod element;
mod flat;
mod parse;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod refusal_tests;
#[cfg(test)]
mod tests;

/// How XML text becomes JSON scalars.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct XmlOptions {
    /// Turn `true`/`True`/`false`/`False` into booleans and text matching the
    /// JSON number grammar into numbers (exact digits). Off: all text is strings.
    pub infer_types: bool,
}

/// Deepest element nesting accepted, the document element being depth 1.
///
/// Each level becomes at most two levels of JSON (an object member holding
/// an array of repeated elements), so output nesting stays far below the
/// 128 levels `serde_json` and most consumers accept, even inside an
/// envelope. EverBright's deepest documented path needs 9.
pub const MAX_DEPTH: usize = 32;

/// Most attributes on one element, `xmlns` declarations included.
pub const MAX_ATTRIBUTES: usize = 64;

/// Most elements plus attributes in one document. Bounds the tree built in
/// memory independently of how compact the markup is (`<a/>` is 4 bytes).
pub const MAX_NODES: usize = 100_000;

/// Why an XML body was not converted. Offsets are byte offsets into the
/// body as received; no variant carries input text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum XmlError {
    /// The body is not UTF-8; `offset` is the first invalid byte.
    InvalidUtf8 {
        /// Byte offset into the body where the problem was found.
        offset: usize,
    },
    /// The XML declaration names an encoding other than UTF-8.
    EncodingRefused {
        /// Byte offset into the body where the problem was found.
        offset: usize,
    },
    /// The document has a `<!DOCTYPE …>`; DTDs are never processed.
    DoctypeRefused {
        /// Byte offset into the body where the problem was found.
        offset: usize,
    },
    /// An entity reference other than `&lt;` `&gt;` `&amp;` `&apos;` `&quot;`.
    EntityRefused {
        /// Byte offset into the body where the problem was found.
        offset: usize,
    },
    /// A character reference that is malformed or names no allowed character.
    InvalidCharRef {
        /// Byte offset into the body where the problem was found.
        offset: usize,
    },
    /// An element or attribute name that is not an XML name.
    InvalidName {
        /// Byte offset into the body where the problem was found.
        offset: usize,
    },
    /// The document is not well-formed; `reason` is a fixed description.
    Syntax {
        /// Byte offset into the body where the problem was found.
        offset: usize,
        /// What is wrong, in fixed words (never quoting input).
        reason: &'static str,
    },
    /// There is no document element (empty body, or only comments).
    MissingRoot,
    /// Text, CDATA, a reference or a second element outside the document element.
    ContentOutsideRoot {
        /// Byte offset into the body where the problem was found.
        offset: usize,
    },
    /// Elements nest deeper than [`MAX_DEPTH`].
    TooDeep {
        /// Byte offset into the body where the problem was found.
        offset: usize,
    },
    /// An element has more than [`MAX_ATTRIBUTES`] attributes.
    TooManyAttributes {
        /// Byte offset into the body where the problem was found.
        offset: usize,
    },
    /// The document has more than [`MAX_NODES`] elements and attributes.
    TooManyNodes {
        /// Byte offset into the body where the problem was found.
        offset: usize,
    },
}

impl fmt::Display for XmlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            XmlError::InvalidUtf8 { offset } => {
                write!(f, "XML body is not valid UTF-8 at byte {offset}")
            }
            XmlError::EncodingRefused { offset } => write!(
                f,
                "XML declaration at byte {offset} names an encoding other than UTF-8"
            ),
            XmlError::DoctypeRefused { offset } => {
                write!(f, "XML document type declaration refused at byte {offset}")
            }
            XmlError::EntityRefused { offset } => write!(
                f,
                "XML entity reference refused at byte {offset}: only the five predefined entities are accepted"
            ),
            XmlError::InvalidCharRef { offset } => {
                write!(f, "invalid XML character reference at byte {offset}")
            }
            XmlError::InvalidName { offset } => {
                write!(f, "invalid XML element or attribute name at byte {offset}")
            }
            XmlError::Syntax { offset, reason } => {
                write!(f, "malformed XML at byte {offset}: {reason}")
            }
            XmlError::MissingRoot => f.write_str("XML document has no document element"),
            XmlError::ContentOutsideRoot { offset } => {
                write!(
                    f,
                    "XML content outside the document element at byte {offset}"
                )
            }
            XmlError::TooDeep { offset } => write!(
                f,
                "XML elements nest deeper than {MAX_DEPTH} levels at byte {offset}"
            ),
            XmlError::TooManyAttributes { offset } => write!(
                f,
                "XML element at byte {offset} has more than {MAX_ATTRIBUTES} attributes"
            ),
            XmlError::TooManyNodes { offset } => write!(
                f,
                "XML document has more than {MAX_NODES} elements and attributes (at byte {offset})"
            ),
        }
    }
}

impl std::error::Error for XmlError {}

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Converts an XML body to compact JSON text (UTF-8), as described in the
/// [module documentation](self).
pub fn to_json(body: &[u8], options: &XmlOptions) -> Result<Vec<u8>, XmlError> {
    let (skipped, rest) = match body.strip_prefix(UTF8_BOM) {
        Some(rest) => (UTF8_BOM.len(), rest),
        None => (0, body),
    };
    let text = std::str::from_utf8(rest).map_err(|e| XmlError::InvalidUtf8 {
        offset: skipped + e.valid_up_to(),
    })?;
    parse::document(text, skipped, options)
}
