//! The `header` and `token` schemes: a fixed secret carried in a request header.
//!
//! EverBright's "Headers" credential sends `{header}: {value}`; its "Token" credential
//! is the same with a prefix, by default `Authorization: Bearer {value}`. Both are one
//! verifier here. Requests are matched to a credential by the SHA-256 digest of the
//! header value (see `auth::Authenticator`), so no secret is ever compared against a
//! request meant for another credential; the final check is a constant-time comparison
//! of the value itself. The prefix is compared exactly (case-sensitive).

use http::HeaderName;
use sha2::{Digest, Sha256};

use super::SecretSet;

/// Settings of a `header` or `token` credential.
#[derive(Debug, Clone)]
pub struct HeaderSettings {
    /// The header carrying the secret, e.g. `x-api-key` or `authorization`.
    pub header: HeaderName,
    /// Text before the secret in the header value (`""` for `header`, `"Bearer "` by
    /// default for `token`).
    pub prefix: String,
    /// The accepted secret values.
    pub value: SecretSet,
}

impl HeaderSettings {
    /// The digests of every header value this credential accepts (prefix + secret),
    /// which key the lookup from a request to its credential.
    pub fn digests(&self) -> impl Iterator<Item = [u8; 32]> + '_ {
        self.value.iter().map(|secret| {
            Sha256::new()
                .chain_update(self.prefix.as_bytes())
                .chain_update(secret.expose())
                .finalize()
                .into()
        })
    }

    /// Whether `presented` (the whole header value) is one of the accepted values,
    /// compared in constant time.
    pub fn verify(&self, presented: &[u8]) -> bool {
        presented
            .strip_prefix(self.prefix.as_bytes())
            .is_some_and(|secret| self.value.matches(secret))
    }
}

/// The digest used to look up a presented header value.
pub fn digest(presented: &[u8]) -> [u8; 32] {
    Sha256::digest(presented).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Secret;

    fn token() -> HeaderSettings {
        HeaderSettings {
            header: http::header::AUTHORIZATION,
            prefix: "Bearer ".into(),
            value: SecretSet::new(vec![Secret::new("new-token"), Secret::new("old-token")])
                .unwrap(),
        }
    }

    #[test]
    fn accepts_every_rotation_value_with_its_prefix() {
        let t = token();
        assert!(t.verify(b"Bearer new-token"));
        assert!(t.verify(b"Bearer old-token"));
        assert!(!t.verify(b"new-token"));
        assert!(!t.verify(b"bearer new-token"));
        assert!(!t.verify(b"Bearer new-token "));
    }

    #[test]
    fn digests_match_the_presented_header_values() {
        let t = token();
        let digests: Vec<_> = t.digests().collect();
        assert_eq!(digests[0], digest(b"Bearer new-token"));
        assert_eq!(digests[1], digest(b"Bearer old-token"));
    }
}
