//! A webhook body exactly as received, and its SHA-256, computed at most once.
//!
//! Three stages need the body's digest: SigV4 verification (the payload hash), the
//! event key and the `bodysha256` attribute. They share one
//! [`Body`], so the body is hashed once per request whatever the scheme, and only when
//! a stage asks. The digest uses OpenSSL's SHA-256 (already linked for Kafka's TLS),
//! which picks the CPU's SHA extensions, or its vectorised code where there are none.
//!
//! This module knows nothing about how the body is read, verified or stored.

use std::fmt;
use std::ops::Deref;
use std::sync::OnceLock;

use bytes::Bytes;

/// The raw body of one request and its SHA-256, once asked for.
#[derive(Clone, Default)]
pub struct Body {
    bytes: Bytes,
    sha256: OnceLock<[u8; 32]>,
}

impl Body {
    /// The body `bytes`, not hashed yet.
    pub fn new(bytes: Bytes) -> Body {
        Body {
            bytes,
            sha256: OnceLock::new(),
        }
    }

    /// The bytes, shared (cloning them does not copy).
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// The SHA-256 of the bytes: computed on the first call, remembered after.
    pub fn sha256(&self) -> &[u8; 32] {
        self.sha256.get_or_init(|| sha256(&self.bytes))
    }
}

/// SHA-256 of `bytes` (OpenSSL's, see the module documentation).
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    // The streaming API: OpenSSL 3's one-shot `SHA256()` looks the algorithm up in its
    // provider table on every call, which costs more than hashing a short input.
    let mut hash = openssl::sha::Sha256::new();
    hash.update(bytes);
    hash.finish()
}

impl Deref for Body {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.bytes
    }
}

impl From<Bytes> for Body {
    fn from(bytes: Bytes) -> Body {
        Body::new(bytes)
    }
}

impl From<&'static [u8]> for Body {
    fn from(bytes: &'static [u8]) -> Body {
        Body::new(Bytes::from_static(bytes))
    }
}

impl From<Vec<u8>> for Body {
    fn from(bytes: Vec<u8>) -> Body {
        Body::new(Bytes::from(bytes))
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the contents: a body may carry personal data.
        write!(f, "Body({} bytes)", self.bytes.len())
    }
}

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    use super::*;

    #[test]
    fn the_digest_is_sha256_of_the_bytes_as_received() {
        for body in [&b""[..], b"{}", &[0xA5; 1000][..], &[7; 64 * 33 + 5][..]] {
            let expected: [u8; 32] = Sha256::digest(body).into();
            assert_eq!(Body::from(body.to_vec()).sha256(), &expected);
        }
    }

    #[test]
    fn the_body_derefs_to_its_bytes_and_debug_hides_them() {
        let body = Body::from(&b"secret payload"[..]);
        assert_eq!(&*body, b"secret payload");
        assert_eq!(format!("{body:?}"), "Body(14 bytes)");
    }
}
