//! Properties of our signer and verifier together: round trips, single-byte tampering
//! and the edges of the time window.

use proptest::prelude::*;

use super::*;

/// An arbitrary request as a sender would build it, signed by [`SigV4::sign`].
#[derive(Debug, Clone)]
struct Request {
    service: &'static str,
    method: Method,
    /// Origin-form target: path of unreserved-character segments, then a query.
    target: String,
    /// A signed extra header with an alphanumeric value.
    custom: String,
    body: Vec<u8>,
    /// Unix seconds, kept away from midnight so a one-second shift stays in the scope date.
    seconds: u64,
}

fn request() -> impl Strategy<Value = Request> {
    (
        prop_oneof![Just("service"), Just("s3")],
        prop_oneof![
            Just(Method::GET),
            Just(Method::POST),
            Just(Method::PUT),
            Just(Method::PATCH)
        ],
        proptest::collection::vec("[a-zA-Z0-9_~-]{1,8}", 1..4),
        "([a-z]{1,4}=[a-zA-Z0-9%+]{0,6}(&[a-z]{1,4}=[a-zA-Z0-9]{0,4}){0,3})?",
        "[a-zA-Z0-9]{1,16}",
        proptest::collection::vec(any::<u8>(), 0..300),
        (15_000u64..20_000, 60u64..86_340),
    )
        .prop_map(
            |(service, method, segments, query, custom, body, (day, second))| {
                let mut target = format!("/{}", segments.join("/"));
                if !query.is_empty() {
                    target = format!("{target}?{}", query.replace("%", "%25"));
                }
                Request {
                    service,
                    method,
                    target,
                    custom,
                    body,
                    seconds: day * 86_400 + second,
                }
            },
        )
}

impl Request {
    fn uri(&self) -> Uri {
        self.target.parse().unwrap()
    }

    fn signed_headers(&self, v: &SigV4) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(HOST, HeaderValue::from_static("hooks.example.com"));
        headers.insert("x-custom", HeaderValue::from_str(&self.custom).unwrap());
        for (name, value) in v.sign(
            &self.method,
            &self.uri(),
            &headers,
            &self.body,
            at(self.seconds),
        ) {
            headers.insert(name, value);
        }
        headers
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn sign_then_verify_round_trips(r in request(), subsecond in 0u32..1_000_000_000) {
        let v = verifier(r.service);
        let headers = r.signed_headers(&v);
        let now = at(r.seconds) + Duration::from_nanos(u64::from(subsecond));
        let signed = check(&v, &r.method, &r.uri(), &headers, &r.body, now).unwrap();
        prop_assert_eq!(signed.signed_at, Some(at(r.seconds)));
    }

    #[test]
    fn a_flipped_body_byte_fails(r in request(), index in any::<prop::sample::Index>(), flip in 1u8..=255) {
        prop_assume!(!r.body.is_empty());
        let v = verifier(r.service);
        let headers = r.signed_headers(&v);
        let mut body = r.body.clone();
        let i = index.index(body.len());
        body[i] ^= flip;
        let now = at(r.seconds);
        prop_assert_eq!(check(&v, &r.method, &r.uri(), &headers, &body, now), Err(SigV4Error::BodyHashMismatch));
        // A forged x-amz-content-sha256 matching the new body breaks the signature instead.
        let mut forged = headers.clone();
        let hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&body));
        forged.insert("x-amz-content-sha256", HeaderValue::from_str(&hash).unwrap());
        prop_assert_eq!(check(&v, &r.method, &r.uri(), &forged, &body, now), Err(SigV4Error::BadSignature));
    }

    #[test]
    fn a_flipped_signature_digit_fails(r in request(), index in 0usize..64) {
        let v = verifier(r.service);
        let mut headers = r.signed_headers(&v);
        let line = headers[AUTHORIZATION].to_str().unwrap().to_owned();
        let start = line.find("Signature=").unwrap() + "Signature=".len() + index;
        let digit = line.as_bytes()[start];
        let other = if digit == b'0' { "1" } else { "0" };
        let forged = format!("{}{other}{}", &line[..start], &line[start + 1..]);
        headers.insert(AUTHORIZATION, HeaderValue::from_str(&forged).unwrap());
        let result = check(&v, &r.method, &r.uri(), &headers, &r.body, at(r.seconds));
        prop_assert_eq!(result, Err(SigV4Error::BadSignature));
    }

    #[test]
    fn a_flipped_signed_header_byte_fails(r in request(), index in any::<prop::sample::Index>()) {
        let v = verifier(r.service);
        let mut headers = r.signed_headers(&v);
        let mut value = r.custom.clone().into_bytes();
        let i = index.index(value.len());
        value[i] = if value[i] == b'a' { b'b' } else { b'a' };
        headers.insert("x-custom", HeaderValue::from_bytes(&value).unwrap());
        let result = check(&v, &r.method, &r.uri(), &headers, &r.body, at(r.seconds));
        prop_assert_eq!(result, Err(SigV4Error::BadSignature));
    }

    #[test]
    fn a_shifted_date_fails(r in request(), later in any::<bool>()) {
        let v = verifier(r.service);
        let mut headers = r.signed_headers(&v);
        let shifted = if later { r.seconds + 1 } else { r.seconds - 1 };
        let text = super::super::time::format_basic(at(shifted));
        headers.insert("x-amz-date", HeaderValue::from_str(&text).unwrap());
        let result = check(&v, &r.method, &r.uri(), &headers, &r.body, at(r.seconds));
        prop_assert_eq!(result, Err(SigV4Error::BadSignature));
    }

    #[test]
    fn a_flipped_path_byte_fails(r in request(), index in any::<prop::sample::Index>()) {
        let v = verifier(r.service);
        let headers = r.signed_headers(&v);
        let path_len = r.target.find('?').unwrap_or(r.target.len());
        // Skip the leading '/'; segments hold no dots or slashes, so no flip of one
        // character can normalise back to the signed path.
        let i = 1 + index.index(path_len - 1);
        let mut target = r.target.clone().into_bytes();
        if target[i] == b'/' {
            return Ok(());
        }
        target[i] = if target[i] == b'a' { b'b' } else { b'a' };
        let uri: Uri = String::from_utf8(target).unwrap().parse().unwrap();
        let result = check(&v, &r.method, &uri, &headers, &r.body, at(r.seconds));
        prop_assert_eq!(result, Err(SigV4Error::BadSignature));
    }

    #[test]
    fn the_window_edges(r in request(), tolerance_seconds in 1u64..3600) {
        let mut s = settings(r.service, &[SECRET]);
        s.tolerance = Duration::from_secs(tolerance_seconds);
        let v = SigV4::new(s).unwrap();
        let headers = r.signed_headers(&v);
        let signed_at = at(r.seconds);
        let tolerance = Duration::from_secs(tolerance_seconds);
        let second = Duration::from_secs(1);
        let verify = |now| check(&v, &r.method, &r.uri(), &headers, &r.body, now);
        prop_assert!(verify(signed_at + tolerance).is_ok());
        prop_assert!(verify(signed_at - tolerance).is_ok());
        prop_assert_eq!(verify(signed_at + tolerance + second), Err(SigV4Error::TimestampOutOfRange));
        prop_assert_eq!(verify(signed_at - tolerance - second), Err(SigV4Error::TimestampOutOfRange));
    }
}
