//! `kill -9` of a process writing the spool: every append that resolved before the
//! kill is on disk after it, intact, and reaches the publisher.
//!
//! The test binary plays both parts (it has no libtest harness): run plainly, it starts
//! itself as `spool_crash child DIR FIRST` three times, reads the numbers of the appends
//! that resolved from the child's stdout, kills it with SIGKILL mid-stream, reopens the
//! spool, and finally forwards everything through a recording publisher.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test that cannot set up fails loudly"
)]

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, UNIX_EPOCH};

use hookbridge::config;
use hookbridge::metrics::Metrics;
use hookbridge::publish::{Delivery, Outcome, Publish, Publishing, Readiness, Record};
use hookbridge::spool::{Entry, Forwarder, Forwarding, PublisherSource, Spool};

/// Appends that must have resolved before a kill.
const BEFORE_KILL: usize = 150;
/// Concurrent appenders in the child.
const APPENDERS: u64 = 8;

fn spool_config(dir: &Path) -> config::Spool {
    config::Spool {
        dir: dir.to_path_buf(),
        max_bytes: 1 << 30,
        segment_bytes: 64 << 10,
        drain_timeout: std::time::Duration::from_secs(30),
    }
}

/// Record number `n`: its value's size and bytes follow from `n`.
fn entry(n: u64) -> Entry {
    Entry {
        id: uuid::Uuid::from_u64_pair(n, !n),
        dedup_key: n.to_le_bytes().to_vec(),
        record: Record {
            topic: "everbright.production.site-archived".into(),
            key: Some(format!("site-{}", n % 13)),
            value: (0..(n * 37 % 3000)).map(|i| (i ^ n) as u8).collect(),
            headers: vec![(Cow::Borrowed("n"), n.to_string().into_bytes())],
            timestamp: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        },
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("child") => child(Path::new(&args[2]), args[3].parse().unwrap()),
        // libtest's flags (e.g. a name filter) are accepted and ignored: there is one test.
        _ => parent(),
    }
}

/// Appends records numbered from `first` with several appenders, printing each number
/// once its append resolved, until killed (or a minute passes).
fn child(dir: &Path, first: u64) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let (spool, _) = Spool::open(&spool_config(dir), Arc::new(Metrics::new())).unwrap();
        let spool = Arc::new(spool);
        let stdout = Arc::new(Mutex::new(std::io::stdout()));
        let mut tasks = Vec::new();
        for lane in 0..APPENDERS {
            let (spool, stdout) = (spool.clone(), stdout.clone());
            tasks.push(tokio::spawn(async move {
                let deadline = Instant::now() + Duration::from_secs(60);
                let mut n = first + lane;
                while Instant::now() < deadline {
                    spool.append(&entry(n)).await.unwrap();
                    let mut out = stdout.lock().unwrap();
                    writeln!(out, "{n}").unwrap();
                    out.flush().unwrap();
                    n += APPENDERS;
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
    });
}

fn parent() {
    println!("\nrunning 1 test");
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut resolved = BTreeSet::new();
    for round in 0..3u64 {
        let mut child = Command::new(&exe)
            .arg("child")
            .arg(dir.path())
            .arg((round * 1_000_000).to_string())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut seen = 0;
        while seen < BEFORE_KILL {
            assert!(Instant::now() < deadline, "the child appended too slowly");
            resolved.insert(lines.next().unwrap().unwrap().parse::<u64>().unwrap());
            seen += 1;
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        // What it printed before dying resolved before dying.
        for line in lines {
            resolved.insert(line.unwrap().parse::<u64>().unwrap());
        }
        let (_, recovered) =
            Spool::open(&spool_config(dir.path()), Arc::new(Metrics::new())).unwrap();
        assert!(
            recovered.records >= resolved.len() as u64,
            "round {round}: {} records recovered, {} appends had resolved",
            recovered.records,
            resolved.len()
        );
    }
    let forwarded = forward_all(dir.path());
    let missing: Vec<u64> = resolved.difference(&forwarded).copied().collect();
    assert!(
        missing.is_empty(),
        "resolved appends lost by kill -9: {missing:?}"
    );
    println!(
        "test kill_9_loses_no_resolved_append ... ok ({} resolved appends, {} records forwarded)",
        resolved.len(),
        forwarded.len()
    );
    println!("\ntest result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out\n");
}

/// Forwards the whole spool through a publisher that checks and keeps every record.
fn forward_all(dir: &Path) -> BTreeSet<u64> {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let (spool, _) = Spool::open(&spool_config(dir), Arc::new(Metrics::new())).unwrap();
        let spool = Arc::new(spool);
        let recorder = Arc::new(Recorder::default());
        let source: PublisherSource = {
            let recorder = recorder.clone();
            Arc::new(move || recorder.clone() as Arc<dyn Publish>)
        };
        let forwarder = Forwarder::new(
            spool.clone(),
            source,
            Forwarding::new(Duration::from_secs(5), Duration::from_secs(120)),
        );
        let drained = forwarder
            .drain(tokio::time::Instant::now() + Duration::from_secs(60))
            .await;
        assert_eq!(drained.remaining, 0);
        recorder.0.lock().unwrap().clone()
    })
}

/// Keeps the number of every record published, after checking it is intact.
#[derive(Default)]
struct Recorder(Mutex<BTreeSet<u64>>);

impl Publish for Recorder {
    fn publish(&self, record: &Record, _deadline: tokio::time::Instant) -> Publishing<'_> {
        let n: u64 = String::from_utf8_lossy(&record.headers[0].1)
            .parse()
            .unwrap();
        let expected = entry(n).record;
        assert_eq!(
            (&record.key, &record.value),
            (&expected.key, &expected.value),
            "record {n} damaged"
        );
        self.0.lock().unwrap().insert(n);
        Box::pin(async move {
            Outcome::Acked(Delivery {
                partition: 0,
                offset: n as i64,
            })
        })
    }

    fn readiness(&self) -> Readiness {
        Readiness::Ready
    }

    fn flush(&self, _: Duration) {}
}
