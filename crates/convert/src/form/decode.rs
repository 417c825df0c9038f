//! Splitting a body into fields and strictly percent-decoding them. Unlike
//! `form_urlencoded::parse`, which passes bad escapes through and replaces
//! invalid UTF-8, every such input is an error here.

use std::borrow::Cow;

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
    let mut offset = start;
    body[start..]
        .split(|&b| b == b'&')
        .filter_map(move |piece| {
            let at = offset;
            offset += piece.len() + 1;
            (!piece.is_empty()).then(|| field(piece, at))
        })
}

fn field(piece: &[u8], offset: usize) -> Result<Field<'_>, FormError> {
    let (name, value, value_at) = match piece.iter().position(|&b| b == b'=') {
        Some(eq) => (&piece[..eq], &piece[eq + 1..], offset + eq + 1),
        None => (piece, &piece[piece.len()..], offset + piece.len()),
    };
    Ok(Field {
        offset,
        name: decode(name, offset)?,
        value: decode(value, value_at)?,
    })
}

/// Decodes one component (`+` is a space, `%XX` a byte) into UTF-8 text.
/// `offset` is where `raw` starts in the body, for error positions.
fn decode(raw: &[u8], offset: usize) -> Result<Cow<'_, str>, FormError> {
    // Most components have nothing to decode; those are only checked.
    if !raw.iter().any(|&b| matches!(b, b'+' | b'%')) {
        return std::str::from_utf8(raw)
            .map(Cow::Borrowed)
            .map_err(|_| FormError::InvalidUtf8 { offset });
    }
    let mut bytes = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => bytes.push(b' '),
            b'%' => {
                let escape = raw.get(i + 1..i + 3).and_then(|hex| {
                    let high = char::from(hex[0]).to_digit(16)?;
                    let low = char::from(hex[1]).to_digit(16)?;
                    u8::try_from(high * 16 + low).ok()
                });
                let Some(byte) = escape else {
                    return Err(FormError::InvalidPercentEncoding { offset: offset + i });
                };
                bytes.push(byte);
                i += 2;
            }
            other => bytes.push(other),
        }
        i += 1;
    }
    String::from_utf8(bytes)
        .map(Cow::Owned)
        .map_err(|_| FormError::InvalidUtf8 { offset })
}
