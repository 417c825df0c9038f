//! Tests of [`Hmac`]: known answers (Standard Webhooks, GitHub) and refusals here,
//! sign/verify properties in `properties`.

mod properties;

use super::*;
use crate::auth::Secret;

fn at(seconds: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(seconds)
}

fn secrets(values: &[&[u8]]) -> SecretSet {
    SecretSet::new(values.iter().map(|v| Secret::new(*v)).collect()).unwrap()
}

fn header_map(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    map
}

fn with_signed(body: &[u8], hmac: &Hmac, now: SystemTime) -> HeaderMap {
    hmac.sign(body, now).into_iter().collect()
}

// The Standard Webhooks reference vector, as used by the spec's reference libraries'
// tests (and by svix): secret, message id, timestamp, payload and signature.
const SW_SECRET: &[u8] = b"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const SW_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const SW_TIMESTAMP: u64 = 1_614_265_330;
const SW_PAYLOAD: &[u8] = br#"{"test": 2432232314}"#;
const SW_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

fn standard_webhooks(secret_values: &[&[u8]]) -> Hmac {
    let mut settings = HmacSettings::new(secrets(secret_values));
    settings.preset = Some(Preset::StandardWebhooks);
    Hmac::new(settings).unwrap()
}

fn sw_headers(signature: &str) -> HeaderMap {
    header_map(&[
        ("webhook-id", SW_ID),
        ("webhook-timestamp", &SW_TIMESTAMP.to_string()),
        ("webhook-signature", signature),
    ])
}

#[test]
fn standard_webhooks_reference_vector_verifies() {
    let hmac = standard_webhooks(&[SW_SECRET]);
    let signed = hmac
        .verify(&sw_headers(SW_SIGNATURE), SW_PAYLOAD, at(SW_TIMESTAMP))
        .unwrap();
    assert_eq!(signed.signed_at, Some(at(SW_TIMESTAMP)));
    assert_eq!(signed.message_id.as_deref(), Some(SW_ID.as_bytes()));
    assert_eq!(
        format!("v1,{}", STANDARD.encode(signed.tag)),
        SW_SIGNATURE,
        "the tag is the verified MAC"
    );
}

#[test]
fn standard_webhooks_accepts_any_valid_v1_entry_and_skips_other_versions() {
    let hmac = standard_webhooks(&[SW_SECRET]);
    let wrong = format!("v1,{}", STANDARD.encode([7u8; 32]));
    let other_version = "v1a,bm90IGNoZWNrZWQ=";
    for header in [
        format!("{wrong} {SW_SIGNATURE}"),
        format!("{other_version} {SW_SIGNATURE} {wrong}"),
        format!("  {SW_SIGNATURE}  "),
        SW_SIGNATURE.trim_end_matches('=').to_owned(),
    ] {
        hmac.verify(&sw_headers(&header), SW_PAYLOAD, at(SW_TIMESTAMP))
            .unwrap_or_else(|e| panic!("{header}: {e}"));
    }
    let only_wrong = format!("{wrong} {other_version}");
    assert_eq!(
        hmac.verify(&sw_headers(&only_wrong), SW_PAYLOAD, at(SW_TIMESTAMP)),
        Err(HmacError::BadSignature)
    );
    assert_eq!(
        hmac.verify(&sw_headers(other_version), SW_PAYLOAD, at(SW_TIMESTAMP)),
        Err(HmacError::NoSupportedSignature)
    );
    for malformed in ["v1", "v1,not*base64", "v1,AAAA"] {
        assert_eq!(
            hmac.verify(&sw_headers(malformed), SW_PAYLOAD, at(SW_TIMESTAMP)),
            Err(HmacError::MalformedHeader(HeaderName::from_static(
                "webhook-signature"
            ))),
            "{malformed}"
        );
    }
}

#[test]
fn standard_webhooks_checks_id_timestamp_and_window() {
    let hmac = standard_webhooks(&[SW_SECRET]);
    let mut other_id = sw_headers(SW_SIGNATURE);
    other_id.insert("webhook-id", HeaderValue::from_static("msg_other"));
    assert_eq!(
        hmac.verify(&other_id, SW_PAYLOAD, at(SW_TIMESTAMP)),
        Err(HmacError::BadSignature)
    );
    let late = at(SW_TIMESTAMP + 5 * 60 + 1);
    assert_eq!(
        hmac.verify(&sw_headers(SW_SIGNATURE), SW_PAYLOAD, late),
        Err(HmacError::TimestampOutOfRange)
    );
    for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        let mut headers = sw_headers(SW_SIGNATURE);
        headers.remove(name);
        assert_eq!(
            hmac.verify(&headers, SW_PAYLOAD, at(SW_TIMESTAMP)),
            Err(HmacError::MissingHeader(HeaderName::from_static(name)))
        );
    }
    for bad in ["", "-1", "1614265330.5", "+1614265330", "１"] {
        let mut headers = sw_headers(SW_SIGNATURE);
        headers.insert("webhook-timestamp", HeaderValue::from_str(bad).unwrap());
        assert_eq!(
            hmac.verify(&headers, SW_PAYLOAD, at(SW_TIMESTAMP)),
            Err(HmacError::MalformedHeader(HeaderName::from_static(
                "webhook-timestamp"
            ))),
            "{bad:?}"
        );
    }
    let mut far = sw_headers(SW_SIGNATURE);
    far.insert(
        "webhook-timestamp",
        HeaderValue::from_static("99999999999999999999"),
    );
    assert!(hmac.verify(&far, SW_PAYLOAD, at(SW_TIMESTAMP)).is_err());
}

#[test]
fn standard_webhooks_secrets_are_validated_and_decoded_once() {
    let make = |secret: &[u8]| {
        let mut settings = HmacSettings::new(secrets(&[b"whsec_dGVzdA==", secret]));
        settings.preset = Some(Preset::StandardWebhooks);
        Hmac::new(settings).map(|_| ())
    };
    assert_eq!(
        make(b"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
        Err(HmacSettingsError::MissingSecretPrefix { index: 1 })
    );
    assert_eq!(
        make(b"whsec_***"),
        Err(HmacSettingsError::SecretNotBase64 { index: 1 })
    );
    assert_eq!(
        make(b"whsec_"),
        Err(HmacSettingsError::EmptySecret { index: 1 })
    );
    assert_eq!(
        make(b"whsec_dGVzdA"),
        Ok(()),
        "padding is optional, as in the reference libraries"
    );
}

#[test]
fn github_documented_example_verifies() {
    // GitHub's "Validating webhook deliveries" test values.
    let mut settings = HmacSettings::new(secrets(&[b"It's a Secret to Everybody"]));
    settings.preset = Some(Preset::Github);
    let hmac = Hmac::new(settings).unwrap();
    assert_eq!(hmac.selector_header(), "x-hub-signature-256");
    let headers = header_map(&[(
        "x-hub-signature-256",
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
    )]);
    let signed = hmac.verify(&headers, b"Hello, World!", at(0)).unwrap();
    assert_eq!(signed.signed_at, None);
    assert_eq!(
        hex::encode(signed.tag),
        "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    );
    assert_eq!(
        hmac.sign(b"Hello, World!", at(0)),
        headers
            .into_iter()
            .map(|(n, v)| (n.unwrap(), v))
            .collect::<Vec<_>>()
    );
    let unprefixed = header_map(&[(
        "x-hub-signature-256",
        "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
    )]);
    assert_eq!(
        hmac.verify(&unprefixed, b"Hello, World!", at(0)),
        Err(HmacError::MalformedHeader(HeaderName::from_static(
            "x-hub-signature-256"
        )))
    );
}

#[test]
fn rotation_accepts_every_secret_and_signs_with_the_primary() {
    let new = Hmac::new(HmacSettings::new(secrets(&[b"new"]))).unwrap();
    let old = Hmac::new(HmacSettings::new(secrets(&[b"old"]))).unwrap();
    let both = Hmac::new(HmacSettings::new(secrets(&[b"new", b"old"]))).unwrap();
    for signer in [&new, &old] {
        let headers = with_signed(b"body", signer, at(10));
        let signed = both.verify(&headers, b"body", at(10)).unwrap();
        assert_eq!(signed, signer.verify(&headers, b"body", at(10)).unwrap());
    }
    let headers = with_signed(b"body", &both, at(10));
    assert!(new.verify(&headers, b"body", at(10)).is_ok());
    assert_eq!(
        old.verify(&headers, b"body", at(10)),
        Err(HmacError::BadSignature)
    );
}

#[test]
fn client_id_is_required_when_configured_and_added_when_signing() {
    let mut settings = HmacSettings::new(secrets(&[b"s3cret"]));
    settings.client_id = Some("acme".to_owned());
    let hmac = Hmac::new(settings).unwrap();
    let headers = with_signed(b"{}", &hmac, at(0));
    assert_eq!(headers["x-client-id"], "acme");
    assert!(hmac.verify(&headers, b"{}", at(0)).is_ok());

    let mut other = headers.clone();
    other.insert("x-client-id", HeaderValue::from_static("other"));
    assert_eq!(
        hmac.verify(&other, b"{}", at(0)),
        Err(HmacError::ClientIdMismatch)
    );
    let mut twice = headers.clone();
    twice.append("x-client-id", HeaderValue::from_static("acme"));
    assert_eq!(
        hmac.verify(&twice, b"{}", at(0)),
        Err(HmacError::DuplicateHeader(HeaderName::from_static(
            "x-client-id"
        )))
    );
    let mut missing = headers;
    missing.remove("x-client-id");
    assert_eq!(
        hmac.verify(&missing, b"{}", at(0)),
        Err(HmacError::MissingHeader(HeaderName::from_static(
            "x-client-id"
        )))
    );
}

#[test]
fn settings_errors_are_specific() {
    let base = || HmacSettings::new(secrets(&[b"k"]));
    let mut s = base();
    s.client_id = Some(String::new());
    assert_eq!(Hmac::new(s).err(), Some(HmacSettingsError::InvalidClientId));
    let mut s = base();
    s.client_id = Some("a\nb".to_owned());
    assert_eq!(Hmac::new(s).err(), Some(HmacSettingsError::InvalidClientId));
    for prefix in [" sha256=", "sha256=\u{e9}", "a\tb"] {
        let mut s = base();
        s.signature_prefix = prefix.to_owned();
        assert_eq!(
            Hmac::new(s).err(),
            Some(HmacSettingsError::InvalidSignaturePrefix)
        );
    }
    assert_eq!(
        Hmac::new(HmacSettings::new(secrets(&[b"k", b""]))).err(),
        Some(HmacSettingsError::EmptySecret { index: 1 })
    );
}

#[test]
fn errors_have_stable_reasons_and_never_print_values() {
    let hmac = Hmac::new(HmacSettings::new(secrets(&[b"hunter2"]))).unwrap();
    let signature = hex::encode([0xab; 32]);
    let headers = header_map(&[("x-signature", &signature)]);
    let err = hmac.verify(&headers, b"private body", at(0)).unwrap_err();
    assert_eq!(err.reason(), "bad-signature");
    let all = [
        HmacError::MissingHeader(HeaderName::from_static("x-signature")),
        HmacError::DuplicateHeader(HeaderName::from_static("x-signature")),
        HmacError::MalformedHeader(HeaderName::from_static("x-signature")),
        HmacError::ClientIdMismatch,
        HmacError::NoSupportedSignature,
        HmacError::TimestampOutOfRange,
        err,
    ];
    let reasons: Vec<_> = all.iter().map(HmacError::reason).collect();
    assert_eq!(
        reasons,
        [
            "missing-header",
            "duplicate-header",
            "malformed-header",
            "client-id-mismatch",
            "no-supported-signature",
            "timestamp-out-of-range",
            "bad-signature"
        ]
    );
    for e in &all {
        let text = format!("{e} {e:?}");
        assert!(
            !text.contains(&signature[..16])
                && !text.contains("hunter2")
                && !text.contains("private")
        );
    }
    assert!(!format!("{hmac:?}").contains("hunter2"));
}

#[test]
fn duplicate_and_non_ascii_signature_headers_are_refused() {
    let hmac = Hmac::new(HmacSettings::new(secrets(&[b"k"]))).unwrap();
    let mut headers = with_signed(b"x", &hmac, at(0));
    let value = headers["x-signature"].clone();
    headers.append("x-signature", value);
    assert_eq!(
        hmac.verify(&headers, b"x", at(0)),
        Err(HmacError::DuplicateHeader(HeaderName::from_static(
            "x-signature"
        )))
    );
    let mut headers = HeaderMap::new();
    headers.insert("x-signature", HeaderValue::from_bytes(b"\xffabc").unwrap());
    assert_eq!(
        hmac.verify(&headers, b"x", at(0)),
        Err(HmacError::MalformedHeader(HeaderName::from_static(
            "x-signature"
        )))
    );
}
