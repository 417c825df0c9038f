//! Known answers published by AWS: the IAM `ListUsers` walk-through of the SigV4
//! documentation, S3's "GET Object" example, and the SigV4 test suite (`aws_suite.txt`).

use sha2::{Digest, Sha256};

use super::super::canonical::{self, PathStyle};
use super::super::key;
use super::*;
use crate::auth::signed::hmac_sha256;

/// AWS docs ("Create a canonical request" … "Calculate the signature"): `GET
/// https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08` on 2015-08-30.
#[test]
fn iam_list_users_walkthrough() {
    let uri: Uri = "/?Action=ListUsers&Version=2010-05-08".parse().unwrap();
    let mut headers = HeaderMap::new();
    headers.insert(
        "content-type",
        HeaderValue::from_static("application/x-www-form-urlencoded; charset=utf-8"),
    );
    headers.insert(HOST, HeaderValue::from_static("iam.amazonaws.com"));
    headers.insert("x-amz-date", HeaderValue::from_static("20150830T123600Z"));
    let empty = hex::encode(Sha256::digest(b""));
    let creq = canonical::request(
        &Method::GET,
        &uri,
        &headers,
        "content-type;host;x-amz-date",
        &empty,
        PathStyle::Normalized,
    )
    .unwrap();
    assert_eq!(
        String::from_utf8(creq.clone()).unwrap(),
        "GET\n/\nAction=ListUsers&Version=2010-05-08\n\
         content-type:application/x-www-form-urlencoded; charset=utf-8\n\
         host:iam.amazonaws.com\nx-amz-date:20150830T123600Z\n\n\
         content-type;host;x-amz-date\n\
         e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    let sts = canonical::string_to_sign(
        "20150830T123600Z",
        "20150830/us-east-1/iam/aws4_request",
        &creq,
    );
    assert_eq!(
        sts,
        "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/iam/aws4_request\n\
         f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59"
    );
    let signature = "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7";
    let key = key::derive(SECRET.as_bytes(), "20150830", REGION, "iam");
    assert_eq!(
        hex::encode(hmac_sha256(&*key, &[sts.as_bytes()])),
        signature
    );

    headers.insert(
        AUTHORIZATION,
        HeaderValue::from_str(&format!(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date, Signature={signature}"
        ))
        .unwrap(),
    );
    let signed = check(
        &verifier("iam"),
        &Method::GET,
        &uri,
        &headers,
        b"",
        at(EXAMPLE_TIME),
    )
    .unwrap();
    assert_eq!(hex::encode(signed.tag), signature);
}

/// Amazon S3 API reference, "Signature calculations for the Authorization header",
/// example "GET Object": the first ten bytes of `test.txt`.
#[test]
fn s3_get_object_example() {
    let settings = SigV4Settings {
        access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
        secret_access_key: SecretSet::single(Secret::new(
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        )),
        region: REGION.into(),
        service: "s3".into(),
        tolerance: TOLERANCE,
    };
    let v = SigV4::new(settings).unwrap();
    let mut headers = HeaderMap::new();
    headers.insert(
        HOST,
        HeaderValue::from_static("examplebucket.s3.amazonaws.com"),
    );
    headers.insert("range", HeaderValue::from_static("bytes=0-9"));
    headers.insert(
        "x-amz-content-sha256",
        HeaderValue::from_static(
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ),
    );
    headers.insert("x-amz-date", HeaderValue::from_static("20130524T000000Z"));
    headers.insert(
        AUTHORIZATION,
        HeaderValue::from_static(
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,\
             SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,\
             Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
        ),
    );
    let uri: Uri = "/test.txt".parse().unwrap();
    let now = at(1_369_353_600); // 2013-05-24T00:00:00Z
    assert!(check(&v, &Method::GET, &uri, &headers, b"", now).is_ok());
    assert_eq!(
        check(
            &v,
            &Method::GET,
            &"/test.txt?x".parse().unwrap(),
            &headers,
            b"",
            now
        ),
        Err(SigV4Error::BadSignature)
    );
}

/// One case of `aws_suite.txt`.
struct Case<'a> {
    name: &'a str,
    style: PathStyle,
    signed: &'a str,
    canonical: &'a str,
}

fn suite() -> Vec<Case<'static>> {
    let text = include_str!("aws_suite.txt");
    text.split("\n=== ")
        .skip(1)
        .map(|case| {
            let (title, rest) = case.split_once('\n').unwrap();
            let (name, style) = title.split_once(' ').unwrap();
            let (signed, canonical) = rest.split_once("--- canonical request\n").unwrap();
            let style = match style {
                "normalized" => PathStyle::Normalized,
                "as-sent" => PathStyle::AsSent,
                other => panic!("{name}: style {other}"),
            };
            let canonical = canonical.strip_suffix('\n').unwrap_or(canonical);
            Case {
                name,
                style,
                signed,
                canonical,
            }
        })
        .collect()
}

/// Reads a signed request of the suite: request line, `Name:value` headers, a blank
/// line, the body. Spaces and non-ASCII bytes of the request target are
/// percent-encoded, as a client must before sending.
fn parse_signed(text: &str) -> (Method, Uri, HeaderMap, Vec<u8>) {
    let (head, body) = text.split_once("\n\n").unwrap_or((text, ""));
    let body = body.strip_suffix('\n').unwrap_or(body);
    let mut lines = head.lines();
    let request_line = lines.next().unwrap();
    let request_line = request_line
        .strip_suffix(" HTTP/1.1")
        .unwrap_or(request_line);
    let (method, target) = request_line.split_once(' ').unwrap();
    let mut encoded = String::new();
    for byte in target.bytes() {
        if byte == b' ' || !byte.is_ascii() {
            encoded.push_str(&format!("%{byte:02X}"));
        } else {
            encoded.push(char::from(byte));
        }
    }
    let mut headers = HeaderMap::new();
    for line in lines {
        let (name, value) = line.split_once(':').unwrap();
        headers.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value.trim_matches([' ', '\t'])).unwrap(),
        );
    }
    (
        method.parse().unwrap(),
        encoded.parse().unwrap(),
        headers,
        body.as_bytes().to_vec(),
    )
}

#[test]
fn aws_signing_test_suite() {
    let cases = suite();
    assert_eq!(cases.len(), 37);
    let key = key::derive(SECRET.as_bytes(), "20150830", REGION, "service");
    for case in cases {
        let name = case.name;
        let (method, uri, headers, body) = parse_signed(case.signed);
        let auth = Authorization::parse(&headers).unwrap().unwrap();
        let payload = hex::encode(Sha256::digest(&body));
        let creq = canonical::request(
            &method,
            &uri,
            &headers,
            auth.signed_headers,
            &payload,
            case.style,
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(creq.clone()).unwrap(),
            case.canonical,
            "{name}"
        );
        let sts = canonical::string_to_sign(
            "20150830T123600Z",
            "20150830/us-east-1/service/aws4_request",
            &creq,
        );
        assert_eq!(
            hmac_sha256(&*key, &[sts.as_bytes()]),
            auth.signature,
            "{name}"
        );
        if case.style == PathStyle::Normalized {
            let v = verifier("service");
            let body = body.clone().into();
            let signed = v.verify(&auth, &method, &uri, &headers, &body, at(EXAMPLE_TIME));
            assert_eq!(signed.map(|s| s.tag), Ok(auth.signature), "{name}");
        }
    }
}
