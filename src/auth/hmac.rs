//! HMAC-SHA256 webhook signatures: EverBright's "HMAC-SHA256" credential type, plus the
//! Standard Webhooks and GitHub layouts as presets.
//!
//! [`Hmac`] owns one credential's validated settings. [`Hmac::verify`] checks the raw body
//! bytes against the presented signature in constant time and returns the verified tag;
//! [`Hmac::sign`] produces the headers that make `verify` pass (for `hookbridge sign` and
//! tests). Time is always passed in.
//!
//! It does not choose the credential (the caller does, by client id or by
//! [`Hmac::selector_header`]), does not remember requests (see `dedup`), and never reads the
//! clock.
//!
//! Rotation: with several secrets, every secret is tried against every presented
//! signature with no early exit, so the time taken does not depend on which secret (if
//! any) matched. That costs one MAC over the body per configured secret.

mod settings;
mod wire;

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderMap, HeaderName, HeaderValue};
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};

pub use self::settings::{Encoding, HmacSettings, HmacSettingsError, Preset};
use self::settings::{decode_whsec_secrets, raw_secrets, valid_prefix};
use self::wire::{decode_tag, encode_tag, message_id, printable_value, versioned_signatures};
use crate::auth::SecretSet;
use crate::auth::signed::{Signed, hmac_sha256, within_tolerance};

/// Why a request does not carry a valid HMAC signature. `Display` names headers only,
/// never their values, secrets or body bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HmacError {
    /// A required header is absent.
    MissingHeader(HeaderName),
    /// A header that must appear once appears several times.
    DuplicateHeader(HeaderName),
    /// A header's value does not have the expected syntax (missing prefix, bad encoding,
    /// wrong length, non-numeric timestamp).
    MalformedHeader(HeaderName),
    /// The client id header names another client.
    ClientIdMismatch,
    /// A Standard Webhooks signature header holds no `v1` entry.
    NoSupportedSignature,
    /// The signed timestamp is further than the tolerance from now.
    TimestampOutOfRange,
    /// No presented signature matches any configured secret.
    BadSignature,
}

impl HmacError {
    /// Stable kebab-case label for the `reason` metric label.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::MissingHeader(_) => "missing-header",
            Self::DuplicateHeader(_) => "duplicate-header",
            Self::MalformedHeader(_) => "malformed-header",
            Self::ClientIdMismatch => "client-id-mismatch",
            Self::NoSupportedSignature => "no-supported-signature",
            Self::TimestampOutOfRange => "timestamp-out-of-range",
            Self::BadSignature => "bad-signature",
        }
    }
}

impl fmt::Display for HmacError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingHeader(name) => write!(f, "missing header {name}"),
            Self::DuplicateHeader(name) => write!(f, "header {name} appears more than once"),
            Self::MalformedHeader(name) => write!(f, "header {name} is malformed"),
            Self::ClientIdMismatch => f.write_str("client id does not match the credential"),
            Self::NoSupportedSignature => f.write_str("signature header holds no v1 signature"),
            Self::TimestampOutOfRange => f.write_str("signed timestamp is outside the tolerance"),
            Self::BadSignature => f.write_str("no signature matches"),
        }
    }
}

impl std::error::Error for HmacError {}

/// Where the signature and the signed timestamp travel, and what is signed.
#[derive(Debug)]
enum Layout {
    /// `{prefix}{mac}` in one header, over the body or `{timestamp}.{body}`.
    Single {
        signature_header: HeaderName,
        encoding: Encoding,
        prefix: String,
        timestamp_header: Option<HeaderName>,
    },
    /// Standard Webhooks: several `v1,<base64>` entries over `{id}.{timestamp}.{body}`.
    StandardWebhooks {
        id_header: HeaderName,
        timestamp_header: HeaderName,
        signature_header: HeaderName,
    },
}

/// One HMAC-SHA256 credential, ready to verify and sign. `Debug` shows no key material.
#[derive(Debug)]
pub struct Hmac {
    client_id: Option<HeaderValue>,
    client_id_header: HeaderName,
    /// The MAC keys: the secrets as configured, or for Standard Webhooks their decoded
    /// key bytes (decoded once here rather than per request).
    keys: SecretSet,
    layout: Layout,
    tolerance: Duration,
}

impl Hmac {
    /// Validates `settings` and decodes Standard Webhooks secrets.
    pub fn new(settings: HmacSettings) -> Result<Hmac, HmacSettingsError> {
        let client_id = match &settings.client_id {
            None => None,
            Some(id) if id.is_empty() => return Err(HmacSettingsError::InvalidClientId),
            Some(id) => {
                Some(HeaderValue::from_str(id).map_err(|_| HmacSettingsError::InvalidClientId)?)
            }
        };
        let (layout, keys) = match settings.preset {
            Some(Preset::StandardWebhooks) => (
                Layout::StandardWebhooks {
                    id_header: HeaderName::from_static("webhook-id"),
                    timestamp_header: HeaderName::from_static("webhook-timestamp"),
                    signature_header: HeaderName::from_static("webhook-signature"),
                },
                decode_whsec_secrets(&settings.client_secret)?,
            ),
            Some(Preset::Github) => (
                Layout::Single {
                    signature_header: HeaderName::from_static("x-hub-signature-256"),
                    encoding: Encoding::Hex,
                    prefix: "sha256=".to_owned(),
                    timestamp_header: None,
                },
                raw_secrets(settings.client_secret)?,
            ),
            None => {
                let prefix = settings.signature_prefix;
                if !valid_prefix(&prefix) {
                    return Err(HmacSettingsError::InvalidSignaturePrefix);
                }
                let layout = Layout::Single {
                    signature_header: settings.signature_header,
                    encoding: settings.encoding,
                    prefix,
                    timestamp_header: settings.timestamp_header,
                };
                (layout, raw_secrets(settings.client_secret)?)
            }
        };
        Ok(Hmac {
            client_id,
            client_id_header: settings.client_id_header,
            keys,
            layout,
            tolerance: settings.tolerance,
        })
    }

    /// The header whose presence marks a request as meant for this scheme when no client
    /// id is configured: the signature header.
    pub fn selector_header(&self) -> &HeaderName {
        match &self.layout {
            Layout::Single {
                signature_header, ..
            } => signature_header,
            Layout::StandardWebhooks {
                signature_header, ..
            } => signature_header,
        }
    }

    /// The configured client id and the header that carries it, when one is set: it
    /// selects this credential among several on one route.
    pub fn client_id(&self) -> Option<(&HeaderName, &[u8])> {
        self.client_id
            .as_ref()
            .map(|id| (&self.client_id_header, id.as_bytes()))
    }

    /// How far a signed timestamp may be from the clock (also the replay window).
    pub fn tolerance(&self) -> Duration {
        self.tolerance
    }

    /// Every request header this credential reads: never captured onto records.
    pub fn headers(&self) -> Vec<HeaderName> {
        let mut headers = Vec::with_capacity(4);
        if self.client_id.is_some() {
            headers.push(self.client_id_header.clone());
        }
        match &self.layout {
            Layout::Single {
                signature_header,
                timestamp_header,
                ..
            } => {
                headers.push(signature_header.clone());
                headers.extend(timestamp_header.iter().cloned());
            }
            Layout::StandardWebhooks {
                id_header,
                timestamp_header,
                signature_header,
            } => headers.extend([
                id_header.clone(),
                timestamp_header.clone(),
                signature_header.clone(),
            ]),
        }
        headers
    }

    /// Checks the signature of `body` (the raw bytes as received) against every
    /// configured secret. Cheap header and timestamp checks come first; their errors do
    /// not depend on the MAC, so no error tells whether the signature would have passed.
    pub fn verify(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> Result<Signed, HmacError> {
        if let Some(expected) = &self.client_id
            && one_value(headers, &self.client_id_header)? != expected
        {
            return Err(HmacError::ClientIdMismatch);
        }
        match &self.layout {
            Layout::Single {
                signature_header,
                encoding,
                prefix,
                timestamp_header,
            } => {
                let presented = visible_text(headers, signature_header)?;
                let malformed = || HmacError::MalformedHeader(signature_header.clone());
                let encoded = presented
                    .strip_prefix(prefix.as_str())
                    .ok_or_else(malformed)?;
                let candidate = decode_tag(*encoding, encoded).ok_or_else(malformed)?;
                let Some(timestamp_header) = timestamp_header else {
                    let tag = self.matching_tag(&[body], &[candidate])?;
                    return Ok(Signed {
                        signed_at: None,
                        tag,
                        message_id: None,
                    });
                };
                let (timestamp, signed_at) = self.timestamp(headers, timestamp_header, now)?;
                let tag = self.matching_tag(&[timestamp.as_bytes(), b".", body], &[candidate])?;
                Ok(Signed {
                    signed_at: Some(signed_at),
                    tag,
                    message_id: None,
                })
            }
            Layout::StandardWebhooks {
                id_header,
                timestamp_header,
                signature_header,
            } => {
                let id = one_value(headers, id_header)?.as_bytes();
                let presented = visible_text(headers, signature_header)?;
                let candidates = versioned_signatures(presented)
                    .ok_or_else(|| HmacError::MalformedHeader(signature_header.clone()))?;
                if candidates.is_empty() {
                    return Err(HmacError::NoSupportedSignature);
                }
                let (timestamp, signed_at) = self.timestamp(headers, timestamp_header, now)?;
                let signed = [id, b".", timestamp.as_bytes(), b".", body];
                let tag = self.matching_tag(&signed, &candidates)?;
                Ok(Signed {
                    signed_at: Some(signed_at),
                    tag,
                    message_id: Some(id.to_vec()),
                })
            }
        }
    }

    /// Headers that make [`verify`](Self::verify) pass for `body` at `now`, signed with
    /// the primary secret: the signature header, the timestamp (and for Standard
    /// Webhooks the `webhook-id`, derived from `now` and the body's hash) and the client
    /// id when one is configured. A `now` before 1970 is signed as timestamp 0.
    pub fn sign(&self, body: &[u8], now: SystemTime) -> Vec<(HeaderName, HeaderValue)> {
        let key = self.keys.primary().expose();
        let since_epoch = now.duration_since(UNIX_EPOCH).unwrap_or_default();
        let timestamp = since_epoch.as_secs().to_string();
        let mut out = Vec::with_capacity(4);
        match &self.layout {
            Layout::Single {
                signature_header,
                encoding,
                prefix,
                timestamp_header,
            } => {
                let mac = match timestamp_header {
                    Some(name) => {
                        out.push((name.clone(), HeaderValue::from(since_epoch.as_secs())));
                        hmac_sha256(key, &[timestamp.as_bytes(), b".", body])
                    }
                    None => hmac_sha256(key, &[body]),
                };
                let value = format!("{prefix}{}", encode_tag(*encoding, &mac));
                out.insert(0, (signature_header.clone(), printable_value(value)));
            }
            Layout::StandardWebhooks {
                id_header,
                timestamp_header,
                signature_header,
            } => {
                let id = message_id(since_epoch, body);
                let mac = hmac_sha256(
                    key,
                    &[id.as_bytes(), b".", timestamp.as_bytes(), b".", body],
                );
                let signature = format!("v1,{}", STANDARD.encode(mac));
                out.push((id_header.clone(), printable_value(id)));
                out.push((
                    timestamp_header.clone(),
                    HeaderValue::from(since_epoch.as_secs()),
                ));
                out.push((signature_header.clone(), printable_value(signature)));
            }
        }
        if let Some(client_id) = &self.client_id {
            out.push((self.client_id_header.clone(), client_id.clone()));
        }
        out
    }

    /// Reads and checks the signed timestamp: ASCII digits, unix seconds, within the
    /// tolerance of `now` either way. Returns the text as signed and the time.
    fn timestamp<'h>(
        &self,
        headers: &'h HeaderMap,
        name: &HeaderName,
        now: SystemTime,
    ) -> Result<(&'h str, SystemTime), HmacError> {
        let text = visible_text(headers, name)?;
        let malformed = || HmacError::MalformedHeader(name.clone());
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(malformed());
        }
        let seconds: u64 = text.parse().map_err(|_| malformed())?;
        let signed_at = UNIX_EPOCH
            .checked_add(Duration::from_secs(seconds))
            .filter(|&at| within_tolerance(at, now, self.tolerance))
            .ok_or(HmacError::TimestampOutOfRange)?;
        Ok((text, signed_at))
    }

    /// Computes the MAC of `signed` under every key and compares it with every
    /// candidate, without early exit; returns the matching tag.
    fn matching_tag(
        &self,
        signed: &[&[u8]],
        candidates: &[[u8; 32]],
    ) -> Result<[u8; 32], HmacError> {
        let mut found = Choice::from(0);
        let mut tag = [0u8; 32];
        for key in self.keys.iter() {
            let mac = hmac_sha256(key.expose(), signed);
            for candidate in candidates {
                let equal = mac.ct_eq(candidate);
                for (out, byte) in tag.iter_mut().zip(mac) {
                    out.conditional_assign(&byte, equal);
                }
                found |= equal;
            }
        }
        if found.into() {
            Ok(tag)
        } else {
            Err(HmacError::BadSignature)
        }
    }
}

/// The single value of `name`, which must appear exactly once.
fn one_value<'h>(headers: &'h HeaderMap, name: &HeaderName) -> Result<&'h HeaderValue, HmacError> {
    let mut values = headers.get_all(name).iter();
    match (values.next(), values.next()) {
        (None, _) => Err(HmacError::MissingHeader(name.clone())),
        (Some(value), None) => Ok(value),
        (Some(_), Some(_)) => Err(HmacError::DuplicateHeader(name.clone())),
    }
}

/// [`one_value`] as visible ASCII text.
fn visible_text<'h>(headers: &'h HeaderMap, name: &HeaderName) -> Result<&'h str, HmacError> {
    one_value(headers, name)?
        .to_str()
        .map_err(|_| HmacError::MalformedHeader(name.clone()))
}

#[cfg(test)]
mod tests;
