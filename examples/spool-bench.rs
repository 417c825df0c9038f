//! Measures the spool's appends and syncs per second on this disk with 1, 8 and 64
//! concurrent appenders, each append awaited as a request would await it.
//!
//! ```sh
//! cargo run --release --example spool-bench -- [--seconds 5] [--value-bytes 2048] [--dir DIR]
//! ```
//!
//! `--dir` should be on the disk the spool will use (default: a temporary directory
//! under `target/`). Prints one row per concurrency: appends/s, syncs/s, appends per
//! sync, and the p50/p99 append latency.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a benchmark fails loudly"
)]

use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use hdrhistogram::Histogram;
use hookbridge::config;
use hookbridge::metrics::Metrics;
use hookbridge::publish::Record;
use hookbridge::spool::{Entry, Spool};

struct Args {
    seconds: u64,
    value_bytes: usize,
    dir: PathBuf,
}

fn args() -> Args {
    let mut args = Args {
        seconds: 5,
        value_bytes: 2048,
        dir: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().expect("a value after each flag");
        match flag.as_str() {
            "--seconds" => args.seconds = value.parse().expect("--seconds N"),
            "--value-bytes" => args.value_bytes = value.parse().expect("--value-bytes N"),
            "--dir" => args.dir = PathBuf::from(value),
            other => panic!("unknown flag {other}"),
        }
    }
    args
}

fn entry(n: u64, value_bytes: usize) -> Entry {
    Entry {
        id: uuid::Uuid::now_v7(),
        dedup_key: vec![0; 32],
        record: Record {
            topic: "everbright.production.milestone-status-change".into(),
            key: Some(format!("site-{}", n % 100)),
            value: vec![b'x'; value_bytes].into(),
            headers: vec![(Cow::Borrowed("ce_id"), n.to_string().into_bytes())],
            timestamp: SystemTime::now(),
        },
    }
}

/// One run: `appenders` tasks appending for `seconds`.
async fn run(args: &Args, appenders: u64) -> (f64, f64, Histogram<u64>) {
    std::fs::create_dir_all(&args.dir).unwrap();
    let dir = tempfile::tempdir_in(&args.dir).unwrap();
    let metrics = Arc::new(Metrics::new());
    let config = config::Spool {
        dir: dir.path().to_path_buf(),
        max_bytes: 1 << 40,
        segment_bytes: 16 << 20,
        drain_timeout: std::time::Duration::from_secs(30),
    };
    let (spool, _) = Spool::open(&config, metrics.clone()).unwrap();
    let spool = Arc::new(spool);
    let started = Instant::now();
    let until = started + Duration::from_secs(args.seconds);
    let mut tasks = Vec::new();
    for lane in 0..appenders {
        let spool = spool.clone();
        let value_bytes = args.value_bytes;
        tasks.push(tokio::spawn(async move {
            let mut latency = Histogram::<u64>::new(3).unwrap();
            let mut n = lane;
            while Instant::now() < until {
                let entry = entry(n, value_bytes);
                let at = Instant::now();
                spool.append(&entry).await.unwrap();
                latency.record(at.elapsed().as_micros() as u64).unwrap();
                n += appenders;
            }
            latency
        }));
    }
    let mut latency = Histogram::<u64>::new(3).unwrap();
    for task in tasks {
        latency.add(task.await.unwrap()).unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let appends = metrics.spooled.get() as f64 / elapsed;
    let syncs = metrics.spool_syncs.get() as f64 / elapsed;
    (appends, syncs, latency)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let args = args();
    println!(
        "spool appends on {} ({} B values, {} s per row)",
        args.dir.display(),
        args.value_bytes,
        args.seconds
    );
    println!("| appenders | appends/s | syncs/s | appends per sync | p50 ms | p99 ms |");
    println!("|---:|---:|---:|---:|---:|---:|");
    for appenders in [1, 8, 64] {
        let (appends, syncs, latency) = run(&args, appenders).await;
        println!(
            "| {appenders} | {appends:.0} | {syncs:.0} | {:.1} | {:.2} | {:.2} |",
            appends / syncs.max(1.0),
            latency.value_at_quantile(0.5) as f64 / 1000.0,
            latency.value_at_quantile(0.99) as f64 / 1000.0
        );
    }
}
