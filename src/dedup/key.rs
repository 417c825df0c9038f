//! What makes two requests the same event, and the CloudEvents `id` that follows.
//!
//! The key is SHA-256 over five fields, each preceded by its length as an 8-byte
//! big-endian integer: the label `hookbridge event id v1`, the credential name, the
//! event slug, the sender's mark (empty when the scheme has none) and the raw body. The
//! id is the key's first 16 bytes as a UUIDv8 (RFC 9562: the version and variant bits
//! overwritten). Nothing in it depends on the clock, the replica or the attempt, so
//! every replica gives every retry of an event the same id.
//!
//! It does not decide what a sender's mark is; the caller turns its scheme's message id
//! or signed timestamp into bytes with [`Mark`].

use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Identifies one event: equal keys are the same event, answered once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EventKey([u8; 32]);

/// Versions the derivation: a change to it must change this label.
const LABEL: &[u8] = b"hookbridge event id v1";

/// The sender's own distinction between two sendings of one body, as hashed.
#[derive(Debug, Clone, Copy)]
pub enum Mark<'a> {
    /// The scheme carries nothing beyond the body: identical bodies are one event.
    None,
    /// The sender's message id, hashed as `id:` followed by its bytes.
    MessageId(&'a [u8]),
    /// The signed time, hashed as `at:` followed by its Unix seconds in decimal.
    SignedAt(SystemTime),
}

impl Mark<'_> {
    fn bytes(self) -> Vec<u8> {
        match self {
            Mark::None => Vec::new(),
            Mark::MessageId(id) => [b"id:", id].concat(),
            Mark::SignedAt(at) => {
                let seconds = at.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
                format!("at:{seconds}").into_bytes()
            }
        }
    }
}

impl EventKey {
    /// The key of `body` sent for `event` (its slug) with `credential` (its name).
    pub fn new(credential: &str, event: &str, mark: Mark<'_>, body: &[u8]) -> EventKey {
        let mut hash = Sha256::new();
        let mark = mark.bytes();
        let fields: [&[u8]; 5] = [LABEL, credential.as_bytes(), event.as_bytes(), &mark, body];
        for field in fields {
            hash.update((field.len() as u64).to_be_bytes());
            hash.update(field);
        }
        EventKey(hash.finalize().into())
    }

    /// The CloudEvents id: the first 16 bytes of the key as a UUIDv8.
    pub fn id(&self) -> Uuid {
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&self.0[..16]);
        Uuid::new_v8(bytes)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const BODY: &[u8] = br#"{"site":"x"}"#;

    fn key(credential: &str, event: &str, mark: Mark<'_>, body: &[u8]) -> Uuid {
        EventKey::new(credential, event, mark, body).id()
    }

    #[test]
    fn the_same_event_gets_the_same_id_every_time() {
        let a = key("engine", "site-archived", Mark::None, BODY);
        assert_eq!(a, key("engine", "site-archived", Mark::None, BODY));
        assert_eq!(a.get_version_num(), 8);
        assert_eq!(a.get_variant(), uuid::Variant::RFC4122);
    }

    #[test]
    fn every_field_changes_the_id() {
        let at = |s| Mark::SignedAt(UNIX_EPOCH + Duration::from_secs(s));
        let base = key("engine", "site-archived", Mark::None, BODY);
        let others = [
            key("engine2", "site-archived", Mark::None, BODY),
            key("engine", "proposal-action", Mark::None, BODY),
            key("engine", "site-archived", Mark::None, br#"{"site":"y"}"#),
            key("engine", "site-archived", Mark::MessageId(b"msg_1"), BODY),
            key("engine", "site-archived", Mark::MessageId(b"msg_2"), BODY),
            key("engine", "site-archived", at(1_700_000_000), BODY),
            key("engine", "site-archived", at(1_700_000_001), BODY),
        ];
        for (i, other) in others.iter().enumerate() {
            assert_ne!(base, *other, "field change {i}");
            for later in &others[i + 1..] {
                assert_ne!(other, later);
            }
        }
    }

    #[test]
    fn lengths_keep_fields_apart() {
        // Without the length prefixes these would hash the same bytes.
        assert_ne!(
            key("engine", "site-archived", Mark::None, BODY),
            key("engin", "esite-archived", Mark::None, BODY)
        );
    }

    #[test]
    fn the_derivation_is_pinned_as_documented() {
        // docs/reference.md shows this example; a change here is a change for consumers.
        let id = key("engine", "site-archived", Mark::None, b"{}");
        assert_eq!(id.to_string(), PINNED);
    }

    const PINNED: &str = "c982d5e5-76fd-81d9-a465-a4a8e860b38f";
}
