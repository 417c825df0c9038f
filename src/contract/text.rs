//! The contract's documents as text: pretty JSON and block-style YAML, with keys in a
//! reading order (what a thing is before what it contains), so that the generated
//! files read well and diff line by line.
//!
//! Only what the contract needs: every YAML scalar is either plain, when it cannot be
//! read as anything but that string, or a JSON string (YAML's double-quoted style
//! accepts JSON's escapes), so no string is ever read back as a number, a boolean or
//! a comment. Parsing is left to the tools that read the contract.

use std::cmp::Ordering;

use serde_json::{Map, Value};

/// Keys that come first, in this order; others follow alphabetically.
const FIRST: [&str; 46] = [
    "asyncapi",
    "$schema",
    "$id",
    "$comment",
    "$ref",
    "host",
    "protocol",
    "address",
    "action",
    "channel",
    "title",
    "name",
    "version",
    "summary",
    "description",
    "schemaFormat",
    "type",
    "const",
    "enum",
    "format",
    "pattern",
    "maxLength",
    "contentEncoding",
    "contentMediaType",
    "examples",
    "info",
    "defaultContentType",
    "servers",
    "channels",
    "operations",
    "components",
    "contentType",
    "headers",
    "payload",
    "schema",
    "key",
    "topic",
    "groupId",
    "bindingVersion",
    "required",
    "properties",
    "items",
    "if",
    "then",
    "else",
    "$defs",
];

fn rank(key: &str) -> usize {
    FIRST.iter().position(|k| *k == key).unwrap_or(FIRST.len())
}

fn ordered(map: &Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut entries: Vec<_> = map.iter().collect();
    entries.sort_by(|(a, _), (b, _)| match rank(a).cmp(&rank(b)) {
        Ordering::Equal => a.cmp(b),
        other => other,
    });
    entries
}

/// `value` as JSON, two spaces per level, with a final newline.
pub fn json(value: &Value) -> String {
    let mut out = String::new();
    json_value(value, 0, &mut out);
    out.push('\n');
    out
}

fn json_value(value: &Value, depth: usize, out: &mut String) {
    let pad = |depth: usize, out: &mut String| out.push_str(&"  ".repeat(depth));
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push_str("{\n");
            for (i, (key, item)) in ordered(map).into_iter().enumerate() {
                if i > 0 {
                    out.push_str(",\n");
                }
                pad(depth + 1, out);
                out.push_str(&quoted(key));
                out.push_str(": ");
                json_value(item, depth + 1, out);
            }
            out.push('\n');
            pad(depth, out);
            out.push('}');
        }
        Value::Array(items) if !items.is_empty() => {
            out.push_str("[\n");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(",\n");
                }
                pad(depth + 1, out);
                json_value(item, depth + 1, out);
            }
            out.push('\n');
            pad(depth, out);
            out.push(']');
        }
        other => out.push_str(&scalar_json(other)),
    }
}

/// `value` (an object) as a YAML document, with a final newline.
pub fn yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) => yaml_map(map, 0, &mut out),
        other => {
            out.push_str(&yaml_scalar(other));
            out.push('\n');
        }
    }
    out
}

fn yaml_map(map: &Map<String, Value>, depth: usize, out: &mut String) {
    for (key, value) in ordered(map) {
        out.push_str(&"  ".repeat(depth));
        yaml_entry(key, value, depth, out);
    }
}

/// `key: value`, the cursor already indented for the key.
fn yaml_entry(key: &str, value: &Value, depth: usize, out: &mut String) {
    out.push_str(&yaml_string(key));
    out.push(':');
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push('\n');
            yaml_map(map, depth + 1, out);
        }
        Value::Array(items) if !items.is_empty() => {
            out.push('\n');
            yaml_items(items, depth + 1, out);
        }
        other => {
            out.push(' ');
            out.push_str(&yaml_scalar(other));
            out.push('\n');
        }
    }
}

fn yaml_items(items: &[Value], depth: usize, out: &mut String) {
    for item in items {
        out.push_str(&"  ".repeat(depth));
        out.push_str("- ");
        match item {
            Value::Object(map) if !map.is_empty() => {
                // The first entry shares the dash's line; the others align with it.
                for (i, (key, value)) in ordered(map).into_iter().enumerate() {
                    if i > 0 {
                        out.push_str(&"  ".repeat(depth + 1));
                    }
                    yaml_entry(key, value, depth + 1, out);
                }
            }
            Value::Array(inner) if !inner.is_empty() => {
                out.push('\n');
                yaml_items(inner, depth + 1, out);
            }
            other => {
                out.push_str(&yaml_scalar(other));
                out.push('\n');
            }
        }
    }
}

fn yaml_scalar(value: &Value) -> String {
    match value {
        Value::String(s) => yaml_string(s),
        other => scalar_json(other),
    }
}

/// A JSON scalar, `{}` or `[]`: the same text in both languages.
fn scalar_json(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => quoted(s),
        Value::Object(_) => "{}".into(),
        Value::Array(_) => "[]".into(),
    }
}

/// `s` plain where YAML reads it back as that same string, else double-quoted.
fn yaml_string(s: &str) -> String {
    if plain(s) { s.to_string() } else { quoted(s) }
}

/// Whether `s` reads back as itself unquoted: it starts with a letter, `_`, `/` or
/// `$`; holds no character that means something in YAML (`: ` and ` #` included);
/// does not end in a space or a colon; and is no YAML 1.1 or 1.2 keyword.
fn plain(s: &str) -> bool {
    const KEYWORDS: [&str; 11] = [
        "y", "n", "yes", "no", "on", "off", "true", "false", "null", "~", "",
    ];
    let starts_well = s
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || matches!(c, '_' | '/' | '$'));
    let harmless = s.chars().all(|c| {
        c.is_ascii_alphanumeric()
            || c == ' '
            || matches!(
                c,
                '_' | '/' | '$' | '.' | '-' | '+' | '(' | ')' | ';' | '=' | ':'
            )
    });
    starts_well
        && harmless
        && !s.contains(": ")
        && !s.contains(" #")
        && !s.ends_with([' ', ':'])
        && !KEYWORDS.contains(&s.to_ascii_lowercase().as_str())
}

fn quoted(s: &str) -> String {
    // Serialising a &str cannot fail.
    serde_json::to_string(s).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strings_that_yaml_would_read_as_something_else_are_quoted() {
        for (s, out) in [
            ("kafka", "kafka"),
            (
                "everbright.production.site-archived",
                "everbright.production.site-archived",
            ),
            ("$ref", "$ref"),
            (
                "/everbright/production/engine",
                "/everbright/production/engine",
            ),
            ("Milestone Status Change", "Milestone Status Change"),
            ("localhost:9092", "localhost:9092"),
            ("3.0.0", "\"3.0.0\""),
            ("1.0", "\"1.0\""),
            ("true", "\"true\""),
            ("No", "\"No\""),
            ("null", "\"null\""),
            ("", "\"\""),
            ("#/components/messages/x", "\"#/components/messages/x\""),
            ("a: b", "\"a: b\""),
            ("a #b", "\"a #b\""),
            ("ends:", "\"ends:\""),
            ("-x", "\"-x\""),
            ("*alias", "\"*alias\""),
            ("it's", "\"it's\""),
            ("two\nlines", "\"two\\nlines\""),
            (
                "application/cloudevents+json; charset=utf-8",
                "application/cloudevents+json; charset=utf-8",
            ),
            ("^[0-9a-f]{64}$", "\"^[0-9a-f]{64}$\""),
        ] {
            assert_eq!(yaml_string(s), out, "{s:?}");
        }
    }

    #[test]
    fn yaml_nests_maps_and_sequences_in_block_style() {
        let doc = json!({
            "info": {"title": "t", "version": "1.0"},
            "asyncapi": "3.0.0",
            "list": [{"$ref": "#/a", "b": 1}, "x", []],
            "empty": {}
        });
        assert_eq!(
            yaml(&doc),
            "asyncapi: \"3.0.0\"\ninfo:\n  title: t\n  version: \"1.0\"\nempty: {}\nlist:\n  - $ref: \"#/a\"\n    b: 1\n  - x\n  - []\n"
        );
    }

    #[test]
    fn json_is_pretty_ordered_and_reads_back_equal() {
        let doc =
            json!({"type": "object", "$schema": "s", "properties": {"b": {}, "a": [1, "two"]}});
        let text = json(&doc);
        assert!(
            text.starts_with("{\n  \"$schema\": \"s\",\n  \"type\": \"object\""),
            "{text}"
        );
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), doc);
    }
}
