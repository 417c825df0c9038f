//! Which body format a webhook carries: JSON, XML or form-urlencoded.
//!
//! An EverBright credential fixes the body's Content-Type, so the header
//! decides whenever it names one of the three formats. Only when it is
//! missing, generic or unknown is the body sniffed. Detection never fails: a
//! body that fits nothing is called JSON, so that the JSON parser is the one
//! that reports it. This module does not parse or validate anything.
//!
//! | Content-Type (parameters and case ignored) | format |
//! |---|---|
//! | `application/json`, `*/*+json` | JSON |
//! | `application/xml`, `text/xml`, `*/*+xml` | XML |
//! | `application/x-www-form-urlencoded` | form |
//! | missing, `text/plain`, `application/octet-stream`, anything else | sniffed |
//!
//! Sniffing skips a UTF-8 byte order mark and leading whitespace, then:
//! `{` or `[` → JSON; `<` → XML; a body that looks like `key=value` pairs
//! (visible ASCII only, and a non-empty name before the first `=`) → form;
//! anything else → JSON.

/// The format of a webhook body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// `application/json`: used as is.
    Json,
    /// `application/xml`: converted by [`crate::xml::to_json`].
    Xml,
    /// `application/x-www-form-urlencoded`: converted by [`crate::form::to_json`].
    Form,
}

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Decides the format of `body` from its `Content-Type` header value, falling
/// back to sniffing the body when the header does not name a format.
pub fn detect(content_type: Option<&str>, body: &[u8]) -> Format {
    content_type
        .and_then(from_media_type)
        .unwrap_or_else(|| sniff(body))
}

/// The format a Content-Type names, or `None` when it names none of them.
fn from_media_type(content_type: &str) -> Option<Format> {
    let essence = content_type.split(';').next()?.trim().to_ascii_lowercase();
    let (kind, subtype) = essence.split_once('/')?;
    match (kind, subtype) {
        ("application", "json") => Some(Format::Json),
        ("application" | "text", "xml") => Some(Format::Xml),
        ("application", "x-www-form-urlencoded") => Some(Format::Form),
        _ if subtype.ends_with("+json") => Some(Format::Json),
        _ if subtype.ends_with("+xml") => Some(Format::Xml),
        _ => None,
    }
}

/// Guesses the format from the first meaningful byte of the body.
fn sniff(body: &[u8]) -> Format {
    let body = body.strip_prefix(UTF8_BOM).unwrap_or(body);
    let start = body.iter().position(|b| !b.is_ascii_whitespace());
    match start.map(|i| body[i]) {
        Some(b'{' | b'[') => Format::Json,
        Some(b'<') => Format::Xml,
        Some(_) if looks_like_form(body) => Format::Form,
        _ => Format::Json,
    }
}

/// Whether a body looks like `key=value` pairs: after trimming surrounding
/// whitespace it holds only visible ASCII (as an encoder emits: everything
/// else is percent-encoded), and its first `&`-separated pair has an `=`
/// after a non-empty key. So `a=1&b=2` and `site%5Buuid%5D=x` qualify, while
/// `true`, `"text"`, `12` or `None` do not.
fn looks_like_form(body: &[u8]) -> bool {
    let body = body.trim_ascii();
    let visible = body.iter().all(|b| b.is_ascii_graphic());
    let first_pair = body.split(|&b| b == b'&').next().unwrap_or_default();
    let key_len = first_pair.iter().position(|&b| b == b'=');
    visible && matches!(key_len, Some(len) if len > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_decides_when_it_names_a_format() {
        let cases = [
            ("application/json", Format::Json),
            ("application/json; charset=utf-8", Format::Json),
            ("Application/JSON;charset=UTF-8", Format::Json),
            ("application/cloudevents+json", Format::Json),
            ("application/vnd.everbright.v1+json ; q=1", Format::Json),
            ("application/xml", Format::Xml),
            ("text/xml; charset=utf-8", Format::Xml),
            ("TEXT/XML", Format::Xml),
            ("application/atom+xml", Format::Xml),
            ("application/x-www-form-urlencoded", Format::Form),
            (
                " application/x-www-form-urlencoded ; charset=UTF-8",
                Format::Form,
            ),
        ];
        for (header, expected) in cases {
            // The body disagrees on purpose: the header wins.
            assert_eq!(detect(Some(header), b"a=1"), expected, "{header}");
        }
        assert_eq!(detect(Some("application/json"), b"<root/>"), Format::Json);
    }

    #[test]
    fn generic_missing_or_unknown_headers_sniff_the_body() {
        for header in [
            None,
            Some("text/plain"),
            Some("application/octet-stream"),
            Some(""),
            Some("garbage"),
            Some("multipart/form-data; boundary=x"),
        ] {
            assert_eq!(detect(header, b"{\"a\":1}"), Format::Json, "{header:?}");
            assert_eq!(detect(header, b"<root/>"), Format::Xml, "{header:?}");
            assert_eq!(detect(header, b"a=1&b=2"), Format::Form, "{header:?}");
        }
    }

    #[test]
    fn sniffing_looks_at_the_first_non_blank_byte_after_a_bom() {
        let cases: [(&[u8], Format); 14] = [
            (b"{}", Format::Json),
            (b"  \r\n\t[1]", Format::Json),
            (b"\xEF\xBB\xBF{\"a\":1}", Format::Json),
            (b"\xEF\xBB\xBF  <?xml version=\"1.0\"?><a/>", Format::Xml),
            (b"\n<root></root>", Format::Xml),
            (b"site=abc", Format::Form),
            (b"site%5Buuid%5D=x&a[]=1&a[]=2", Format::Form),
            (b"a=&b", Format::Form),
            (b"a=1\n", Format::Form),
            (b"", Format::Json),
            (b"   ", Format::Json),
            (b"True", Format::Json),
            (b"=value", Format::Json),
            (b"a=hello world", Format::Json),
        ];
        for (body, expected) in cases {
            assert_eq!(
                detect(None, body),
                expected,
                "{:?}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn non_ascii_or_binary_bodies_are_left_to_the_json_parser() {
        assert_eq!(detect(None, b"a=\xC3\xA9"), Format::Json);
        assert_eq!(detect(None, b"\x00\x01a=1"), Format::Json);
        assert_eq!(detect(None, b"\xFF\xFE<\x00"), Format::Json);
    }
}
