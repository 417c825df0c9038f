//! `application/x-www-form-urlencoded` bodies → JSON, for partners whose
//! EverBright credential sends form data.
//!
//! Field names may use bracket and dot notation to build nested objects and
//! arrays, as Rails, PHP and the `qs` library do. The mapping is strict where
//! those are lenient: malformed escapes, invalid UTF-8, malformed names and
//! conflicting shapes are errors ([`FormError`]), never guesses or
//! replacement characters. This module does not look at field meanings or
//! lenient Python literals.
//!
//! # Mapping
//!
//! | form body | JSON |
//! |---|---|
//! | `site=5a0c&status=APPROVED` | `{"site":"5a0c","status":"APPROVED"}` |
//! | (empty) | `{}` |
//! | `flag&note=` | `{"flag":"","note":""}` |
//! | `note=a+b%26c%C3%A9` | `{"note":"a b&cé"}` |
//! | `a=1&a=2&a=3` | `{"a":["1","2","3"]}` |
//! | `a[]=1` | `{"a":["1"]}` |
//! | `site[uuid]=x&site.name=y` | `{"site":{"uuid":"x","name":"y"}}` |
//! | `tasks[0][name]=x&tasks[1][name]=y&tasks[0][id]=7` | `{"tasks":[{"name":"x","id":"7"},{"name":"y"}]}` |
//! | `docs[][id]=1&docs[][id]=2` | `{"docs":[{"id":"1"},{"id":"2"}]}` |
//! | `tasks.0.name=x` | `{"tasks":[{"name":"x"}]}` |
//! | `a[01]=x&a[b.c]=y` | `{"a":{"01":"x","b.c":"y"}}` |
//! | `data={"id": 1, "ok": [true]}` | `{"data":{"id":1,"ok":[true]}}` (with [`FormOptions::json_fields`]) |
//! | `tasks[1][name]=x` | [`FormError::IndexTooLarge`]: index 1 of an empty array |
//! | `a=1&a[b]=2` | [`FormError::MixedShape`] |
//!
//! The rules, precisely:
//!
//! - **Fields.** The body is split at `&` (empty pieces are skipped, a
//!   leading UTF-8 byte order mark is ignored); each piece splits at its
//!   first `=` into name and value (no `=`: the value is `""`). In both, `+`
//!   is a space and `%XX` a byte; a `%` not followed by two hex digits is
//!   [`FormError::InvalidPercentEncoding`], and decoded bytes that are not
//!   UTF-8 are [`FormError::InvalidUtf8`]. Names are parsed *after*
//!   decoding, so `%5B`/`%5D` work as brackets (browsers encode them).
//! - **Names.** A name is a non-empty first part (up to the first `[` or
//!   `.`) followed by any number of `[part]`, `[]` or `.part`; anything else
//!   (`a[b`, `a]`, `a..b`, `[a]`, `a[b]c`, an empty name) is
//!   [`FormError::InvalidKey`]. A part inside brackets may contain dots. A
//!   part written as a canonical decimal (`0`, `[1-9][0-9]*`) is an array
//!   index, except the first part, which always names a top-level member;
//!   `[]` appends a new array item; any other part (`01` included) is an
//!   object member.
//! - **Dense indices.** An index must address an existing item or the next
//!   one (index ≤ current length); a larger one is [`FormError::IndexTooLarge`],
//!   so `tasks[999999999]=x` costs nothing. Members and items appear in
//!   the order they are first named.
//! - **Repeats.** A field naming a value that already exists turns it into
//!   an array of both (or appends to the array already there), and a value
//!   addressed as an array becomes its first item: `a=1&a=2`, `a[]=1&a=2`,
//!   `a[0]=1&a=2`, `a=1&a[]=2` and `a=1&a[1]=2` all give `["1","2"]`. `[]`
//!   before further parts always starts a new item (use indices to fill one
//!   item from several fields).
//! - **Shapes.** A field that needs a different shape than an earlier field
//!   gave the same name is [`FormError::MixedShape`]: `a=1&a[b]=2`,
//!   `a[b]=1&a=2`, `a[b]=1&a[]=2`, `a[]=1&a[b]=2`.
//! - **Values** are strings. With [`FormOptions::json_fields`], a value whose
//!   first non-blank character is `{` or `[`, that parses as JSON and nests
//!   no deeper than [`MAX_EMBEDDED_DEPTH`], is embedded as that JSON, with
//!   whitespace removed and members kept as written (duplicates included).
//!   Anything else, Python literals such as `[True]` included, stays a
//!   string.
//!
//! What a form cannot carry: the top level is always an object; there are no
//! `null`s, booleans or numbers (outside embedded JSON fields) and no empty
//! arrays or objects below the top level; an array of one value written as a
//! plain name (`a=1`) is just the value.
//!
//! # Limits
//!
//! At most [`MAX_FIELDS`] fields, each at most [`MAX_DEPTH`] parts deep;
//! with dense indices this keeps memory and time linear in the body's length.
//!
//! ```
//! use hookbridge_convert::form::{to_json, FormOptions};
//!
//! let body = b"site=5a0c&tasks[0][name]=Survey&tasks[0][docs][]=d1&meta=%7B%22v%22%3A2%7D";
//! let json = to_json(body, &FormOptions { json_fields: true }).unwrap();
//! assert_eq!(json, br#"{"site":"5a0c","tasks":[{"name":"Survey","docs":["d1"]}],"meta":{"v":2}}"#);
//! ```

use std::fmt;

mod build;
mod decode;
mod path;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
mod value;

use build::{Conflict, Tree};
use path::PathError;

/// How form values become JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FormOptions {
    /// Embed a value that is itself a JSON object or array as JSON rather
    /// than as a string. On by default, as in the config.
    pub json_fields: bool,
}

impl Default for FormOptions {
    fn default() -> Self {
        FormOptions { json_fields: true }
    }
}

/// Most fields (`name=value` pieces) in one body.
pub const MAX_FIELDS: usize = 10_000;

/// Most parts in one field name (`a[b][0]` has 3). Output nesting is at most
/// this plus one level for repeats plus an embedded field's own nesting.
pub const MAX_DEPTH: usize = 32;

/// Deepest nesting of a JSON field that is still embedded as JSON; a deeper
/// one stays a string, so converted output stays far below the 128 levels
/// `serde_json` and most consumers accept.
pub const MAX_EMBEDDED_DEPTH: usize = 32;

/// Longest excerpt of a field name that an error carries.
const KEY_EXCERPT_CHARS: usize = 32;

/// Why a form body was not converted. Offsets are byte offsets into the
/// body as received; `key` is an excerpt of the decoded field name (at most
/// 32 characters, escaped when displayed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormError {
    /// A `%` not followed by two hex digits, at `offset`.
    InvalidPercentEncoding {
        /// Byte offset into the body where the problem was found.
        offset: usize,
    },
    /// The field starting at `offset` is not UTF-8 once decoded.
    InvalidUtf8 {
        /// Byte offset into the body where the problem was found.
        offset: usize,
    },
    /// The body has more than [`MAX_FIELDS`] fields.
    TooManyFields {
        /// Byte offset into the body where the problem was found.
        offset: usize,
    },
    /// A field name that is empty or malformed (`a[b`, `a]`, `a..b`, `[a]`).
    InvalidKey {
        /// Byte offset into the body where the problem was found.
        offset: usize,
        /// The decoded field name, cut to 32 characters.
        key: String,
    },
    /// A field name with more than [`MAX_DEPTH`] parts.
    TooDeep {
        /// Byte offset into the body where the problem was found.
        offset: usize,
        /// The decoded field name, cut to 32 characters.
        key: String,
    },
    /// An array index beyond the next free one.
    IndexTooLarge {
        /// Byte offset into the body where the problem was found.
        offset: usize,
        /// The decoded field name, cut to 32 characters.
        key: String,
    },
    /// A field needs a different shape than earlier fields gave this name.
    MixedShape {
        /// Byte offset into the body where the problem was found.
        offset: usize,
        /// The decoded field name, cut to 32 characters.
        key: String,
    },
}

/// The part of a field name an error may carry: its first 32 characters.
fn excerpt(name: &str) -> String {
    match name.char_indices().nth(KEY_EXCERPT_CHARS) {
        Some((end, _)) => format!("{}…", &name[..end]),
        None => name.to_owned(),
    }
}

impl fmt::Display for FormError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FormError::InvalidPercentEncoding { offset } => write!(
                f,
                "form body has a `%` not followed by two hex digits at byte {offset}"
            ),
            FormError::InvalidUtf8 { offset } => {
                write!(f, "form field at byte {offset} is not UTF-8 once decoded")
            }
            FormError::TooManyFields { offset } => write!(
                f,
                "form body has more than {MAX_FIELDS} fields (at byte {offset})"
            ),
            FormError::InvalidKey { offset, key } => write!(
                f,
                "form field name `{}` at byte {offset} is malformed",
                key.escape_debug()
            ),
            FormError::TooDeep { offset, key } => write!(
                f,
                "form field name `{}` at byte {offset} has more than {MAX_DEPTH} parts",
                key.escape_debug()
            ),
            FormError::IndexTooLarge { offset, key } => write!(
                f,
                "form field `{}` at byte {offset} skips array indices",
                key.escape_debug()
            ),
            FormError::MixedShape { offset, key } => write!(
                f,
                "form field `{}` at byte {offset} conflicts with the shape of an earlier field",
                key.escape_debug()
            ),
        }
    }
}

impl std::error::Error for FormError {}

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Converts a form-urlencoded body to compact JSON text (UTF-8), as
/// described in the [module documentation](self).
pub fn to_json(body: &[u8], options: &FormOptions) -> Result<Vec<u8>, FormError> {
    let skipped = if body.starts_with(UTF8_BOM) {
        UTF8_BOM.len()
    } else {
        0
    };
    let mut tree = Tree::default();
    let mut segments = Vec::new();
    for (count, field) in decode::fields(body, skipped).enumerate() {
        let field = field?;
        if count == MAX_FIELDS {
            return Err(FormError::TooManyFields {
                offset: field.offset,
            });
        }
        let offset = field.offset;
        let key = || excerpt(&field.name);
        path::parse(&field.name, &mut segments).map_err(|error| match error {
            PathError::Malformed => FormError::InvalidKey { offset, key: key() },
            PathError::TooDeep => FormError::TooDeep { offset, key: key() },
            PathError::IndexTooLarge => FormError::IndexTooLarge { offset, key: key() },
        })?;
        let value = value::leaf(field.value, options);
        tree.insert(&field.name, &segments, value)
            .map_err(|conflict| match conflict {
                Conflict::MixedShape => FormError::MixedShape { offset, key: key() },
                Conflict::IndexTooLarge => FormError::IndexTooLarge { offset, key: key() },
            })?;
    }
    let mut json = Vec::with_capacity(body.len());
    tree.write_json(&mut json);
    Ok(json)
}
