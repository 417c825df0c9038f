use std::time::SystemTime;

use http::header::AUTHORIZATION;
use http::{HeaderMap, HeaderValue, Method, Uri};

use super::*;
use crate::auth::basic::BasicSettings;
use crate::auth::header::HeaderSettings;
use crate::auth::hmac::Hmac;
use crate::auth::sigv4::SigV4;
use crate::everbright::{Environment, Event, EventSet};

fn cred(name: &str, environment: Environment, events: EventSet, scheme: Scheme) -> Credential {
    Credential {
        name: name.into(),
        environment,
        organization: None,
        events,
        scheme,
    }
}

fn header(name: &'static str, values: &[&str]) -> Scheme {
    Scheme::Header(HeaderSettings {
        header: HeaderName::from_static(name),
        prefix: String::new(),
        value: SecretSet::new(values.iter().map(|v| Secret::new(*v)).collect()).unwrap(),
    })
}

fn token(values: &[&str]) -> Scheme {
    Scheme::Token(HeaderSettings {
        header: AUTHORIZATION,
        prefix: "Bearer ".into(),
        value: SecretSet::new(values.iter().map(|v| Secret::new(*v)).collect()).unwrap(),
    })
}

fn basic(user: &str, password: &str) -> Scheme {
    Scheme::Basic(BasicSettings {
        username: user.into(),
        password: SecretSet::single(Secret::new(password)),
    })
}

fn only(event: Event) -> EventSet {
    EventSet::EMPTY.with(event)
}

/// Authenticates a request with `headers` for `event`; the matched credential's name.
fn who(
    auth: &Authenticator,
    headers: &[(&'static str, &str)],
    event: Event,
) -> Result<String, Failure> {
    let mut map = HeaderMap::new();
    for (k, v) in headers {
        map.append(*k, HeaderValue::from_str(v).unwrap());
    }
    let uri = Uri::from_static("/everbright/site-archived");
    let request = Request {
        method: &Method::POST,
        uri: &uri,
        headers: &map,
        body: &Body::from(&b"{}"[..]),
    };
    auth.authenticate(&request, event, SystemTime::now())
        .map(|a| a.credential.name.clone())
        .map_err(|r| r.failure)
}

fn fleet() -> Authenticator {
    Authenticator::new(vec![
        cred(
            "prod-key",
            Environment::Production,
            EventSet::ALL,
            header("x-api-key", &["p-new", "p-old"]),
        ),
        cred(
            "test-key",
            Environment::Test,
            EventSet::ALL,
            header("x-api-key", &["t-1"]),
        ),
        cred(
            "bearer",
            Environment::Production,
            only(Event::SiteArchived),
            token(&["tok"]),
        ),
        cred(
            "basic",
            Environment::Production,
            EventSet::ALL,
            basic("everbright", "pw"),
        ),
        cred(
            "open",
            Environment::Test,
            only(Event::StageTransition),
            Scheme::None,
        ),
    ])
}

#[test]
fn the_value_of_a_shared_header_selects_the_credential() {
    let a = fleet();
    let e = Event::MilestoneStatusChange;
    assert_eq!(who(&a, &[("x-api-key", "p-new")], e).unwrap(), "prod-key");
    assert_eq!(who(&a, &[("x-api-key", "p-old")], e).unwrap(), "prod-key");
    assert_eq!(who(&a, &[("x-api-key", "t-1")], e).unwrap(), "test-key");
    assert_eq!(
        who(&a, &[("x-api-key", "nope")], e),
        Err(Failure::BadSecret)
    );
    assert_eq!(
        who(&a, &[("x-api-key", "p-new ")], e),
        Err(Failure::BadSecret)
    );
}

#[test]
fn tokens_need_their_prefix_and_their_events() {
    let a = fleet();
    assert_eq!(
        who(&a, &[("authorization", "Bearer tok")], Event::SiteArchived).unwrap(),
        "bearer"
    );
    assert_eq!(
        who(&a, &[("authorization", "tok")], Event::SiteArchived),
        Err(Failure::BadSecret)
    );
    assert_eq!(
        who(
            &a,
            &[("authorization", "Bearer tok")],
            Event::StageTransition
        ),
        Err(Failure::EventNotAllowed)
    );
}

#[test]
fn basic_is_selected_by_username_then_checked() {
    let a = fleet();
    let e = Event::InvoiceStatusChange;
    let ok = basic::encode("everbright", b"pw");
    assert_eq!(who(&a, &[("authorization", &ok)], e).unwrap(), "basic");
    let wrong = basic::encode("everbright", b"pw2");
    assert_eq!(
        who(&a, &[("authorization", &wrong)], e),
        Err(Failure::BadSecret)
    );
    let stranger = basic::encode("mallory", b"pw");
    assert_eq!(
        who(&a, &[("authorization", &stranger)], e),
        Err(Failure::UnknownCredential)
    );
    assert_eq!(
        who(&a, &[("authorization", "Basic %%%")], e),
        Err(Failure::MalformedHeader(AUTHORIZATION))
    );
    assert!(a.offers_basic());
}

#[test]
fn none_matches_only_requests_without_credential_material() {
    let a = fleet();
    assert_eq!(who(&a, &[], Event::StageTransition).unwrap(), "open");
    assert_eq!(
        who(&a, &[("x-tenant", "acme")], Event::StageTransition).unwrap(),
        "open"
    );
    assert_eq!(
        who(&a, &[], Event::SiteArchived),
        Err(Failure::MissingCredentials)
    );
    // Carrying a credential header that matches nothing never falls back to `none`.
    assert_eq!(
        who(&a, &[("x-api-key", "nope")], Event::StageTransition),
        Err(Failure::BadSecret)
    );
    assert_eq!(
        who(&a, &[("authorization", "Digest x")], Event::StageTransition),
        Err(Failure::BadSecret)
    );
    let open_only = Authenticator::new(vec![cred(
        "open",
        Environment::Test,
        EventSet::ALL,
        Scheme::None,
    )]);
    assert_eq!(
        who(
            &open_only,
            &[("authorization", "Digest x")],
            Event::StageTransition
        ),
        Err(Failure::UnknownCredential)
    );
    assert!(!open_only.offers_basic());
}

#[test]
fn repeated_credential_headers_are_refused() {
    let a = fleet();
    assert_eq!(
        who(
            &a,
            &[("x-api-key", "p-new"), ("x-api-key", "t-1")],
            Event::SiteArchived
        ),
        Err(Failure::MalformedHeader(HeaderName::from_static(
            "x-api-key"
        )))
    );
}

#[test]
fn a_matched_candidate_decides_without_falling_back() {
    // The header value picks `prod-key`; a valid Basic header alongside it is never
    // tried, so one request costs one verification.
    let a = fleet();
    let ok_basic = basic::encode("everbright", b"pw");
    assert_eq!(
        who(
            &a,
            &[("x-api-key", "p-new"), ("authorization", &ok_basic)],
            Event::SiteArchived
        )
        .unwrap(),
        "prod-key"
    );
}

#[test]
fn selection_never_compares_a_secret_of_another_credential() {
    // Lookup is by the digest of the presented value: a credential whose secret shares
    // a long prefix with the presented value is not "almost" matched; a value for one
    // credential never reaches another credential's comparison.
    let a = Authenticator::new(vec![
        cred(
            "one",
            Environment::Production,
            EventSet::ALL,
            header("x-key", &["aaaaaaaaaaaaaaaa1"]),
        ),
        cred(
            "two",
            Environment::Production,
            EventSet::ALL,
            header("x-key", &["aaaaaaaaaaaaaaaa2"]),
        ),
    ]);
    let e = Event::SiteArchived;
    assert_eq!(
        who(&a, &[("x-key", "aaaaaaaaaaaaaaaa2")], e).unwrap(),
        "two"
    );
    assert_eq!(
        who(&a, &[("x-key", "aaaaaaaaaaaaaaaa3")], e),
        Err(Failure::BadSecret)
    );
    let selectors: Vec<_> = a.selectors().collect();
    assert_eq!(selectors.len(), 2);
    assert!(
        selectors
            .iter()
            .all(|s| matches!(s, Selector::HeaderValue(..)))
    );
}

#[test]
fn failure_reasons_are_stable_labels() {
    let all = [
        Failure::MissingCredentials,
        Failure::UnknownCredential,
        Failure::BadSecret,
        Failure::EventNotAllowed,
        Failure::MalformedHeader(AUTHORIZATION),
    ];
    let labels: Vec<_> = all.iter().map(Failure::reason).collect();
    assert_eq!(
        labels,
        [
            "missing-credentials",
            "unknown-credential",
            "bad-secret",
            "event-not-allowed",
            "malformed-header"
        ]
    );
}

/// Every failure, with every nested reason. The matches are exhaustive, so a new
/// variant does not compile until it is listed here too.
fn every_failure() -> Vec<Failure> {
    use super::hmac::HmacError as H;
    use super::sigv4::SigV4Error as S;
    let h = || HeaderName::from_static("x-h");
    let hmac = [
        H::MissingHeader(h()),
        H::DuplicateHeader(h()),
        H::MalformedHeader(h()),
        H::ClientIdMismatch,
        H::NoSupportedSignature,
        H::TimestampOutOfRange,
        H::BadSignature,
    ];
    let sigv4 = [
        S::MissingHeader(h()),
        S::DuplicateHeader(h()),
        S::MalformedHeader(h()),
        S::MissingField("f"),
        S::DuplicateField("f"),
        S::MalformedField("f"),
        S::UnsignedHeader(h()),
        S::MissingSignedHeader(h()),
        S::UnknownAccessKey,
        S::ScopeMismatch("region"),
        S::TimestampOutOfRange,
        S::UnsignedPayload,
        S::BodyHashMismatch,
        S::BadSignature,
    ];
    let all: Vec<Failure> = [
        Failure::MissingCredentials,
        Failure::UnknownCredential,
        Failure::BadSecret,
        Failure::EventNotAllowed,
        Failure::MalformedHeader(h()),
    ]
    .into_iter()
    .chain(hmac.into_iter().map(Failure::Hmac))
    .chain(sigv4.into_iter().map(Failure::SigV4))
    .collect();
    for f in &all {
        match f {
            Failure::MissingCredentials
            | Failure::UnknownCredential
            | Failure::BadSecret
            | Failure::EventNotAllowed
            | Failure::MalformedHeader(_)
            | Failure::Hmac(
                H::MissingHeader(_)
                | H::DuplicateHeader(_)
                | H::MalformedHeader(_)
                | H::ClientIdMismatch
                | H::NoSupportedSignature
                | H::TimestampOutOfRange
                | H::BadSignature,
            )
            | Failure::SigV4(
                S::MissingHeader(_)
                | S::DuplicateHeader(_)
                | S::MalformedHeader(_)
                | S::MissingField(_)
                | S::DuplicateField(_)
                | S::MalformedField(_)
                | S::UnsignedHeader(_)
                | S::MissingSignedHeader(_)
                | S::UnknownAccessKey
                | S::ScopeMismatch(_)
                | S::TimestampOutOfRange
                | S::UnsignedPayload
                | S::BodyHashMismatch
                | S::BadSignature,
            ) => {}
        }
    }
    all
}

#[test]
fn every_failure_reason_is_in_the_pre_registered_list() {
    let reasons: std::collections::HashSet<&str> =
        every_failure().iter().map(Failure::reason).collect();
    for reason in &reasons {
        assert!(
            Failure::REASONS.contains(reason),
            "{reason} is not in Failure::REASONS"
        );
    }
    assert_eq!(
        reasons.len(),
        Failure::REASONS.len(),
        "REASONS lists a label no failure has"
    );
}

#[test]
fn a_refusal_names_the_credential_the_request_selected() {
    let a = fleet();
    let wrong_password = basic::encode("everbright", b"wrong");
    let cases = [
        ("authorization", wrong_password.as_str(), Some("basic")),
        ("x-api-key", "unknown", None),
    ];
    let uri = Uri::from_static("/everbright/site-archived");
    for (name, value, candidate) in cases {
        let mut headers = HeaderMap::new();
        headers.insert(name, HeaderValue::from_str(value).unwrap());
        let request = Request {
            method: &Method::POST,
            uri: &uri,
            headers: &headers,
            body: &Body::from(&b"{}"[..]),
        };
        let refused = a
            .authenticate(&request, Event::SiteArchived, SystemTime::now())
            .unwrap_err();
        assert_eq!(refused.failure, Failure::BadSecret, "{name}");
        assert_eq!(refused.candidate.map(|c| c.name.as_str()), candidate);
    }
}

fn hmac_cred(name: &str, client_id: Option<&str>, secret: &str, events: EventSet) -> Credential {
    let mut settings = hmac::HmacSettings::new(SecretSet::single(Secret::new(secret)));
    settings.client_id = client_id.map(str::to_string);
    settings.timestamp_header = Some(HeaderName::from_static("x-timestamp"));
    cred(
        name,
        Environment::Production,
        events,
        Scheme::Hmac(Hmac::new(settings).unwrap()),
    )
}

fn sigv4_cred(name: &str, akid: &str, secret: &str) -> Credential {
    let v = SigV4::new(sigv4::SigV4Settings {
        access_key_id: akid.into(),
        secret_access_key: SecretSet::single(Secret::new(secret)),
        region: "us-east-1".into(),
        service: "execute-api".into(),
        tolerance: std::time::Duration::from_secs(300),
    })
    .unwrap();
    cred(
        name,
        Environment::Production,
        EventSet::ALL,
        Scheme::SigV4(v),
    )
}

fn signed_request(
    auth: &Authenticator,
    name: &str,
    tamper: bool,
    event: Event,
) -> Result<(String, Option<SystemTime>), Failure> {
    let c = auth.credentials().iter().find(|c| c.name == name).unwrap();
    let now = SystemTime::now();
    let uri = Uri::from_static("http://hooks.example.com/everbright/site-archived?x=1");
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::HOST,
        HeaderValue::from_static("hooks.example.com"),
    );
    let body = br#"{"site":"x"}"#;
    let added = match &c.scheme {
        Scheme::Hmac(h) => h.sign(body, now),
        Scheme::SigV4(v) => v.sign(&Method::POST, &uri, &headers, body, now),
        _ => unreachable!(),
    };
    for (k, v) in added {
        headers.insert(k, v);
    }
    let sent_body: &[u8] = if tamper { br#"{"site":"y"}"# } else { body };
    let request = Request {
        method: &Method::POST,
        uri: &uri,
        headers: &headers,
        body: &Body::from(sent_body.to_vec()),
    };
    auth.authenticate(&request, event, now)
        .map(|a| (a.credential.name.clone(), a.verifies_until))
        .map_err(|r| r.failure)
}

#[test]
fn hmac_credentials_are_selected_by_client_id() {
    let a = Authenticator::new(vec![
        hmac_cred("acme", Some("acme"), "secret-acme", EventSet::ALL),
        hmac_cred("sunco", Some("sunco"), "secret-sunco", EventSet::ALL),
        sigv4_cred("aws", "AKIDEXAMPLE", "aws-secret"),
    ]);
    let e = Event::SiteArchived;
    let (name, verifies_until) = signed_request(&a, "sunco", false, e).unwrap();
    assert_eq!(name, "sunco");
    assert!(verifies_until.is_some_and(|until| until > SystemTime::now()));
    assert_eq!(signed_request(&a, "acme", false, e).unwrap().0, "acme");
    assert_eq!(
        signed_request(&a, "acme", true, e),
        Err(Failure::Hmac(hmac::HmacError::BadSignature))
    );
    assert_eq!(signed_request(&a, "aws", false, e).unwrap().0, "aws");
    assert_eq!(
        signed_request(&a, "aws", true, e),
        Err(Failure::SigV4(SigV4Error::BodyHashMismatch))
    );
    // A client id nobody configured.
    let mut headers = HeaderMap::new();
    headers.insert("x-client-id", HeaderValue::from_static("mallory"));
    headers.insert("x-signature", HeaderValue::from_static("00"));
    let uri = Uri::from_static("/everbright/site-archived");
    let r = Request {
        method: &Method::POST,
        uri: &uri,
        headers: &headers,
        body: &Body::from(&b"{}"[..]),
    };
    assert_eq!(
        a.authenticate(&r, e, SystemTime::now())
            .unwrap_err()
            .failure,
        Failure::UnknownCredential
    );
}

#[test]
fn sigv4_with_an_unknown_access_key_is_refused_before_any_signature_work() {
    let a = Authenticator::new(vec![sigv4_cred("aws", "AKIDEXAMPLE", "aws-secret")]);
    let other = Authenticator::new(vec![sigv4_cred("aws", "AKIDOTHER", "aws-secret")]);
    let mut headers = HeaderMap::new();
    let c = &other.credentials()[0];
    let Scheme::SigV4(v) = &c.scheme else {
        unreachable!()
    };
    let uri = Uri::from_static("http://h.example/everbright/site-archived");
    headers.insert(http::header::HOST, HeaderValue::from_static("h.example"));
    for (k, val) in v.sign(&Method::POST, &uri, &headers, b"{}", SystemTime::now()) {
        headers.insert(k, val);
    }
    let r = Request {
        method: &Method::POST,
        uri: &uri,
        headers: &headers,
        body: &Body::from(&b"{}"[..]),
    };
    assert_eq!(
        a.authenticate(&r, Event::SiteArchived, SystemTime::now())
            .unwrap_err()
            .failure,
        Failure::UnknownCredential
    );
}

#[test]
fn the_sender_mark_is_the_message_id_else_the_signed_time() {
    let mut settings = hmac::HmacSettings::new(SecretSet::single(Secret::new("whsec_c2VjcmV0")));
    settings.preset = Some(hmac::Preset::StandardWebhooks);
    let sw = Scheme::Hmac(Hmac::new(settings).unwrap());
    let a = Authenticator::new(vec![
        cred("sw", Environment::Production, EventSet::ALL, sw),
        hmac_cred("acme", Some("acme"), "secret-acme", EventSet::ALL),
    ]);
    let now = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
    let uri = Uri::from_static("/everbright/site-archived");
    let mark = |name: &str| {
        let c = a.credentials().iter().find(|c| c.name == name).unwrap();
        let Scheme::Hmac(h) = &c.scheme else {
            unreachable!()
        };
        let mut headers = HeaderMap::new();
        for (k, v) in h.sign(b"{}", now) {
            headers.insert(k, v);
        }
        let request = Request {
            method: &Method::POST,
            uri: &uri,
            headers: &headers,
            body: &Body::from(&b"{}"[..]),
        };
        let id = headers.get("webhook-id").map(|v| v.as_bytes().to_vec());
        (
            a.authenticate(&request, Event::SiteArchived, now)
                .unwrap()
                .mark,
            id,
        )
    };
    let (sw_mark, sw_id) = mark("sw");
    assert_eq!(sw_mark, Some(Mark::MessageId(sw_id.unwrap())));
    assert_eq!(mark("acme").0, Some(Mark::SignedAt(now)));
}
