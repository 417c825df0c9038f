//! One test per mapping rule; refusals and limits are in `refusal_tests`.

use super::element::is_json_number;
use super::*;
use crate::tree::is_json;

pub(super) const PLAIN: XmlOptions = XmlOptions { infer_types: false };
const TYPED: XmlOptions = XmlOptions { infer_types: true };

pub(super) fn convert_with(xml: &str, options: &XmlOptions) -> String {
    let json =
        to_json(xml.as_bytes(), options).unwrap_or_else(|e| panic!("{xml:?} was refused: {e}"));
    assert!(is_json(&json), "output is JSON");
    String::from_utf8(json).expect("output is UTF-8")
}

pub(super) fn convert(xml: &str) -> String {
    convert_with(xml, &PLAIN)
}

pub(super) fn refusal(xml: impl AsRef<[u8]>) -> XmlError {
    match to_json(xml.as_ref(), &PLAIN) {
        Ok(json) => panic!("accepted: {}", String::from_utf8_lossy(&json)),
        Err(error) => error,
    }
}

#[test]
fn the_documented_mapping_holds() {
    let table = [
        (
            "<root><site>abc</site><n>1</n></root>",
            r#"{"site":"abc","n":"1"}"#,
        ),
        ("<root>abc</root>", r#""abc""#),
        (
            "<root><a/><b></b><c> </c></root>",
            r#"{"a":null,"b":null,"c":null}"#,
        ),
        (
            "<root><a>1</a><b/><a>2</a></root>",
            r#"{"a":["1","2"],"b":null}"#,
        ),
        (
            "<root><list-item>1</list-item><list-item>2</list-item></root>",
            r#"["1","2"]"#,
        ),
        (
            "<root><tags><list-item>x</list-item></tags></root>",
            r#"{"tags":["x"]}"#,
        ),
        (
            r#"<root><a id="7">x</a></root>"#,
            r##"{"a":{"@id":"7","#text":"x"}}"##,
        ),
        (r#"<root><a id="7"/></root>"#, r#"{"a":{"@id":"7"}}"#),
        (
            "<root><p>Hi <b>you</b> there</p></root>",
            r##"{"p":{"#text":["Hi "," there"],"b":"you"}}"##,
        ),
        (
            "<root><a> x </a><b><![CDATA[ ]]></b><c>&#32;</c></root>",
            r#"{"a":" x ","b":" ","c":" "}"#,
        ),
        ("<root><e><![CDATA[]]></e></root>", r#"{"e":""}"#),
        ("<root><a>&lt;&#233;&#x263A;</a></root>", r#"{"a":"<é☺"}"#),
        (
            r#"<r xmlns:e="urn:e"><e:site e:v="1">x</e:site></r>"#,
            r##"{"e:site":{"@e:v":"1","#text":"x"}}"##,
        ),
    ];
    for (xml, json) in table {
        assert_eq!(convert(xml), json, "{xml}");
    }
}

#[test]
fn the_document_element_is_unwrapped_whatever_its_name() {
    assert_eq!(convert("<root/>"), "null");
    assert_eq!(convert("<payload><a>1</a></payload>"), r#"{"a":"1"}"#);
    assert_eq!(convert("<r>  \n </r>"), "null");
    assert_eq!(convert("<r><!-- nothing --></r>"), "null");
}

#[test]
fn a_drf_document_converts_in_document_order() {
    let xml = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<root><site>0b3f</site>\
        <quote>9c1d</quote><status>APPROVED</status><comment></comment>\
        <tasks><list-item><name>Survey</name><sub_tasks><list-item><data>\
        <documents><list-item><uuid>d1</uuid></list-item><list-item><uuid>d2</uuid>\
        </list-item></documents></data></list-item></sub_tasks></list-item></tasks>\
        <is_active>True</is_active></root>";
    assert_eq!(
        convert(xml),
        r#"{"site":"0b3f","quote":"9c1d","status":"APPROVED","comment":null,"tasks":[{"name":"Survey","sub_tasks":[{"data":{"documents":[{"uuid":"d1"},{"uuid":"d2"}]}}]}],"is_active":"True"}"#
    );
}

#[test]
fn whitespace_between_elements_is_ignored() {
    let xml = "<root>\n  <a>1</a>\n  <b>\n    <list-item>x</list-item>\n  </b>\n</root>\n";
    assert_eq!(convert(xml), r#"{"a":"1","b":["x"]}"#);
}

#[test]
fn repeated_names_group_where_they_first_occur() {
    assert_eq!(
        convert("<r><a>1</a><b>x</b><a>2</a><c/><a>3</a></r>"),
        r#"{"a":["1","2","3"],"b":"x","c":null}"#
    );
    assert_eq!(
        convert("<r><a><x>1</x></a><a/></r>"),
        r#"{"a":[{"x":"1"},null]}"#
    );
}

#[test]
fn list_items_make_arrays_only_when_they_are_all_there_is() {
    assert_eq!(convert("<r><list-item/></r>"), "[null]");
    assert_eq!(
        convert("<r><list-item><list-item>1</list-item></list-item><list-item>2</list-item></r>"),
        r#"[["1"],"2"]"#
    );
    assert_eq!(
        convert("<r><list-item>1</list-item><other>2</other></r>"),
        r#"{"list-item":"1","other":"2"}"#
    );
    assert_eq!(
        convert(r#"<r n="2"><list-item>1</list-item><list-item>2</list-item></r>"#),
        r#"{"@n":"2","list-item":["1","2"]}"#
    );
}

#[test]
fn attributes_come_first_and_stay_strings() {
    assert_eq!(
        convert_with(r#"<r><a b="1" c="True"><d>2</d></a></r>"#, &TYPED),
        r#"{"a":{"@b":"1","@c":"True","d":2}}"#
    );
    assert_eq!(
        convert(r#"<r a="&lt;&amp;&quot;&apos;&#x41;" b='say "hi"'/>"#),
        r#"{"@a":"<&\"'A","@b":"say \"hi\""}"#
    );
}

#[test]
fn attribute_values_are_normalised_as_xml_requires() {
    assert_eq!(
        convert("<r a=\"x\ty\r\nz\" b=\"x&#9;y&#10;z&#13;\"/>"),
        r#"{"@a":"x y z","@b":"x\ty\nz\r"}"#
    );
}

#[test]
fn namespace_declarations_are_dropped_and_prefixes_kept() {
    assert_eq!(
        convert(r#"<r xmlns="urn:d" xmlns:x="urn:x" xml:lang="en"><x:a x:b="1"/></r>"#),
        r#"{"@xml:lang":"en","x:a":{"@x:b":"1"}}"#
    );
    assert_eq!(convert(r#"<r xmlns="urn:d">t</r>"#), r#""t""#);
}

#[test]
fn mixed_content_collects_text_runs() {
    assert_eq!(
        convert("<r>lead <b>bold</b></r>"),
        r##"{"#text":"lead ","b":"bold"}"##
    );
    assert_eq!(
        convert("<r><b/>a<c/>\n<c/>b<!-- split? no -->c</r>"),
        r##"{"#text":["a","bc"],"b":null,"c":[null,null]}"##
    );
    assert_eq!(
        convert_with(r#"<r k="v">12<b/></r>"#, &TYPED),
        r##"{"@k":"v","#text":"12","b":null}"##
    );
    assert_eq!(
        convert_with(r#"<r k="v">12</r>"#, &TYPED),
        r##"{"@k":"v","#text":12}"##
    );
}

#[test]
fn text_is_verbatim_except_line_ends() {
    assert_eq!(convert("<r>  two  words \n</r>"), r#""  two  words \n""#);
    assert_eq!(convert("<r>a\r\nb\rc</r>"), r#""a\nb\nc""#);
    assert_eq!(convert("<r>a&#13;&#10;b</r>"), r#""a\r\nb""#);
    assert_eq!(
        convert("<r><![CDATA[<a>&amp;]]>&amp;<![CDATA[x]]></r>"),
        r#""<a>&amp;&x""#
    );
    assert_eq!(convert("<r>&#x1F600;&#128512;</r>"), r#""😀😀""#);
    assert_eq!(convert("<r>tab&#9;</r>"), r#""tab\t""#);
}

#[test]
fn inference_turns_booleans_and_numbers_into_scalars() {
    let cases = [
        ("True", "true"),
        ("true", "true"),
        ("False", "false"),
        ("false", "false"),
        ("0", "0"),
        ("-0", "-0"),
        ("12", "12"),
        ("-12.50", "-12.50"),
        ("1E+3", "1E+3"),
        ("2.5e-10", "2.5e-10"),
        (
            "123456789012345678901234567890",
            "123456789012345678901234567890",
        ),
    ];
    for (text, json) in cases {
        assert_eq!(
            convert_with(&format!("<r>{text}</r>"), &TYPED),
            json,
            "{text}"
        );
        assert_eq!(
            convert(&format!("<r>{text}</r>")),
            format!("\"{text}\""),
            "{text}"
        );
    }
}

#[test]
fn inference_leaves_everything_else_a_string() {
    for text in [
        "007", "+1", "1.", ".5", " 1", "1 ", "1e", "1e+", "-", "0x10", "NaN", "Infinity", "TRUE",
        "None", "null", "1_000", "١٢",
    ] {
        let json = convert_with(&format!("<r>{text}</r>"), &TYPED);
        assert_eq!(json, serde_json::to_string(text).unwrap(), "{text}");
    }
    assert_eq!(convert_with("<r/>", &TYPED), "null");
}

#[test]
fn the_number_grammar_is_json_s() {
    for yes in ["0", "-1", "10", "1.0", "0.01", "1e5", "1E-5", "-0.0e+0"] {
        assert!(is_json_number(yes), "{yes}");
    }
    for no in [
        "", "-", "01", "1.", "1.e1", "e1", "1e", "--1", "1-", "0.1.2", "1e1.5",
    ] {
        assert!(!is_json_number(no), "{no}");
    }
}

#[test]
fn comments_and_processing_instructions_are_ignored() {
    let xml = "<?xml version=\"1.0\"?>\n<!-- head --><?app x?>\n<r><!-- c --><a>1<?pi?></a></r>\n<!-- tail -->\n";
    assert_eq!(convert(xml), r#"{"a":"1"}"#);
}
