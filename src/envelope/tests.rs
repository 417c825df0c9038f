use sha2::{Digest, Sha256};
use std::time::{Duration, UNIX_EPOCH};

use serde_json::{Value, json};

use super::*;

const SITE: &str = "157802b4-99aa-4437-b250-934df337766a";
const QUOTE: &str = "8ba871ae-3282-420c-af3f-ddc41ac50273";

fn settings(mode: Mode) -> Settings {
    Settings {
        mode,
        lenient_literals: true,
        site_pointers: SitePointers::default(),
        xml: xml::XmlOptions::default(),
        form: form::FormOptions::default(),
        max_data_bytes: data_limit(1 << 20),
    }
}

/// `body` as a request's [`Body`], leaked: tests build a few hundred of them at most.
fn leaked(body: &[u8]) -> &'static Body {
    Box::leak(Box::new(Body::from(body.to_vec())))
}

fn incoming(body: &[u8]) -> Incoming<'static> {
    Incoming {
        id: Uuid::parse_str("0193a4b2-7c3d-7e4f-8a1b-2c3d4e5f6a7b").unwrap(),
        event: Event::MilestoneStatusChange,
        environment: Environment::Production,
        credential: "engine-hmac",
        organization: Some("acme-solar"),
        content_type: Some("application/json"),
        body: leaked(body),
        received: UNIX_EPOCH + Duration::from_micros(1_764_069_000_123_456),
        trace: None,
    }
}

fn sha256_hex(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

#[test]
fn structured_envelope_has_exactly_the_documented_attributes() {
    let body =
        format!(r#"  {{"site":"{SITE}","quote":"{QUOTE}","status":"APPROVED","n":[1.50,true]}}"#);
    let e = settings(Mode::Structured).build(&incoming(body.as_bytes()));
    assert_eq!(e.key.as_deref(), Some(SITE));
    assert_eq!(e.dead_letter, None);
    assert_eq!(
        e.headers,
        vec![(
            Cow::Borrowed("content-type"),
            b"application/cloudevents+json; charset=utf-8".to_vec()
        )]
    );
    let v: Value = serde_json::from_slice(&e.value).unwrap();
    assert_eq!(
        v,
        json!({
            "specversion": "1.0",
            "id": "0193a4b2-7c3d-7e4f-8a1b-2c3d4e5f6a7b",
            "source": "/everbright/production/engine-hmac",
            "type": "everbright.milestone-status-change",
            "subject": SITE,
            "time": "2025-11-25T11:10:00.123456Z",
            "datacontenttype": "application/json",
            "siteid": SITE,
            "quoteid": QUOTE,
            "status": "APPROVED",
            "environment": "production",
            "credential": "engine-hmac",
            "organization": "acme-solar",
            "bodysha256": sha256_hex(body.as_bytes()),
            "data": {"site": SITE, "quote": QUOTE, "status": "APPROVED", "n": [1.50, true]},
        })
    );
    // `data` is the payload's bytes, not a re-serialisation (1.50 stays 1.50).
    let text = String::from_utf8(e.value.to_vec()).unwrap();
    assert!(
        text.ends_with(&format!(r#""data":{}}}"#, body.trim())),
        "{text}"
    );
}

#[test]
fn python_literals_are_normalised_and_flagged() {
    let body = include_bytes!("../../tests/fixtures/json/milestone-status-change.json");
    let e = settings(Mode::Structured).build(&incoming(body));
    let v: Value = serde_json::from_slice(&e.value).unwrap();
    assert_eq!(v["normalized"], json!(true));
    assert_eq!(v["subject"], json!(SITE));
    assert_eq!(v["quoteid"], json!(QUOTE));
    assert_eq!(v["data"]["ready_to_submit"], json!(true));
    assert_eq!(v["data"]["comments"][0]["thread"], json!("None"));
    assert_eq!(v["bodysha256"], json!(sha256_hex(body)));

    let strict = settings(Mode::Structured);
    let strict = Settings {
        lenient_literals: false,
        ..strict
    };
    assert_eq!(
        strict.build(&incoming(body)).dead_letter,
        Some(Reason::InvalidJson)
    );

    let plain = format!(r#"{{"site":"{SITE}"}}"#);
    let v: Value = serde_json::from_slice(
        &settings(Mode::Structured)
            .build(&incoming(plain.as_bytes()))
            .value,
    )
    .unwrap();
    assert!(v.get("normalized").is_none());
    assert!(v.get("quoteid").is_none() && v.get("status").is_none());
}

#[test]
fn binary_mode_puts_attributes_in_ce_headers() {
    let body = format!(r#"{{"site":"{SITE}","status":"SIGN"}}"#);
    let e = settings(Mode::Binary).build(&incoming(body.as_bytes()));
    assert_eq!(e.value, body.as_bytes());
    let headers: Vec<(String, String)> = e
        .headers
        .iter()
        .map(|(k, v)| (k.to_string(), String::from_utf8(v.clone()).unwrap()))
        .collect();
    let get = |k: &str| {
        headers
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(get("content-type"), Some("application/json"));
    assert_eq!(get("ce_specversion"), Some("1.0"));
    assert_eq!(get("ce_type"), Some("everbright.milestone-status-change"));
    assert_eq!(get("ce_subject"), Some(SITE));
    assert_eq!(get("ce_siteid"), Some(SITE));
    assert_eq!(get("ce_status"), Some("SIGN"));
    assert_eq!(get("ce_organization"), Some("acme-solar"));
    assert_eq!(get("ce_datacontenttype"), None);
    assert_eq!(get("ce_time"), Some("2025-11-25T11:10:00.123456Z"));
    assert!(
        headers
            .iter()
            .all(|(k, _)| k == "content-type" || k.starts_with("ce_"))
    );
}

#[test]
fn unusable_bodies_become_dead_letters_with_the_raw_bytes() {
    let cases: [(&[u8], Reason); 5] = [
        (b"<xml/>" as &[u8], Reason::InvalidJson),
        (b"{\"site\": 'single quotes'}", Reason::InvalidJson),
        (b"\xff\xfe{}", Reason::InvalidJson),
        (b"{\"no_site\": 1}", Reason::MissingSite),
        (b"{\"site\": \"12345\"}", Reason::InvalidSite),
    ];
    for (body, reason) in cases {
        let e = settings(Mode::Structured).build(&incoming(body));
        assert_eq!(e.dead_letter, Some(reason));
        assert_eq!(e.key, None);
        let v: Value = serde_json::from_slice(&e.value).unwrap();
        assert_eq!(v["deadletterreason"], json!(reason.as_str()));
        assert_eq!(v["datacontenttype"], json!("application/json"));
        assert!(v.get("subject").is_none() && v.get("siteid").is_none() && v.get("data").is_none());
        let raw = base64::engine::general_purpose::STANDARD
            .decode(v["data_base64"].as_str().unwrap())
            .unwrap();
        assert_eq!(raw, body);
        assert_eq!(v["bodysha256"], json!(sha256_hex(body)));

        let b = settings(Mode::Binary).build(&incoming(body));
        assert_eq!(b.value, body);
        assert!(
            b.headers
                .iter()
                .any(|(k, v)| k == "ce_deadletterreason" && v == reason.as_str().as_bytes())
        );
    }
}

#[test]
fn a_bom_is_tolerated_and_empty_bodies_are_dead_letters() {
    let body = format!("\u{feff}{{\"site\":\"{SITE}\"}}");
    assert_eq!(
        settings(Mode::Structured)
            .build(&incoming(body.as_bytes()))
            .key
            .as_deref(),
        Some(SITE)
    );
    assert_eq!(
        settings(Mode::Structured).build(&incoming(b"")).dead_letter,
        Some(Reason::InvalidJson)
    );
}

use base64::Engine as _;

fn with_type<'a>(body: &'a [u8], content_type: Option<&'a str>) -> Incoming<'a> {
    Incoming {
        content_type,
        ..incoming(body)
    }
}

#[test]
fn xml_and_form_bodies_become_the_same_event_as_json() {
    let s = settings(Mode::Structured);
    let json = s.build(&incoming(include_bytes!(
        "../../tests/fixtures/json/milestone-status-change.json"
    )));
    let xml_body = include_bytes!("../../tests/fixtures/xml/milestone-status-change.xml");
    let form_body = include_bytes!("../../tests/fixtures/form/milestone-status-change.txt");
    let xml = s.build(&with_type(xml_body, Some("application/xml; charset=utf-8")));
    let form = s.build(&with_type(
        form_body,
        Some("application/x-www-form-urlencoded"),
    ));
    let sniffed = s.build(&with_type(xml_body, None));
    let parse = |e: &Envelope| serde_json::from_slice::<Value>(&e.value).unwrap();
    let (j, x, f, n) = (parse(&json), parse(&xml), parse(&form), parse(&sniffed));
    for (name, v) in [("xml", &x), ("form", &f), ("sniffed", &n)] {
        for attribute in ["subject", "siteid", "quoteid", "status", "type"] {
            assert_eq!(v[attribute], j[attribute], "{name} {attribute}");
        }
        assert_eq!(v["datacontenttype"], "application/json", "{name}");
        assert!(v.get("normalized").is_none(), "{name}");
        assert_eq!(
            v["data"]["tasks"][1]["sub_tasks"][0]["data"]["documents"][0]["uuid"],
            "189bd7c0-2e6f-45cb-a00e-33ca4fe297d2"
        );
    }
    assert_eq!(x["originalcontenttype"], "application/xml; charset=utf-8");
    assert_eq!(
        f["originalcontenttype"],
        "application/x-www-form-urlencoded"
    );
    assert_eq!(n["originalcontenttype"], "application/xml");
    assert!(j.get("originalcontenttype").is_none());
    assert_eq!(x["bodysha256"], json!(sha256_hex(xml_body)));
    // Without type inference XML text stays text; the form carries JSON spellings.
    assert_eq!(x["data"]["ready_to_submit"], "True");
    assert_eq!(f["data"]["ready_to_submit"], "true");

    let binary = settings(Mode::Binary).build(&with_type(
        form_body,
        Some("application/x-www-form-urlencoded"),
    ));
    let data: Value = serde_json::from_slice(&binary.value).unwrap();
    assert_eq!(data["site"], SITE);
    assert!(
        binary.headers.iter().any(
            |(k, v)| k == "ce_originalcontenttype" && v == b"application/x-www-form-urlencoded"
        )
    );
}

#[test]
fn unconvertible_bodies_are_dead_letters_with_their_reason() {
    let s = settings(Mode::Structured);
    let cases: [(&[u8], &str, Reason); 4] = [
        (
            b"<root><site>x</root>",
            "application/xml",
            Reason::InvalidXml,
        ),
        (
            b"<!DOCTYPE r [<!ENTITY e \"x\">]><r>&e;</r>",
            "text/xml",
            Reason::InvalidXml,
        ),
        (
            b"site=%zz",
            "application/x-www-form-urlencoded",
            Reason::InvalidForm,
        ),
        (
            b"tasks[5][name]=x",
            "application/x-www-form-urlencoded",
            Reason::InvalidForm,
        ),
    ];
    for (body, ct, reason) in cases {
        let e = s.build(&with_type(body, Some(ct)));
        assert_eq!(
            e.dead_letter,
            Some(reason),
            "{}",
            String::from_utf8_lossy(body)
        );
        let v: Value = serde_json::from_slice(&e.value).unwrap();
        assert_eq!(v["datacontenttype"], ct);
        assert_eq!(v["deadletterreason"], reason.as_str());
    }
    let missing = s.build(&with_type(
        b"<root><name>x</name></root>",
        Some("application/xml"),
    ));
    assert_eq!(missing.dead_letter, Some(Reason::MissingSite));
}

#[test]
fn a_conversion_larger_than_a_record_may_hold_is_kept_as_it_came() {
    // Each `"` in a form value becomes `\"` in JSON: the body doubles.
    let quotes = "%22".repeat(40);
    let body = format!("site={SITE}&note={quotes}");
    let form = Some("application/x-www-form-urlencoded");
    let roomy = settings(Mode::Structured);
    assert_eq!(
        roomy.build(&with_type(body.as_bytes(), form)).dead_letter,
        None
    );
    let tight = Settings {
        max_data_bytes: data_limit(body.len()) / 2,
        ..settings(Mode::Structured)
    };
    let e = tight.build(&with_type(body.as_bytes(), form));
    assert_eq!(e.dead_letter, Some(Reason::ConvertedTooLarge));
    let v: Value = serde_json::from_slice(&e.value).unwrap();
    assert_eq!(v["deadletterreason"], "converted-too-large");
    assert!(e.value.len() <= record_limit(body.len()));
}

#[test]
fn the_largest_records_stay_within_record_limit() {
    // A dead letter of a body of exactly n bytes: base64 plus attributes.
    for n in [1, 2, 3, 1000, 1 << 16] {
        let body = vec![0xFFu8; n];
        let e = settings(Mode::Structured).build(&incoming(&body));
        assert_eq!(e.dead_letter, Some(Reason::InvalidJson));
        assert!(e.value.len() > data_limit(n), "{n}");
        assert!(e.value.len() <= record_limit(n), "{n}");
    }
}

#[test]
fn an_overlong_status_is_left_out() {
    let long = "A".repeat(MAX_STATUS_BYTES + 1);
    for (status, kept) in [("APPROVED", true), (long.as_str(), false)] {
        let body = format!(r#"{{"site":"{SITE}","status":"{status}"}}"#);
        let e = settings(Mode::Structured).build(&incoming(body.as_bytes()));
        let v: Value = serde_json::from_slice(&e.value).unwrap();
        assert_eq!(v.get("status").is_some(), kept, "{}", status.len());
    }
}

#[test]
fn a_traced_record_carries_its_trace_context_in_both_modes() {
    let trace = crate::trace::Context {
        traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into(),
        tracestate: Some("vendor=value".into()),
    };
    let body = format!(r#"{{"site":"{SITE}"}}"#);
    let traced = Incoming {
        trace: Some(&trace),
        ..incoming(body.as_bytes())
    };
    let header = |e: &Envelope, name: &str| {
        let found = e.headers.iter().find(|(k, _)| k == name);
        found.map(|(_, v)| String::from_utf8(v.clone()).unwrap())
    };
    let structured = settings(Mode::Structured).build(&traced);
    let v: Value = serde_json::from_slice(&structured.value).unwrap();
    assert_eq!(v["traceparent"], trace.traceparent.as_str());
    assert_eq!(v["tracestate"], "vendor=value");
    let binary = settings(Mode::Binary).build(&traced);
    assert_eq!(
        header(&binary, "ce_traceparent").as_ref(),
        Some(&trace.traceparent)
    );
    assert_eq!(
        header(&binary, "ce_tracestate").as_deref(),
        Some("vendor=value")
    );
    for e in [&structured, &binary] {
        assert_eq!(header(e, "traceparent").as_ref(), Some(&trace.traceparent));
        assert_eq!(header(e, "tracestate").as_deref(), Some("vendor=value"));
    }
    // Dead letters carry it too; an untraced record carries none of it.
    let dead = settings(Mode::Structured).build(&Incoming {
        trace: Some(&trace),
        ..incoming(b"{}")
    });
    assert!(dead.dead_letter.is_some());
    assert_eq!(
        header(&dead, "traceparent").as_ref(),
        Some(&trace.traceparent)
    );
    let plain = settings(Mode::Binary).build(&incoming(body.as_bytes()));
    assert!(plain.headers.iter().all(|(k, _)| !k.contains("trace")));
}
