//! Tests of the spool as a whole: append, group commit, restart, full, damage.

use std::borrow::Cow;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use uuid::Uuid;

use super::*;
use crate::publish::Record;

/// A spool config in `dir` with small segments.
pub fn settings(dir: &Path, max_bytes: u64, segment_bytes: u64) -> config::Spool {
    config::Spool {
        dir: dir.to_path_buf(),
        max_bytes,
        segment_bytes,
        drain_timeout: std::time::Duration::from_secs(30),
    }
}

/// Entry number `n`, of `value_len` value bytes, for site `n % sites`.
pub fn entry(n: u64, value_len: usize, sites: u64) -> Entry {
    Entry {
        id: Uuid::from_u64_pair(n, n.wrapping_mul(31)),
        dedup_key: n.to_be_bytes().to_vec(),
        record: Record {
            topic: "everbright.production.milestone-status-change".into(),
            key: Some(format!("site-{}", n % sites.max(1))),
            value: (0..value_len)
                .map(|i| (i as u64).wrapping_add(n) as u8)
                .collect(),
            headers: vec![(Cow::Borrowed("ce_id"), n.to_string().into_bytes())],
            timestamp: UNIX_EPOCH + Duration::from_millis(1_700_000_000_000 + n),
        },
    }
}

/// Opens `config` with fresh metrics.
pub fn open(config: &config::Spool) -> (Spool, Recovered, Arc<Metrics>) {
    let metrics = Arc::new(Metrics::new());
    let (spool, recovered) = Spool::open(config, metrics.clone()).unwrap();
    (spool, recovered, metrics)
}

/// Every record from the cursor on, in order.
pub fn contents(spool: &Spool) -> Vec<(u64, Entry)> {
    let mut reader = spool.reader();
    let mut out = Vec::new();
    loop {
        let batch = reader.read(1000).unwrap();
        if batch.is_empty() {
            return out;
        }
        out.extend(batch.into_iter().map(|r| (r.seq, r.entry.unwrap())));
    }
}

mod forward;
mod properties;

/// Admits every entry in order without waiting, then waits for them all: one group
/// commit per writer turn, as concurrent requests would make.
pub async fn append_all(spool: &Spool, entries: &[Entry]) -> Vec<Result<Ticket, AppendError>> {
    let mut waiting = Vec::new();
    for entry in entries {
        let (done, outcome) = oneshot::channel();
        match spool.admit(format::encode(entry).unwrap(), done) {
            Ok(()) => waiting.push(Ok(outcome)),
            Err(e) => waiting.push(Err(e)),
        }
    }
    let mut out = Vec::new();
    for w in waiting {
        out.push(match w {
            Ok(outcome) => outcome.await.unwrap(),
            Err(e) => Err(e),
        });
    }
    out
}

fn segment_files(dir: &Path) -> Vec<u64> {
    segment::list(dir)
        .unwrap()
        .into_iter()
        .map(|(f, _)| f)
        .collect()
}

#[tokio::test]
async fn records_come_back_in_order_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = settings(dir.path(), 1 << 20, 4096);
    let entries: Vec<Entry> = (0..60).map(|n| entry(n, 300, 7)).collect();
    {
        let (spool, recovered, metrics) = open(&config);
        assert_eq!(recovered.records, 0);
        assert!(spool.is_empty());
        for (n, e) in entries.iter().enumerate() {
            assert_eq!(spool.append(e).await.unwrap().seq, n as u64);
        }
        assert!(!spool.is_empty());
        assert_eq!(spool.len(), 60);
        assert_eq!(metrics.spooled.get(), 60);
        assert_eq!(metrics.spool_records.get(), 60);
        assert!(
            segment_files(dir.path()).len() > 1,
            "segments roll at 4 KiB"
        );
    }
    let (spool, recovered, metrics) = open(&config);
    assert_eq!(recovered.records, 60);
    assert_eq!(recovered.corrupt_records, 0);
    assert_eq!(metrics.spool_records.get(), 60);
    let back: Vec<Entry> = contents(&spool).into_iter().map(|(_, e)| e).collect();
    assert_eq!(back, entries);
    // Appends go on after the recovered ones.
    assert_eq!(spool.append(&entry(60, 10, 7)).await.unwrap().seq, 60);
}

#[tokio::test]
async fn a_restart_resumes_at_the_acknowledged_cursor_and_forwarded_segments_go() {
    let dir = tempfile::tempdir().unwrap();
    let config = settings(dir.path(), 1 << 20, 2048);
    let entries: Vec<Entry> = (0..30).map(|n| entry(n, 200, 3)).collect();
    {
        let (spool, _, _) = open(&config);
        for r in append_all(&spool, &entries).await {
            r.unwrap();
        }
        let before = segment_files(dir.path());
        spool.ack_through(17);
        spool.synced(17).await;
        assert_eq!(spool.len(), 13);
        let after = segment_files(dir.path());
        assert!(after.len() < before.len(), "{before:?} → {after:?}");
        assert!(
            after[0] <= 17,
            "the segment holding record 17 stays: {after:?}"
        );
    }
    let (spool, recovered, _) = open(&config);
    assert_eq!(recovered.records, 13);
    let back = contents(&spool);
    assert_eq!(back.first().map(|(seq, _)| *seq), Some(17));
    assert_eq!(
        back.into_iter().map(|(_, e)| e).collect::<Vec<_>>(),
        entries[17..].to_vec()
    );
    // Everything acknowledged: no segment is left, and the numbering goes on.
    spool.ack_through(30);
    spool.synced(30).await;
    assert!(spool.is_empty());
    assert_eq!(segment_files(dir.path()), Vec::<u64>::new());
    assert_eq!(spool.bytes(), 0);
    drop(spool);
    let (spool, recovered, _) = open(&config);
    assert_eq!(recovered.records, 0);
    assert_eq!(spool.append(&entry(99, 1, 1)).await.unwrap().seq, 30);
}

#[tokio::test]
async fn concurrent_appends_share_a_sync_and_none_resolves_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let gate = Arc::new((
        std::sync::Mutex::new((false, 0u32)),
        std::sync::Condvar::new(),
    ));
    let hook: SyncHook = {
        let gate = gate.clone();
        Arc::new(move || {
            let (lock, cvar) = &*gate;
            let mut state = lock.lock().unwrap();
            state.1 += 1;
            cvar.notify_all();
            while !state.0 {
                state = cvar.wait(state).unwrap();
            }
            Ok(())
        })
    };
    let metrics = Arc::new(Metrics::new());
    let (spool, _) = Spool::open_with(
        &settings(dir.path(), 1 << 24, 1 << 20),
        metrics.clone(),
        Some(hook),
    )
    .unwrap();
    let spool = Arc::new(spool);
    let append = |n: u64| {
        let spool = spool.clone();
        tokio::spawn(async move { spool.append(&entry(n, 100, 5)).await })
    };
    // The first append's sync is held at the gate...
    let first = append(0);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while gate.0.lock().unwrap().1 == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the first sync did not start"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    // ...while 63 more queue up behind it.
    let rest: Vec<_> = (1..64).map(append).collect();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while spool.shared.pending.load(Ordering::SeqCst) < 64 {
        assert!(
            std::time::Instant::now() < deadline,
            "appends were not admitted"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!first.is_finished() && rest.iter().all(|r| !r.is_finished()));
    assert_eq!(
        *spool.shared.durable.borrow(),
        0,
        "nothing is durable before its sync"
    );
    assert!(!spool.is_empty(), "appends being written count as records");
    gate.0.lock().unwrap().0 = true;
    gate.1.notify_all();
    let mut seqs = vec![first.await.unwrap().unwrap().seq];
    for r in rest {
        seqs.push(r.await.unwrap().unwrap().seq);
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (0..64).collect::<Vec<_>>());
    // One sync for the first append, one for the 63 that waited.
    assert_eq!(metrics.spool_syncs.get(), 2);
    assert_eq!(gate.0.lock().unwrap().1, 2);
}

#[tokio::test]
async fn a_full_spool_refuses_until_records_are_forwarded() {
    let dir = tempfile::tempdir().unwrap();
    let config = settings(dir.path(), 8 * 1024, 2048);
    let (spool, _, _) = open(&config);
    let mut accepted = 0;
    let refused = loop {
        match spool.append(&entry(accepted, 400, 3)).await {
            Ok(_) => accepted += 1,
            Err(e) => break e,
        }
    };
    assert_eq!(refused, AppendError::Full);
    assert!(accepted >= 10, "{accepted}");
    let needed = format::encode(&entry(accepted, 400, 3)).unwrap().len() as u64 + 32;
    assert!(spool.free_bytes() < needed, "{} free", spool.free_bytes());
    assert!(spool.bytes() <= 8 * 1024, "{}", spool.bytes());
    let on_disk: u64 = segment::list(dir.path())
        .unwrap()
        .iter()
        .map(|(_, p)| std::fs::metadata(p).unwrap().len())
        .sum();
    assert_eq!(on_disk, spool.bytes());
    spool.ack_through(accepted);
    spool.synced(accepted).await;
    assert_eq!(spool.free_bytes(), 8 * 1024);
    spool.append(&entry(1000, 400, 3)).await.unwrap();
}

#[tokio::test]
async fn a_failed_sync_breaks_the_spool_until_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = settings(dir.path(), 1 << 20, 1 << 16);
    let fail = Arc::new(AtomicBool::new(false));
    let hook: SyncHook = {
        let fail = fail.clone();
        Arc::new(move || match fail.load(Ordering::SeqCst) {
            true => Err(io::Error::other("injected EIO")),
            false => Ok(()),
        })
    };
    let (spool, _) = Spool::open_with(&config, Arc::new(Metrics::new()), Some(hook)).unwrap();
    spool.append(&entry(0, 10, 1)).await.unwrap();
    assert!(!spool.is_broken());
    fail.store(true, Ordering::SeqCst);
    assert_eq!(
        spool.append(&entry(1, 10, 1)).await,
        Err(AppendError::Broken)
    );
    assert!(spool.is_broken());
    fail.store(false, Ordering::SeqCst);
    assert_eq!(
        spool.append(&entry(2, 10, 1)).await,
        Err(AppendError::Broken)
    );
    drop(spool);
    let (spool, recovered, _) = open(&config);
    assert!(recovered.records >= 1);
    assert_eq!(contents(&spool)[0].1, entry(0, 10, 1));
    spool.append(&entry(3, 10, 1)).await.unwrap();
}

#[tokio::test]
async fn a_second_process_cannot_open_the_same_directory() {
    let dir = tempfile::tempdir().unwrap();
    let config = settings(dir.path(), 1 << 20, 1 << 16);
    let (_spool, _, _) = open(&config);
    let again = Spool::open(&config, Arc::new(Metrics::new()));
    assert!(matches!(again, Err(OpenError::InUse(_))), "{again:?}");
}

#[tokio::test]
async fn a_torn_last_record_is_cut_counted_and_the_rest_kept() {
    let dir = tempfile::tempdir().unwrap();
    let config = settings(dir.path(), 1 << 20, 1 << 16);
    let entries: Vec<Entry> = (0..5).map(|n| entry(n, 100, 2)).collect();
    {
        let (spool, _, _) = open(&config);
        append_all(&spool, &entries).await;
    }
    let (_, path) = segment::list(dir.path()).unwrap().pop().unwrap();
    let len = std::fs::metadata(&path).unwrap().len();
    segment::truncate(&path, len - 7).unwrap();
    let (spool, recovered, metrics) = open(&config);
    assert_eq!((recovered.records, recovered.corrupt_records), (4, 1));
    assert_eq!(metrics.spool_corrupt_records.get(), 1);
    let back: Vec<Entry> = contents(&spool).into_iter().map(|(_, e)| e).collect();
    assert_eq!(back, entries[..4].to_vec());
    assert_eq!(spool.append(&entry(9, 1, 1)).await.unwrap().seq, 4);
}
