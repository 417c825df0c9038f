//! Writing JSON strings by hand: hookbridge writes its records' CloudEvents attributes
//! and its log lines straight into buffers, without a serializer, and both need the
//! same escaping.
//!
//! [`push_str`] escapes `"`, `\` and the control characters (below U+0020) as JSON
//! requires, and copies everything else, UTF-8 included, as it is. It scans eight
//! bytes at a time: the text it escapes (UUIDs, slugs, topics, credential names) rarely
//! holds anything to escape, so most of it is copied in whole runs. [`plain_end`],
//! which finds those runs, also finds where a run inside a JSON string ends for the
//! envelope's JSON scanner. It knows nothing about JSON documents: the callers write
//! the braces, keys and commas.

/// Appends `text` as a JSON string, quotes included.
pub fn push_str(out: &mut String, text: &str) {
    out.push('"');
    push_escaped(out, text);
    out.push('"');
}

/// Appends `text` escaped for the inside of a JSON string, without quotes.
pub fn push_escaped(out: &mut String, text: &str) {
    let bytes = text.as_bytes();
    let mut plain = 0;
    loop {
        let end = plain_end(bytes, plain);
        // Every byte escaped is ASCII, so these slices end on character boundaries.
        out.push_str(&text[plain..end]);
        let Some(&byte) = bytes.get(end) else {
            return;
        };
        escape_byte(out, byte);
        plain = end + 1;
    }
}

/// Where the first byte at or after `from` that a JSON string cannot hold as it is
/// (`"`, `\` or a control character) is; `bytes.len()` when there is none. JSON text
/// is read with it too: such a byte ends the plain run inside a string.
#[inline]
pub fn plain_end(bytes: &[u8], from: usize) -> usize {
    let mut i = from;
    while let Some(word) = bytes.get(i..).and_then(<[u8]>::first_chunk::<8>) {
        if let Some(at) = first_flagged(flagged(u64::from_le_bytes(*word))) {
            return i + at;
        }
        i += 8;
    }
    while bytes.get(i).is_some_and(|&b| !needs_escape(b)) {
        i += 1;
    }
    i
}

/// Whether a JSON string must escape `byte`.
fn needs_escape(byte: u8) -> bool {
    byte < 0x20 || byte == b'"' || byte == b'\\'
}

/// The high bit of each byte of `word` (little-endian) that is `"`, `\` or below
/// 0x20, and maybe of bytes after the first of those, never before it.
fn flagged(word: u64) -> u64 {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);
    // Such a byte (`"` and `\` are zero after the XOR) comes out of its subtraction
    // with its high bit set; `!word` keeps that only for bytes below 0x80, as all
    // three are. A borrow only runs upwards from a flagged byte, so the lowest one
    // is exact.
    let control = word.wrapping_sub(ONES * 0x20);
    let quote = (word ^ (ONES * u64::from(b'"'))).wrapping_sub(ONES);
    let backslash = (word ^ (ONES * u64::from(b'\\'))).wrapping_sub(ONES);
    (control | quote | backslash) & !word & HIGHS
}

/// The index of the lowest byte flagged, if any.
fn first_flagged(flags: u64) -> Option<usize> {
    (flags != 0).then(|| flags.trailing_zeros() as usize / 8)
}

fn escape_byte(out: &mut String, byte: u8) {
    match byte {
        b'"' => out.push_str("\\\""),
        b'\\' => out.push_str("\\\\"),
        b'\n' => out.push_str("\\n"),
        b'\r' => out.push_str("\\r"),
        b'\t' => out.push_str("\\t"),
        0x08 => out.push_str("\\b"),
        0x0c => out.push_str("\\f"),
        _ => {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u00");
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0xf)]));
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn escaped(text: &str) -> String {
        let mut out = String::new();
        push_str(&mut out, text);
        out
    }

    #[test]
    fn escapes_what_json_requires_and_nothing_else() {
        assert_eq!(escaped(""), r#""""#);
        assert_eq!(
            escaped("plain-text-of-some-length"),
            r#""plain-text-of-some-length""#
        );
        assert_eq!(
            escaped("q\"b\\n\nr\rt\tz\u{1}é\u{1f}\u{8}\u{c}"),
            r#""q\"b\\n\nr\rt\tz\u0001é\u001f\b\f""#
        );
        assert_eq!(escaped("0123456\"89abcdef\\"), r#""0123456\"89abcdef\\""#);
    }

    #[test]
    fn plain_runs_end_at_the_first_byte_to_escape() {
        let slow = |bytes: &[u8], from: usize| {
            (from..bytes.len())
                .find(|&i| needs_escape(bytes[i]))
                .unwrap_or(bytes.len())
        };
        // Every length around the word size, a hit at every place (or none), a
        // borrow-prone neighbour (0x20, 0x23, 0x5d) after it, from every start.
        for len in 0..20 {
            for hit in 0..=len {
                for byte in [b'"', b'\\', 0x00, 0x1f] {
                    let mut text = vec![b'a'; len];
                    if hit < len {
                        text[hit] = byte;
                        if hit + 1 < len {
                            text[hit + 1] = [0x20, 0x23, 0x5d][hit % 3];
                        }
                    }
                    for from in 0..=len {
                        assert_eq!(plain_end(&text, from), slow(&text, from), "{text:?} {from}");
                    }
                }
            }
        }
        let wide = "é€😀 \u{7f}";
        assert_eq!(plain_end(wide.as_bytes(), 0), wide.len());
    }

    proptest! {
        #[test]
        fn writes_what_serde_json_writes(text in "(?s).{0,40}|[\x00-\x20\"\\\\a-z]{0,40}") {
            let json = escaped(&text);
            prop_assert_eq!(serde_json::from_str::<String>(&json).unwrap(), text.clone());
            prop_assert_eq!(json, serde_json::to_string(&text).unwrap());
        }
    }
}
