//! The settings of an HMAC credential as the config layer hands them over, and their
//! validation: secrets non-empty, Standard Webhooks secrets `whsec_<base64>` (decoded
//! once, here), client id and signature prefix sendable as header values.

use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use http::HeaderName;
use zeroize::Zeroizing;

use super::wire::BASE64_ANY_PADDING;
use crate::auth::{Secret, SecretSet};

/// Standard Webhooks secrets start with this, followed by the base64 of the key bytes.
const WHSEC_PREFIX: &[u8] = b"whsec_";

/// How the MAC is written in the signature header.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Encoding {
    /// Hex digits; lowercase when signing, either case accepted.
    #[default]
    Hex,
    /// Base64 with the standard alphabet; padding optional when verifying.
    Base64,
}

/// A well-known signature layout that replaces the individual layout settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preset {
    /// <https://www.standardwebhooks.com>: `webhook-id`, `webhook-timestamp` and
    /// `webhook-signature: v1,<base64> …` over `{id}.{timestamp}.{body}`, secrets
    /// written `whsec_<base64 key>`.
    StandardWebhooks,
    /// GitHub: `x-hub-signature-256: sha256=<hex>` over the body, no timestamp.
    Github,
}

/// Validated settings, built by the config layer.
#[derive(Clone, Debug)]
pub struct HmacSettings {
    /// When set, requests must carry it in `client_id_header`, and `sign` adds it.
    pub client_id: Option<String>,
    /// One or several keys (rotation): a signature made with any one of them passes.
    pub client_secret: SecretSet,
    /// Header carrying `{signature_prefix}{encoded mac}` (default `x-signature`).
    pub signature_header: HeaderName,
    /// Header carrying the client id (default `x-client-id`).
    pub client_id_header: HeaderName,
    /// How the MAC is encoded (default hex).
    pub encoding: Encoding,
    /// Text before the encoded MAC, e.g. `sha256=` (default empty).
    pub signature_prefix: String,
    /// `None`: the signed bytes are the body. `Some`: they are `{timestamp}.{body}`, with
    /// the timestamp in unix seconds taken from this header and checked against
    /// `tolerance`.
    pub timestamp_header: Option<HeaderName>,
    /// How far a signed timestamp may be from the verifier's clock, either way
    /// (default 5 minutes).
    pub tolerance: Duration,
    /// A preset replaces `signature_header`, `encoding`, `signature_prefix` and
    /// `timestamp_header`; `client_id`, `client_id_header` and `tolerance` still apply.
    pub preset: Option<Preset>,
}

impl HmacSettings {
    /// The documented defaults around `client_secret`.
    pub fn new(client_secret: SecretSet) -> Self {
        Self {
            client_id: None,
            client_secret,
            signature_header: HeaderName::from_static("x-signature"),
            client_id_header: HeaderName::from_static("x-client-id"),
            encoding: Encoding::Hex,
            signature_prefix: String::new(),
            timestamp_header: None,
            tolerance: Duration::from_secs(5 * 60),
            preset: None,
        }
    }
}

/// Why settings cannot make a verifier. `index` is the position of the offending value
/// in `client_secret`; the value itself is never included.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HmacSettingsError {
    /// A Standard Webhooks secret does not start with `whsec_`.
    MissingSecretPrefix {
        /// The secret's position in the array.
        index: usize,
    },
    /// A Standard Webhooks secret is not base64 after `whsec_`.
    SecretNotBase64 {
        /// The secret's position in the array.
        index: usize,
    },
    /// A secret (for Standard Webhooks: its decoded key) is empty.
    EmptySecret {
        /// The secret's position in the array.
        index: usize,
    },
    /// The client id is empty or cannot be sent as a header value.
    InvalidClientId,
    /// The signature prefix holds characters a header value cannot start with or carry.
    InvalidSignaturePrefix,
}

impl HmacSettingsError {
    /// Stable kebab-case label.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::MissingSecretPrefix { .. } => "missing-secret-prefix",
            Self::SecretNotBase64 { .. } => "secret-not-base64",
            Self::EmptySecret { .. } => "empty-secret",
            Self::InvalidClientId => "invalid-client-id",
            Self::InvalidSignaturePrefix => "invalid-signature-prefix",
        }
    }
}

impl fmt::Display for HmacSettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingSecretPrefix { index } => {
                write!(
                    f,
                    "client_secret[{index}] must start with \"whsec_\" for standard-webhooks"
                )
            }
            Self::SecretNotBase64 { index } => {
                write!(f, "client_secret[{index}] is not base64 after \"whsec_\"")
            }
            Self::EmptySecret { index } => write!(f, "client_secret[{index}] is empty"),
            Self::InvalidClientId => f.write_str("client_id is empty or not a valid header value"),
            Self::InvalidSignaturePrefix => {
                f.write_str("signature_prefix must be printable ASCII not starting with a space")
            }
        }
    }
}

impl std::error::Error for HmacSettingsError {}

/// Whether `prefix` can start a header value: printable ASCII, no leading space.
pub(super) fn valid_prefix(prefix: &str) -> bool {
    prefix.bytes().all(|b| (0x20..0x7f).contains(&b)) && !prefix.starts_with(' ')
}

/// Secrets used as configured; each must be non-empty.
pub(super) fn raw_secrets(secrets: SecretSet) -> Result<SecretSet, HmacSettingsError> {
    let empty = secrets.iter().position(|s| s.expose().is_empty());
    match empty {
        Some(index) => Err(HmacSettingsError::EmptySecret { index }),
        None => Ok(secrets),
    }
}

/// Decodes `whsec_<base64>` secrets into their key bytes.
pub(super) fn decode_whsec_secrets(secrets: &SecretSet) -> Result<SecretSet, HmacSettingsError> {
    let mut keys = Vec::new();
    for (index, secret) in secrets.iter().enumerate() {
        let encoded = secret
            .expose()
            .strip_prefix(WHSEC_PREFIX)
            .ok_or(HmacSettingsError::MissingSecretPrefix { index })?;
        let decoded = Zeroizing::new(
            BASE64_ANY_PADDING
                .decode(encoded)
                .map_err(|_| HmacSettingsError::SecretNotBase64 { index })?,
        );
        if decoded.is_empty() {
            return Err(HmacSettingsError::EmptySecret { index });
        }
        // `to_vec` allocates exactly, so `Secret` keeps this buffer; the decode buffer
        // (possibly larger) is wiped by `Zeroizing`.
        keys.push(Secret::new(decoded.to_vec()));
    }
    #[expect(
        clippy::expect_used,
        reason = "one key per configured secret, and a configured set is never empty"
    )]
    Ok(SecretSet::new(keys).expect("a SecretSet is never empty"))
}
