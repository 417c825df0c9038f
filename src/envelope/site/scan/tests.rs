//! The scanner against `serde_json`, which it replaces on the hot path: for any text,
//! the same verdict and the same members (keys decoded, values as written).

use std::fmt;

use proptest::prelude::*;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::*;

/// What `serde_json` makes of `text` as an object: its members in order, keys as
/// `String`s (decoded strictly) and values as raw text (skipped).
fn oracle(text: &str) -> Option<Vec<(String, String)>> {
    struct Members;
    impl<'de> Visitor<'de> for Members {
        type Value = Vec<(String, String)>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut members = Vec::new();
            while let Some(key) = map.next_key::<String>()? {
                let value = map.next_value::<&RawValue>()?;
                members.push((key, value.get().to_owned()));
            }
            Ok(members)
        }
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let members = de.deserialize_map(Members).ok()?;
    de.end().ok()?;
    Some(members)
}

fn scanned(text: &str) -> Option<Vec<(String, String)>> {
    let members = object(text).ok()?;
    Some(
        members
            .into_iter()
            .map(|(k, v)| (k.into_owned(), v.to_owned()))
            .collect(),
    )
}

fn agree(text: &str) {
    assert_eq!(scanned(text), oracle(text), "{text:?}");
}

#[test]
fn indexes_members_as_written() {
    let text = " {\"a\" : 1 ,\"b\":[true, {\"c\":null}],\"d\\u0041\":\"x\\\"y\", \"a\":-0.5e+3}\n";
    let members = object(text).unwrap();
    let got: Vec<(&str, &str)> = members.iter().map(|(k, v)| (k.as_ref(), *v)).collect();
    assert_eq!(
        got,
        [
            ("a", "1"),
            ("b", "[true, {\"c\":null}]"),
            ("dA", "\"x\\\"y\""),
            ("a", "-0.5e+3"),
        ]
    );
    assert!(matches!(members[0].0, Cow::Borrowed(_)));
    assert!(matches!(members[2].0, Cow::Owned(_)));
    agree(text);
}

#[test]
fn agrees_on_the_edges_of_the_grammar() {
    for text in [
        "{}",
        " { } ",
        "{\"a\":{}}",
        "{\"a\":[]}",
        "{\"a\":[[],{},[{}]]}",
        "{\"a\":0}",
        "{\"a\":-0}",
        "{\"a\":01}",
        "{\"a\":-}",
        "{\"a\":1.}",
        "{\"a\":.5}",
        "{\"a\":1e}",
        "{\"a\":1e+}",
        "{\"a\":1E-07}",
        "{\"a\":1e999}",
        "{\"a\":+1}",
        "{\"a\":tru}",
        "{\"a\":truex}",
        "{\"a\":nul}",
        "{\"a\":True}",
        "{\"a\":1,}",
        "{\"a\":[1,]}",
        "{\"a\":[1 2]}",
        "{\"a\":{\"b\":1,}}",
        "{\"a\":{1:2}}",
        "{\"a\" 1}",
        "{a:1}",
        "{\"a\":1}}",
        "{\"a\":1]",
        "{\"a\":[1}",
        "{\"a\":1} x",
        "{\"a\":1",
        "{\"a\":\"b",
        "{\"a\":\"b\\",
        "{\"a\":\"\\x\"}",
        "{\"a\":\"\\u12\"}",
        "{\"a\":\"\\u12G4\"}",
        "{\"a\":\"\\uD800\"}",
        "{\"\\uD800\":1}",
        "{\"\\uD83D\\uDE00\":1}",
        "{\"\\/\":1}",
        "{\"a\":\"tab\there\"}",
        "{\"a\":\"nul\u{0}\"}",
        "{\"a\u{1f}\":1}",
        "{\"a\":\"é \u{7f} \u{80}\"}",
        "{\"\":\"\"}",
        "{\"a\":\"0123456789abcdef\\\"0123456789\"}",
        "{\u{0}}",
        "{\"a\":1}\u{0}",
        "{",
        "}",
        "",
    ] {
        agree(text);
    }
}

#[test]
fn deep_nesting_needs_no_stack() {
    let deep = |depth: usize, open: &str, close: &str| {
        format!("{{\"a\":{}1{}}}", open.repeat(depth), close.repeat(depth))
    };
    let arrays = deep(100_000, "[", "]");
    let objects = deep(100_000, "{\"k\":", "}");
    let mixed = deep(50_000, "[{\"k\":", "}]");
    for text in [&arrays, &objects, &mixed] {
        assert_eq!(object(text).unwrap().len(), 1);
        // serde_json skips a value without a depth limit too.
        agree(text);
        // One closing bracket short, or one too many.
        assert!(object(&text[..text.len() - 2]).is_err());
        assert!(object(&format!("{}]}}", &text[..text.len() - 1])).is_err());
    }
}

#[test]
fn elements_are_found_by_index() {
    let text = "[ 1, {\"a\":[2]} ,\"x\" ]";
    assert_eq!(element(text, 0), Some("1"));
    assert_eq!(element(text, 1), Some("{\"a\":[2]}"));
    assert_eq!(element(text, 2), Some("\"x\""));
    assert_eq!(element(text, 3), None);
    assert_eq!(element("[]", 0), None);
    assert_eq!(element("{}", 0), None);
}

#[test]
fn the_milestone_sample_agrees() {
    let sample = include_str!("../../../../benches/load/milestone-2k.json");
    agree(sample);
    assert_eq!(object(sample).unwrap().len(), 17);
}

/// Every JSON fixture, as received (EverBright's documented milestone sample is a
/// Python `repr`, refused by both) and with its Python literals rewritten.
#[test]
fn every_fixture_agrees_as_received_and_rewritten() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/json");
    let mut refused = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        agree(&text);
        if let Some(rewritten) = crate::envelope::lenient::rewrite(&bytes) {
            refused += 1;
            assert!(object(&text).is_err(), "{path:?}");
            let rewritten = String::from_utf8(rewritten).unwrap();
            agree(&rewritten);
            assert!(object(&rewritten).is_ok(), "{path:?}");
        }
    }
    assert!(
        refused >= 1,
        "the Python-literal milestone sample is among the fixtures"
    );
}

/// What `serde_json` makes of `text` as an array: its element at `index`, as written.
fn element_oracle(text: &str, index: usize) -> Option<String> {
    let items: Vec<&RawValue> = serde_json::from_str(text).ok()?;
    items.get(index).map(|v| v.get().to_owned())
}

/// JSON-ish text: mostly valid, with the tokens that JSON gets wrong most often.
fn jsonish() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("null".to_string()),
        Just("true".to_string()),
        Just("false".to_string()),
        Just("True".to_string()),
        "-?(0|[1-9][0-9]{0,3})(\\.[0-9]{1,3})?([eE][+-]?[0-9]{1,3})?",
        "-?0[0-9]|-|1\\.|\\.5|1e|\\+1",
        string(),
    ];
    leaf.prop_recursive(6, 64, 6, |inner| {
        let space = "[ \t\n\r]{0,2}";
        prop_oneof![
            proptest::collection::vec((inner.clone(), space), 0..6).prop_map(|items| {
                let items: Vec<String> = items.into_iter().map(|(v, s)| v + &s).collect();
                format!("[{}]", items.join(","))
            }),
            proptest::collection::vec((string(), space, inner), 0..6).prop_map(|members| {
                let members: Vec<String> = members
                    .into_iter()
                    .map(|(k, s, v)| format!("{k}{s}:{s}{v}"))
                    .collect();
                format!("{{{}}}", members.join(","))
            }),
        ]
    })
}

/// A JSON string literal from pieces that are valid, or nearly.
fn string() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        "[a-z0-9 ]{0,12}",
        Just("é€😀".to_string()),
        Just("\\\"".to_string()),
        Just("\\\\".to_string()),
        Just("\\/\\b\\f\\n\\r\\t".to_string()),
        Just("\\u00e9".to_string()),
        Just("\\uD83D\\uDE00".to_string()),
        Just("\\uDE00".to_string()),
        Just("\\u12".to_string()),
        Just("\\x".to_string()),
        Just("\t".to_string()),
        Just("\u{1}".to_string()),
    ];
    proptest::collection::vec(piece, 0..4).prop_map(|pieces| format!("\"{}\"", pieces.concat()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn agrees_with_serde_json(
        members in proptest::collection::vec((string(), jsonish()), 0..6),
        edits in proptest::collection::vec(
            (any::<prop::sample::Index>(), 0u8..3, prop::sample::select(
                b"{}[],:\"\\ 0-.eEtnu1".to_vec())),
            0..3,
        ),
    ) {
        let members: Vec<String> = members.iter().map(|(k, v)| format!("{k}:{v}")).collect();
        let mut text = format!("{{{}}}", members.join(",")).into_bytes();
        for (at, kind, byte) in edits {
            let i = at.index(text.len() + 1);
            match kind {
                0 => text.insert(i, byte),
                1 if i < text.len() => { text.remove(i); }
                _ if i < text.len() => text[i] = byte,
                _ => {}
            }
        }
        // Edits may split a character: only text reaches the scanner.
        if let Ok(text) = String::from_utf8(text) {
            prop_assert_eq!(scanned(&text), oracle(&text), "{:?}", text);
        }
    }

    #[test]
    fn elements_agree_with_serde_json(
        items in proptest::collection::vec(jsonish(), 0..6),
        space in "[ \t\n\r]{0,2}",
        index in 0usize..7,
    ) {
        // `element` reads arrays the scanner validated already (members' values).
        let text = format!("[{space}{}{space}]", items.join(&format!("{space},")));
        if serde_json::from_str::<serde::de::IgnoredAny>(&text).is_ok() {
            prop_assert_eq!(
                element(&text, index).map(str::to_owned),
                element_oracle(&text, index),
                "{:?}", text
            );
        }
    }
}
