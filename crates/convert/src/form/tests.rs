//! One test per mapping rule and per refusal, hostile inputs included.

use super::*;
use crate::tree::is_json;

const STRINGS: FormOptions = FormOptions { json_fields: false };
const JSON_FIELDS: FormOptions = FormOptions { json_fields: true };

fn convert_with(body: &str, options: &FormOptions) -> String {
    let json =
        to_json(body.as_bytes(), options).unwrap_or_else(|e| panic!("{body:?} was refused: {e}"));
    assert!(is_json(&json), "output is JSON");
    String::from_utf8(json).expect("output is UTF-8")
}

fn convert(body: &str) -> String {
    convert_with(body, &JSON_FIELDS)
}

fn refusal(body: impl AsRef<[u8]>) -> FormError {
    match to_json(body.as_ref(), &JSON_FIELDS) {
        Ok(json) => panic!("accepted: {}", String::from_utf8_lossy(&json)),
        Err(error) => error,
    }
}

#[test]
fn the_documented_mapping_holds() {
    let table = [
        (
            "site=5a0c&status=APPROVED",
            r#"{"site":"5a0c","status":"APPROVED"}"#,
        ),
        ("", "{}"),
        ("flag&note=", r#"{"flag":"","note":""}"#),
        ("note=a+b%26c%C3%A9", r#"{"note":"a b&cé"}"#),
        ("a=1&a=2&a=3", r#"{"a":["1","2","3"]}"#),
        ("a[]=1", r#"{"a":["1"]}"#),
        (
            "site[uuid]=x&site.name=y",
            r#"{"site":{"uuid":"x","name":"y"}}"#,
        ),
        (
            "tasks[0][name]=x&tasks[1][name]=y&tasks[0][id]=7",
            r#"{"tasks":[{"name":"x","id":"7"},{"name":"y"}]}"#,
        ),
        (
            "docs[][id]=1&docs[][id]=2",
            r#"{"docs":[{"id":"1"},{"id":"2"}]}"#,
        ),
        ("tasks.0.name=x", r#"{"tasks":[{"name":"x"}]}"#),
        ("a[01]=x&a[b.c]=y", r#"{"a":{"01":"x","b.c":"y"}}"#),
        (
            r#"data={"id": 1, "ok": [true]}"#,
            r#"{"data":{"id":1,"ok":[true]}}"#,
        ),
    ];
    for (body, json) in table {
        assert_eq!(convert(body), json, "{body}");
    }
    assert!(matches!(
        refusal("tasks[1][name]=x"),
        FormError::IndexTooLarge { .. }
    ));
    assert!(matches!(
        refusal("a=1&a[b]=2"),
        FormError::MixedShape { .. }
    ));
}

#[test]
fn serde_json_s_private_token_is_just_a_name() {
    // `serde_json::Value` would read this output as the JSON inside "x"
    // when the `raw_value` feature is on; the output itself is plain JSON.
    assert_eq!(
        convert("%24serde_json%3A%3Aprivate%3A%3ARawValue=x"),
        r#"{"$serde_json::private::RawValue":"x"}"#
    );
}

#[test]
fn members_keep_first_appearance_order() {
    assert_eq!(
        convert("z=1&a[y]=2&m=3&a[b]=4&z=5"),
        r#"{"z":["1","5"],"a":{"y":"2","b":"4"},"m":"3"}"#
    );
}

#[test]
fn escapes_decode_strictly() {
    assert_eq!(convert("k=%2B+%20%25%3d"), r#"{"k":"+  %="}"#);
    assert_eq!(convert("%E2%9C%93=%F0%9F%98%80"), r#"{"✓":"😀"}"#);
    assert_eq!(convert("raw=é"), r#"{"raw":"é"}"#);
    assert_eq!(convert("a=b=c"), r#"{"a":"b=c"}"#);
    assert_eq!(convert("&&a=1&&"), r#"{"a":"1"}"#);
    assert_eq!(convert("a=1\n"), r#"{"a":"1\n"}"#);
}

#[test]
fn invalid_percent_escapes_are_refused_where_they_are() {
    for (body, offset) in [
        ("a=%", 2),
        ("a=%4", 2),
        ("a=%zz", 2),
        ("x=1&k%g1=2", 5),
        ("a=%%41", 2),
    ] {
        assert_eq!(
            refusal(body),
            FormError::InvalidPercentEncoding { offset },
            "{body}"
        );
    }
}

#[test]
fn invalid_utf8_is_refused_not_replaced() {
    assert_eq!(refusal("a=1&b=%FF"), FormError::InvalidUtf8 { offset: 6 });
    assert_eq!(refusal("a=1&%C3=x"), FormError::InvalidUtf8 { offset: 4 });
    assert_eq!(refusal(b"a=\xC3\x28"), FormError::InvalidUtf8 { offset: 2 });
    assert_eq!(refusal("a=%ED%A0%80"), FormError::InvalidUtf8 { offset: 2 });
}

#[test]
fn a_utf8_bom_is_skipped() {
    assert_eq!(
        to_json(b"\xEF\xBB\xBFa=1", &STRINGS).unwrap(),
        br#"{"a":"1"}"#
    );
    assert_eq!(
        refusal(b"\xEF\xBB\xBFa=%"),
        FormError::InvalidPercentEncoding { offset: 5 }
    );
}

#[test]
fn brackets_may_arrive_percent_encoded() {
    assert_eq!(
        convert("site%5Buuid%5D=x&tasks%5B0%5D%5Bname%5D=y"),
        r#"{"site":{"uuid":"x"},"tasks":[{"name":"y"}]}"#
    );
}

#[test]
fn bracket_and_dot_notation_nest_alike() {
    let expected = r#"{"a":{"b":[{"c":"x"}]}}"#;
    for body in ["a[b][0][c]=x", "a.b.0.c=x", "a[b].0[c]=x", "a.b[0].c=x"] {
        assert_eq!(convert(body), expected, "{body}");
    }
    assert_eq!(convert("0=x&7[a]=y"), r#"{"0":"x","7":{"a":"y"}}"#);
    assert_eq!(convert("a[][]=1&a[][]=2"), r#"{"a":[["1"],["2"]]}"#);
    assert_eq!(convert("a[0][0]=1&a[0][1]=2"), r#"{"a":[["1","2"]]}"#);
}

#[test]
fn malformed_names_are_refused() {
    for (body, name) in [
        ("=x", ""),
        ("a[b=x", "a[b"),
        ("a]=x", "a]"),
        ("a..b=x", "a..b"),
        ("a.=x", "a."),
        ("[a]=x", "[a]"),
        ("a[b]c=x", "a[b]c"),
        ("a[b[c]]=x", "a[b[c]]"),
        (".a=x", ".a"),
        ("a.b]=x", "a.b]"),
    ] {
        let key = name.to_owned();
        assert_eq!(
            refusal(body),
            FormError::InvalidKey { offset: 0, key },
            "{body}"
        );
    }
}

#[test]
fn indices_must_be_dense() {
    assert_eq!(
        refusal("tasks[99999999]=x"),
        FormError::IndexTooLarge {
            offset: 0,
            key: "tasks[99999999]".into()
        }
    );
    assert_eq!(
        refusal("a[0]=x&a[2]=y"),
        FormError::IndexTooLarge {
            offset: 7,
            key: "a[2]".into()
        }
    );
    assert!(matches!(
        refusal("a[99999999999999999999999999]=x"),
        FormError::IndexTooLarge { .. }
    ));
    assert!(matches!(refusal("a.5=x"), FormError::IndexTooLarge { .. }));
    assert!(matches!(
        refusal("a[]=x&a[2]=y"),
        FormError::IndexTooLarge { .. }
    ));
    assert_eq!(
        convert("a[0]=x&a[1]=y&a[1]=z&a[0]=w"),
        r#"{"a":[["x","w"],["y","z"]]}"#
    );
}

#[test]
fn a_huge_index_costs_nothing() {
    for _ in 0..1000 {
        assert!(matches!(
            to_json(b"tasks[999999999][name]=x", &STRINGS),
            Err(FormError::IndexTooLarge { .. })
        ));
    }
}

#[test]
fn repeats_collect_into_arrays() {
    assert_eq!(convert("a=1&a=2"), r#"{"a":["1","2"]}"#);
    assert_eq!(convert("a[]=1&a=2"), r#"{"a":["1","2"]}"#);
    assert_eq!(convert("a[0]=1&a=2"), r#"{"a":["1","2"]}"#);
    assert_eq!(convert("a=1&a[]=2"), r#"{"a":["1","2"]}"#);
    assert_eq!(convert("a=1&a[1]=2"), r#"{"a":["1","2"]}"#);
    assert_eq!(convert("a=1&a[0]=2"), r#"{"a":[["1","2"]]}"#);
    assert_eq!(convert("a=1&a=2&a[2]=3"), r#"{"a":["1","2","3"]}"#);
    assert_eq!(convert("s[x]=1&s[x]=2"), r#"{"s":{"x":["1","2"]}}"#);
    assert_eq!(convert("a[0][b]=1&a=2"), r#"{"a":[{"b":"1"},"2"]}"#);
}

#[test]
fn conflicting_shapes_are_refused() {
    for (body, offset, name) in [
        ("a=1&a[b]=2", 4, "a[b]"),
        ("a[b]=1&a=2", 7, "a"),
        ("a[b]=1&a[]=2", 7, "a[]"),
        ("a[b]=1&a[0]=2", 7, "a[0]"),
        ("a[]=1&a[b]=2", 6, "a[b]"),
        ("a[0]=1&a[0][b]=2", 7, "a[0][b]"),
        ("a=1&a[0][b]=2", 4, "a[0][b]"),
        ("a[b][c]=1&a[b]=2", 10, "a[b]"),
        ("a={\"x\":1}&a[y]=2", 10, "a[y]"),
    ] {
        assert_eq!(
            refusal(body),
            FormError::MixedShape {
                offset,
                key: name.into()
            },
            "{body}"
        );
    }
}

#[test]
fn json_fields_embed_objects_and_arrays_only() {
    let cases = [
        (
            r#"d={"b":1,"a":[1,2.50,"x"]}"#,
            r#"{"d":{"b":1,"a":[1,2.50,"x"]}}"#,
        ),
        ("d=+%5B+1+%2C+%7B%7D+%5D+", r#"{"d":[1,{}]}"#),
        (
            r#"d={"s":"keep  this \" and } this"}"#,
            r#"{"d":{"s":"keep  this \" and } this"}}"#,
        ),
        (r#"d={"a":1,"a":2}"#, r#"{"d":{"a":1,"a":2}}"#),
        ("d=[]", r#"{"d":[]}"#),
        ("d=123", r#"{"d":"123"}"#),
        ("d=true", r#"{"d":"true"}"#),
        (r#"d="s""#, r#"{"d":"\"s\""}"#),
        ("d=[True]", r#"{"d":"[True]"}"#),
        ("d={not json}", r#"{"d":"{not json}"}"#),
        ("d=[1]x", r#"{"d":"[1]x"}"#),
    ];
    for (body, json) in cases {
        assert_eq!(convert(body), json, "{body}");
    }
    assert_eq!(
        convert_with(r#"d={"a":1}"#, &STRINGS),
        r#"{"d":"{\"a\":1}"}"#
    );
    assert_eq!(FormOptions::default(), JSON_FIELDS);
}

#[test]
fn json_fields_nest_only_so_deep() {
    let fits = format!(
        "d={}{}",
        "[".repeat(MAX_EMBEDDED_DEPTH),
        "]".repeat(MAX_EMBEDDED_DEPTH)
    );
    assert_eq!(convert(&fits), format!("{{\"d\":{}}}", &fits[2..]));
    let deep = format!(
        "d={}{}",
        "[".repeat(MAX_EMBEDDED_DEPTH + 1),
        "]".repeat(MAX_EMBEDDED_DEPTH + 1)
    );
    assert_eq!(convert(&deep), format!("{{\"d\":\"{}\"}}", &deep[2..]));
    let hostile = format!("d={}", "[".repeat(500_000));
    assert!(convert(&hostile).starts_with(r#"{"d":"[[["#));
}

#[test]
fn names_nest_only_so_deep() {
    let fits = format!("a{}=x", "[b]".repeat(MAX_DEPTH - 1));
    assert!(to_json(fits.as_bytes(), &STRINGS).is_ok());
    let deep = format!("a{}=x", "[b]".repeat(MAX_DEPTH));
    assert!(matches!(
        refusal(&deep),
        FormError::TooDeep { offset: 0, .. }
    ));
    let hostile = format!("a{}=x", ".b".repeat(500_000));
    assert!(matches!(refusal(&hostile), FormError::TooDeep { .. }));
}

#[test]
fn field_counts_are_bounded() {
    let fits = vec!["a=1"; MAX_FIELDS].join("&");
    assert!(to_json(fits.as_bytes(), &STRINGS).is_ok());
    let over = vec!["a=1"; MAX_FIELDS + 1].join("&");
    assert_eq!(
        refusal(&over),
        FormError::TooManyFields {
            offset: 4 * MAX_FIELDS
        }
    );
}

#[test]
fn many_distinct_names_convert_in_linear_time() {
    let body = (0..MAX_FIELDS)
        .map(|i| format!("f{i}[x]=1"))
        .collect::<Vec<_>>()
        .join("&");
    let json = to_json(body.as_bytes(), &STRINGS).expect("within limits");
    assert!(json.ends_with(br#""f9999":{"x":"1"}}"#));
}

#[test]
fn messages_quote_at_most_a_short_escaped_excerpt() {
    let long = format!("{}\u{1b}[31m\"{}[x", "k".repeat(26), "z".repeat(1000));
    let error = refusal(format!("{long}=1"));
    let message = error.to_string();
    assert!(message.contains(r#"kkk\u{1b}[31m\"…"#), "{message}");
    assert!(!message.contains('\u{1b}'));
    assert!(!message.contains("zz"));
    assert!(message.len() < 150, "{message}");
    for error in [
        refusal("a=%zz"),
        refusal("a=%FF"),
        refusal(vec!["a"; MAX_FIELDS + 1].join("&")),
    ] {
        let message = error.to_string();
        assert!(
            !message.contains("zz") && !message.contains("FF"),
            "{message}"
        );
    }
}
