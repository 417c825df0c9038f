//! The streaming pass over quick-xml events: enforces the document rules and
//! limits, and folds each element into its JSON value as soon as it closes,
//! so only the open elements (at most [`MAX_DEPTH`]) are held as frames.
//! Shapes are decided in `element`.

use std::borrow::Cow;

use quick_xml::XmlVersion;
use quick_xml::errors::{Error, IllFormedError, SyntaxError};
use quick_xml::escape::EscapeError;
use quick_xml::events::attributes::Attribute;
use quick_xml::events::{BytesDecl, BytesRef, BytesStart, Event};
use quick_xml::reader::Reader;

use super::element::{Elements, is_blank};
use super::flat::ValueId;
use super::{MAX_ATTRIBUTES, MAX_DEPTH, MAX_NODES, XmlError, XmlOptions};

/// Converts a whole document; `base` is the number of bytes (a BOM) that
/// precede `text` in the body, so offsets refer to the body as received.
pub(super) fn document(text: &str, base: usize, options: &XmlOptions) -> Result<Vec<u8>, XmlError> {
    let mut reader = Reader::from_str(text);
    let config = reader.config_mut();
    config.trim_text(false);
    config.expand_empty_elements = false;
    config.check_end_names = true;
    config.allow_unmatched_ends = false;
    config.allow_dangling_amp = false;

    let mut doc = Document {
        base,
        options,
        elements: Elements::new(text.len()),
        root: None,
        nodes: 0,
    };
    loop {
        let offset = base + position(reader.buffer_position());
        let event = reader.read_event().map_err(|error| XmlError::Syntax {
            offset: base + position(reader.error_position()),
            reason: reason(&error),
        })?;
        match event {
            Event::Decl(decl) => doc.declaration(&decl, offset)?,
            Event::DocType(_) => return Err(XmlError::DoctypeRefused { offset }),
            Event::Comment(_) | Event::PI(_) => {}
            Event::Start(start) => doc.open(&start, offset)?,
            Event::Empty(start) => {
                doc.open(&start, offset)?;
                doc.close(offset)?;
            }
            Event::End(_) => doc.close(offset)?,
            Event::Text(text) => match doc.elements.depth() {
                0 if is_blank(&text) => {}
                0 => return Err(XmlError::ContentOutsideRoot { offset }),
                _ => doc.elements.push_text(&text.xml10_content()),
            },
            Event::CData(cdata) => match doc.elements.depth() {
                0 => return Err(XmlError::ContentOutsideRoot { offset }),
                _ => doc.elements.push_literal(&cdata.xml10_content()),
            },
            Event::GeneralRef(reference) => {
                let resolved = resolve(&reference, offset)?;
                match doc.elements.depth() {
                    0 => return Err(XmlError::ContentOutsideRoot { offset }),
                    _ => doc.elements.push_literal(resolved.encode_utf8(&mut [0; 4])),
                }
            }
            Event::Eof => break,
        }
    }
    match (doc.root, doc.elements.depth() == 0) {
        (Some(root), true) => Ok(doc.elements.to_json(root)),
        (None, true) => Err(XmlError::MissingRoot),
        (_, false) => Err(XmlError::Syntax {
            offset: base + text.len(),
            reason: "document ends inside an element",
        }),
    }
}

/// The state of one conversion.
struct Document<'o> {
    base: usize,
    options: &'o XmlOptions,
    elements: Elements,
    /// The document element's value, once it has closed.
    root: Option<ValueId>,
    /// Elements and attributes seen so far.
    nodes: usize,
}

impl Document<'_> {
    /// Checks the XML declaration: first in the document, UTF-8 only.
    fn declaration(&self, decl: &BytesDecl<'_>, offset: usize) -> Result<(), XmlError> {
        if offset != self.base {
            return Err(XmlError::Syntax {
                offset,
                reason: "XML declaration not at the start of the document",
            });
        }
        match decl.encoding() {
            None => Ok(()),
            Some(Ok(encoding)) if encoding.eq_ignore_ascii_case("utf-8") => Ok(()),
            Some(Ok(_)) => Err(XmlError::EncodingRefused { offset }),
            Some(Err(_)) => Err(XmlError::Syntax {
                offset,
                reason: "malformed XML declaration",
            }),
        }
    }

    /// Starts an element: checks placement, depth, name and attributes.
    fn open(&mut self, start: &BytesStart<'_>, offset: usize) -> Result<(), XmlError> {
        if self.root.is_some() {
            return Err(XmlError::ContentOutsideRoot { offset });
        }
        if self.elements.depth() >= MAX_DEPTH {
            return Err(XmlError::TooDeep { offset });
        }
        self.count_node(offset)?;
        let name = start.name();
        if !is_xml_name(name.as_ref()) {
            return Err(XmlError::InvalidName { offset });
        }
        // Opened before its attributes are checked: a refusal below ends
        // the conversion, so a half-read element is never seen.
        self.elements.open(name.as_ref());
        for (count, attribute) in start.attributes().enumerate() {
            if count == MAX_ATTRIBUTES {
                return Err(XmlError::TooManyAttributes { offset });
            }
            self.count_node(offset)?;
            let attribute = attribute.map_err(|_| XmlError::Syntax {
                offset,
                reason: "malformed attribute",
            })?;
            let key = attribute.key.as_ref();
            if !is_xml_name(key) {
                return Err(XmlError::InvalidName { offset });
            }
            if key == "xmlns" || key.starts_with("xmlns:") {
                continue;
            }
            let value = attribute_value(&attribute, offset)?;
            self.elements.add_attribute(key, &value);
        }
        Ok(())
    }

    /// Closes the innermost element, folding its value into its parent or
    /// making it the root.
    fn close(&mut self, offset: usize) -> Result<(), XmlError> {
        // quick-xml checks that end tags match open ones, so an element is
        // always open here; none would be its bug, reported rather than
        // trusted.
        let value = self.elements.close(self.options).ok_or(XmlError::Syntax {
            offset,
            reason: "end tag without a start tag",
        })?;
        if self.elements.depth() == 0 {
            self.root = Some(value);
        }
        Ok(())
    }

    fn count_node(&mut self, offset: usize) -> Result<(), XmlError> {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(XmlError::TooManyNodes { offset });
        }
        Ok(())
    }
}

/// An attribute's value with references decoded and whitespace normalised.
fn attribute_value<'a>(attribute: &Attribute<'a>, offset: usize) -> Result<Cow<'a, str>, XmlError> {
    match attribute.normalized_value(XmlVersion::Implicit1_0) {
        Ok(value) => Ok(value),
        Err(Error::Escape(EscapeError::UnrecognizedEntity(..))) => {
            Err(XmlError::EntityRefused { offset })
        }
        Err(Error::Escape(EscapeError::InvalidCharRef(_))) => {
            Err(XmlError::InvalidCharRef { offset })
        }
        Err(error) => Err(XmlError::Syntax {
            offset,
            reason: reason(&error),
        }),
    }
}

/// The character a reference in text stands for.
fn resolve(reference: &BytesRef<'_>, offset: usize) -> Result<char, XmlError> {
    if reference.is_char_ref() {
        return match reference.resolve_char_ref() {
            Ok(Some(c)) => Ok(c),
            _ => Err(XmlError::InvalidCharRef { offset }),
        };
    }
    match reference.as_ref() {
        "lt" => Ok('<'),
        "gt" => Ok('>'),
        "amp" => Ok('&'),
        "apos" => Ok('\''),
        "quot" => Ok('"'),
        _ => Err(XmlError::EntityRefused { offset }),
    }
}

/// Whether `name` is an XML name. ASCII characters are checked against the
/// XML `Name` production; other characters are accepted as they are, which
/// is why bytes can be checked one by one: every byte of a non-ASCII
/// character is non-ASCII.
fn is_xml_name(name: &str) -> bool {
    let Some((&first, rest)) = name.as_bytes().split_first() else {
        return false;
    };
    (first.is_ascii_alphabetic() || matches!(first, b'_' | b':') || !first.is_ascii())
        && rest.iter().all(|&b| {
            b.is_ascii_alphanumeric() || matches!(b, b'_' | b':' | b'-' | b'.') || !b.is_ascii()
        })
}

/// A fixed description of a quick-xml error; its own messages may quote
/// input (tag names), which errors here never do.
fn reason(error: &Error) -> &'static str {
    match error {
        Error::Syntax(SyntaxError::UnclosedTag) => "tag not closed",
        Error::Syntax(SyntaxError::UnclosedComment) => "comment not closed",
        Error::Syntax(SyntaxError::UnclosedCData) => "CDATA section not closed",
        Error::Syntax(SyntaxError::UnclosedPI | SyntaxError::UnclosedXmlDecl) => {
            "processing instruction not closed"
        }
        Error::Syntax(SyntaxError::UnclosedDoctype) => "document type declaration not closed",
        Error::Syntax(
            SyntaxError::UnclosedSingleQuotedAttributeValue
            | SyntaxError::UnclosedDoubleQuotedAttributeValue,
        ) => "attribute value not closed",
        Error::Syntax(SyntaxError::InvalidBangMarkup) => "unknown markup after `<!`",
        Error::IllFormed(IllFormedError::MismatchedEndTag { .. }) => {
            "end tag does not match the open element"
        }
        Error::IllFormed(IllFormedError::UnmatchedEndTag(_)) => "end tag without a start tag",
        Error::IllFormed(IllFormedError::MissingEndTag(_)) => "element not closed",
        Error::IllFormed(IllFormedError::UnclosedReference) => "`&` without a closing `;`",
        Error::IllFormed(
            IllFormedError::MissingDeclVersion(_) | IllFormedError::UnknownVersion,
        ) => "malformed XML declaration",
        Error::IllFormed(IllFormedError::DoubleHyphenInComment) => "`--` inside a comment",
        Error::IllFormed(_) => "document is not well-formed",
        Error::InvalidAttr(_) => "malformed attribute",
        Error::Escape(_) => "malformed reference",
        _ => "unreadable document",
    }
}

/// A reader position as a body offset (positions never exceed the input length).
fn position(at: u64) -> usize {
    usize::try_from(at).unwrap_or(usize::MAX)
}
