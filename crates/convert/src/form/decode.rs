//! Splitting a body into fields and strictly percent-decoding them. Unlike
//! `form_urlencoded::parse`, which passes bad escapes through and replaces
//! invalid UTF-8, every such input is an error here.

use std::borrow::Cow;
use std::ops::Range;

use memchr::{memchr, memchr2};

use super::FormError;

/// One decoded `name=value` piece and where it starts in the body. Name and
/// value borrow from the body unless they had escapes to decode.
#[derive(Debug)]
pub(super) struct Field<'a> {
    pub(super) offset: usize,
    pub(super) name: Cow<'a, str>,
    pub(super) value: Cow<'a, str>,
}

/// The fields of `body[start..]`, in order, skipping empty pieces.
pub(super) fn fields(
    body: &[u8],
    start: usize,
) -> impl Iterator<Item = Result<Field<'_>, FormError>> {
    // A body is usually UTF-8 as a whole: checked once here, names and
    // values without escapes are slices of it rather than checked one by
    // one. Splitting at the ASCII `&` and `=` keeps every slice UTF-8.
    let text = std::str::from_utf8(body).ok();
    let mut at = start;
    std::iter::from_fn(move || {
        while at <= body.len() {
            let end = memchr(b'&', &body[at..]).map_or(body.len(), |amp| at + amp);
            let piece = at..end;
            at = end + 1;
            if !piece.is_empty() {
                return Some(field(body, text, piece));
            }
        }
        None
    })
}

/// The field at `piece` of `body` (`text` is `body` if it is UTF-8).
fn field<'a>(
    body: &'a [u8],
    text: Option<&'a str>,
    piece: Range<usize>,
) -> Result<Field<'a>, FormError> {
    let eq = memchr(b'=', &body[piece.clone()]).map_or(piece.end, |eq| piece.start + eq);
    Ok(Field {
        offset: piece.start,
        name: decode(body, text, piece.start..eq)?,
        value: decode(body, text, (eq + 1).min(piece.end)..piece.end)?,
    })
}

/// Decodes one component, at `range` of `body`, (`+` is a space, `%XX` a
/// byte) into UTF-8 text; `text` is `body` if it is UTF-8.
fn decode<'a>(
    body: &'a [u8],
    text: Option<&'a str>,
    range: Range<usize>,
) -> Result<Cow<'a, str>, FormError> {
    let (raw, offset) = (&body[range.clone()], range.start);
    let escape = |from: usize| memchr2(b'+', b'%', &raw[from..]).map(|at| from + at);
    // Most components have nothing to decode: borrowed as they are.
    let Some(first) = escape(0) else {
        if let Some(text) = text.and_then(|text| text.get(range)) {
            return Ok(Cow::Borrowed(text));
        }
        return std::str::from_utf8(raw)
            .map(Cow::Borrowed)
            .map_err(|_| FormError::InvalidUtf8 { offset });
    };
    let mut bytes = Vec::with_capacity(raw.len());
    // Bytes before `i` are decoded; runs between escapes are copied whole.
    let (mut i, mut next) = (0, Some(first));
    while let Some(at) = next {
        bytes.extend_from_slice(&raw[i..at]);
        let (byte, len) = match raw[at] {
            b'+' => (b' ', 1),
            _ => match percent_escape(&raw[at..]) {
                Some(byte) => (byte, 3),
                None => {
                    return Err(FormError::InvalidPercentEncoding {
                        offset: offset + at,
                    });
                }
            },
        };
        bytes.push(byte);
        i = at + len;
        next = escape(i);
    }
    bytes.extend_from_slice(&raw[i..]);
    String::from_utf8(bytes)
        .map(Cow::Owned)
        .map_err(|_| FormError::InvalidUtf8 { offset })
}

/// The byte a `%XX` escape at the start of `raw` stands for, if it is one.
fn percent_escape(raw: &[u8]) -> Option<u8> {
    let hex = raw.get(1..3)?;
    let high = char::from(hex[0]).to_digit(16)?;
    let low = char::from(hex[1]).to_digit(16)?;
    u8::try_from(high * 16 + low).ok()
}
