//! The load generator of `scripts/bench-load.sh`: sends webhooks to an HTTP server
//! (hookbridge, or the plain ceiling server) or records straight to Kafka (the bare
//! producer ceiling), and prints one JSON line with the throughput, the latency
//! percentiles and the CPU time per request of the processes it was told to watch.
//!
//! - **Closed loop** (no `--rate`): `--conns` workers, each sending its next request as
//!   soon as the previous one is answered: the maximum throughput.
//! - **Open loop** (`--rate R`): request *n* is due at `start + n / R`, whatever
//!   happened before; `--conns` workers take the due requests in order. Latency counts
//!   from the due time, so a slow answer that delays the requests behind it is charged
//!   to them too (no coordinated omission, as in wrk2).
//!
//! Every HTTP request is built and signed by `hookbridge::sender` at the moment it is
//! sent, so signed schemes carry fresh timestamps and ids, and each URL carries a
//! sequence number in its query string (ignored by routing, signed by SigV4, whose
//! timestamps only have whole seconds): no request is a replay of another.
//! The Kafka producer is built from the same config with hookbridge's own
//! `client_config`, so its settings are hookbridge's.
//!
//! A warm-up of the same load precedes the measured window; only the window is
//! measured, but `ok_total` counts every 2xx (warm-up included), which is what the
//! script compares with the records it consumes.

mod cpu;
mod schedule;
mod target;
#[path = "../webhook.rs"]
mod webhook;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};
use hookbridge::config::{Config, Secrets};
use serde_json::json;

use schedule::Plan;

/// Load a webhook server or a Kafka broker; print one JSON line of results.
#[derive(Parser)]
struct Args {
    /// The hookbridge config: credentials to sign with, Kafka settings to produce with.
    #[arg(long)]
    config: PathBuf,
    /// File holding the request body (the record value for `kafka`).
    #[arg(long)]
    body: PathBuf,
    /// Concurrent connections (HTTP) or records in flight (Kafka).
    #[arg(long, default_value_t = 128)]
    conns: usize,
    /// Open loop at this many requests per second; closed loop when absent.
    #[arg(long)]
    rate: Option<f64>,
    /// Seconds of warm-up before the measured window.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// Seconds measured.
    #[arg(long, default_value_t = 8.0)]
    seconds: f64,
    /// Tokio worker threads of the generator.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// `NAME=PID`: a process whose CPU time per request to report (repeatable).
    #[arg(long = "watch", value_parser = parse_pair)]
    watch: Vec<(String, String)>,
    /// `KEY=VALUE` copied into the output line, to label the run (repeatable).
    #[arg(long = "tag", value_parser = parse_pair)]
    tags: Vec<(String, String)>,
    #[command(subcommand)]
    target: TargetArgs,
}

#[derive(Subcommand)]
enum TargetArgs {
    /// POST webhooks over HTTP/1.1 keep-alive connections.
    Http {
        /// The webhook URL (without a query string).
        #[arg(long)]
        url: String,
        /// The credential to sign as (its `name` in the config).
        #[arg(long)]
        credential: String,
        /// The event slug.
        #[arg(long)]
        event: String,
    },
    /// Produce the body to a topic with hookbridge's producer settings.
    Kafka {
        /// The topic.
        #[arg(long)]
        topic: String,
    },
}

fn parse_pair(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("expected KEY=VALUE, got {s:?}"))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let env = std::sync::Arc::new(|name: &str| std::env::var(name).ok());
    let config = Config::load_with(&args.config, env, Secrets::Read)
        .map_err(|e| format!("{}: {e}", args.config.display()))?;
    let body = bytes::Bytes::from(std::fs::read(&args.body)?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads)
        .enable_all()
        .build()?;
    let plan = Plan {
        conns: args.conns,
        rate: args.rate,
        warmup: Duration::from_secs_f64(args.warmup),
        measure: Duration::from_secs_f64(args.seconds),
    };
    let target = match &args.target {
        TargetArgs::Http {
            url,
            credential,
            event,
        } => target::Target::http(config, url, credential, event, body)?,
        TargetArgs::Kafka { topic } => target::Target::kafka(&config, topic, body)?,
    };
    let watched: Vec<(String, u32)> = args
        .watch
        .iter()
        .map(|(name, pid)| Ok((name.clone(), pid.parse()?)))
        .collect::<Result<_, std::num::ParseIntError>>()?;
    let report = runtime.block_on(schedule::run(&plan, target, &watched))?;
    let tags: serde_json::Map<_, _> = args.tags.into_iter().map(|(k, v)| (k, json!(v))).collect();
    let line = json!({
        "tags": tags,
        "mode": if plan.rate.is_some() { "open" } else { "closed" },
        "conns": plan.conns,
        "offered": plan.rate,
        "report": report,
    });
    println!("{line}");
    Ok(())
}
