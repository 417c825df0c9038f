//! Exponential backoff over a run of failures, for loops that must keep trying
//! (accepting connections, forwarding the spool) without spinning or flooding the log.
//!
//! It only counts and computes pauses; the caller sleeps, and decides what a failure
//! and a success are.

use std::time::Duration;

/// Pauses that double from `first` up to `max` while failures follow each other.
#[derive(Debug, Clone)]
pub struct Backoff {
    first: Duration,
    max: Duration,
    failures: u32,
}

impl Backoff {
    /// A backoff that starts at `first` and never pauses longer than `max`.
    pub const fn new(first: Duration, max: Duration) -> Backoff {
        Backoff {
            first,
            max,
            failures: 0,
        }
    }

    /// Records a failure: how long to pause, and whether it starts a run of failures
    /// (the one to log).
    pub fn failed(&mut self) -> (Duration, bool) {
        self.failures = self.failures.saturating_add(1);
        let doublings = (self.failures - 1).min(16);
        let delay = self.first.saturating_mul(1 << doublings).min(self.max);
        (delay, self.failures == 1)
    }

    /// Records a success: the length of the run of failures it ends, if any.
    pub fn succeeded(&mut self) -> Option<u32> {
        let failures = std::mem::take(&mut self.failures);
        (failures > 0).then_some(failures)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_double_to_the_limit_and_a_run_is_reported_once() {
        let mut b = Backoff::new(Duration::from_millis(10), Duration::from_secs(1));
        let delays: Vec<(u64, bool)> = (0..10)
            .map(|_| b.failed())
            .map(|(d, first)| (u64::try_from(d.as_millis()).unwrap(), first))
            .collect();
        assert_eq!(
            delays,
            [
                (10, true),
                (20, false),
                (40, false),
                (80, false),
                (160, false),
                (320, false),
                (640, false),
                (1000, false),
                (1000, false),
                (1000, false)
            ]
        );
        for _ in 0..1000 {
            assert_eq!(b.failed().0, Duration::from_secs(1));
        }
        assert_eq!(b.succeeded(), Some(1010));
        assert_eq!(b.succeeded(), None);
        assert_eq!(b.failed(), (Duration::from_millis(10), true));
    }
}
