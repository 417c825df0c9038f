//! A bounded memory of recently answered signed requests, keyed by their verified tag.
//!
//! After a signed request's record is acked, the caller stores the answer under the tag
//! until `signed_at + tolerance`; an identical request inside that window (a sender's
//! retry, or a replay) gets the stored answer instead of a second record. Past its
//! expiry an entry is a miss, since the verifier refuses such a request anyway.
//!
//! Memory is strictly bounded by the capacity given at construction. When full, the
//! entry expiring soonest is evicted: expired entries always expire soonest, so they go
//! first, and among live ones that is the oldest signature (for one tolerance). Ties go
//! to the earliest inserted. It never reads the clock and never decides what to store.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

/// Answers remembered per verified tag; thread-safe through `&self`.
#[derive(Debug)]
pub struct ReplayCache<V: Clone> {
    capacity: usize,
    inner: Mutex<Entries<V>>,
}

#[derive(Debug)]
struct Entries<V> {
    by_tag: HashMap<[u8; 32], Entry<V>>,
    /// Eviction order: (expiry, insertion sequence) → tag.
    by_expiry: BTreeMap<(SystemTime, u64), [u8; 32]>,
    next_sequence: u64,
}

#[derive(Debug)]
struct Entry<V> {
    value: V,
    expiry_key: (SystemTime, u64),
}

impl<V: Clone> ReplayCache<V> {
    /// A cache holding at most `capacity` entries (0 remembers nothing).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            inner: Mutex::new(Entries {
                by_tag: HashMap::new(),
                by_expiry: BTreeMap::new(),
                next_sequence: 0,
            }),
        }
    }

    /// The most entries held at once.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many entries are held, expired ones included until they are evicted.
    pub fn len(&self) -> usize {
        self.lock().by_tag.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The answer stored for `tag`, unless it expired before `now` (an entry is still
    /// live at exactly its expiry). An expired entry found here is dropped.
    pub fn get(&self, tag: &[u8; 32], now: SystemTime) -> Option<V> {
        let mut entries = self.lock();
        let expiry_key = entries.by_tag.get(tag)?.expiry_key;
        if expiry_key.0 < now {
            entries.remove(tag);
            return None;
        }
        entries.by_tag.get(tag).map(|entry| entry.value.clone())
    }

    /// Stores `value` under `tag` until `expires_at`, replacing any entry for the tag.
    /// When full, evicts the entry expiring soonest first.
    pub fn insert(&self, tag: [u8; 32], value: V, expires_at: SystemTime) {
        if self.capacity == 0 {
            return;
        }
        let mut entries = self.lock();
        entries.remove(&tag);
        while entries.by_tag.len() >= self.capacity {
            let Some((_, oldest)) = entries.by_expiry.pop_first() else {
                break;
            };
            entries.by_tag.remove(&oldest);
        }
        let expiry_key = (expires_at, entries.next_sequence);
        entries.next_sequence += 1;
        entries.by_expiry.insert(expiry_key, tag);
        entries.by_tag.insert(tag, Entry { value, expiry_key });
    }

    fn lock(&self) -> MutexGuard<'_, Entries<V>> {
        // A panic while holding the lock cannot leave the two maps disagreeing: each
        // method finishes its mutations with no fallible step between them (allocation
        // failure aborts). So a poisoned lock is still a consistent cache.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<V> Entries<V> {
    fn remove(&mut self, tag: &[u8; 32]) {
        if let Some(entry) = self.by_tag.remove(tag) {
            self.by_expiry.remove(&entry.expiry_key);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    fn at(seconds: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(seconds)
    }

    fn tag(n: u32) -> [u8; 32] {
        let mut t = [0u8; 32];
        t[..4].copy_from_slice(&n.to_be_bytes());
        t
    }

    #[test]
    fn a_hit_until_expiry_then_a_miss() {
        let cache = ReplayCache::new(4);
        cache.insert(tag(1), "200 ok", at(100));
        assert_eq!(cache.get(&tag(1), at(50)), Some("200 ok"));
        assert_eq!(cache.get(&tag(1), at(100)), Some("200 ok"));
        assert_eq!(cache.get(&tag(2), at(50)), None);
        assert_eq!(cache.get(&tag(1), at(101)), None);
        assert!(cache.is_empty(), "an expired entry found by get is dropped");
    }

    #[test]
    fn reinserting_a_tag_replaces_it() {
        let cache = ReplayCache::new(2);
        cache.insert(tag(1), 1, at(10));
        cache.insert(tag(1), 2, at(20));
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.get(&tag(1), at(15)), Some(2));
    }

    #[test]
    fn when_full_expired_entries_go_first_then_the_soonest_to_expire() {
        let cache = ReplayCache::new(3);
        cache.insert(tag(1), 1, at(300)); // oldest insert, latest expiry
        cache.insert(tag(2), 2, at(100)); // expired by now
        cache.insert(tag(3), 3, at(200));
        cache.insert(tag(4), 4, at(400));
        assert_eq!(cache.get(&tag(2), at(150)), None);
        assert_eq!(cache.len(), 3);
        cache.insert(tag(5), 5, at(500));
        let held: Vec<_> = (1..=5)
            .filter_map(|n| cache.get(&tag(n), at(150)))
            .collect();
        assert_eq!(held, [1, 4, 5]);
        // Equal expiries: the earliest inserted goes first.
        cache.insert(tag(6), 6, at(400)); // evicts tag 1; ties with tag 4
        cache.insert(tag(7), 7, at(600)); // evicts tag 4, inserted before tag 6
        let held: Vec<_> = (1..=7)
            .filter_map(|n| cache.get(&tag(n), at(150)))
            .collect();
        assert_eq!(held, [5, 6, 7]);
    }

    #[test]
    fn a_flood_of_inserts_never_exceeds_the_capacity() {
        let cache = Arc::new(ReplayCache::new(64));
        let threads: Vec<_> = (0..4u32)
            .map(|t| {
                let cache = Arc::clone(&cache);
                std::thread::spawn(move || {
                    for i in 0..5_000u32 {
                        cache.insert(tag(t * 1_000_000 + i), i, at(u64::from(i % 97)));
                        assert!(cache.len() <= 64);
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(cache.len(), 64);
        let inner = cache.lock();
        assert_eq!(inner.by_expiry.len(), 64, "both indexes stay the same size");
    }

    #[test]
    fn capacity_zero_remembers_nothing() {
        let cache = ReplayCache::new(0);
        cache.insert(tag(1), (), at(10));
        assert_eq!(cache.get(&tag(1), at(0)), None);
        assert_eq!(cache.capacity(), 0);
    }
}
