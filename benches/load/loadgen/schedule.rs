//! When requests are sent and what is recorded: closed or open loop, a warm-up, then
//! the measured window, the latency histogram and the CPU time over that window.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;
use tokio::task::JoinSet;

use crate::cpu;
use crate::target::{Outcome, Target};

/// Slowest latency the histogram holds, in microseconds (a minute).
const MAX_LATENCY_US: u64 = 60_000_000;

/// How the load is applied.
pub struct Plan {
    /// Workers: connections (HTTP) or records in flight (Kafka).
    pub conns: usize,
    /// Open loop at this rate per second; closed loop when `None`.
    pub rate: Option<f64>,
    /// Load before the measured window, not measured.
    pub warmup: Duration,
    /// The measured window.
    pub measure: Duration,
}

/// What one run measured.
#[derive(Serialize)]
pub struct Report {
    /// Length of the measured window.
    seconds: f64,
    /// 2xx answers (acks for Kafka) to requests due in the window.
    ok: u64,
    /// 2xx answers received in the window, per second: what the server achieved (in
    /// open loop, behind an offered rate it cannot sustain, `ok` still counts every
    /// request due, however late its answer).
    throughput: f64,
    /// Non-2xx answers in the window.
    failed: u64,
    /// Requests in the window that got no answer (connection or Kafka errors).
    errors: u64,
    /// Every 2xx of the run, warm-up included: the records that must be on Kafka.
    ok_total: u64,
    /// Answers of the whole run by status (`error` for no answer).
    statuses: BTreeMap<String, u64>,
    /// The first error of the run, if any.
    first_error: Option<String>,
    /// Latency percentiles in the window, in milliseconds.
    latency_ms: BTreeMap<&'static str, f64>,
    /// CPU time (user + system) per answer received in the window, in microseconds,
    /// of the generator and of each watched process.
    cpu_us_per_request: BTreeMap<String, f64>,
}

/// One worker's counts.
struct Tally {
    histogram: Histogram<u64>,
    ok: u64,
    failed: u64,
    errors: u64,
    /// Answers (any status) and 2xx answers received in the window.
    answered_in_window: u64,
    ok_in_window: u64,
    ok_total: u64,
    statuses: BTreeMap<String, u64>,
    first_error: Option<String>,
}

impl Tally {
    fn new() -> Result<Self, hdrhistogram::CreationError> {
        Ok(Tally {
            histogram: Histogram::new_with_bounds(1, MAX_LATENCY_US, 3)?,
            ok: 0,
            failed: 0,
            errors: 0,
            answered_in_window: 0,
            ok_in_window: 0,
            ok_total: 0,
            statuses: BTreeMap::new(),
            first_error: None,
        })
    }

    /// Records one answer: `due_in_window` puts it in the latency population,
    /// `done_in_window` in the throughput.
    fn record(
        &mut self,
        outcome: Outcome,
        latency: Duration,
        due_in_window: bool,
        done_in_window: bool,
    ) {
        let ok = matches!(outcome, Outcome::Status(s) if (200..300).contains(&s));
        let status = match outcome {
            Outcome::Status(s) => s.to_string(),
            Outcome::Error(e) => {
                self.first_error.get_or_insert(e);
                "error".to_string()
            }
        };
        self.ok_total += u64::from(ok);
        if done_in_window {
            self.answered_in_window += 1;
            self.ok_in_window += u64::from(ok);
        }
        if due_in_window {
            match status.as_str() {
                _ if ok => self.ok += 1,
                "error" => self.errors += 1,
                _ => self.failed += 1,
            }
            let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
            self.histogram
                .saturating_record(us.clamp(1, MAX_LATENCY_US));
        }
        *self.statuses.entry(status).or_default() += 1;
    }

    fn merge(&mut self, other: Tally) -> Result<(), hdrhistogram::AdditionError> {
        self.histogram.add(&other.histogram)?;
        self.ok += other.ok;
        self.failed += other.failed;
        self.errors += other.errors;
        self.answered_in_window += other.answered_in_window;
        self.ok_in_window += other.ok_in_window;
        self.ok_total += other.ok_total;
        for (status, n) in other.statuses {
            *self.statuses.entry(status).or_default() += n;
        }
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
        Ok(())
    }
}

/// What every worker shares: the schedule and the target.
struct Shared {
    /// Open loop at this rate per second; closed loop when `None`.
    rate: Option<f64>,
    start: Instant,
    /// Where the measured window starts.
    window: Instant,
    end: Instant,
    /// The next request number.
    next: AtomicU64,
    target: Target,
}

/// Runs `plan` against `target`; reports the window, with the CPU time of the
/// generator and of the `watched` processes (name, pid) over it.
pub async fn run(
    plan: &Plan,
    target: Target,
    watched: &[(String, u32)],
) -> Result<Report, Box<dyn std::error::Error>> {
    let start = Instant::now();
    let shared = Arc::new(Shared {
        rate: plan.rate,
        start,
        window: start + plan.warmup,
        end: start + plan.warmup + plan.measure,
        next: AtomicU64::new(0),
        target,
    });
    let mut workers = JoinSet::new();
    for _ in 0..plan.conns {
        workers.spawn(worker(shared.clone()));
    }
    tokio::time::sleep_until(shared.window.into()).await;
    let before = cpu::sample(watched)?;
    tokio::time::sleep_until(shared.end.into()).await;
    let after = cpu::sample(watched)?;
    let mut total = Tally::new()?;
    while let Some(tally) = workers.join_next().await {
        total.merge(tally??)?;
    }
    let answered = total.answered_in_window.max(1) as f64;
    let cpu_us_per_request = after
        .into_iter()
        .zip(before)
        .map(|((name, a), (_, b))| (name, a.saturating_sub(b) as f64 / answered))
        .collect();
    let seconds = plan.measure.as_secs_f64();
    Ok(Report {
        seconds,
        ok: total.ok,
        throughput: total.ok_in_window as f64 / seconds,
        failed: total.failed,
        errors: total.errors,
        ok_total: total.ok_total,
        latency_ms: percentiles(&total.histogram),
        statuses: total.statuses,
        first_error: total.first_error,
        cpu_us_per_request,
    })
}

fn percentiles(h: &Histogram<u64>) -> BTreeMap<&'static str, f64> {
    let ms = |us: u64| us as f64 / 1000.0;
    [("p50", 50.0), ("p90", 90.0), ("p99", 99.0), ("p99.9", 99.9)]
        .into_iter()
        .map(|(name, q)| (name, ms(h.value_at_percentile(q))))
        .chain([("max", ms(h.max()))])
        .collect()
}

/// One connection's loop: take the next request number, wait for its due time (open
/// loop), send it, record the answer.
async fn worker(shared: Arc<Shared>) -> Result<Tally, hdrhistogram::CreationError> {
    let mut tally = Tally::new()?;
    let mut client = shared.target.client();
    loop {
        let seq = shared.next.fetch_add(1, Ordering::Relaxed);
        let now = Instant::now();
        // Closed loop: due now. Open loop: due on the schedule, however late we are.
        let due = match shared.rate {
            None => now,
            Some(rate) => shared.start + Duration::from_secs_f64(seq as f64 / rate),
        };
        if due >= shared.end {
            return Ok(tally);
        }
        // An idle worker sleeps until the due time; tokio's timer wakes it up to a
        // millisecond late, and that slack is the generator's, not the server's: count
        // from the wake-up then. A worker already behind schedule counts from `due`.
        let counted_from = if due > now {
            tokio::time::sleep_until(due.into()).await;
            Instant::now()
        } else {
            due
        };
        let outcome = client.call(seq).await;
        let done = Instant::now();
        let done_in_window = (shared.window..shared.end).contains(&done);
        tally.record(
            outcome,
            done - counted_from,
            due >= shared.window,
            done_in_window,
        );
    }
}
