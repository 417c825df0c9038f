//! One pass over a JSON object: validate every byte and index its members.
//!
//! This is the envelope's only full reading of a payload, so it is written by hand for
//! the shape webhooks have (mostly strings): string contents are skipped eight bytes
//! at a time (by [`plain_end`], which JSON escaping uses to find what to escape), and
//! nothing is decoded, allocated or built except the list of members.
//! It accepts exactly what `serde_json` accepts when it skips a value (RFC 8259: no
//! trailing commas, no comments, no leading zeros; inside strings, only the escapes
//! JSON defines, any `\uXXXX` among them, and no raw control characters), at any depth,
//! without recursion. A member's key that holds an escape is decoded by `serde_json`,
//! which, as before, refuses an unpaired UTF-16 surrogate there.
//!
//! It leaves to its caller what the members mean (pointers, UUIDs) and documents that
//! are not objects (which can hold no site).

use std::borrow::Cow;

use serde::de::Error as _;

use crate::json_text::plain_end;

/// A member of an object: its key (decoded) and its value's JSON text.
pub type Member<'a> = (Cow<'a, str>, &'a str);

/// The members of `text`, which must be one JSON object (whitespace around it allowed),
/// in the order written.
pub fn object(text: &str) -> Result<Vec<Member<'_>>, serde_json::Error> {
    let mut scan = Scanner::new(text);
    let members = scan.members()?;
    scan.end()?;
    Ok(members)
}

/// The element at `index` of `text`, one JSON array; `None` when it has fewer
/// elements or is not an array.
pub fn element(text: &str, index: usize) -> Option<&str> {
    let mut scan = Scanner::new(text);
    scan.expect(b'[').ok()?;
    if scan.peek() == b']' {
        return None;
    }
    let mut i = 0;
    loop {
        let value = scan.value_text().ok()?;
        if i == index {
            return Some(value);
        }
        if scan.peek() != b',' {
            return None;
        }
        scan.pos += 1;
        i += 1;
    }
}

/// Whether a nesting level is an array or an object.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Frame {
    Array,
    Object,
}

/// The open arrays and objects, innermost last, one bit each: no allocation until
/// 64 levels deep, and then 8 bytes per 64 levels (bounded by the body's size).
#[derive(Default)]
struct Nesting {
    depth: usize,
    /// The innermost (up to) 64 levels, the innermost in bit 0.
    bits: u64,
    /// Each further 64 levels outside those.
    outer: Vec<u64>,
}

impl Nesting {
    fn push(&mut self, frame: Frame) {
        if self.depth > 0 && self.depth.is_multiple_of(64) {
            self.outer.push(self.bits);
            self.bits = 0;
        }
        self.bits = self.bits << 1 | u64::from(frame == Frame::Array);
        self.depth += 1;
    }

    fn pop(&mut self) {
        self.bits >>= 1;
        self.depth -= 1;
        if self.depth > 0 && self.depth.is_multiple_of(64) {
            self.bits = self.outer.pop().unwrap_or_default();
        }
    }

    fn top(&self) -> Option<Frame> {
        let frame = match self.bits & 1 {
            1 => Frame::Array,
            _ => Frame::Object,
        };
        (self.depth > 0).then_some(frame)
    }
}

/// A position in a JSON text.
struct Scanner<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Scanner<'a> {
    fn new(text: &'a str) -> Self {
        Scanner {
            text,
            bytes: text.as_bytes(),
            pos: 0,
        }
    }

    /// The next byte that is not whitespace (the position moves to it), or 0 at the
    /// end (0 is never valid there either).
    #[inline]
    fn peek(&mut self) -> u8 {
        while let Some(&b) = self.bytes.get(self.pos) {
            // Every whitespace byte is at most b' ': one comparison for most bytes.
            if b > b' ' || !matches!(b, b' ' | b'\n' | b'\r' | b'\t') {
                return b;
            }
            self.pos += 1;
        }
        0
    }

    fn expect(&mut self, byte: u8) -> Result<(), serde_json::Error> {
        if self.peek() != byte {
            return Err(self.error(match byte {
                b'[' => "expected an array",
                b'{' => "expected an object",
                b':' => "expected ':'",
                _ => "expected a string",
            }));
        }
        self.pos += 1;
        Ok(())
    }

    fn error(&self, what: &str) -> serde_json::Error {
        serde_json::Error::custom(format_args!("{what} at byte {}", self.pos))
    }

    /// Nothing but whitespace is left.
    fn end(&mut self) -> Result<(), serde_json::Error> {
        match self.peek() {
            0 if self.pos == self.bytes.len() => Ok(()),
            _ => Err(self.error("trailing characters")),
        }
    }

    /// An object's members, from its `{` to its `}`.
    fn members(&mut self) -> Result<Vec<Member<'a>>, serde_json::Error> {
        self.expect(b'{')?;
        let mut members = Vec::with_capacity(32);
        if self.peek() == b'}' {
            self.pos += 1;
            return Ok(members);
        }
        loop {
            let key = self.key()?;
            self.expect(b':')?;
            members.push((key, self.value_text()?));
            match self.peek() {
                b',' => self.pos += 1,
                b'}' => {
                    self.pos += 1;
                    return Ok(members);
                }
                _ => return Err(self.error("expected ',' or '}'")),
            }
        }
    }

    /// A member's key, decoded: borrowed from the text unless it holds an escape.
    fn key(&mut self) -> Result<Cow<'a, str>, serde_json::Error> {
        self.expect(b'"')?;
        let start = self.pos;
        let escaped = self.string()?;
        let inside = &self.text[start..self.pos - 1];
        if !escaped {
            return Ok(Cow::Borrowed(inside));
        }
        let quoted = &self.text[start - 1..self.pos];
        serde_json::from_str(quoted).map(Cow::Owned)
    }

    /// The JSON text of the next value (whitespace before it skipped).
    fn value_text(&mut self) -> Result<&'a str, serde_json::Error> {
        self.peek();
        let start = self.pos;
        self.value()?;
        Ok(&self.text[start..self.pos])
    }

    /// Skips one value, however deeply nested, without recursion.
    fn value(&mut self) -> Result<(), serde_json::Error> {
        let first = self.peek();
        if !matches!(first, b'[' | b'{') {
            return self.scalar(first);
        }
        let mut nesting = Nesting::default();
        loop {
            self.scalar_or_open(&mut nesting)?;
            if !self.close_or_next(&mut nesting)? {
                return Ok(());
            }
        }
    }

    /// One value, or the openings of arrays and objects up to the first scalar or
    /// empty container inside them (with the key of each object opened).
    fn scalar_or_open(&mut self, nesting: &mut Nesting) -> Result<(), serde_json::Error> {
        loop {
            match self.peek() {
                b'[' => {
                    self.pos += 1;
                    if self.peek() == b']' {
                        self.pos += 1;
                        return Ok(());
                    }
                    nesting.push(Frame::Array);
                }
                b'{' => {
                    self.pos += 1;
                    if self.peek() == b'}' {
                        self.pos += 1;
                        return Ok(());
                    }
                    nesting.push(Frame::Object);
                    self.skip_key()?;
                }
                first => return self.scalar(first),
            }
        }
    }

    /// A string, number or literal starting with `first`.
    #[inline(always)]
    fn scalar(&mut self, first: u8) -> Result<(), serde_json::Error> {
        match first {
            b'"' => {
                self.pos += 1;
                self.string()?;
            }
            b't' => self.literal(b"true")?,
            b'f' => self.literal(b"false")?,
            b'n' => self.literal(b"null")?,
            b'-' | b'0'..=b'9' => self.number()?,
            _ => return Err(self.error("expected a value")),
        }
        Ok(())
    }

    /// After a value: closes the arrays and objects that end here; `true` when another
    /// value follows (after a `,`, and for an object its key), `false` when the
    /// outermost value is complete.
    fn close_or_next(&mut self, nesting: &mut Nesting) -> Result<bool, serde_json::Error> {
        while let Some(frame) = nesting.top() {
            match (self.peek(), frame) {
                (b',', Frame::Array) => {
                    self.pos += 1;
                    return Ok(true);
                }
                (b',', Frame::Object) => {
                    self.pos += 1;
                    self.skip_key()?;
                    return Ok(true);
                }
                (b']', Frame::Array) | (b'}', Frame::Object) => {
                    self.pos += 1;
                    nesting.pop();
                }
                (_, Frame::Array) => return Err(self.error("expected ',' or ']'")),
                (_, Frame::Object) => return Err(self.error("expected ',' or '}'")),
            }
        }
        Ok(false)
    }

    /// A key inside a nested object and its `:`.
    #[inline(always)]
    fn skip_key(&mut self) -> Result<(), serde_json::Error> {
        self.expect(b'"')?;
        self.string()?;
        self.expect(b':')
    }

    /// The rest of a string after its opening quote, through its closing quote;
    /// `true` when it holds an escape.
    #[inline]
    fn string(&mut self) -> Result<bool, serde_json::Error> {
        // Most strings are one run, found without leaving this (inlined) function.
        let end = plain_end(self.bytes, self.pos);
        if self.bytes.get(end) == Some(&b'"') {
            self.pos = end + 1;
            return Ok(false);
        }
        self.pos = end;
        self.string_after_run()
    }

    /// The rest of a string from a byte that ended a run that was not its closing
    /// quote (an escape, or an error).
    #[inline(never)]
    fn string_after_run(&mut self) -> Result<bool, serde_json::Error> {
        let mut escaped = false;
        loop {
            match self.bytes.get(self.pos) {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(escaped);
                }
                Some(b'\\') => {
                    self.escape()?;
                    escaped = true;
                }
                Some(_) => return Err(self.error("control character in a string")),
                None => return Err(self.error("unterminated string")),
            }
            self.pos = plain_end(self.bytes, self.pos);
        }
    }

    /// A backslash and what it escapes: one of `"\/bfnrt`, or `u` and four hex digits.
    fn escape(&mut self) -> Result<(), serde_json::Error> {
        let len = match self.bytes.get(self.pos + 1) {
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => 2,
            Some(b'u')
                if self
                    .bytes
                    .get(self.pos + 2..self.pos + 6)
                    .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit)) =>
            {
                6
            }
            _ => return Err(self.error("invalid escape")),
        };
        self.pos += len;
        Ok(())
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), serde_json::Error> {
        if !self.bytes[self.pos..].starts_with(word) {
            return Err(self.error("expected a value"));
        }
        self.pos += word.len();
        Ok(())
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
    fn number(&mut self) -> Result<(), serde_json::Error> {
        if self.bytes[self.pos] == b'-' {
            self.pos += 1;
        }
        match self.bytes.get(self.pos) {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.error("invalid number")),
        }
        if self.bytes.get(self.pos) == Some(&b'.') {
            self.pos += 1;
            self.some_digits()?;
        }
        if matches!(self.bytes.get(self.pos), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.bytes.get(self.pos), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            self.some_digits()?;
        }
        Ok(())
    }

    fn some_digits(&mut self) -> Result<(), serde_json::Error> {
        if !self.bytes.get(self.pos).is_some_and(u8::is_ascii_digit) {
            return Err(self.error("invalid number"));
        }
        self.digits();
        Ok(())
    }

    fn digits(&mut self) {
        while self.bytes.get(self.pos).is_some_and(u8::is_ascii_digit) {
            self.pos += 1;
        }
    }
}

#[cfg(test)]
mod tests;
