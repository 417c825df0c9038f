//! Writing JSON strings by hand: hookbridge writes its records' CloudEvents attributes
//! and its log lines straight into buffers, without a serializer, and both need the
//! same escaping.
//!
//! [`push_str`] escapes `"`, `\` and the control characters (below U+0020) as JSON
//! requires, and copies everything else, UTF-8 included, as it is. It scans eight
//! bytes at a time: the text it escapes (UUIDs, slugs, topics, credential names) rarely
//! holds anything to escape, so most of it is copied in whole runs. It knows nothing
//! about JSON documents: the callers write the braces, keys and commas.

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
    while let Some(i) = next_escape(bytes, plain) {
        // Every byte escaped is ASCII, so these slices end on character boundaries.
        out.push_str(&text[plain..i]);
        escape_byte(out, bytes[i]);
        plain = i + 1;
    }
    out.push_str(&text[plain..]);
}

/// Where the first byte at or after `from` that needs escaping is.
fn next_escape(bytes: &[u8], from: usize) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    // A high bit set in each byte of `word` that is zero.
    let zero_bytes = |word: u64| word.wrapping_sub(ONES) & !word & HIGHS;
    let mut i = from;
    while let Some(chunk) = bytes.get(i..i + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let word = u64::from_ne_bytes(word);
        // Bytes below 0x20 (a UTF-8 byte of 0x80 and up never borrows into a hit),
        // `"` (0x22) and `\` (0x5c).
        let control = word.wrapping_sub(ONES * 0x20) & !word & HIGHS;
        let quote = zero_bytes(word ^ (ONES * 0x22));
        let backslash = zero_bytes(word ^ (ONES * 0x5c));
        if control | quote | backslash != 0 {
            // The bit tricks may flag a byte after a real hit, never before one: find
            // the exact byte the slow way.
            break;
        }
        i += 8;
    }
    bytes[i..]
        .iter()
        .position(|&b| b < 0x20 || b == b'"' || b == b'\\')
        .map(|p| i + p)
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

    proptest! {
        #[test]
        fn writes_what_serde_json_writes(text in "(?s).{0,40}|[\x00-\x20\"\\\\a-z]{0,40}") {
            let json = escaped(&text);
            prop_assert_eq!(serde_json::from_str::<String>(&json).unwrap(), text.clone());
            prop_assert_eq!(json, serde_json::to_string(&text).unwrap());
        }
    }
}
