//! Authentication: which configured credential a webhook comes from, proven from the
//! raw request.
//!
//! A request is matched to **one** credential by what it carries — a SigV4 access key
//! id, an HMAC client id or signature header, a Basic username, or the value of a
//! configured header (looked up by its SHA-256 digest) — and then verified against that
//! credential only. Secrets are never tried one after another, so the work per request
//! is bounded and no timing difference tells which credential almost matched. The
//! lookup order is fixed (header values, SigV4, Basic, HMAC client id, HMAC signature
//! header); the first candidate found decides, with no fallback to the next.
//! Schemes that sign a time also yield a [`ReplayKey`], so the pipeline can answer an
//! identical retry without a second record.
//! A `none` credential matches only a request that carries no credential material at
//! all.
//!
//! This module does not read bodies, map failures to HTTP statuses or count metrics:
//! it returns a [`Failure`] whose [`Failure::reason`] the caller logs and counts.

pub mod basic;
mod credential;
pub mod header;
pub mod hmac;
pub mod replay;
mod secret;
mod signed;
pub mod sigv4;

use std::collections::HashMap;
use std::fmt;
use std::time::SystemTime;

use http::{HeaderMap, HeaderName, Method, Uri, header::AUTHORIZATION};

pub use credential::{Credential, Scheme, Selector};
pub use secret::{Secret, SecretSet};
pub use signed::Signed;

use crate::everbright::Event;
use hmac::HmacError;
use sigv4::{Authorization, SigV4Error};

/// Why a request was not authenticated. Never shown to the sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The request carries no credential material and no `none` credential takes it.
    MissingCredentials,
    /// The request names a credential (username, client id, access key) that is not
    /// configured.
    UnknownCredential,
    /// The secret presented matches no credential.
    BadSecret,
    /// The matched credential is not allowed to deliver this event.
    EventNotAllowed,
    /// A credential header is present but cannot be read (or is repeated).
    MalformedHeader(HeaderName),
    /// The HMAC signature did not verify.
    Hmac(HmacError),
    /// The SigV4 signature did not verify.
    SigV4(SigV4Error),
}

impl Failure {
    /// Every label [`Failure::reason`] can return, pre-registered as metric series.
    pub const REASONS: &'static [&'static str] = &[
        "missing-credentials",
        "unknown-credential",
        "bad-secret",
        "event-not-allowed",
        "malformed-header",
        "missing-header",
        "duplicate-header",
        "client-id-mismatch",
        "no-supported-signature",
        "timestamp-out-of-range",
        "bad-signature",
        "missing-field",
        "duplicate-field",
        "malformed-field",
        "unsigned-header",
        "missing-signed-header",
        "unknown-access-key",
        "scope-mismatch",
        "unsigned-payload",
        "body-hash-mismatch",
    ];

    /// A stable label for logs and `hookbridge_auth_failures_total{reason}`.
    pub fn reason(&self) -> &'static str {
        match self {
            Failure::MissingCredentials => "missing-credentials",
            Failure::UnknownCredential => "unknown-credential",
            Failure::BadSecret => "bad-secret",
            Failure::EventNotAllowed => "event-not-allowed",
            Failure::MalformedHeader(_) => "malformed-header",
            Failure::Hmac(e) => e.reason(),
            Failure::SigV4(e) => e.reason(),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::MissingCredentials => f.write_str("no credential material in the request"),
            Failure::UnknownCredential => f.write_str("the request names an unknown credential"),
            Failure::BadSecret => f.write_str("the secret matches no credential"),
            Failure::EventNotAllowed => f.write_str("the credential may not deliver this event"),
            Failure::MalformedHeader(h) => write!(f, "header {h} is malformed or repeated"),
            Failure::Hmac(e) => write!(f, "hmac-sha256: {e}"),
            Failure::SigV4(e) => write!(f, "aws-sigv4: {e}"),
        }
    }
}

/// The parts of a request that authentication reads.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The HTTP method.
    pub method: &'a Method,
    /// The request target as received.
    pub uri: &'a Uri,
    /// The request headers.
    pub headers: &'a HeaderMap,
    /// The raw body, exactly as received.
    pub body: &'a [u8],
}

/// A request proven to come from a credential.
#[derive(Debug)]
pub struct Authenticated<'a> {
    /// The credential that matched.
    pub credential: &'a Credential,
    /// For schemes that sign a time: what identifies this exact signed request, and
    /// until when a replay of it would still verify.
    pub replay: Option<ReplayKey>,
}

/// Identifies one signed request for replay detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayKey {
    /// The verified signature.
    pub tag: [u8; 32],
    /// Signed time plus tolerance: after it, the signature no longer verifies.
    pub until: SystemTime,
}

impl<'a> Authenticated<'a> {
    fn plain(credential: &'a Credential) -> Self {
        Authenticated {
            credential,
            replay: None,
        }
    }

    fn signed(credential: &'a Credential, signed: Signed, tolerance: std::time::Duration) -> Self {
        Authenticated {
            credential,
            replay: signed.signed_at.map(|at| ReplayKey {
                tag: signed.tag,
                until: at + tolerance,
            }),
        }
    }
}

/// All credentials, indexed by their selectors. Built once per config.
#[derive(Debug)]
pub struct Authenticator {
    credentials: Vec<Credential>,
    index: HashMap<Selector, Vec<usize>>,
    value_headers: Vec<HeaderName>,
    client_id_headers: Vec<HeaderName>,
    signature_headers: Vec<HeaderName>,
    has_basic: bool,
    has_sigv4: bool,
    auth_headers: Vec<HeaderName>,
}

impl Authenticator {
    /// Indexes `credentials` (already validated by the config).
    pub fn new(credentials: Vec<Credential>) -> Authenticator {
        let mut index: HashMap<Selector, Vec<usize>> = HashMap::new();
        let mut value_headers = Vec::new();
        let mut client_id_headers = Vec::new();
        let mut signature_headers = Vec::new();
        let mut auth_headers = vec![AUTHORIZATION];
        for (i, c) in credentials.iter().enumerate() {
            for s in c.selectors() {
                match &s {
                    Selector::HeaderValue(h, _) => push_unique(&mut value_headers, h),
                    Selector::ClientId(h, _) => push_unique(&mut client_id_headers, h),
                    Selector::Signature(h) => push_unique(&mut signature_headers, h),
                    Selector::Anonymous | Selector::Username(_) | Selector::AccessKey(_) => {}
                }
                index.entry(s).or_default().push(i);
            }
            for h in c.auth_headers() {
                push_unique(&mut auth_headers, &h);
            }
        }
        let has = |f: fn(&Scheme) -> bool| credentials.iter().any(|c| f(&c.scheme));
        let has_basic = has(|s| matches!(s, Scheme::Basic(_)));
        let has_sigv4 = has(|s| matches!(s, Scheme::SigV4(_)));
        Authenticator {
            credentials,
            index,
            value_headers,
            client_id_headers,
            signature_headers,
            has_basic,
            has_sigv4,
            auth_headers,
        }
    }

    /// The configured credentials.
    pub fn credentials(&self) -> &[Credential] {
        &self.credentials
    }

    /// Whether a 401 should offer `WWW-Authenticate: Basic`.
    pub fn offers_basic(&self) -> bool {
        self.has_basic
    }

    /// Finds the credential `request` is meant for and verifies it. `now` is the
    /// receive time, for schemes that sign a timestamp.
    pub fn authenticate(
        &self,
        request: &Request<'_>,
        event: Event,
        now: SystemTime,
    ) -> Result<Authenticated<'_>, Failure> {
        let headers = request.headers;
        let mut miss = None;

        for name in &self.value_headers {
            let Some(value) = single(headers, name)? else {
                continue;
            };
            let selector = Selector::HeaderValue(name.clone(), header::digest(value));
            match self.lookup(&selector, event)? {
                Some(c) => {
                    let (Scheme::Header(h) | Scheme::Token(h)) = &c.scheme else {
                        unreachable!("header-value selectors belong to header and token schemes")
                    };
                    return if h.verify(value) {
                        Ok(Authenticated::plain(c))
                    } else {
                        Err(Failure::BadSecret)
                    };
                }
                None => miss = Some(Failure::BadSecret),
            }
        }

        if self.has_sigv4
            && let Some(auth) = Authorization::parse(headers).map_err(Failure::SigV4)?
        {
            let c = self
                .lookup(&Selector::AccessKey(auth.access_key_id.to_string()), event)?
                .ok_or(Failure::UnknownCredential)?;
            let Scheme::SigV4(v) = &c.scheme else {
                unreachable!("access-key selectors belong to aws-sigv4 credentials")
            };
            let signed = v
                .verify(
                    &auth,
                    request.method,
                    request.uri,
                    headers,
                    request.body,
                    now,
                )
                .map_err(Failure::SigV4)?;
            return Ok(Authenticated::signed(c, signed, v.tolerance()));
        }

        if self.has_basic
            && let Some(value) = single(headers, &AUTHORIZATION)?
            && value.len() >= 6
            && value[..6].eq_ignore_ascii_case(b"basic ")
        {
            let (username, password) =
                basic::parse(value).ok_or(Failure::MalformedHeader(AUTHORIZATION))?;
            let c = self
                .lookup(&Selector::Username(username), event)?
                .ok_or(Failure::UnknownCredential)?;
            let Scheme::Basic(b) = &c.scheme else {
                unreachable!("username selectors belong to basic credentials")
            };
            return if b.verify(&password) {
                Ok(Authenticated::plain(c))
            } else {
                Err(Failure::BadSecret)
            };
        }

        let hmac_candidates = self
            .client_id_headers
            .iter()
            .map(|h| Ok(single(headers, h)?.map(|id| Selector::ClientId(h.clone(), id.to_vec()))))
            .chain(self.signature_headers.iter().map(|h| {
                Ok(headers
                    .contains_key(h)
                    .then(|| Selector::Signature(h.clone())))
            }));
        for selector in hmac_candidates {
            let Some(selector) = selector? else { continue };
            let Some(c) = self.lookup(&selector, event)? else {
                miss = Some(Failure::UnknownCredential);
                continue;
            };
            let Scheme::Hmac(h) = &c.scheme else {
                unreachable!("client-id and signature selectors belong to hmac credentials")
            };
            let signed = h
                .verify(headers, request.body, now)
                .map_err(Failure::Hmac)?;
            return Ok(Authenticated::signed(c, signed, h.tolerance()));
        }

        if self.auth_headers.iter().any(|h| headers.contains_key(h)) {
            return Err(miss.unwrap_or(Failure::UnknownCredential));
        }
        // Without credential material, "not allowed for this event" is just "missing".
        match self.lookup(&Selector::Anonymous, event) {
            Ok(Some(c)) => Ok(Authenticated::plain(c)),
            Ok(None) | Err(_) => Err(Failure::MissingCredentials),
        }
    }

    /// The credential with `selector` that may deliver `event`: `Ok(None)` when no
    /// credential has the selector, `EventNotAllowed` when one has it but not the event.
    fn lookup(&self, selector: &Selector, event: Event) -> Result<Option<&Credential>, Failure> {
        let Some(ids) = self.index.get(selector) else {
            return Ok(None);
        };
        ids.iter()
            .map(|&i| &self.credentials[i])
            .find(|c| c.events.contains(event))
            .map(Some)
            .ok_or(Failure::EventNotAllowed)
    }
}

/// The one value of header `name`: `None` when absent, an error when repeated.
fn single<'h>(headers: &'h HeaderMap, name: &HeaderName) -> Result<Option<&'h [u8]>, Failure> {
    let mut values = headers.get_all(name).iter();
    match (values.next(), values.next()) {
        (None, _) => Ok(None),
        (Some(v), None) => Ok(Some(v.as_bytes())),
        (Some(_), Some(_)) => Err(Failure::MalformedHeader(name.clone())),
    }
}

fn push_unique(list: &mut Vec<HeaderName>, name: &HeaderName) {
    if !list.contains(name) {
        list.push(name.clone());
    }
}

#[cfg(test)]
mod tests;
