//! The client of `scripts/instructions.sh`: sends a fixed number of webhooks, each a
//! distinct event, over a few keep-alive connections, and fails unless every one is
//! answered 2xx.
//!
//! Every request is signed by `hookbridge::sender` when it is sent, and its body is the
//! given one with a first member `"seq"` that makes it an event of its own (hookbridge
//! would answer a copy from its dedup cache, which costs far less than a new event).
//! It measures nothing itself: the script counts hookbridge's instructions around it.

#[path = "../load/webhook.rs"]
mod webhook;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use clap::Parser;
use hookbridge::config::{Config, Secrets};
use hookbridge::everbright::Event;
use http::Request;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Send webhooks, each a distinct event; exit 1 unless all are answered 2xx.
#[derive(Parser)]
struct Args {
    /// The hookbridge config (the credential to sign as).
    #[arg(long)]
    config: PathBuf,
    /// The webhook URL.
    #[arg(long)]
    url: String,
    /// The credential's name.
    #[arg(long)]
    credential: String,
    /// The event slug.
    #[arg(long)]
    event: String,
    /// File holding the body (a JSON object).
    #[arg(long)]
    body: PathBuf,
    /// How many requests.
    #[arg(long)]
    count: u64,
    /// Connections, each sending its next request once the last one is answered.
    #[arg(long, default_value_t = 4)]
    conns: u64,
    /// Told apart from other runs' events by this tag.
    #[arg(long)]
    run: String,
}

struct Plan {
    config: Config,
    url: String,
    address: String,
    credential: String,
    event: Event,
    body: Vec<u8>,
    count: u64,
    run: String,
    next: AtomicU64,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let env = Arc::new(|name: &str| std::env::var(name).ok());
    let config = Config::load_with(&args.config, env, Secrets::Read)
        .map_err(|e| format!("{}: {e}", args.config.display()))?;
    let event = Event::from_slug(&args.event).ok_or("unknown event")?;
    let uri: http::Uri = args.url.parse()?;
    let address = uri.authority().ok_or("the URL has no host")?.to_string();
    let plan = Arc::new(Plan {
        config,
        url: args.url,
        address,
        credential: args.credential,
        event,
        body: std::fs::read(&args.body)?,
        count: args.count,
        run: args.run,
        next: AtomicU64::new(0),
    });
    let workers: Vec<_> = (0..args.conns)
        .map(|_| tokio::spawn(worker(plan.clone())))
        .collect();
    for worker in workers {
        worker.await??;
    }
    Ok(())
}

/// Sends requests on one connection until `count` were taken by all workers.
async fn worker(plan: Arc<Plan>) -> Result<(), String> {
    let stream = TcpStream::connect(&plan.address)
        .await
        .map_err(|e| e.to_string())?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let (mut connection, driver) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(driver);
    loop {
        let seq = plan.next.fetch_add(1, Ordering::Relaxed);
        if seq >= plan.count {
            return Ok(());
        }
        let request = plan.request(seq)?;
        connection.ready().await.map_err(|e| e.to_string())?;
        let response = connection
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        let answer = response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        if !status.is_success() {
            return Err(format!(
                "request {seq}: {status} {}",
                String::from_utf8_lossy(&answer)
            ));
        }
    }
}

impl Plan {
    /// Request `seq`, signed now (see [`webhook::numbered`]).
    fn request(&self, seq: u64) -> Result<Request<Full<Bytes>>, String> {
        webhook::numbered(
            &self.config,
            &self.credential,
            self.event,
            &self.url,
            &self.body,
            &self.run,
            seq,
        )
    }
}
