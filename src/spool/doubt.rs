//! Spooled records whose first publication is in doubt: the forwarder must not publish
//! a second copy of one whose first copy turned out to be stored.
//!
//! The pipeline spools a record that was not acknowledged by `kafka.ack_timeout` while
//! the producer still delivers it (see [`crate::publish::outcome`]). Before appending
//! it, the pipeline [registers](Doubts::register) the event's dedup key and keeps the
//! [`Pending`] until the first copy's fate is known; the forwarder, when it reaches the
//! spooled copy, [asks](Doubts::landed) whether the first one landed, waiting for its
//! fate if needed: landed → the spooled copy is acknowledged without publishing; not
//! stored, or unknown → it is published (at least once). The registry lives in memory:
//! after a restart nothing is known, and a spooled copy is published (at least once,
//! with the same CloudEvents id). What a record is and when it is in doubt is the
//! pipeline's; this module only carries the answer across.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::watch;

/// The first copies in doubt, by dedup key. Bounded by the records in doubt (each
/// holds a slot of `server.max_inflight`) plus the spooled records whose first copy
/// landed and that the forwarder has not reached yet.
#[derive(Debug, Default)]
pub struct Doubts {
    by_key: Mutex<HashMap<Vec<u8>, watch::Receiver<Option<bool>>>>,
}

/// The duty to tell the fate of one first copy in doubt; dropped without
/// [`Pending::landed`], the copy counts as not stored.
#[derive(Debug)]
pub struct Pending {
    doubts: Arc<Doubts>,
    key: Vec<u8>,
    fate: watch::Sender<Option<bool>>,
    told: bool,
}

impl Doubts {
    /// Registers the event `key` as in doubt, before its record is spooled.
    pub fn register(self: &Arc<Self>, key: Vec<u8>) -> Pending {
        let (fate, known) = watch::channel(None);
        self.lock().insert(key.clone(), known);
        Pending {
            doubts: Arc::clone(self),
            key,
            fate,
            told: false,
        }
    }

    /// Whether the first copy of the event `key` was stored, waiting for its fate if
    /// it is not known yet; `false` for an event never registered (or no longer).
    /// Forgets the key.
    pub async fn landed(&self, key: &[u8]) -> bool {
        let Some(mut known) = self.lock().get(key).cloned() else {
            return false;
        };
        let landed = match known.wait_for(Option::is_some).await {
            Ok(fate) => *fate == Some(true),
            Err(_dropped) => false,
        };
        self.lock().remove(key);
        landed
    }

    /// How many events are registered.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Vec<u8>, watch::Receiver<Option<bool>>>> {
        // Each method does one map operation: a poisoned map is still consistent.
        self.by_key.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Pending {
    /// Tells the first copy's fate: `true` when the broker stored it.
    pub fn landed(mut self, landed: bool) {
        self.told = true;
        if !landed {
            self.doubts.lock().remove(&self.key);
        }
        self.fate.send_replace(Some(landed));
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if !self.told {
            self.doubts.lock().remove(&self.key);
            self.fate.send_replace(Some(false));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_landed_first_copy_is_known_once_then_forgotten() {
        let doubts = Arc::new(Doubts::default());
        let pending = doubts.register(b"k".to_vec());
        let asked = {
            let doubts = doubts.clone();
            tokio::spawn(async move { doubts.landed(b"k").await })
        };
        tokio::task::yield_now().await;
        pending.landed(true);
        assert!(asked.await.unwrap(), "the forwarder skips the spooled copy");
        assert!(doubts.is_empty());
        assert!(!doubts.landed(b"k").await, "asked again: not known");
    }

    #[tokio::test]
    async fn a_first_copy_not_stored_or_forgotten_is_published_from_the_spool() {
        let doubts = Arc::new(Doubts::default());
        doubts.register(b"lost".to_vec()).landed(false);
        assert!(!doubts.landed(b"lost").await);
        let dropped = doubts.register(b"dropped".to_vec());
        drop(dropped);
        assert!(!doubts.landed(b"dropped").await);
        assert!(!doubts.landed(b"never").await);
        assert!(doubts.is_empty());
    }
}
