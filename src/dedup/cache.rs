//! A bounded memory of events being published or recently answered, by [`EventKey`].
//!
//! [`Cache::see`] tells a request what to do with its event: publish it (it holds the
//! [`Claim`]), wait for the copy being published (a [`Waiter`]), or answer with the
//! stored value. [`Claim::complete`] stores the answer until the time the caller gives
//! and hands it to every waiter; a claim dropped without completing (a failed publish)
//! removes the entry and wakes the waiters empty-handed, so one of them can claim the
//! event again.
//!
//! Memory is bounded by the capacity given at construction. When full, the answered
//! entry expiring soonest is evicted (expired ones first; ties go to the earliest
//! stored). Entries in flight are never evicted, since requests wait on them: the
//! caller keeps them fewer than the capacity (`dedup.capacity` is at least
//! `server.max_inflight`). It never reads the clock and never decides what to store.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use tokio::sync::watch;

use super::EventKey;

/// Events in flight and answers remembered; thread-safe through `&self`.
#[derive(Debug)]
pub struct Cache<V> {
    capacity: usize,
    inner: Mutex<Entries<V>>,
}

#[derive(Debug)]
struct Entries<V> {
    by_key: HashMap<EventKey, Slot<V>>,
    /// Eviction order of answered entries: (expiry, sequence) → key.
    by_expiry: BTreeMap<(SystemTime, u64), EventKey>,
    next_sequence: u64,
}

#[derive(Debug)]
enum Slot<V> {
    /// Being published by the holder of the claim with this sequence number.
    InFlight {
        sequence: u64,
        answer: watch::Receiver<Option<V>>,
    },
    /// Answered; remembered until the expiry in its key.
    Done {
        value: V,
        expiry_key: (SystemTime, u64),
    },
}

/// What a request should do with its event.
#[derive(Debug)]
pub enum Seen<V> {
    /// First seen (or its earlier copy failed or expired): publish, then complete.
    New(Claim<V>),
    /// Another request is publishing it: wait for that one's answer.
    InFlight(Waiter<V>),
    /// Answered within the window: this is the answer.
    Done(V),
}

/// The right and duty to publish one event; dropping it uncompleted releases the key.
#[derive(Debug)]
pub struct Claim<V> {
    cache: Arc<Cache<V>>,
    key: EventKey,
    sequence: u64,
    answer: watch::Sender<Option<V>>,
    completed: bool,
}

/// A request waiting for the copy of its event in flight.
#[derive(Debug)]
pub struct Waiter<V>(watch::Receiver<Option<V>>);

impl<V: Clone> Cache<V> {
    /// A cache holding at most `capacity` entries (in-flight ones aside, see above).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            inner: Mutex::new(Entries {
                by_key: HashMap::new(),
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
        self.lock().by_key.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// What to do with the event `key` at `now`. An answer is still live at exactly
    /// its expiry; an expired one is replaced by a new claim.
    pub fn see(self: &Arc<Self>, key: EventKey, now: SystemTime) -> Seen<V> {
        let mut entries = self.lock();
        match entries.by_key.get(&key) {
            Some(Slot::InFlight { answer, .. }) => return Seen::InFlight(Waiter(answer.clone())),
            Some(Slot::Done { value, expiry_key }) if expiry_key.0 >= now => {
                return Seen::Done(value.clone());
            }
            Some(Slot::Done { .. }) => entries.remove(&key),
            None => {}
        }
        entries.make_room(self.capacity);
        let sequence = entries.sequence();
        let (sender, answer) = watch::channel(None);
        entries
            .by_key
            .insert(key, Slot::InFlight { sequence, answer });
        Seen::New(Claim {
            cache: Arc::clone(self),
            key,
            sequence,
            answer: sender,
            completed: false,
        })
    }
}

impl<V> Cache<V> {
    fn lock(&self) -> MutexGuard<'_, Entries<V>> {
        // A panic while holding the lock cannot leave the two maps disagreeing: each
        // method finishes its mutations with no fallible step between them (allocation
        // failure aborts). So a poisoned lock is still a consistent cache.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<V: Clone> Claim<V> {
    /// Stores `value` as the event's answer until `expires_at` and gives it to every
    /// request waiting for it.
    pub fn complete(mut self, value: V, expires_at: SystemTime) {
        self.completed = true;
        let mut entries = self.cache.lock();
        entries.remove(&self.key);
        let expiry_key = (expires_at, entries.sequence());
        entries.by_expiry.insert(expiry_key, self.key);
        let done = Slot::Done {
            value: value.clone(),
            expiry_key,
        };
        entries.by_key.insert(self.key, done);
        drop(entries);
        self.answer.send_replace(Some(value));
    }
}

impl<V> Drop for Claim<V> {
    fn drop(&mut self) {
        if self.completed {
            return;
        }
        let mut entries = self.cache.lock();
        let ours = matches!(
            entries.by_key.get(&self.key),
            Some(Slot::InFlight { sequence, .. }) if *sequence == self.sequence
        );
        if ours {
            entries.remove(&self.key);
        }
        // The sender drops after this: waiters wake to no answer.
    }
}

impl<V: Clone> Waiter<V> {
    /// The answer of the copy in flight, or `None` when it failed (then see the event
    /// again: this request may publish it).
    pub async fn answer(mut self) -> Option<V> {
        let answered = self.0.wait_for(Option::is_some).await;
        answered.ok().and_then(|answer| (*answer).clone())
    }
}

impl<V> Entries<V> {
    fn sequence(&mut self) -> u64 {
        self.next_sequence += 1;
        self.next_sequence
    }

    fn remove(&mut self, key: &EventKey) {
        if let Some(Slot::Done { expiry_key, .. }) = self.by_key.remove(key) {
            self.by_expiry.remove(&expiry_key);
        }
    }

    /// Evicts answered entries, soonest expiry first, until one more fits.
    fn make_room(&mut self, capacity: usize) {
        while self.by_key.len() >= capacity {
            let Some((_, soonest)) = self.by_expiry.pop_first() else {
                break;
            };
            self.by_key.remove(&soonest);
        }
    }
}

#[cfg(test)]
mod tests;
