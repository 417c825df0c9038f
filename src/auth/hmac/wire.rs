//! How HMAC tags are written in headers: hex or base64 text, the Standard Webhooks
//! `v1,<base64>` list and message ids.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use http::HeaderValue;
use sha2::{Digest, Sha256};

use super::Encoding;
use crate::auth::signed::hex_decode_32;

/// Base64 (standard alphabet) that accepts input with or without `=` padding, as the
/// reference Standard Webhooks libraries do.
pub(super) const BASE64_ANY_PADDING: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The 32-byte tag written as `encoding`; `None` for bad digits or another length.
pub(super) fn decode_tag(encoding: Encoding, text: &str) -> Option<[u8; 32]> {
    match encoding {
        Encoding::Hex => hex_decode_32(text.as_bytes()),
        Encoding::Base64 => BASE64_ANY_PADDING.decode(text).ok()?.try_into().ok(),
    }
}

/// `tag` written as `encoding` (lowercase hex, padded base64).
pub(super) fn encode_tag(encoding: Encoding, tag: &[u8; 32]) -> String {
    match encoding {
        Encoding::Hex => hex::encode(tag),
        Encoding::Base64 => STANDARD.encode(tag),
    }
}

/// The `v1` signatures of a Standard Webhooks header (`v1,<base64> v1a,<…> …`); other
/// versions are skipped. `None` when an entry is not `version,signature` or a `v1`
/// signature is not the base64 of 32 bytes.
pub(super) fn versioned_signatures(header: &str) -> Option<Vec<[u8; 32]>> {
    let mut out = Vec::new();
    for entry in header.split(' ').filter(|e| !e.is_empty()) {
        let (version, signature) = entry.split_once(',')?;
        if version == "v1" {
            out.push(BASE64_ANY_PADDING.decode(signature).ok()?.try_into().ok()?);
        }
    }
    Some(out)
}

/// A Standard Webhooks message id unique per signing time and body: `msg_` and 32 hex
/// digits of SHA-256(nanoseconds since 1970 ‖ body).
pub(super) fn message_id(since_epoch: Duration, body: &[u8]) -> String {
    let digest = Sha256::new()
        .chain_update(since_epoch.as_nanos().to_be_bytes())
        .chain_update(body)
        .finalize();
    format!("msg_{}", hex::encode(&digest[..16]))
}

/// A header value from text known to be printable ASCII.
pub(super) fn printable_value(text: String) -> HeaderValue {
    #[expect(
        clippy::expect_used,
        reason = "callers pass hex, base64, `msg_`+hex, or a prefix that `Hmac::new` \
                  checked to be printable ASCII followed by one of those"
    )]
    HeaderValue::try_from(text).expect("printable ASCII is a valid header value")
}
