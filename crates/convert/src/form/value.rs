//! A field's value → JSON: a string, or, with `json_fields`, the JSON object
//! or array it holds.

use std::borrow::Cow;

use serde_json::value::RawValue;

use super::{FormOptions, MAX_EMBEDDED_DEPTH};
use crate::tree::write_string;

/// A field's JSON value.
#[derive(Debug)]
pub(super) enum Leaf<'a> {
    /// A string, usually borrowed from the body.
    Text(Cow<'a, str>),
    /// Valid, compact JSON text, written as it is.
    Json(String),
}

impl Leaf<'_> {
    pub(super) fn write_json(&self, out: &mut Vec<u8>) {
        match self {
            Leaf::Text(text) => write_string(text, out),
            Leaf::Json(json) => out.extend_from_slice(json.as_bytes()),
        }
    }
}

/// The JSON value of a decoded field value.
pub(super) fn leaf<'a>(value: Cow<'a, str>, options: &FormOptions) -> Leaf<'a> {
    if options.json_fields
        && let Some(json) = embedded_json(&value)
    {
        return Leaf::Json(json);
    }
    Leaf::Text(value)
}

/// The compact text of `value` if it is a JSON object or array nested at
/// most [`MAX_EMBEDDED_DEPTH`] deep.
fn embedded_json(value: &str) -> Option<String> {
    let trimmed = value.trim_start_matches([' ', '\t', '\n', '\r']);
    if !trimmed.starts_with(['{', '[']) {
        return None;
    }
    // Validation only: `RawValue` checks the grammar without building (and
    // reordering) a `serde_json::Value`.
    serde_json::from_str::<&RawValue>(trimmed).ok()?;
    compact(trimmed)
}

/// Removes insignificant whitespace from valid JSON text, or returns `None`
/// when it nests deeper than [`MAX_EMBEDDED_DEPTH`].
fn compact(json: &str) -> Option<String> {
    let mut out = String::with_capacity(json.len());
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for c in json.chars() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            ' ' | '\t' | '\n' | '\r' => continue,
            '"' => in_string = true,
            '{' | '[' => {
                depth += 1;
                if depth > MAX_EMBEDDED_DEPTH {
                    return None;
                }
            }
            '}' | ']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        out.push(c);
    }
    Some(out)
}
