//! What makes two requests the same event, and the CloudEvents `id` that follows.
//!
//! The key (derivation v2) is SHA-256 over five fields, each preceded by its length as
//! an 8-byte big-endian integer: the label `hookbridge event id v2`, the credential
//! name, the event slug, the sender's mark (empty when the scheme has none) and the
//! body's SHA-256 (32 bytes). The id is the key's first 16 bytes as a UUIDv8 (RFC 9562:
//! the version and variant bits overwritten). Nothing in it depends on the clock, the
//! replica or the attempt, so every replica gives every retry of an event the same id.
//!
//! v2 hashes the body's digest instead of the body itself (v1, documented in
//! docs/reference.md), so the body is hashed once per request: the same digest is the
//! `bodysha256` attribute. It does not compute that digest ([`crate::body::Body`] does)
//! nor decide what a sender's mark is (the scheme does, see [`Mark`]).

use std::time::UNIX_EPOCH;

use uuid::Uuid;

use crate::auth::Mark;

/// Identifies one event: equal keys are the same event, answered once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EventKey([u8; 32]);

/// Versions the derivation: a change to it must change this label.
const LABEL: &[u8] = b"hookbridge event id v2";

/// The mark's bytes as hashed: empty without one, `id:` and the message id, or `at:`
/// and the signed time's Unix seconds in decimal.
fn mark_bytes(mark: Option<&Mark>) -> Vec<u8> {
    match mark {
        None => Vec::new(),
        Some(Mark::MessageId(id)) => [b"id:", id.as_slice()].concat(),
        Some(Mark::SignedAt(at)) => {
            let seconds = at.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
            format!("at:{seconds}").into_bytes()
        }
    }
}

impl EventKey {
    /// The key of a body whose SHA-256 is `body_sha256`, sent for `event` (its slug)
    /// with `credential` (its name) and the sender's `mark`.
    pub fn new(
        credential: &str,
        event: &str,
        mark: Option<&Mark>,
        body_sha256: &[u8; 32],
    ) -> EventKey {
        let mark = mark_bytes(mark);
        let fields: [&[u8]; 5] = [
            LABEL,
            credential.as_bytes(),
            event.as_bytes(),
            &mark,
            body_sha256,
        ];
        // One buffer, one hash call: a few hundred bytes at most.
        let size = fields.iter().map(|f| 8 + f.len()).sum();
        let mut input = Vec::with_capacity(size);
        for field in fields {
            input.extend_from_slice(&(field.len() as u64).to_be_bytes());
            input.extend_from_slice(field);
        }
        EventKey(crate::body::sha256(&input))
    }

    /// The key's 32 bytes (how the spool names the event).
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
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

    use sha2::Digest;

    use super::*;
    use crate::body::sha256;

    const BODY: &[u8] = br#"{"site":"x"}"#;

    fn key(credential: &str, event: &str, mark: Option<Mark>, body: &[u8]) -> Uuid {
        EventKey::new(credential, event, mark.as_ref(), &sha256(body)).id()
    }

    #[test]
    fn the_same_event_gets_the_same_id_every_time() {
        let a = key("engine", "site-archived", None, BODY);
        assert_eq!(a, key("engine", "site-archived", None, BODY));
        assert_eq!(a.get_version_num(), 8);
        assert_eq!(a.get_variant(), uuid::Variant::RFC4122);
    }

    #[test]
    fn every_field_changes_the_id() {
        let at = |s| Some(Mark::SignedAt(UNIX_EPOCH + Duration::from_secs(s)));
        let id = |s: &[u8]| Some(Mark::MessageId(s.to_vec()));
        let base = key("engine", "site-archived", None, BODY);
        let others = [
            key("engine2", "site-archived", None, BODY),
            key("engine", "proposal-action", None, BODY),
            key("engine", "site-archived", None, br#"{"site":"y"}"#),
            key("engine", "site-archived", id(b"msg_1"), BODY),
            key("engine", "site-archived", id(b"msg_2"), BODY),
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
            key("engine", "site-archived", None, BODY),
            key("engin", "esite-archived", None, BODY)
        );
    }

    #[test]
    fn the_derivation_is_pinned_as_documented() {
        // docs/reference.md shows this example, and how to compute it by hand; a
        // change here is a change for consumers (and needs a new label).
        let id = key("engine", "site-archived", None, b"{}");
        assert_eq!(id.to_string(), PINNED);
        // The same bytes, hashed the way the documentation spells them out.
        let mut by_hand = sha2::Sha256::new();
        let body = sha256(b"{}");
        for field in [LABEL, b"engine", b"site-archived", b"", &body[..]] {
            by_hand.update((field.len() as u64).to_be_bytes());
            by_hand.update(field);
        }
        let digest: [u8; 32] = by_hand.finalize().into();
        let mut first = [0u8; 16];
        first.copy_from_slice(&digest[..16]);
        assert_eq!(Uuid::new_v8(first).to_string(), PINNED);
    }

    const PINNED: &str = "d769c2ad-42be-80a4-b6f0-fecc673ab69b";
}
