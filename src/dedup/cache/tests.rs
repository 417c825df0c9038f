use std::time::Duration;

use super::*;

fn at(seconds: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(seconds)
}

fn owner(name: &str) -> Owner {
    Arc::from(name)
}

fn key(n: u32) -> EventKey {
    EventKey::new("c", "e", None, &crate::body::sha256(&n.to_be_bytes()))
}

fn claim<V: Clone + std::fmt::Debug>(
    cache: &Arc<Cache<V>>,
    k: EventKey,
    now: SystemTime,
) -> Claim<V> {
    match cache.see(k, &owner("a"), now) {
        Seen::New(claim) => claim,
        other => panic!("expected a claim, got {other:?}"),
    }
}

fn done<V: Clone + std::fmt::Debug>(
    cache: &Arc<Cache<V>>,
    k: EventKey,
    now: SystemTime,
) -> Option<V> {
    match cache.see(k, &owner("a"), now) {
        Seen::Done(v) => Some(v),
        Seen::New(_) => None,
        Seen::InFlight(_) => panic!("unexpected in-flight entry"),
    }
}

#[test]
fn an_answer_is_stored_until_its_expiry_then_the_event_is_new_again() {
    let cache = Arc::new(Cache::new(4));
    claim(&cache, key(1), at(0)).complete("200 ok", at(100));
    assert!(matches!(
        cache.see(key(1), &owner("a"), at(50)),
        Seen::Done("200 ok")
    ));
    assert!(matches!(
        cache.see(key(1), &owner("a"), at(100)),
        Seen::Done("200 ok")
    ));
    assert!(matches!(
        cache.see(key(1), &owner("a"), at(101)),
        Seen::New(_)
    ));
    assert!(
        cache.is_empty(),
        "the expired entry went; the dropped claim left none"
    );
}

#[tokio::test]
async fn concurrent_copies_wait_for_the_first_and_get_its_answer() {
    let cache = Arc::new(Cache::new(4));
    let first = claim(&cache, key(1), at(0));
    let waiters: Vec<_> = (0..3)
        .map(|_| match cache.see(key(1), &owner("a"), at(0)) {
            Seen::InFlight(w) => tokio::spawn(w.answer()),
            other => panic!("expected to wait, got {other:?}"),
        })
        .collect();
    first.complete(7, at(10));
    for waiter in waiters {
        assert_eq!(waiter.await.unwrap(), Some(7));
    }
    assert!(matches!(
        cache.see(key(1), &owner("a"), at(5)),
        Seen::Done(7)
    ));
    assert_eq!(cache.len(), 1);
}

#[tokio::test]
async fn a_failed_copy_releases_the_key_and_wakes_its_waiters_empty_handed() {
    let cache: Arc<Cache<u32>> = Arc::new(Cache::new(4));
    let first = claim(&cache, key(1), at(0));
    let Seen::InFlight(waiter) = cache.see(key(1), &owner("a"), at(0)) else {
        panic!("expected to wait")
    };
    drop(first);
    assert_eq!(waiter.answer().await, None);
    assert!(cache.is_empty());
    let retry = claim(&cache, key(1), at(1));
    retry.complete(8, at(10));
    assert_eq!(done(&cache, key(1), at(2)), Some(8));
}

#[test]
fn when_full_the_answer_expiring_soonest_goes_first() {
    let cache = Arc::new(Cache::new(3));
    claim(&cache, key(1), at(0)).complete(1, at(300)); // oldest, latest expiry
    claim(&cache, key(2), at(0)).complete(2, at(100));
    claim(&cache, key(3), at(0)).complete(3, at(200));
    claim(&cache, key(4), at(0)).complete(4, at(400)); // evicts 2
    let held: Vec<_> = (1..=4)
        .filter(|n| cache.lock().by_key.contains_key(&key(*n)))
        .collect();
    assert_eq!(held, [1, 3, 4]);
    // Equal expiries: the earliest stored goes first.
    claim(&cache, key(5), at(0)).complete(5, at(400)); // evicts 3
    claim(&cache, key(6), at(0)).complete(6, at(500)); // evicts 1
    claim(&cache, key(7), at(0)).complete(7, at(600)); // evicts 4, stored before 5
    let held: Vec<_> = (1..=7)
        .filter(|n| cache.lock().by_key.contains_key(&key(*n)))
        .collect();
    assert_eq!(held, [5, 6, 7]);
}

#[test]
fn entries_in_flight_are_never_evicted() {
    let cache = Arc::new(Cache::new(2));
    let _publishing = claim(&cache, key(1), at(0));
    claim(&cache, key(2), at(0)).complete(2, at(10));
    claim(&cache, key(3), at(0)).complete(3, at(20)); // evicts 2, not the claim
    assert!(matches!(
        cache.see(key(1), &owner("a"), at(0)),
        Seen::InFlight(_)
    ));
    assert_eq!(done(&cache, key(3), at(0)), Some(3));
    assert_eq!(cache.len(), 2);
}

#[test]
fn a_flood_of_events_never_exceeds_the_capacity() {
    let cache = Arc::new(Cache::new(64));
    let threads: Vec<_> = (0..4u32)
        .map(|t| {
            let cache = Arc::clone(&cache);
            std::thread::spawn(move || {
                for i in 0..5_000u32 {
                    let k = key(t * 1_000_000 + i);
                    claim(&cache, k, at(0)).complete(i, at(u64::from(i % 97)));
                    assert!(cache.len() <= 64);
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    assert_eq!(cache.len(), 64);
    let ordered: usize = cache.lock().by_owner.values().map(BTreeMap::len).sum();
    assert_eq!(ordered, 64, "both indexes stay the same size");
}

/// A claim of `k` by `who`, completed with `value` until `until`; returns whose live
/// answer it evicted.
fn answer_as(cache: &Arc<Cache<u32>>, who: &str, k: u32, until: u64) -> Option<String> {
    let Seen::New(claim) = cache.see(key(k), &owner(who), at(0)) else {
        panic!("{k} was seen before");
    };
    let evicted = claim.evicted().map(|o| o.to_string());
    claim.complete(k, at(until));
    evicted
}

#[test]
fn a_flooding_owner_evicts_its_own_answers_not_another_owners() {
    let cache = Arc::new(Cache::new(10));
    for k in 0..3 {
        assert_eq!(answer_as(&cache, "quiet", k, 600), None);
    }
    let mut evicted = Vec::new();
    for k in 100..10_000 {
        evicted.extend(answer_as(&cache, "flood", k, 600));
    }
    assert!(evicted.iter().all(|o| o == "flood"), "{evicted:?}");
    assert_eq!(evicted.len(), 10_000 - 100 - 7);
    for k in 0..3 {
        assert!(
            matches!(cache.see(key(k), &owner("quiet"), at(1)), Seen::Done(_)),
            "{k}"
        );
    }
}

#[test]
fn expired_answers_go_first_and_are_not_evictions() {
    let cache = Arc::new(Cache::new(2));
    answer_as(&cache, "a", 1, 0); // expires at 0
    answer_as(&cache, "b", 2, 600);
    let Seen::New(claim) = cache.see(key(3), &owner("b"), at(5)) else {
        panic!("new event");
    };
    assert_eq!(
        claim.evicted(),
        None,
        "an expired answer is not an eviction"
    );
    claim.complete(3, at(600));
    assert!(matches!(
        cache.see(key(2), &owner("b"), at(5)),
        Seen::Done(2)
    ));
    // Full of live answers: the owner holding the most loses one, and it is counted.
    let Seen::New(claim) = cache.see(key(4), &owner("a"), at(5)) else {
        panic!("new event");
    };
    assert_eq!(claim.evicted().map(|o| &**o), Some("b"));
}
