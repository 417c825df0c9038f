//! Python literals in JSON: `True`, `False` and `None` outside strings.
//!
//! EverBright's documented milestone sample is a Python `repr` rather than JSON, so a
//! partner may receive exactly that. The three literals have the same length as their
//! JSON spellings (`true`, `false`, `null`), so they are rewritten in place: every other
//! byte of the payload stays as sent, and strings (which may well contain "True" or
//! "None") are never touched. Nothing else is repaired: single quotes, trailing commas
//! and the like still make the body a dead letter.

/// The literals and their JSON spellings, all the same length.
const LITERALS: [(&[u8], &[u8]); 3] =
    [(b"True", b"true"), (b"False", b"false"), (b"None", b"null")];

/// `body` with Python literals outside strings rewritten, or `None` when it has none
/// (the common case, which allocates nothing).
pub fn rewrite(body: &[u8]) -> Option<Vec<u8>> {
    let mut out: Option<Vec<u8>> = None;
    let mut in_string = false;
    let mut i = 0;
    while i < body.len() {
        let b = body[i];
        if in_string {
            match b {
                b'\\' => i += 1,
                b'"' => in_string = false,
                _ => {}
            }
        } else if b == b'"' {
            in_string = true;
        } else if matches!(b, b'T' | b'F' | b'N') && !is_word(body, i.wrapping_sub(1)) {
            for (python, json) in LITERALS {
                if body[i..].starts_with(python) && !is_word(body, i + python.len()) {
                    let buf = out.get_or_insert_with(|| body.to_vec());
                    buf[i..i + json.len()].copy_from_slice(json);
                    i += python.len() - 1;
                    break;
                }
            }
        }
        i += 1;
    }
    out
}

/// Whether the byte at `i` (if any) continues a word, so a literal there is only part
/// of a longer token such as `Nonesuch`.
fn is_word(body: &[u8], i: usize) -> bool {
    body.get(i)
        .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(body: &str) -> Option<String> {
        rewrite(body.as_bytes()).map(|b| String::from_utf8(b).unwrap())
    }

    #[test]
    fn rewrites_literals_outside_strings() {
        assert_eq!(
            text(r#"{"a":True,"b":False,"c":None,"d":[True,None]}"#).as_deref(),
            Some(r#"{"a":true,"b":false,"c":null,"d":[true,null]}"#)
        );
        assert_eq!(text("True").as_deref(), Some("true"));
        assert_eq!(
            text("{\"a\" : \n\tFalse }").as_deref(),
            Some("{\"a\" : \n\tfalse }")
        );
    }

    #[test]
    fn leaves_strings_alone() {
        assert_eq!(text(r#"{"thread":"None","s":"True or False"}"#), None);
        assert_eq!(
            text(r#"{"q":"say \"None\" True","v":None}"#).as_deref(),
            Some(r#"{"q":"say \"None\" True","v":null}"#)
        );
        assert_eq!(
            text(r#"{"k":"\\","v":True}"#).as_deref(),
            Some(r#"{"k":"\\","v":true}"#)
        );
        assert_eq!(text(r#"{"True":1}"#), None);
    }

    #[test]
    fn leaves_other_tokens_alone() {
        assert_eq!(text(r#"{"a":Nonesuch,"b":xTrue,"c":True_}"#), None);
        assert_eq!(text(r#"{"a":true,"b":null}"#), None);
        assert_eq!(text(""), None);
        assert_eq!(text("Tru"), None);
    }

    #[test]
    fn keeps_every_other_byte() {
        let sample = include_str!("../../tests/fixtures/json/milestone-status-change.json");
        let fixed = rewrite(sample.as_bytes()).unwrap();
        assert_eq!(fixed.len(), sample.len());
        let changed = sample.bytes().zip(&fixed).filter(|(a, b)| a != *b).count();
        assert!(changed > 0);
        let value: serde_json::Value = serde_json::from_slice(&fixed).unwrap();
        assert_eq!(value["ready_to_submit"], serde_json::Value::Bool(true));
        assert_eq!(value["comments"][0]["thread"], "None");
        assert_eq!(
            value["tasks"][0]["sub_tasks"][0]["data"],
            serde_json::Value::Bool(false)
        );
    }
}
