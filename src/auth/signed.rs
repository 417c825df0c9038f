//! What a verified signature yields, and the few primitives both signature schemes
//! ([`hmac`](super::hmac) and [`sigv4`](super::sigv4)) share to get there: HMAC-SHA256,
//! decoding a hex 32-byte tag, and the symmetric time window.
//!
//! It deliberately holds no policy: which bytes are signed, which headers carry what and
//! which errors are reported belong to each scheme's module.

use std::time::{Duration, SystemTime};

use openssl::sha::Sha256;
use zeroize::Zeroizing;

/// A request whose signature checked out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signed {
    /// The time the sender signed at (the signed timestamp), already checked to lie
    /// within the credential's tolerance of the verifier's clock. `None` for a body-only
    /// HMAC, which carries no timestamp.
    pub signed_at: Option<SystemTime>,
    /// The verified MAC or signature bytes.
    pub tag: [u8; 32],
    /// The sender's own id for the message, signed with it (Standard Webhooks
    /// `webhook-id`): the sender keeps it across retries, even re-signed ones.
    pub message_id: Option<Vec<u8>>,
}

/// SHA-256's block size, which HMAC pads its key to.
const BLOCK: usize = 64;

/// HMAC-SHA256 (RFC 2104) of the concatenation of `parts` under `key`, over OpenSSL's
/// SHA-256 (the body is the long part: this is one pass over it, at the speed of
/// the request's other hash, see `crate::body`). The padded key copies are zeroed
/// when dropped.
pub(crate) fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut block = Zeroizing::new([0u8; BLOCK]);
    if key.len() > BLOCK {
        let mut long = Sha256::new();
        long.update(key);
        block[..32].copy_from_slice(&*Zeroizing::new(long.finish()));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| {
        let mut padded = Zeroizing::new([0u8; BLOCK]);
        for (p, k) in padded.iter_mut().zip(block.iter()) {
            *p = k ^ byte;
        }
        padded
    };
    let mut inner = Sha256::new();
    inner.update(&*pad(0x36));
    for part in parts {
        inner.update(part);
    }
    let inner = Zeroizing::new(inner.finish());
    let mut outer = Sha256::new();
    outer.update(&*pad(0x5c));
    outer.update(&*inner);
    outer.finish()
}

/// Whether `signed_at` lies within `tolerance` of `now`, in either direction
/// (a boundary value is inside).
pub(crate) fn within_tolerance(
    signed_at: SystemTime,
    now: SystemTime,
    tolerance: Duration,
) -> bool {
    let skew = match now.duration_since(signed_at) {
        Ok(behind) => behind,
        Err(ahead) => ahead.duration(),
    };
    skew <= tolerance
}

/// Decodes exactly 64 hex digits (either case) into a 32-byte tag.
pub(crate) fn hex_decode_32(text: &[u8]) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(text, &mut out).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_the_hmac_crate_for_every_key_length() {
        use ::hmac::Mac;
        for len in [0, 1, 31, 32, 63, 64, 65, 100, 200] {
            let key: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            let parts: [&[u8]; 3] = [b"1700000000", b".", &[0xA5; 1000]];
            let mut reference = <::hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(&key).unwrap();
            for part in parts {
                reference.update(part);
            }
            let expected: [u8; 32] = reference.finalize().into_bytes().into();
            assert_eq!(hmac_sha256(&key, &parts), expected, "key of {len} bytes");
        }
    }

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        let mac = hmac_sha256(b"Jefe", &[b"what do ya want ", b"for nothing?"]);
        assert_eq!(
            hex::encode(mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn hex_round_trips_and_refuses_bad_digits() {
        let tag: [u8; 32] = std::array::from_fn(|i| (i as u8).wrapping_mul(37));
        let text = hex::encode(tag);
        assert_eq!(hex_decode_32(text.as_bytes()), Some(tag));
        assert_eq!(hex_decode_32(text.to_uppercase().as_bytes()), Some(tag));
        assert_eq!(hex_decode_32(&text.as_bytes()[1..]), None);
        let mut bad = text.into_bytes();
        bad[10] = b'g';
        assert_eq!(hex_decode_32(&bad), None);
    }

    #[test]
    fn the_window_is_closed_at_both_ends() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let tol = Duration::from_secs(300);
        assert!(within_tolerance(t, t + tol, tol));
        assert!(within_tolerance(t, t - tol, tol));
        assert!(!within_tolerance(t, t + tol + Duration::from_secs(1), tol));
        assert!(!within_tolerance(t, t - tol - Duration::from_secs(1), tol));
    }
}
