//! Splitting a body into fields and strictly percent-decoding them. Unlike
//! `form_urlencoded::parse`, which passes bad escapes through and replaces
//! invalid UTF-8, every such input is an error here.

use std::borrow::Cow;
use std::ops::Range;

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
    let mut offset = start;
    body[start..]
        .split(|&b| b == b'&')
        .filter_map(move |piece| {
            let at = offset;
            offset += piece.len() + 1;
            (!piece.is_empty()).then(|| field(body, text, at..at + piece.len()))
        })
}

/// The field at `piece` of `body` (`text` is `body` if it is UTF-8).
fn field<'a>(
    body: &'a [u8],
    text: Option<&'a str>,
    piece: Range<usize>,
) -> Result<Field<'a>, FormError> {
    let eq = body[piece.clone()]
        .iter()
        .position(|&b| b == b'=')
        .map_or(piece.end, |eq| piece.start + eq);
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
    let is_escape = |b: &u8| matches!(b, b'+' | b'%');
    // Most components have nothing to decode: borrowed as they are.
    if !raw.iter().any(is_escape) {
        if let Some(text) = text.and_then(|text| text.get(range)) {
            return Ok(Cow::Borrowed(text));
        }
        return std::str::from_utf8(raw)
            .map(Cow::Borrowed)
            .map_err(|_| FormError::InvalidUtf8 { offset });
    }
    let mut bytes = Vec::with_capacity(raw.len());
    // Bytes before `i` are decoded; runs between escapes are copied whole.
    let mut i = 0;
    while let Some(at) = raw[i..].iter().position(is_escape) {
        let at = i + at;
        bytes.extend_from_slice(&raw[i..at]);
        if raw[at] == b'+' {
            bytes.push(b' ');
            i = at + 1;
            continue;
        }
        let escape = raw.get(at + 1..at + 3).and_then(|hex| {
            let high = char::from(hex[0]).to_digit(16)?;
            let low = char::from(hex[1]).to_digit(16)?;
            u8::try_from(high * 16 + low).ok()
        });
        let Some(byte) = escape else {
            return Err(FormError::InvalidPercentEncoding {
                offset: offset + at,
            });
        };
        bytes.push(byte);
        i = at + 3;
    }
    bytes.extend_from_slice(&raw[i..]);
    String::from_utf8(bytes)
        .map(Cow::Owned)
        .map_err(|_| FormError::InvalidUtf8 { offset })
}
