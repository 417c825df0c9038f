//! A field's value → JSON: a string, or, with `json_fields`, the JSON object
//! or array it holds.

use serde_json::value::RawValue;

use super::{FormOptions, MAX_EMBEDDED_DEPTH};
use crate::tree::Node;

/// The JSON value of a decoded field value.
pub(super) fn leaf(value: String, options: &FormOptions) -> Node {
    if options.json_fields
        && let Some(json) = embedded_json(&value)
    {
        return Node::Raw(json);
    }
    Node::String(value)
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
