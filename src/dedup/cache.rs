//! A bounded memory of events being published or recently answered, by [`EventKey`].
//!
//! [`Cache::see`] tells a request what to do with its event: publish it (it holds the
//! [`Claim`]), wait for the copy being published (a [`Waiter`]), or answer with the
//! stored value. [`Claim::complete`] stores the answer until the time the caller gives
//! and hands it to every waiter; a claim dropped without completing (a failed publish)
//! removes the entry and wakes the waiters empty-handed, so one of them can claim the
//! event again.
//!
//! Memory is bounded by the capacity given at construction. Every entry has an owner
//! (the credential that sent the event). When full, an expired entry is dropped if
//! there is one; otherwise the owner holding the most answered entries loses its
//! entry expiring soonest (ties go to the earliest stored), so one sender flooding
//! distinct events evicts its own answers, not another sender's. A claim made by
//! evicting a live answer says whose ([`Claim::evicted`]), for the caller to count.
//! Entries in flight are never evicted, since requests wait on them: the caller keeps
//! them fewer than the capacity (`dedup.capacity` is at least `server.max_inflight`).
//! It never reads the clock (the caller passes `now`) and never decides what to store.

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

/// Who sent an event: a credential's name.
pub type Owner = Arc<str>;

/// When an answered entry expires, and its place in the order of storing.
type ExpiryKey = (SystemTime, u64);

#[derive(Debug)]
struct Entries<V> {
    by_key: HashMap<EventKey, Slot<V>>,
    /// Each owner's answered entries in eviction order: (expiry, sequence) → key.
    by_owner: HashMap<Owner, BTreeMap<ExpiryKey, EventKey>>,
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
        expiry_key: ExpiryKey,
        owner: Owner,
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
    owner: Owner,
    sequence: u64,
    answer: watch::Sender<Option<V>>,
    completed: bool,
    evicted: Option<Owner>,
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
                by_owner: HashMap::new(),
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

    /// What to do with the event `key`, sent by `owner`, at `now`. An answer is
    /// still live at exactly its expiry; an expired one is replaced by a new claim.
    pub fn see(self: &Arc<Self>, key: EventKey, owner: &Owner, now: SystemTime) -> Seen<V> {
        let mut entries = self.lock();
        match entries.by_key.get(&key) {
            Some(Slot::InFlight { answer, .. }) => return Seen::InFlight(Waiter(answer.clone())),
            Some(Slot::Done {
                value, expiry_key, ..
            }) if expiry_key.0 >= now => {
                return Seen::Done(value.clone());
            }
            Some(Slot::Done { .. }) => entries.remove(&key),
            None => {}
        }
        let evicted = entries.make_room(self.capacity, now);
        let sequence = entries.sequence();
        let (sender, answer) = watch::channel(None);
        entries
            .by_key
            .insert(key, Slot::InFlight { sequence, answer });
        Seen::New(Claim {
            cache: Arc::clone(self),
            key,
            owner: Arc::clone(owner),
            sequence,
            answer: sender,
            completed: false,
            evicted,
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

impl<V> Claim<V> {
    /// The owner whose answer, still within its window, was dropped to make room for
    /// this claim (a copy of that event sent later becomes a second record).
    pub fn evicted(&self) -> Option<&Owner> {
        self.evicted.as_ref()
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
        let owner = Arc::clone(&self.owner);
        let order = entries.by_owner.entry(Arc::clone(&owner)).or_default();
        order.insert(expiry_key, self.key);
        let done = Slot::Done {
            value: value.clone(),
            expiry_key,
            owner,
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
        if let Some(Slot::Done {
            expiry_key, owner, ..
        }) = self.by_key.remove(key)
        {
            self.forget(&owner, &expiry_key);
        }
    }

    /// Drops `expiry_key` from `owner`'s order, and the owner once it holds nothing.
    fn forget(&mut self, owner: &Owner, expiry_key: &ExpiryKey) {
        if let Some(order) = self.by_owner.get_mut(owner) {
            order.remove(expiry_key);
            if order.is_empty() {
                self.by_owner.remove(owner);
            }
        }
    }

    /// Evicts answered entries until one more fits: an expired one while there is one,
    /// else the soonest-expiring one of the owner holding the most. Returns the owner
    /// of the last live answer evicted, if any.
    fn make_room(&mut self, capacity: usize, now: SystemTime) -> Option<Owner> {
        let mut evicted = None;
        while self.by_key.len() >= capacity {
            let expired = self
                .by_owner
                .iter()
                .filter_map(|(owner, order)| Some((*order.first_key_value()?.0, owner)))
                .min()
                .filter(|((expiry, _), _)| *expiry < now);
            let victim = match expired {
                Some((_, owner)) => Arc::clone(owner),
                None => {
                    let most = self.by_owner.iter().max_by_key(|(_, order)| order.len());
                    let Some((owner, _)) = most else {
                        break; // only entries in flight: the caller bounds those
                    };
                    evicted = Some(Arc::clone(owner));
                    Arc::clone(owner)
                }
            };
            let Some(order) = self.by_owner.get_mut(&victim) else {
                break;
            };
            let Some((_, key)) = order.pop_first() else {
                break;
            };
            if order.is_empty() {
                self.by_owner.remove(&victim);
            }
            self.by_key.remove(&key);
        }
        evicted
    }
}

#[cfg(test)]
mod tests;
