//! Tests of [`SigV4`]: refusals here, known answers from AWS in `known_answers`,
//! requests signed by the official `aws-sigv4` crate in `sdk`, and properties of our own
//! signer in `properties`.

mod known_answers;
mod properties;
mod sdk;

use std::time::{Duration, SystemTime};

use http::header::{AUTHORIZATION, DATE, HOST};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};

use super::{Authorization, SigV4, SigV4Error, SigV4Settings, SigV4SettingsError};
use crate::auth::signed::Signed;
use crate::auth::{Secret, SecretSet};

/// AWS's documented example credentials (published for tests, not secrets).
const AKID: &str = "AKIDEXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const REGION: &str = "us-east-1";
const TOLERANCE: Duration = Duration::from_secs(300);

fn settings(service: &str, secrets: &[&str]) -> SigV4Settings {
    SigV4Settings {
        access_key_id: AKID.to_owned(),
        secret_access_key: SecretSet::new(secrets.iter().map(|s| Secret::new(*s)).collect())
            .unwrap(),
        region: REGION.to_owned(),
        service: service.to_owned(),
        tolerance: TOLERANCE,
    }
}

fn verifier(service: &str) -> SigV4 {
    SigV4::new(settings(service, &[SECRET])).unwrap()
}

fn at(seconds: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(seconds)
}

/// 2015-08-30T12:36:00Z, the time of AWS's examples.
const EXAMPLE_TIME: u64 = 1_440_938_160;

/// Parses `Authorization` from `headers` and verifies.
fn check(
    v: &SigV4,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    now: SystemTime,
) -> Result<Signed, SigV4Error> {
    let auth = Authorization::parse(headers)?.ok_or(SigV4Error::MissingField("Credential"))?;
    v.verify(&auth, method, uri, headers, &body.to_vec().into(), now)
}

/// A POST signed by our signer at `EXAMPLE_TIME`, as the verifier would receive it.
fn signed_post(v: &SigV4, extra: &[(&str, &str)], body: &[u8]) -> (Method, Uri, HeaderMap) {
    let uri: Uri = "https://hooks.example.com/everbright/milestone-status-change?x=1"
        .parse()
        .unwrap();
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    for (name, value) in extra {
        headers.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    for (name, value) in v.sign(&Method::POST, &uri, &headers, body, at(EXAMPLE_TIME)) {
        headers.insert(name, value);
    }
    let origin_form: Uri = uri.path_and_query().unwrap().as_str().parse().unwrap();
    (Method::POST, origin_form, headers)
}

#[test]
fn our_signature_verifies_and_yields_time_and_tag() {
    let v = verifier("execute-api");
    let (method, uri, headers) = signed_post(&v, &[], b"{}");
    assert!(headers.contains_key(HOST), "sign adds host from the URI");
    let signed = check(&v, &method, &uri, &headers, b"{}", at(EXAMPLE_TIME)).unwrap();
    assert_eq!(signed.signed_at, Some(at(EXAMPLE_TIME)));
    let auth = Authorization::parse(&headers).unwrap().unwrap();
    assert_eq!(signed.tag, auth.signature);
    assert_eq!(
        auth.signed_headers,
        "content-type;host;x-amz-content-sha256;x-amz-date"
    );
}

#[test]
fn refusals_name_the_fact() {
    let v = verifier("execute-api");
    let body = b"{\"site\":1}";
    let (method, uri, good) = signed_post(&v, &[], body);
    let now = at(EXAMPLE_TIME);
    let auth_line = good[AUTHORIZATION].to_str().unwrap().to_owned();
    let with = |edit: &dyn Fn(&mut HeaderMap)| {
        let mut headers = good.clone();
        edit(&mut headers);
        check(&v, &method, &uri, &headers, body, now)
    };
    let set_auth = |from: &str, to: &str| {
        let line = auth_line.replace(from, to);
        move |h: &mut HeaderMap| {
            h.insert(AUTHORIZATION, HeaderValue::from_str(&line).unwrap());
        }
    };
    let name = HeaderName::from_static;

    assert_eq!(
        with(&set_auth("AKIDEXAMPLE/", "AKIDOTHER/")),
        Err(SigV4Error::UnknownAccessKey)
    );
    assert_eq!(
        with(&set_auth("/us-east-1/", "/eu-west-1/")),
        Err(SigV4Error::ScopeMismatch("region"))
    );
    assert_eq!(
        with(&set_auth("/execute-api/", "/lambda/")),
        Err(SigV4Error::ScopeMismatch("service"))
    );
    assert_eq!(
        with(&set_auth("/20150830/", "/20150831/")),
        Err(SigV4Error::ScopeMismatch("date"))
    );
    assert_eq!(
        with(&set_auth("content-type;host;", "content-type;")),
        Err(SigV4Error::UnsignedHeader(HOST))
    );
    assert_eq!(
        with(&set_auth(";x-amz-date,", ",")),
        Err(SigV4Error::UnsignedHeader(name("x-amz-date")))
    );
    assert_eq!(
        with(&set_auth("content-type;", "accept;content-type;")),
        Err(SigV4Error::MissingSignedHeader(name("accept")))
    );
    assert_eq!(
        with(&|h| {
            h.remove("x-amz-date");
        }),
        Err(SigV4Error::MissingHeader(name("x-amz-date")))
    );
    assert_eq!(
        with(&|h| {
            h.append("x-amz-date", HeaderValue::from_static("20150830T123600Z"));
        }),
        Err(SigV4Error::DuplicateHeader(name("x-amz-date")))
    );
    assert_eq!(
        with(&|h| {
            h.insert(
                "x-amz-date",
                HeaderValue::from_static("2015-08-30T12:36:00Z"),
            );
        }),
        Err(SigV4Error::MalformedHeader(name("x-amz-date")))
    );
    for unsigned in ["UNSIGNED-PAYLOAD", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"] {
        assert_eq!(
            with(&|h| {
                h.insert("x-amz-content-sha256", HeaderValue::from_static(unsigned));
            }),
            Err(SigV4Error::UnsignedPayload)
        );
    }
    assert_eq!(
        with(&|h| {
            h.insert("x-amz-content-sha256", HeaderValue::from_static("abc"));
        }),
        Err(SigV4Error::MalformedHeader(name("x-amz-content-sha256")))
    );
    assert_eq!(
        check(&v, &method, &uri, &good, b"{\"site\":2}", now),
        Err(SigV4Error::BodyHashMismatch)
    );
    assert_eq!(
        check(&v, &Method::PUT, &uri, &good, body, now),
        Err(SigV4Error::BadSignature)
    );
    let late = now + TOLERANCE + Duration::from_secs(1);
    assert_eq!(
        check(&v, &method, &uri, &good, body, late),
        Err(SigV4Error::TimestampOutOfRange)
    );
}

#[test]
fn without_a_body_hash_header_the_body_is_still_covered() {
    let v = verifier("execute-api");
    let (method, uri, mut headers) = signed_post(&v, &[], b"{}");
    // Re-sign without x-amz-content-sha256 in SignedHeaders, as SDKs do for most services.
    let auth = headers[AUTHORIZATION].to_str().unwrap().to_owned();
    headers.remove("x-amz-content-sha256");
    let stripped = auth.replace("host;x-amz-content-sha256;", "host;");
    headers.insert(AUTHORIZATION, HeaderValue::from_str(&stripped).unwrap());
    assert_eq!(
        check(&v, &method, &uri, &headers, b"{}", at(EXAMPLE_TIME)),
        Err(SigV4Error::BadSignature),
        "the signature covered the old header list"
    );
}

/// An `Authorization` line computed step by step from the canonical request, for
/// requests our signer would not produce (other signed headers, `date` instead of
/// `x-amz-date`).
fn authorization_by_hand(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    signed_headers: &str,
    amz_date: &str,
    body: &[u8],
) -> HeaderValue {
    use sha2::{Digest, Sha256};

    use super::canonical::{self, PathStyle};
    use super::key;
    use crate::auth::signed::hmac_sha256;

    let payload = hex::encode(Sha256::digest(body));
    let creq = canonical::request(
        method,
        uri,
        headers,
        signed_headers,
        &payload,
        PathStyle::Normalized,
    )
    .unwrap();
    let date = &amz_date[..8];
    let scope = format!("{date}/{REGION}/service/aws4_request");
    let sts = canonical::string_to_sign(amz_date, &scope, &creq);
    let key = key::derive(SECRET.as_bytes(), date, REGION, "service");
    let signature = hex::encode(hmac_sha256(&*key, &[sts.as_bytes()]));
    let line = format!(
        "AWS4-HMAC-SHA256 Credential={AKID}/{scope}, SignedHeaders={signed_headers}, Signature={signature}"
    );
    HeaderValue::from_str(&line).unwrap()
}

#[test]
fn a_signed_date_header_can_stand_in_for_x_amz_date() {
    let v = verifier("service");
    let uri: Uri = "/hook".parse().unwrap();
    let mut headers = HeaderMap::new();
    headers.insert(HOST, HeaderValue::from_static("hooks.example.com"));
    headers.insert(
        DATE,
        HeaderValue::from_static("Sun, 30 Aug 2015 12:36:00 GMT"),
    );
    let signed = |list: &str| {
        let mut h = headers.clone();
        let auth = authorization_by_hand(&Method::POST, &uri, &h, list, "20150830T123600Z", b"x");
        h.insert(AUTHORIZATION, auth);
        h
    };
    let now = at(EXAMPLE_TIME);
    let ok = check(&v, &Method::POST, &uri, &signed("date;host"), b"x", now).unwrap();
    assert_eq!(ok.signed_at, Some(now));
    assert_eq!(
        check(&v, &Method::POST, &uri, &signed("host"), b"x", now),
        Err(SigV4Error::UnsignedHeader(DATE))
    );
    let mut rfc850 = signed("date;host");
    rfc850.insert(
        DATE,
        HeaderValue::from_static("Sunday, 30-Aug-15 12:36:00 GMT"),
    );
    assert_eq!(
        check(&v, &Method::POST, &uri, &rfc850, b"x", now),
        Err(SigV4Error::MalformedHeader(DATE))
    );
    let late = now + TOLERANCE + Duration::from_secs(1);
    assert_eq!(
        check(&v, &Method::POST, &uri, &signed("date;host"), b"x", late),
        Err(SigV4Error::TimestampOutOfRange)
    );
}

#[test]
fn host_falls_back_to_the_uri_authority_and_a_token_is_optional() {
    let v = verifier("service");
    let uri: Uri = "https://hooks.example.com:8443/hook".parse().unwrap();
    let mut headers = HeaderMap::new();
    headers.insert("x-amz-date", HeaderValue::from_static("20150830T123600Z"));
    headers.insert(
        "x-amz-security-token",
        HeaderValue::from_static("FQoGZXIvYXdzEXAMPLE"),
    );
    let list = "host;x-amz-date;x-amz-security-token";
    let auth = authorization_by_hand(&Method::PUT, &uri, &headers, list, "20150830T123600Z", b"");
    headers.insert(AUTHORIZATION, auth);
    assert!(check(&v, &Method::PUT, &uri, &headers, b"", at(EXAMPLE_TIME)).is_ok());
    let origin_form: Uri = "/hook".parse().unwrap();
    assert_eq!(
        check(
            &v,
            &Method::PUT,
            &origin_form,
            &headers,
            b"",
            at(EXAMPLE_TIME)
        ),
        Err(SigV4Error::MissingSignedHeader(HOST))
    );
}

#[test]
fn every_secret_of_a_rotation_is_accepted_and_the_primary_signs() {
    let both = SigV4::new(settings("service", &["new-secret", SECRET])).unwrap();
    let old = verifier("service");
    let (method, uri, headers) = signed_post(&old, &[], b"x");
    assert!(check(&both, &method, &uri, &headers, b"x", at(EXAMPLE_TIME)).is_ok());
    let (method, uri, headers) = signed_post(&both, &[], b"x");
    assert_eq!(
        check(&old, &method, &uri, &headers, b"x", at(EXAMPLE_TIME)),
        Err(SigV4Error::BadSignature)
    );
}

#[test]
fn settings_are_validated() {
    let mut s = settings("service", &[SECRET]);
    s.access_key_id = "AKID/X".into();
    assert_eq!(
        SigV4::new(s).err(),
        Some(SigV4SettingsError::InvalidAccessKeyId)
    );
    let mut s = settings("service", &[SECRET]);
    s.region = String::new();
    assert_eq!(SigV4::new(s).err(), Some(SigV4SettingsError::InvalidRegion));
    let mut s = settings("service", &[SECRET]);
    s.service = "a b".into();
    assert_eq!(
        SigV4::new(s).err(),
        Some(SigV4SettingsError::InvalidService)
    );
    assert_eq!(
        SigV4::new(settings("service", &[SECRET, ""])).err(),
        Some(SigV4SettingsError::EmptySecret { index: 1 })
    );
    let v = verifier("service");
    assert_eq!(v.access_key_id(), AKID);
    assert!(!format!("{v:?}").contains("EXAMPLEKEY"));
}

#[test]
fn reasons_are_stable_and_display_shows_no_values() {
    let all = [
        (SigV4Error::MissingHeader(HOST), "missing-header"),
        (SigV4Error::DuplicateHeader(HOST), "duplicate-header"),
        (SigV4Error::MalformedHeader(HOST), "malformed-header"),
        (SigV4Error::MissingField("Signature"), "missing-field"),
        (SigV4Error::DuplicateField("Signature"), "duplicate-field"),
        (SigV4Error::MalformedField("Signature"), "malformed-field"),
        (SigV4Error::UnsignedHeader(HOST), "unsigned-header"),
        (
            SigV4Error::MissingSignedHeader(HOST),
            "missing-signed-header",
        ),
        (SigV4Error::UnknownAccessKey, "unknown-access-key"),
        (SigV4Error::ScopeMismatch("region"), "scope-mismatch"),
        (SigV4Error::TimestampOutOfRange, "timestamp-out-of-range"),
        (SigV4Error::UnsignedPayload, "unsigned-payload"),
        (SigV4Error::BodyHashMismatch, "body-hash-mismatch"),
        (SigV4Error::BadSignature, "bad-signature"),
    ];
    for (error, reason) in all {
        assert_eq!(error.reason(), reason);
        let text = error.to_string();
        assert!(!text.is_empty() && !text.contains("AKID") && !text.contains(SECRET));
    }
}
