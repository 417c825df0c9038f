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
//! Schemes that carry a message id or sign a time also yield a [`Mark`], part of
//! the event's identity, and say until when the request would still verify.
//! A `none` credential matches only a request that carries no credential material at
//! all.
//!
//! This module does not read bodies, map failures to HTTP statuses or count metrics:
//! it returns a [`Failure`] whose [`Failure::reason`] the caller logs and counts.

mod authenticator;
pub mod basic;
mod credential;
pub mod header;
pub mod hmac;
mod secret;
mod signed;
pub mod sigv4;

use std::fmt;
use std::time::SystemTime;

use http::{HeaderMap, HeaderName, Method, Uri};

use crate::body::Body;

pub use authenticator::Authenticator;
pub use credential::{Credential, Scheme, Selector};
pub use secret::{Secret, SecretSet};
pub use signed::Signed;

use hmac::HmacError;
use sigv4::SigV4Error;

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

/// A request that was not authenticated: why, and which credential it was matched to
/// when it got that far (for the log line; never told to the sender).
#[derive(Debug)]
pub struct Refused<'a> {
    /// Why.
    pub failure: Failure,
    /// The credential the request named or was selected for, if any.
    pub candidate: Option<&'a Credential>,
}

impl From<Failure> for Refused<'_> {
    fn from(failure: Failure) -> Self {
        Refused {
            failure,
            candidate: None,
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
    /// The raw body, exactly as received, with its digest (hashed once, on demand).
    pub body: &'a Body,
}

/// A request proven to come from a credential.
#[derive(Debug)]
pub struct Authenticated<'a> {
    /// The credential that matched.
    pub credential: &'a Credential,
    /// What the scheme tells about this sending beyond its body, if anything: part of
    /// the event's identity.
    pub mark: Option<Mark>,
    /// For schemes that sign a time: signed time plus tolerance, after which this
    /// request no longer verifies (so a replay of it until then must be answered).
    pub verifies_until: Option<SystemTime>,
}

/// What a sender's scheme adds to a body to tell one event from another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mark {
    /// The sender's own message id, kept across its retries (Standard Webhooks).
    MessageId(Vec<u8>),
    /// The signed timestamp (HMAC with a timestamp header, SigV4 `x-amz-date`).
    SignedAt(SystemTime),
}

impl<'a> Authenticated<'a> {
    fn plain(credential: &'a Credential) -> Self {
        Authenticated {
            credential,
            mark: None,
            verifies_until: None,
        }
    }

    fn signed(credential: &'a Credential, signed: Signed, tolerance: std::time::Duration) -> Self {
        let mark = match (signed.message_id, signed.signed_at) {
            (Some(id), _) => Some(Mark::MessageId(id)),
            (None, Some(at)) => Some(Mark::SignedAt(at)),
            (None, None) => None,
        };
        Authenticated {
            credential,
            mark,
            verifies_until: signed.signed_at.map(|at| at + tolerance),
        }
    }
}

#[cfg(test)]
mod tests;
