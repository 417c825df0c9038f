//! Secret values: held as bytes, compared only in constant time, never printed.
//!
//! A [`Secret`] is one value; a [`SecretSet`] is every value a credential currently
//! accepts (more than one while a secret is being rotated). Neither type implements
//! `Display`, and their `Debug` output is redacted, so a secret cannot reach a log line,
//! an error message or a metric by accident. Memory is zeroed on drop.

use std::fmt;

use subtle::{Choice, ConstantTimeEq};
use zeroize::Zeroize;

/// One secret value. `Debug` prints `Secret(redacted)`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Box<[u8]>);

impl Secret {
    /// Wraps the bytes of a secret.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self(bytes.into().into_boxed_slice())
    }

    /// The raw bytes, for keying a MAC or comparing. Never log them.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Constant-time equality with `presented` (the length is not secret).
    pub fn ct_eq(&self, presented: &[u8]) -> Choice {
        self.0.as_ref().ct_eq(presented)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(redacted)")
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// The values a credential accepts: any one of them matches. Never empty.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretSet(Vec<Secret>);

impl SecretSet {
    /// Builds a set; `None` when `secrets` is empty (a credential needs a value).
    pub fn new(secrets: Vec<Secret>) -> Option<Self> {
        (!secrets.is_empty()).then_some(Self(secrets))
    }

    /// A set holding a single value.
    pub fn single(secret: Secret) -> Self {
        Self(vec![secret])
    }

    /// Whether `presented` equals any value. Every value is compared, with no early
    /// exit, so the time taken does not tell which value (if any) matched.
    pub fn matches(&self, presented: &[u8]) -> bool {
        self.0
            .iter()
            .fold(Choice::from(0), |found, s| found | s.ct_eq(presented))
            .into()
    }

    /// Every accepted value, newest first as configured.
    pub fn iter(&self) -> impl Iterator<Item = &Secret> {
        self.0.iter()
    }

    /// The value used to sign test requests (`hookbridge sign`): the first one.
    pub fn primary(&self) -> &Secret {
        // Invariant: `new` refuses an empty set and `single` holds one value.
        &self.0[0]
    }
}

impl fmt::Debug for SecretSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretSet({} redacted)", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "Secret(redacted)");
        let set = SecretSet::new(vec![s.clone(), Secret::new("swordfish")]).unwrap();
        let printed = format!("{set:?}");
        assert!(!printed.contains("hunter2") && !printed.contains("swordfish"));
    }

    #[test]
    fn any_value_of_a_set_matches() {
        let set = SecretSet::new(vec![Secret::new("old"), Secret::new("new")]).unwrap();
        assert!(set.matches(b"old"));
        assert!(set.matches(b"new"));
        assert!(!set.matches(b"ne"));
        assert!(!set.matches(b""));
        assert!(SecretSet::new(Vec::new()).is_none());
    }
}
