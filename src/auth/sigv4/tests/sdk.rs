//! Requests signed by the official AWS signer (the `aws-sigv4` crate) must verify: a
//! fixed matrix of awkward methods, paths, queries and headers, then arbitrary ones.

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningParams,
    SigningSettings, UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use proptest::prelude::*;

use super::*;

/// A request for the official signer.
struct SdkRequest<'a> {
    service: &'a str,
    method: &'a str,
    target: &'a str,
    headers: &'a [(&'a str, &'a str)],
    body: &'a [u8],
    token: Option<&'a str>,
    /// Also send (and sign) `x-amz-content-sha256`; always on for S3.
    body_hash_header: bool,
}

impl SdkRequest<'_> {
    /// Signs like an AWS SDK client for the service (S3: single encoding, no
    /// normalisation) and returns the headers the verifier receives.
    fn sign(&self, time: SystemTime) -> HeaderMap {
        let identity: Identity =
            Credentials::new(AKID, SECRET, self.token.map(str::to_owned), None, "test").into();
        let mut settings = SigningSettings::default();
        if self.service == "s3" {
            settings.percent_encoding_mode = PercentEncodingMode::Single;
            settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        }
        if self.service == "s3" || self.body_hash_header {
            settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        }
        let params: SigningParams<'_> = v4::SigningParams::builder()
            .identity(&identity)
            .region(REGION)
            .name(self.service)
            .time(time)
            .settings(settings)
            .build()
            .unwrap()
            .into();
        let url = format!("https://example.amazonaws.com{}", self.target);
        let all: Vec<(&str, &str)> = [("Host", "example.amazonaws.com")]
            .into_iter()
            .chain(self.headers.iter().copied())
            .collect();
        let body = SignableBody::Bytes(self.body);
        let request = SignableRequest::new(self.method, url, all.iter().copied(), body).unwrap();
        let (instructions, _) = sign(request, &params).unwrap().into_parts();
        let mut map = HeaderMap::new();
        for (name, value) in all.iter().copied().chain(instructions.headers()) {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    /// Signs, then verifies as hookbridge would receive it.
    fn verify(&self) -> Result<Signed, SigV4Error> {
        let now = at(1_700_000_000);
        let headers = self.sign(now);
        let method: Method = self.method.parse().unwrap();
        let uri: Uri = self.target.parse().unwrap();
        check(
            &verifier(self.service),
            &method,
            &uri,
            &headers,
            self.body,
            now,
        )
    }
}

#[test]
fn awkward_requests_signed_by_the_sdk_verify() {
    let targets = [
        "/",
        "/everbright/milestone-status-change",
        "/a%20b/c%20%20d",
        "/%E2%98%83/caf%C3%A9",
        "/a%2Fb/%2F",
        "/a+b/c+",
        "/x/./y/../z//w/",
        "/~user/-._/@:!$&'()*,;=",
        "/p%25q",
        "/?a=1&a=0&b=",
        "/?k",
        "/?x=%2B+%20&y=a%3Db",
        "/?%E2%98%83=%E2%98%83&emoji=%F0%9F%98%80",
        "/?Param2=v&Param1=v&param1=V",
        "/?a=%7E~&b=%2a*&c=!'()&d=@:/?",
        "/path%20x/?list=1,2,3&q=a+b+c&empty=&=v",
    ];
    let header_sets: [&[(&str, &str)]; 3] = [
        &[],
        &[
            ("Content-Type", "application/json"),
            ("X-EverBright-Event", "  milestone   status  "),
        ],
        &[("X-Multi", "b"), ("x-multi", "a"), ("Accept", "*/*")],
    ];
    for service in ["service", "execute-api", "s3"] {
        for method in ["GET", "POST", "PUT", "PATCH"] {
            for target in targets {
                for (i, headers) in header_sets.iter().enumerate() {
                    let token = (i == 1).then_some("FQoGZXIvYXdzEXAMPLETOKEN/+=");
                    let body: &[u8] = if method == "GET" {
                        b""
                    } else {
                        b"{\"site\":\"x\"}"
                    };
                    let request = SdkRequest {
                        service,
                        method,
                        target,
                        headers,
                        body,
                        token,
                        body_hash_header: i == 2,
                    };
                    request
                        .verify()
                        .unwrap_or_else(|e| panic!("{service} {method} {target} #{i}: {e}"));
                }
            }
        }
    }
}

#[test]
fn sdk_signed_tampering_fails() {
    let now = at(1_700_000_000);
    let request = SdkRequest {
        service: "service",
        method: "POST",
        target: "/hook?a=1",
        headers: &[],
        body: b"{}",
        token: None,
        body_hash_header: false,
    };
    let signed = request.sign(now);
    let uri: Uri = "/hook?a=1".parse().unwrap();
    let v = verifier("service");
    assert!(check(&v, &Method::POST, &uri, &signed, b"{}", now).is_ok());
    assert_eq!(
        check(&v, &Method::POST, &uri, &signed, b"{ }", now),
        Err(SigV4Error::BadSignature)
    );
    let other: Uri = "/hook?a=2".parse().unwrap();
    assert_eq!(
        check(&v, &Method::POST, &other, &signed, b"{}", now),
        Err(SigV4Error::BadSignature)
    );
}

/// Bytes a URI path segment may not carry raw; everything else (sub-delims, `@`, `:`)
/// is sent raw, to exercise the second encoding.
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');
/// Query components: also `&`, `=` and `+` are encoded.
const COMPONENT: &AsciiSet = &SEGMENT.add(b'&').add(b'=').add(b'+');

fn target() -> impl Strategy<Value = String> {
    let segment = "[a-zA-Z0-9 ._~!$&'()*+,;=:@%/\u{e9}\u{2603}-]{0,8}";
    let pair = (
        "[a-zA-Z0-9 ._~!*'()+%\u{e9}-]{0,6}",
        "[a-zA-Z0-9 ._~!*'()+%/?=\u{2603}-]{0,6}",
    );
    (
        proptest::collection::vec(segment, 0..4),
        proptest::collection::vec(pair, 0..4),
        any::<bool>(),
    )
        .prop_map(|(segments, pairs, plus_for_space)| {
            let mut target = String::new();
            for segment in segments {
                target.push('/');
                target.extend(utf8_percent_encode(&segment, SEGMENT));
            }
            if target.is_empty() {
                target.push('/');
            }
            for (i, (name, value)) in pairs.iter().enumerate() {
                target.push(if i == 0 { '?' } else { '&' });
                let encode = |s: &str| {
                    let encoded = utf8_percent_encode(s, COMPONENT).to_string();
                    if plus_for_space {
                        encoded.replace("%20", "+")
                    } else {
                        encoded
                    }
                };
                target.push_str(&encode(name));
                target.push('=');
                target.push_str(&encode(value));
            }
            target
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_requests_signed_by_the_sdk_verify(
        service in prop_oneof![Just("service"), Just("s3")],
        method in prop_oneof![Just("GET"), Just("POST"), Just("PUT"), Just("PATCH"), Just("DELETE")],
        target in target(),
        header_value in "[ -~]{0,20}",
        body in proptest::collection::vec(any::<u8>(), 0..256),
        token in proptest::option::of("[A-Za-z0-9/+=]{8,40}"),
        body_hash_header in any::<bool>(),
    ) {
        let headers = [("X-Custom", header_value.as_str())];
        let request = SdkRequest {
            service,
            method,
            target: &target,
            headers: &headers,
            body: &body,
            token: token.as_deref(),
            body_hash_header,
        };
        let result = request.verify();
        prop_assert!(result.is_ok(), "{} {} {}: {:?}", service, method, target, result);
    }
}
