//! What the benches share: ratios measured against a baseline in the same run.
//!
//! Machines here are shared and noisy, so absolute times say little. A paired run
//! alternates short batches of the baseline and of the work, and reports the median
//! per-round ratio: load from other processes hits both sides of a ratio alike.

use std::time::Instant;

/// Rounds of a paired run (odd, for a clean median).
pub const ROUNDS: usize = 301;

/// Median over [`ROUNDS`] of (time of `batch` runs of `work`) / (time of `batch` runs
/// of `baseline`), the two run back to back in each round.
pub fn paired_ratio(batch: usize, baseline: &dyn Fn(), work: &dyn Fn()) -> f64 {
    let time = |run: &dyn Fn()| {
        let start = Instant::now();
        for _ in 0..batch {
            run();
        }
        start.elapsed().as_secs_f64()
    };
    let mut ratios: Vec<f64> = (0..ROUNDS)
        .map(|_| {
            let base = time(baseline);
            time(work) / base
        })
        .collect();
    ratios.sort_by(f64::total_cmp);
    ratios[ROUNDS / 2]
}

/// Whether the binary runs as a benchmark (`cargo bench` passes `--bench`;
/// `cargo test --benches` does not and only smoke-tests each bench once).
pub fn benchmarking() -> bool {
    std::env::args().any(|a| a == "--bench")
}
