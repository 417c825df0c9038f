use std::time::{Duration, UNIX_EPOCH};

use super::*;

const SITE: &str = "157802b4-99aa-4437-b250-934df337766a";

fn config(envelope: &str, pointers: &str) -> Config {
    let toml = format!(
        "[kafka]\nbrokers = \"b:9092\"\nenvelope = \"{envelope}\"\n[payload.site_pointers]\n{pointers}\n[[credentials]]\nname = \"engine\"\norganization = \"acme\"\nscheme = \"none\"\n"
    );
    Config::parse(&toml, std::path::Path::new("."), &|_| None).unwrap()
}

/// The body the sender put its site in where the default pointers do not look.
fn body() -> Vec<u8> {
    format!(r#"{{"job":{{"site":"{SITE}"}},"status":"APPROVED"}}"#).into_bytes()
}

fn received() -> SystemTime {
    UNIX_EPOCH + Duration::from_micros(1_700_000_000_123_456)
}

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}

/// The dead letter hookbridge wrote for `body()` under `config`, as a consumer reads it.
fn dead_letter(config: &Config) -> (Vec<u8>, Vec<(String, Vec<u8>)>) {
    traced_dead_letter(config, None)
}

/// The same, written with the trace context `trace`.
fn traced_dead_letter(
    config: &Config,
    trace: Option<&crate::trace::Context>,
) -> (Vec<u8>, Vec<(String, Vec<u8>)>) {
    let body = crate::body::Body::new(body().into());
    let incoming = Incoming {
        id: Uuid::from_u128(0x1234),
        event: Event::MilestoneStatusChange,
        environment: Environment::Production,
        credential: "engine",
        organization: Some("acme"),
        content_type: Some("application/json"),
        body: &body,
        received: received(),
        trace,
    };
    let envelope = config.envelope_settings().build(&incoming);
    assert_eq!(envelope.dead_letter, Some(Reason::MissingSite));
    let mut headers: Vec<(String, Vec<u8>)> = envelope
        .headers
        .into_iter()
        .map(|(k, v)| (k.into_owned(), v))
        .collect();
    headers.push(("x-tenant".into(), b"west".to_vec()));
    (envelope.value.to_vec(), headers)
}

fn expected() -> Letter {
    Letter {
        id: Uuid::from_u128(0x1234),
        event: Event::MilestoneStatusChange,
        environment: Environment::Production,
        credential: "engine".into(),
        organization: Some("acme".into()),
        content_type: Some("application/json".into()),
        received: received(),
        reason: Reason::MissingSite,
        body: body(),
        captured: vec![("x-tenant".into(), b"west".to_vec())],
        trace: None,
    }
}

#[test]
fn a_dead_letter_of_either_mode_reads_back_whole() {
    for mode in ["structured", "binary"] {
        let (value, headers) = dead_letter(&config(mode, ""));
        assert_eq!(Letter::read(&value, &headers), Ok(expected()), "{mode}");
    }
}

#[test]
fn under_the_same_config_it_still_fails_for_the_same_reason() {
    let config = config("structured", "");
    let (value, headers) = dead_letter(&config);
    let letter = Letter::read(&value, &headers).unwrap();
    match letter.retry(&config, &config.envelope_settings(), now()) {
        Verdict::StillFailing(reason) => assert_eq!(reason, Reason::MissingSite),
        Verdict::Republish(record) => panic!("republished {record:?}"),
    }
}

#[test]
fn a_fixed_config_republishes_it_with_its_id_and_time_marked_redriven() {
    let broken = config("structured", "");
    let (value, headers) = dead_letter(&broken);
    let letter = Letter::read(&value, &headers).unwrap();
    let fixed = config(
        "structured",
        "\"milestone-status-change\" = [\"/job/site\"]",
    );
    let Verdict::Republish(record) = letter.retry(&fixed, &fixed.envelope_settings(), now()) else {
        panic!("still failing");
    };
    assert_eq!(
        record.topic,
        "everbright.production.milestone-status-change".into()
    );
    assert_eq!(record.key.as_deref(), Some(SITE));
    assert_eq!(record.timestamp, now());
    let text = String::from_utf8(record.value.to_vec()).unwrap();
    let event: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(event["id"], Uuid::from_u128(0x1234).to_string());
    assert_eq!(event["time"], "2023-11-14T22:13:20.123456Z");
    assert_eq!(event["redriven"], "2027-01-15T08:00:00.000000Z");
    assert_eq!(event["subject"], SITE);
    assert_eq!(event["organization"], "acme");
    assert_eq!(event["status"], "APPROVED");
    assert!(event.get("deadletterreason").is_none());
    assert_eq!(
        event["data"],
        serde_json::from_slice::<serde_json::Value>(&body()).unwrap()
    );
    assert!(
        text.find("\"redriven\"").unwrap() < text.find("\"data\"").unwrap(),
        "redriven is the last attribute: {text}"
    );
    assert!(
        record
            .headers
            .iter()
            .any(|(k, v)| k == "x-tenant" && v == b"west")
    );
}

#[test]
fn the_record_takes_todays_mode_whatever_the_dead_letters_was() {
    let (value, headers) = dead_letter(&config("structured", ""));
    let letter = Letter::read(&value, &headers).unwrap();
    let fixed = config("binary", "\"milestone-status-change\" = [\"/job/site\"]");
    let Verdict::Republish(record) = letter.retry(&fixed, &fixed.envelope_settings(), now()) else {
        panic!("still failing");
    };
    let header = |name: &str| {
        record
            .headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
    };
    assert_eq!(record.value, body());
    assert_eq!(
        header("ce_id").unwrap(),
        Uuid::from_u128(0x1234).to_string()
    );
    assert_eq!(header("ce_time").unwrap(), "2023-11-14T22:13:20.123456Z");
    assert_eq!(
        header("ce_redriven").unwrap(),
        "2027-01-15T08:00:00.000000Z"
    );
    assert_eq!(header("ce_subject").unwrap(), SITE);
}

#[test]
fn records_that_are_not_dead_letters_are_unreadable() {
    let structured = vec![(
        "content-type".to_string(),
        STRUCTURED_CONTENT_TYPE.as_bytes().to_vec(),
    )];
    let (value, headers) = dead_letter(&config("structured", ""));
    let mut event: serde_json::Value = serde_json::from_slice(&value).unwrap();
    event.as_object_mut().unwrap().remove("deadletterreason");
    let mut other = serde_json::from_slice::<serde_json::Value>(&value).unwrap();
    other["type"] = "everbright.no-such-event".into();
    let mut late = serde_json::from_slice::<serde_json::Value>(&value).unwrap();
    late["time"] = "yesterday".into();
    for (value, headers, why) in [
        (
            br#"{"heartbeat":1}"#.to_vec(),
            vec![],
            Unreadable::NotCloudEvent,
        ),
        (
            b"not json".to_vec(),
            structured.clone(),
            Unreadable::NotCloudEvent,
        ),
        (
            event.to_string().into_bytes(),
            headers.clone(),
            Unreadable::NotDeadLetter,
        ),
        (
            other.to_string().into_bytes(),
            headers.clone(),
            Unreadable::Attribute("type"),
        ),
        (
            late.to_string().into_bytes(),
            headers,
            Unreadable::Attribute("time"),
        ),
    ] {
        assert_eq!(Letter::read(&value, &headers), Err(why));
    }
}

#[test]
fn a_value_written_otherwise_is_still_marked() {
    let marked = mark(br#"{ "id":"x", "data":{} }"#, "T");
    let value: serde_json::Value = serde_json::from_slice(&marked).unwrap();
    assert_eq!(value["redriven"], "T");
    assert_eq!(value["id"], "x");
    let usual = mark(br#"{"id":"x","data":{"data":1}}"#, "T");
    assert_eq!(
        usual,
        br#"{"id":"x","redriven":"T","data":{"data":1}}"#.to_vec()
    );
}

#[test]
fn a_traced_dead_letter_is_republished_with_its_trace_context() {
    let trace = crate::trace::Context {
        traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into(),
        tracestate: None,
    };
    let fixed = "\"milestone-status-change\" = [\"/job/site\"]";
    for mode in ["structured", "binary"] {
        let (value, headers) = traced_dead_letter(&config(mode, ""), Some(&trace));
        let letter = Letter::read(&value, &headers).unwrap();
        assert_eq!(letter.trace.as_ref(), Some(&trace), "{mode}");
        assert_eq!(
            letter.captured,
            expected().captured,
            "{mode}: not a captured header"
        );
        let fixed = config(mode, fixed);
        let Verdict::Republish(record) = letter.retry(&fixed, &fixed.envelope_settings(), now())
        else {
            panic!("still failing");
        };
        let parents: Vec<&[u8]> = record
            .headers
            .iter()
            .filter(|(k, _)| k == "traceparent")
            .map(|(_, v)| v.as_slice())
            .collect();
        assert_eq!(
            parents,
            [trace.traceparent.as_bytes()],
            "{mode}: one header"
        );
    }
}
