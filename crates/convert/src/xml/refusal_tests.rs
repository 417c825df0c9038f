//! One test per refusal and per limit, hostile inputs included.

use super::tests::{PLAIN, convert, refusal};
use super::*;

#[test]
fn the_declaration_must_say_utf8_if_anything() {
    assert_eq!(convert(r#"<?xml version="1.0"?><r>x</r>"#), r#""x""#);
    assert_eq!(
        convert(r#"<?xml version='1.0' encoding='UTF-8' standalone='yes'?><r/>"#),
        "null"
    );
    assert_eq!(
        refusal(r#"<?xml version="1.0" encoding="ISO-8859-1"?><r/>"#),
        XmlError::EncodingRefused { offset: 0 }
    );
    assert_eq!(
        refusal(r#"<?xml version="1.0" encoding="UTF-16"?><r/>"#),
        XmlError::EncodingRefused { offset: 0 }
    );
    assert!(matches!(
        refusal(r#"<r/><?xml version="1.0"?>"#),
        XmlError::Syntax { offset: 4, .. }
    ));
}

#[test]
fn a_utf8_bom_is_skipped_and_other_encodings_are_refused() {
    let with_bom = b"\xEF\xBB\xBF<r>\xC3\xA9</r>";
    assert_eq!(to_json(with_bom, &PLAIN).unwrap(), "\"é\"".as_bytes());
    assert_eq!(refusal(b"<r>\xC3</r>"), XmlError::InvalidUtf8 { offset: 3 });
    assert_eq!(
        refusal(b"\xEF\xBB\xBF<r>\xFF</r>"),
        XmlError::InvalidUtf8 { offset: 6 }
    );
    assert_eq!(
        refusal(b"\xFF\xFE<\x00r\x00/\x00>\x00"),
        XmlError::InvalidUtf8 { offset: 0 }
    );
}

#[test]
fn a_billion_laughs_is_refused_at_the_doctype() {
    let xml = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<lolz>&lol3;</lolz>"#;
    assert_eq!(refusal(xml), XmlError::DoctypeRefused { offset: 22 });
}

#[test]
fn external_entities_are_refused_at_the_doctype() {
    let xxe = r#"<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><r>&xxe;</r>"#;
    assert_eq!(refusal(xxe), XmlError::DoctypeRefused { offset: 0 });
    let external_dtd = r#"<!DOCTYPE r SYSTEM "http://example.invalid/r.dtd"><r/>"#;
    assert_eq!(
        refusal(external_dtd),
        XmlError::DoctypeRefused { offset: 0 }
    );
}

#[test]
fn undeclared_entities_are_refused_in_text_and_attributes() {
    assert_eq!(
        refusal("<r>a&lol;</r>"),
        XmlError::EntityRefused { offset: 4 }
    );
    assert_eq!(
        refusal("<r>&nbsp;</r>"),
        XmlError::EntityRefused { offset: 3 }
    );
    assert_eq!(
        refusal(r#"<r a="&xxe;"/>"#),
        XmlError::EntityRefused { offset: 0 }
    );
}

#[test]
fn character_references_must_name_a_character() {
    for bad in [
        "&#0;",
        "&#xD800;",
        "&#x110000;",
        "&#-1;",
        "&#x;",
        "&#12a;",
        "&#99999999999;",
    ] {
        let xml = format!("<r>{bad}</r>");
        assert_eq!(
            refusal(&xml),
            XmlError::InvalidCharRef { offset: 3 },
            "{bad}"
        );
        let xml = format!("<r a=\"{bad}\"/>");
        assert_eq!(
            refusal(&xml),
            XmlError::InvalidCharRef { offset: 0 },
            "{bad}"
        );
    }
}

#[test]
fn deep_nesting_fails_fast_without_recursion() {
    let depth = 100_000;
    let xml = "<a>".repeat(depth) + &"</a>".repeat(depth);
    assert_eq!(
        refusal(&xml),
        XmlError::TooDeep {
            offset: 3 * MAX_DEPTH
        }
    );

    let fits = "<a>".repeat(MAX_DEPTH) + "x" + &"</a>".repeat(MAX_DEPTH);
    let expected = r#"{"a":"#.repeat(MAX_DEPTH - 2) + r#"{"a":"x"}"# + &"}".repeat(MAX_DEPTH - 2);
    assert_eq!(convert(&fits), expected);
}

#[test]
fn the_deepest_output_parses_with_serde_json_inside_an_envelope() {
    // Every level an object member holding an array: the deepest JSON shape.
    let mut xml = String::from("<r>");
    for _ in 2..MAX_DEPTH {
        xml.push_str("<a><b/></a><a>");
    }
    xml.push_str("t<b/>u");
    for _ in 2..MAX_DEPTH {
        xml.push_str("</a>");
    }
    xml.push_str("</r>");
    let json = convert(&xml);
    let envelope = format!(r#"{{"data":{{"wrapped":{json}}}}}"#);
    serde_json::from_str::<serde_json::Value>(&envelope)
        .expect("nesting within serde_json's limit");
}

#[test]
fn attribute_counts_are_bounded() {
    let attributes = |n: usize| (0..n).map(|i| format!(" a{i}=\"\"")).collect::<String>();
    let fits = format!("<r{}/>", attributes(MAX_ATTRIBUTES));
    assert!(to_json(fits.as_bytes(), &PLAIN).is_ok());
    let over = format!("<r><x{}/></r>", attributes(MAX_ATTRIBUTES + 1));
    assert_eq!(refusal(&over), XmlError::TooManyAttributes { offset: 3 });

    let huge = format!("<r{}/>", attributes(100_000));
    assert_eq!(refusal(&huge), XmlError::TooManyAttributes { offset: 0 });
}

#[test]
fn node_counts_are_bounded() {
    let fits = format!("<r>{}</r>", "<a/>".repeat(MAX_NODES - 1));
    assert!(to_json(fits.as_bytes(), &PLAIN).is_ok());
    let over = format!("<r>{}</r>", "<a/>".repeat(MAX_NODES));
    assert_eq!(
        refusal(&over),
        XmlError::TooManyNodes {
            offset: 3 + 4 * (MAX_NODES - 1)
        }
    );
    let attributes = format!("<r>{}</r>", "<a x=\"\" y=\"\"/>".repeat(MAX_NODES / 3 + 1));
    assert!(matches!(
        refusal(&attributes),
        XmlError::TooManyNodes { .. }
    ));
}

#[test]
fn many_distinct_siblings_convert_in_linear_time() {
    let xml: String = std::iter::once("<r>".to_owned())
        .chain((1..MAX_NODES).map(|i| format!("<n{i}/>")))
        .chain(std::iter::once("</r>".to_owned()))
        .collect();
    let json = to_json(xml.as_bytes(), &PLAIN).expect("within limits");
    assert!(json.ends_with(br#""n99999":null}"#));
}

#[test]
fn anything_outside_the_document_element_is_refused() {
    assert_eq!(refusal("<r/>x"), XmlError::ContentOutsideRoot { offset: 4 });
    assert_eq!(
        refusal("<r/>\u{c}"),
        XmlError::ContentOutsideRoot { offset: 4 }
    );
    assert_eq!(
        refusal("<r/><s/>"),
        XmlError::ContentOutsideRoot { offset: 4 }
    );
    assert_eq!(refusal("x<r/>"), XmlError::ContentOutsideRoot { offset: 0 });
    assert_eq!(
        refusal("<r/>&amp;"),
        XmlError::ContentOutsideRoot { offset: 4 }
    );
    assert_eq!(
        refusal("<r/><![CDATA[x]]>"),
        XmlError::ContentOutsideRoot { offset: 4 }
    );
    assert_eq!(convert(" \n<r/>\r\n\t "), "null");
}

#[test]
fn a_document_needs_a_document_element() {
    for xml in ["", "  \n", "<!-- only -->", r#"<?xml version="1.0"?>"#] {
        assert_eq!(refusal(xml), XmlError::MissingRoot, "{xml:?}");
    }
}

#[test]
fn malformed_markup_is_a_syntax_error() {
    for xml in [
        "<r>",
        "<r><a></r>",
        "<r></a>",
        "</r>",
        "<r",
        "<r a=\"1/>",
        "<r a=1/>",
        "<r a/>",
        r#"<r a="1" a="2"/>"#,
        "<r>&amp</r>",
        "<r><!-- x</r>",
        "<r><![CDATA[x</r>",
        "<r><!x></r>",
    ] {
        assert!(matches!(refusal(xml), XmlError::Syntax { .. }), "{xml:?}");
    }
}

#[test]
fn names_must_be_xml_names() {
    for xml in [
        "<1a/>",
        "<r><@a/></r>",
        "<r><#text/></r>",
        "<r><-a/></r>",
        r#"<r @b="1"/>"#,
    ] {
        assert!(
            matches!(refusal(xml), XmlError::InvalidName { .. }),
            "{xml:?}"
        );
    }
    assert_eq!(
        convert("<r><_a.b-c/><é/><x:y/></r>"),
        r#"{"_a.b-c":null,"é":null,"x:y":null}"#
    );
}

#[test]
fn messages_never_quote_the_input() {
    let marker = "SECRETVALUE";
    let inputs = [
        format!("<{marker}></other>"),
        format!("<r>&{marker};</r>"),
        format!("<!DOCTYPE {marker}><r/>"),
        format!("<r {marker}=x/>"),
        format!("<r/>{marker}"),
        format!("<r>{marker}"),
        format!("<?xml version=\"1.0\" encoding=\"{marker}\"?><r/>"),
    ];
    for input in inputs {
        let message = refusal(&input).to_string();
        assert!(!message.contains(marker), "{message}");
        assert!(!message.is_empty());
    }
}
