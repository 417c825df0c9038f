//! Parsing `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`.
//!
//! Only syntax is checked here: five credential parts ending in `aws4_request`, an
//! 8-digit date, lowercase sorted unique header names, 64 hex digits. Whether the key id,
//! scope and time match a credential is for [`SigV4::verify`](super::SigV4::verify).

use std::fmt;

use http::HeaderMap;
use http::header::AUTHORIZATION;

use super::SigV4Error;
use crate::auth::signed::hex_decode_32;

const ALGORITHM: &str = "AWS4-HMAC-SHA256";
const CREDENTIAL: &str = "Credential";
const SIGNED_HEADERS: &str = "SignedHeaders";
const SIGNATURE: &str = "Signature";

/// The parts of a SigV4 `Authorization` header, borrowed from the request's headers.
/// `Debug` leaves the signature out.
#[derive(Clone, PartialEq, Eq)]
pub struct Authorization<'a> {
    /// The access key id, which selects the credential.
    pub access_key_id: &'a str,
    /// The credential scope's date, `YYYYMMDD`.
    pub date: &'a str,
    /// The credential scope's region.
    pub region: &'a str,
    /// The credential scope's service.
    pub service: &'a str,
    /// `SignedHeaders` as sent: lowercase names, sorted, unique, `;`-separated.
    pub signed_headers: &'a str,
    /// The presented signature.
    pub signature: [u8; 32],
}

/// The text after the algorithm of the one SigV4 `Authorization` header: `Ok(None)`
/// when no `Authorization` header is SigV4, an error when there are several.
fn parameters(headers: &HeaderMap) -> Result<Option<&str>, SigV4Error> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    let is_sigv4 = |v: &http::HeaderValue| v.as_bytes().starts_with(ALGORITHM.as_bytes());
    let others: Vec<_> = values.collect();
    if !is_sigv4(first) && !others.iter().any(|v| is_sigv4(v)) {
        return Ok(None);
    }
    if !others.is_empty() {
        return Err(SigV4Error::DuplicateHeader(AUTHORIZATION));
    }
    let malformed = || SigV4Error::MalformedHeader(AUTHORIZATION);
    let text = first.to_str().map_err(|_| malformed())?;
    let params = &text[ALGORITHM.len()..];
    if !params.starts_with(' ') {
        return Err(malformed());
    }
    Ok(Some(params))
}

/// `Credential`, `SignedHeaders` and `Signature`, each exactly once, and nothing else.
fn fields(params: &str) -> Result<[&str; 3], SigV4Error> {
    let malformed = || SigV4Error::MalformedHeader(AUTHORIZATION);
    let names = [CREDENTIAL, SIGNED_HEADERS, SIGNATURE];
    let mut values = [None; 3];
    for part in params.split(',') {
        let (key, value) = part
            .trim_matches(' ')
            .split_once('=')
            .ok_or_else(malformed)?;
        let i = names.iter().position(|n| *n == key).ok_or_else(malformed)?;
        if values[i].replace(value).is_some() {
            return Err(SigV4Error::DuplicateField(names[i]));
        }
    }
    let mut found = [""; 3];
    for (i, value) in values.into_iter().enumerate() {
        found[i] = value.ok_or(SigV4Error::MissingField(names[i]))?;
    }
    Ok(found)
}

/// `AKID/YYYYMMDD/region/service/aws4_request` as (key id, date, region, service).
fn scope(credential: &str) -> Option<(&str, &str, &str, &str)> {
    let mut parts = credential.split('/');
    let (Some(access_key_id), Some(date), Some(region), Some(service), Some("aws4_request"), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    let valid = [access_key_id, region, service]
        .iter()
        .all(|p| !p.is_empty())
        && date.len() == 8
        && date.bytes().all(|b| b.is_ascii_digit());
    valid.then_some((access_key_id, date, region, service))
}

impl<'a> Authorization<'a> {
    /// `Ok(None)` when the request carries no `Authorization: AWS4-HMAC-SHA256 …` header
    /// (none at all, or another scheme).
    pub fn parse(headers: &'a HeaderMap) -> Result<Option<Authorization<'a>>, SigV4Error> {
        let Some(params) = parameters(headers)? else {
            return Ok(None);
        };
        let [credential, signed_headers, signature] = fields(params)?;
        let (access_key_id, date, region, service) =
            scope(credential).ok_or(SigV4Error::MalformedField(CREDENTIAL))?;
        if !valid_signed_headers(signed_headers) {
            return Err(SigV4Error::MalformedField(SIGNED_HEADERS));
        }
        let signature =
            hex_decode_32(signature.as_bytes()).ok_or(SigV4Error::MalformedField(SIGNATURE))?;
        Ok(Some(Authorization {
            access_key_id,
            date,
            region,
            service,
            signed_headers,
            signature,
        }))
    }

    /// The names in `SignedHeaders`.
    pub fn signed_header_names(&self) -> impl Iterator<Item = &'a str> + use<'a> {
        self.signed_headers.split(';')
    }

    /// Whether `name` (lowercase) is in `SignedHeaders`.
    pub fn signs(&self, name: &str) -> bool {
        self.signed_header_names().any(|signed| signed == name)
    }
}

impl fmt::Debug for Authorization<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authorization")
            .field("access_key_id", &self.access_key_id)
            .field("date", &self.date)
            .field("region", &self.region)
            .field("service", &self.service)
            .field("signed_headers", &self.signed_headers)
            .finish_non_exhaustive()
    }
}

/// Non-empty lowercase header-name tokens, strictly ascending (so sorted and unique).
fn valid_signed_headers(list: &str) -> bool {
    let token = |name: &str| {
        !name.is_empty()
            && name.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || b"!#$%&'*+-.^_`|~".contains(&b)
            })
    };
    let mut previous: Option<&str> = None;
    for name in list.split(';') {
        if !token(name) || previous.is_some_and(|p| p >= name) {
            return false;
        }
        previous = Some(name);
    }
    true
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    const SIG: &str = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";

    fn with(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append(AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        }
        headers
    }

    fn parse(value: &str) -> Result<Option<()>, SigV4Error> {
        let headers = with(&[value]);
        Authorization::parse(&headers).map(|a| a.map(|_| ()))
    }

    #[test]
    fn parses_the_documented_form_and_its_variants() {
        let documented = format!(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature={SIG}"
        );
        let headers = with(&[&documented]);
        let auth = Authorization::parse(&headers).unwrap().unwrap();
        assert_eq!(
            (
                auth.access_key_id,
                auth.date,
                auth.region,
                auth.service,
                auth.signed_headers
            ),
            (
                "AKIDEXAMPLE",
                "20150830",
                "us-east-1",
                "service",
                "host;x-amz-date"
            )
        );
        assert_eq!(auth.signature[..4], [0x5f, 0xa0, 0x0f, 0xa3]);
        assert!(auth.signs("host") && auth.signs("x-amz-date") && !auth.signs("date"));
        assert!(!format!("{auth:?}").contains("5fa00fa3"));
        let packed = format!(
            "AWS4-HMAC-SHA256   Signature={SIG},Credential=A/20150830/r/s/aws4_request,SignedHeaders=host"
        );
        assert_eq!(parse(&packed), Ok(Some(())));
    }

    #[test]
    fn other_schemes_are_not_sigv4() {
        assert_eq!(Authorization::parse(&HeaderMap::new()), Ok(None));
        assert_eq!(parse("Bearer abc"), Ok(None));
        assert_eq!(parse("AWS4-ECDSA-P256-SHA256 Credential=x"), Ok(None));
        let two = with(&["Basic Zm9vOmJhcg==", "Bearer x"]);
        assert_eq!(Authorization::parse(&two), Ok(None));
    }

    #[test]
    fn malformed_parts_are_named() {
        let cred = "Credential=AKID/20150830/us-east-1/service/aws4_request";
        let sh = "SignedHeaders=host;x-amz-date";
        let sig = format!("Signature={SIG}");
        let cases: Vec<(String, SigV4Error)> = vec![
            (
                format!("AWS4-HMAC-SHA256{cred}, {sh}, {sig}"),
                SigV4Error::MalformedHeader(AUTHORIZATION),
            ),
            (
                format!("AWS4-HMAC-SHA256 {cred}, {sh}, {sig}, Extra=1"),
                SigV4Error::MalformedHeader(AUTHORIZATION),
            ),
            (
                format!("AWS4-HMAC-SHA256 {cred}, {sh} {sig}"),
                SigV4Error::MissingField(SIGNATURE),
            ),
            (
                format!("AWS4-HMAC-SHA256 {cred}, {sh}, {sig} {sh}"),
                SigV4Error::MalformedField(SIGNATURE),
            ),
            (
                format!("AWS4-HMAC-SHA256 {cred}, {sh}, {sig}, {cred}"),
                SigV4Error::DuplicateField(CREDENTIAL),
            ),
            (
                format!("AWS4-HMAC-SHA256 {sh}, {sig}, {sh}"),
                SigV4Error::DuplicateField(SIGNED_HEADERS),
            ),
            (
                format!("AWS4-HMAC-SHA256 {cred}, {sig}, {sh}, {sig}"),
                SigV4Error::DuplicateField(SIGNATURE),
            ),
            (
                format!("AWS4-HMAC-SHA256 {sh}, {sig}"),
                SigV4Error::MissingField(CREDENTIAL),
            ),
            (
                format!("AWS4-HMAC-SHA256 {cred}, {sig}"),
                SigV4Error::MissingField(SIGNED_HEADERS),
            ),
            (
                format!("AWS4-HMAC-SHA256 {cred}, {sh}"),
                SigV4Error::MissingField(SIGNATURE),
            ),
        ];
        for (value, expected) in cases {
            assert_eq!(parse(&value), Err(expected), "{value}");
        }
        for credential in [
            "AKID/20150830/us-east-1/service",
            "AKID/20150830/us-east-1/service/aws4_request/x",
            "AKID/2015083/us-east-1/service/aws4_request",
            "AKID/2015083x/us-east-1/service/aws4_request",
            "/20150830/us-east-1/service/aws4_request",
            "AKID/20150830//service/aws4_request",
            "AKID/20150830/us-east-1/service/aws5_request",
        ] {
            let value = format!("AWS4-HMAC-SHA256 Credential={credential}, {sh}, {sig}");
            assert_eq!(
                parse(&value),
                Err(SigV4Error::MalformedField(CREDENTIAL)),
                "{credential}"
            );
        }
        for list in [
            "",
            "x-amz-date;host",
            "host;host",
            "Host;x-amz-date",
            "host;;x-amz-date",
            "host;a b",
        ] {
            let value = format!("AWS4-HMAC-SHA256 {cred}, SignedHeaders={list}, {sig}");
            assert_eq!(
                parse(&value),
                Err(SigV4Error::MalformedField(SIGNED_HEADERS)),
                "{list}"
            );
        }
        for signature in ["", &SIG[1..], "zz", &format!("{SIG}00")] {
            let value = format!("AWS4-HMAC-SHA256 {cred}, {sh}, Signature={signature}");
            assert_eq!(
                parse(&value),
                Err(SigV4Error::MalformedField(SIGNATURE)),
                "{signature}"
            );
        }
    }

    #[test]
    fn a_second_authorization_header_is_refused() {
        let value = format!(
            "AWS4-HMAC-SHA256 Credential=A/20150830/r/s/aws4_request, SignedHeaders=host, Signature={SIG}"
        );
        for pair in [[value.as_str(), "Bearer x"], ["Bearer x", value.as_str()]] {
            assert_eq!(
                Authorization::parse(&with(&pair)),
                Err(SigV4Error::DuplicateHeader(AUTHORIZATION))
            );
        }
        let mut headers = HeaderMap::new();
        let mut bytes = value.into_bytes();
        bytes.push(0xff);
        headers.insert(AUTHORIZATION, HeaderValue::from_bytes(&bytes).unwrap());
        assert_eq!(
            Authorization::parse(&headers),
            Err(SigV4Error::MalformedHeader(AUTHORIZATION))
        );
    }
}
