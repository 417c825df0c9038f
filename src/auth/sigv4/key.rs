//! Signing keys: `HMAC("AWS4" + secret, date)`, then the region, the service and
//! `aws4_request`, and a cache of the keys for the two most recent scope dates.
//!
//! Why a cache: deriving a key is four HMACs per configured secret, about as much work as
//! hashing a 1 KB body, and it only changes once a day. Why it stays small and safe: the
//! verifier only asks for a date after checking that the request's time lies within the
//! tolerance of now, so an attacker cannot make it derive (or evict) keys for arbitrary
//! dates; two slots cover midnight. Keys are zeroed when dropped.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use zeroize::Zeroizing;

use crate::auth::SecretSet;
use crate::auth::signed::hmac_sha256;

/// One derived signing key.
pub(super) type SigningKey = Zeroizing<[u8; 32]>;

/// Derives `kSigning` for one secret.
pub(super) fn derive(secret: &[u8], date: &str, region: &str, service: &str) -> SigningKey {
    let k_secret = Zeroizing::new([b"AWS4", secret].concat());
    let k_date = Zeroizing::new(hmac_sha256(&k_secret, &[date.as_bytes()]));
    let k_region = Zeroizing::new(hmac_sha256(&*k_date, &[region.as_bytes()]));
    let k_service = Zeroizing::new(hmac_sha256(&*k_region, &[service.as_bytes()]));
    Zeroizing::new(hmac_sha256(&*k_service, &[b"aws4_request"]))
}

/// A credential's secrets, region and service, with the keys of recent dates.
pub(super) struct SigningKeys {
    secrets: SecretSet,
    region: String,
    service: String,
    recent: Mutex<[Option<DayKeys>; 2]>,
}

/// The keys of every secret for one scope date (`YYYYMMDD`).
struct DayKeys {
    date: [u8; 8],
    keys: Arc<[SigningKey]>,
}

impl SigningKeys {
    pub(super) fn new(secrets: SecretSet, region: String, service: String) -> Self {
        Self {
            secrets,
            region,
            service,
            recent: Mutex::new([None, None]),
        }
    }

    /// The key of every secret (in configured order) for `date`.
    pub(super) fn for_date(&self, date: &str) -> Arc<[SigningKey]> {
        let Ok(day) = <[u8; 8]>::try_from(date.as_bytes()) else {
            return self.derive_all(date);
        };
        {
            // Poisoning cannot leave a slot half-written (a slot is replaced whole), so
            // a poisoned lock still guards valid keys.
            let recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(hit) = recent.iter().flatten().find(|d| d.date == day) {
                return Arc::clone(&hit.keys);
            }
        }
        let keys = self.derive_all(date);
        let mut recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
        if !recent.iter().flatten().any(|d| d.date == day) {
            // Replace an empty slot (`None` sorts first), else the older date.
            let [a, b] = &mut *recent;
            let slot = if a.as_ref().map(|d| d.date) <= b.as_ref().map(|d| d.date) {
                a
            } else {
                b
            };
            *slot = Some(DayKeys {
                date: day,
                keys: Arc::clone(&keys),
            });
        }
        keys
    }

    /// The primary secret's key for `date`, uncached (signing is not a hot path).
    pub(super) fn primary(&self, date: &str) -> SigningKey {
        derive(
            self.secrets.primary().expose(),
            date,
            &self.region,
            &self.service,
        )
    }

    fn derive_all(&self, date: &str) -> Arc<[SigningKey]> {
        self.secrets
            .iter()
            .map(|s| derive(s.expose(), date, &self.region, &self.service))
            .collect()
    }
}

impl fmt::Debug for SigningKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKeys")
            .field("secrets", &self.secrets)
            .field("region", &self.region)
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Secret;

    const SECRET: &[u8] = b"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

    #[test]
    fn derives_the_documented_iam_signing_key() {
        // AWS docs, "Calculate the signature": kSigning for 20150830/us-east-1/iam.
        let key = derive(SECRET, "20150830", "us-east-1", "iam");
        assert_eq!(
            hex::encode(*key),
            "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"
        );
    }

    #[test]
    fn caches_two_dates_and_keys_every_secret() {
        let secrets = SecretSet::new(vec![Secret::new(SECRET), Secret::new("other")]).unwrap();
        let keys = SigningKeys::new(secrets, "us-east-1".into(), "iam".into());
        let first = keys.for_date("20150830");
        assert_eq!(first.len(), 2);
        assert_eq!(*first[0], *derive(SECRET, "20150830", "us-east-1", "iam"));
        assert_eq!(*keys.primary("20150830"), *first[0]);
        assert!(Arc::ptr_eq(&first, &keys.for_date("20150830")), "a hit");
        let second = keys.for_date("20150831");
        assert!(
            Arc::ptr_eq(&first, &keys.for_date("20150830")),
            "both dates held"
        );
        keys.for_date("20150901");
        assert!(
            Arc::ptr_eq(&second, &keys.for_date("20150831")),
            "the older date went"
        );
        assert!(!Arc::ptr_eq(&first, &keys.for_date("20150830")));
        assert!(!format!("{keys:?}").contains("EXAMPLEKEY"));
    }
}
