//! AWS Signature Version 4, header form: EverBright's "AWS4" credential type.
//!
//! [`Authorization::parse`] reads the `Authorization` header (and tells whether a request
//! uses this scheme at all); [`SigV4::verify`] checks it against one credential: key id,
//! credential scope, a signed request time within the tolerance of `now`, the body's
//! SHA-256 against `x-amz-content-sha256`, then the signature over the canonical request
//! in constant time. [`SigV4::sign`] produces headers that pass (for `hookbridge sign`
//! and tests).
//!
//! Cost per request: one SHA-256 of the body, one of the canonical request, one HMAC
//! per configured secret; signing keys are cached per scope date (see `key`).
//!
//! It does not do query-string (presigned URL) auth, SigV4a, chunked `STREAMING-*`
//! payloads or `UNSIGNED-PAYLOAD` (hookbridge requires body integrity), and it never
//! reads the clock. A session token (`x-amz-security-token`) is accepted, signed or not,
//! and never required: hookbridge checks the configured secret, not STS.

mod authorization;
mod canonical;
mod key;
mod settings;
mod time;

use std::fmt;
use std::time::{Duration, SystemTime};

use http::header::{AUTHORIZATION, DATE, HOST};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use subtle::{Choice, ConstantTimeEq};

pub use self::authorization::Authorization;
use self::canonical::PathStyle;
use self::key::SigningKeys;
pub use self::settings::{SigV4Settings, SigV4SettingsError};
use crate::auth::signed::{Signed, hex_decode_32, hmac_sha256, within_tolerance};
use crate::body::Body;

const X_AMZ_DATE: &str = "x-amz-date";
const X_AMZ_CONTENT_SHA256: &str = "x-amz-content-sha256";

/// Headers [`SigV4::sign`] never signs: the ones the AWS SDKs exclude (they change in
/// transit) and the two it sets itself.
const UNSIGNABLE: [&str; 6] = [
    "authorization",
    "user-agent",
    "x-amzn-trace-id",
    "transfer-encoding",
    X_AMZ_DATE,
    X_AMZ_CONTENT_SHA256,
];

/// Why a request does not carry a valid SigV4 signature for a credential. `Display`
/// names headers and fields only, never values, secrets or body bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SigV4Error {
    /// A required header is absent (neither `x-amz-date` nor `date`).
    MissingHeader(HeaderName),
    /// A header that must appear at most once appears several times.
    DuplicateHeader(HeaderName),
    /// A header's value does not have the expected syntax.
    MalformedHeader(HeaderName),
    /// `Credential`, `SignedHeaders` or `Signature` is absent from `Authorization`.
    MissingField(&'static str),
    /// `Credential`, `SignedHeaders` or `Signature` appears twice in `Authorization`.
    DuplicateField(&'static str),
    /// `Credential`, `SignedHeaders` or `Signature` does not have the expected syntax.
    MalformedField(&'static str),
    /// A header that must be signed (`host`, the request time) is not in `SignedHeaders`.
    UnsignedHeader(HeaderName),
    /// `SignedHeaders` names a header the request does not carry.
    MissingSignedHeader(HeaderName),
    /// The access key id is not this credential's.
    UnknownAccessKey,
    /// A credential-scope part (`date`, `region` or `service`) does not match.
    ScopeMismatch(&'static str),
    /// The signed request time is further than the tolerance from now.
    TimestampOutOfRange,
    /// `x-amz-content-sha256` is `UNSIGNED-PAYLOAD` or a streaming form.
    UnsignedPayload,
    /// `x-amz-content-sha256` is not the SHA-256 of the body.
    BodyHashMismatch,
    /// The signature does not match any configured secret.
    BadSignature,
}

impl SigV4Error {
    /// Stable kebab-case label for the `reason` metric label.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::MissingHeader(_) => "missing-header",
            Self::DuplicateHeader(_) => "duplicate-header",
            Self::MalformedHeader(_) => "malformed-header",
            Self::MissingField(_) => "missing-field",
            Self::DuplicateField(_) => "duplicate-field",
            Self::MalformedField(_) => "malformed-field",
            Self::UnsignedHeader(_) => "unsigned-header",
            Self::MissingSignedHeader(_) => "missing-signed-header",
            Self::UnknownAccessKey => "unknown-access-key",
            Self::ScopeMismatch(_) => "scope-mismatch",
            Self::TimestampOutOfRange => "timestamp-out-of-range",
            Self::UnsignedPayload => "unsigned-payload",
            Self::BodyHashMismatch => "body-hash-mismatch",
            Self::BadSignature => "bad-signature",
        }
    }
}

impl fmt::Display for SigV4Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingHeader(name) => write!(f, "missing header {name}"),
            Self::DuplicateHeader(name) => write!(f, "header {name} appears more than once"),
            Self::MalformedHeader(name) => write!(f, "header {name} is malformed"),
            Self::MissingField(field) => write!(f, "authorization lacks {field}"),
            Self::DuplicateField(field) => write!(f, "authorization repeats {field}"),
            Self::MalformedField(field) => write!(f, "authorization {field} is malformed"),
            Self::UnsignedHeader(name) => write!(f, "header {name} is not signed"),
            Self::MissingSignedHeader(name) => write!(f, "signed header {name} is absent"),
            Self::UnknownAccessKey => f.write_str("access key id does not match the credential"),
            Self::ScopeMismatch(part) => write!(f, "credential scope {part} does not match"),
            Self::TimestampOutOfRange => {
                f.write_str("signed request time is outside the tolerance")
            }
            Self::UnsignedPayload => f.write_str("payload is not signed"),
            Self::BodyHashMismatch => f.write_str("x-amz-content-sha256 does not match the body"),
            Self::BadSignature => f.write_str("signature does not match"),
        }
    }
}

impl std::error::Error for SigV4Error {}

/// One AWS4 credential, ready to verify and sign. `Debug` shows no key material.
#[derive(Debug)]
pub struct SigV4 {
    access_key_id: String,
    region: String,
    service: String,
    tolerance: Duration,
    path_style: PathStyle,
    keys: SigningKeys,
}

impl SigV4 {
    /// Validates `settings`. The key id, region and service must be tokens
    /// (`A-Z a-z 0-9 . _ -`) so that they can neither break the `Authorization` syntax
    /// nor make `sign` produce an invalid header.
    pub fn new(settings: SigV4Settings) -> Result<SigV4, SigV4SettingsError> {
        settings.validate()?;
        let path_style = if settings.service == "s3" {
            PathStyle::AsSent
        } else {
            PathStyle::Normalized
        };
        let keys = SigningKeys::new(
            settings.secret_access_key,
            settings.region.clone(),
            settings.service.clone(),
        );
        Ok(SigV4 {
            access_key_id: settings.access_key_id,
            region: settings.region,
            service: settings.service,
            tolerance: settings.tolerance,
            path_style,
            keys,
        })
    }

    /// The access key id, which selects this credential.
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }

    /// How far `x-amz-date` may be from the clock (also the replay window).
    pub fn tolerance(&self) -> Duration {
        self.tolerance
    }

    /// The request headers SigV4 reads besides the signed ones: never captured.
    pub fn headers() -> [HeaderName; 4] {
        [
            AUTHORIZATION,
            HeaderName::from_static("x-amz-date"),
            HeaderName::from_static("x-amz-content-sha256"),
            HeaderName::from_static("x-amz-security-token"),
        ]
    }

    /// Checks `auth` (parsed from `headers`) and the request against this credential.
    /// Every check before the signature uses public values only, so no error tells
    /// whether the signature would have passed. All secrets are tried, no early exit.
    pub fn verify(
        &self,
        auth: &Authorization<'_>,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &Body,
        now: SystemTime,
    ) -> Result<Signed, SigV4Error> {
        if auth.access_key_id != self.access_key_id {
            return Err(SigV4Error::UnknownAccessKey);
        }
        if auth.region != self.region {
            return Err(SigV4Error::ScopeMismatch("region"));
        }
        if auth.service != self.service {
            return Err(SigV4Error::ScopeMismatch("service"));
        }
        let (amz_date, signed_at) = request_time(auth, headers)?;
        if amz_date.get(..8) != Some(auth.date) {
            return Err(SigV4Error::ScopeMismatch("date"));
        }
        if !within_tolerance(signed_at, now, self.tolerance) {
            return Err(SigV4Error::TimestampOutOfRange);
        }
        if !auth.signs(HOST.as_str()) {
            return Err(SigV4Error::UnsignedHeader(HOST));
        }
        let payload_hash = hex::encode(payload_hash(headers, body)?);
        let canonical = canonical::request(
            method,
            uri,
            headers,
            auth.signed_headers,
            &payload_hash,
            self.path_style,
        )?;
        let scope = self.scope(auth.date);
        let string_to_sign = canonical::string_to_sign(&amz_date, &scope, &canonical);
        let found = self
            .keys
            .for_date(auth.date)
            .iter()
            .fold(Choice::from(0), |found, key| {
                found | hmac_sha256(&**key, &[string_to_sign.as_bytes()]).ct_eq(&auth.signature)
            });
        if found.into() {
            Ok(Signed {
                signed_at: Some(signed_at),
                tag: auth.signature,
                message_id: None,
            })
        } else {
            Err(SigV4Error::BadSignature)
        }
    }

    /// Headers to add, replacing any of the same name (`authorization`, `x-amz-date`,
    /// `x-amz-content-sha256`, and `host` from `uri` when `headers` has none) so that
    /// `verify` passes, signed with the primary secret at `now`. Every header in
    /// `headers` is signed except the ones the AWS SDKs leave out (`user-agent`,
    /// `x-amzn-trace-id`, `transfer-encoding`). Without a `host` header or an absolute
    /// `uri` nothing names the host, and `verify` will refuse the result.
    pub fn sign(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> Vec<(HeaderName, HeaderValue)> {
        let amz_date = time::format_basic(now);
        let date = &amz_date[..8];
        let payload_hash = hex::encode(crate::body::sha256(body));
        let mut signing = HeaderMap::with_capacity(headers.len() + 3);
        for (name, value) in headers {
            if !UNSIGNABLE.contains(&name.as_str()) {
                signing.append(name.clone(), value.clone());
            }
        }
        let host = if headers.contains_key(HOST) {
            None
        } else {
            canonical::uri_host(uri).and_then(|h| HeaderValue::try_from(h).ok())
        };
        if let Some(host) = &host {
            signing.insert(HOST, host.clone());
        }
        let amz_date_value = token_value(&amz_date);
        let payload_hash_value = token_value(&payload_hash);
        signing.insert(X_AMZ_DATE, amz_date_value.clone());
        signing.insert(X_AMZ_CONTENT_SHA256, payload_hash_value.clone());
        let mut names: Vec<&str> = signing.keys().map(HeaderName::as_str).collect();
        names.sort_unstable();
        let signed_headers = names.join(";");

        #[expect(
            clippy::expect_used,
            reason = "every signed name was taken from `signing`, so none is missing"
        )]
        let canonical = canonical::request(
            method,
            uri,
            &signing,
            &signed_headers,
            &payload_hash,
            self.path_style,
        )
        .expect("every signed header is present");
        let scope = self.scope(date);
        let string_to_sign = canonical::string_to_sign(&amz_date, &scope, &canonical);
        let signature = hmac_sha256(&*self.keys.primary(date), &[string_to_sign.as_bytes()]);
        let authorization = format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={}",
            self.access_key_id,
            hex::encode(signature),
        );
        let mut out = vec![
            (AUTHORIZATION, token_value(&authorization)),
            (HeaderName::from_static(X_AMZ_DATE), amz_date_value),
            (
                HeaderName::from_static(X_AMZ_CONTENT_SHA256),
                payload_hash_value,
            ),
        ];
        out.extend(host.map(|host| (HOST, host)));
        out
    }

    /// `{date}/{region}/{service}/aws4_request`.
    fn scope(&self, date: &str) -> String {
        let mut scope =
            String::with_capacity(date.len() + self.region.len() + self.service.len() + 15);
        for part in [date, "/", &self.region, "/", &self.service, "/aws4_request"] {
            scope.push_str(part);
        }
        scope
    }
}

/// The signed request time: `x-amz-date`, else `date` (IMF-fixdate) when no
/// `x-amz-date` is sent. It must be signed. Returns it in ISO 8601 basic form.
fn request_time(
    auth: &Authorization<'_>,
    headers: &HeaderMap,
) -> Result<(String, SystemTime), SigV4Error> {
    if let Some(value) = at_most_one(headers, X_AMZ_DATE)? {
        let name = || HeaderName::from_static(X_AMZ_DATE);
        if !auth.signs(X_AMZ_DATE) {
            return Err(SigV4Error::UnsignedHeader(name()));
        }
        let at = time::parse_basic(value.as_bytes())
            .ok_or_else(|| SigV4Error::MalformedHeader(name()))?;
        // `parse_basic` accepted only ASCII digits, `T` and `Z`: this is that text.
        let text = String::from_utf8_lossy(value.as_bytes()).into_owned();
        return Ok((text, at));
    }
    if let Some(value) = at_most_one(headers, "date")? {
        if !auth.signs(DATE.as_str()) {
            return Err(SigV4Error::UnsignedHeader(DATE));
        }
        let at =
            time::parse_imf_fixdate(value.as_bytes()).ok_or(SigV4Error::MalformedHeader(DATE))?;
        return Ok((time::format_basic(at), at));
    }
    Err(SigV4Error::MissingHeader(HeaderName::from_static(
        X_AMZ_DATE,
    )))
}

/// SHA-256 of the body (the request's one hash of it), checked against
/// `x-amz-content-sha256` when sent.
fn payload_hash(headers: &HeaderMap, body: &Body) -> Result<[u8; 32], SigV4Error> {
    let computed = *body.sha256();
    if let Some(value) = at_most_one(headers, X_AMZ_CONTENT_SHA256)? {
        let claimed = value.as_bytes();
        if claimed == b"UNSIGNED-PAYLOAD" || claimed.starts_with(b"STREAMING-") {
            return Err(SigV4Error::UnsignedPayload);
        }
        let claimed = hex_decode_32(claimed).ok_or_else(|| {
            SigV4Error::MalformedHeader(HeaderName::from_static(X_AMZ_CONTENT_SHA256))
        })?;
        if claimed != computed {
            return Err(SigV4Error::BodyHashMismatch);
        }
    }
    Ok(computed)
}

/// The value of `name` (a lowercase header-name constant) if present, refusing repeats.
fn at_most_one<'h>(
    headers: &'h HeaderMap,
    name: &'static str,
) -> Result<Option<&'h HeaderValue>, SigV4Error> {
    let mut values = headers.get_all(name).iter();
    match (values.next(), values.next()) {
        (first, None) => Ok(first),
        (_, Some(_)) => Err(SigV4Error::DuplicateHeader(HeaderName::from_static(name))),
    }
}

/// A header value from text built of validated tokens, hex and fixed punctuation.
fn token_value(text: &str) -> HeaderValue {
    #[expect(
        clippy::expect_used,
        reason = "callers pass a date, hex, or the Authorization line built from the key \
                  id, region and service that `SigV4::new` checked to be tokens"
    )]
    HeaderValue::from_str(text).expect("printable ASCII is a valid header value")
}

#[cfg(test)]
mod tests;
