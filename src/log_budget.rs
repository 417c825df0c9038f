//! How many `webhook refused` lines are written: at most [`LINES_PER_SECOND`] per
//! reason per second.
//!
//! A refusal costs the sender one small request and hookbridge a log line of a few
//! hundred bytes, so without a budget a flood of 404s or wrong passwords becomes a
//! disk-filling amplifier. Beyond the budget lines are skipped and counted; the next
//! line written for that reason carries the count as `suppressed`. The metrics
//! (`hookbridge_http_requests_total`, `hookbridge_auth_failures_total`) stay exact.

use std::sync::Mutex;

/// Refusal lines written per reason per second, at most.
pub const LINES_PER_SECOND: u32 = 10;

#[derive(Debug, Clone, Copy)]
struct Window {
    reason: &'static str,
    second: u64,
    lines: u32,
    suppressed: u64,
}

/// The per-reason budget. Reasons are a fixed set of labels, so it stays small.
#[derive(Debug, Default)]
pub struct LogBudget {
    windows: Mutex<Vec<Window>>,
}

impl LogBudget {
    /// Whether a refusal for `reason` in `second` (any clock in whole seconds) is
    /// logged: `Some(n)` with the lines skipped for it since the last one written,
    /// `None` to skip this one.
    pub fn admit(&self, reason: &'static str, second: u64) -> Option<u64> {
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let window = match windows.iter().position(|w| w.reason == reason) {
            Some(i) => &mut windows[i],
            None => {
                windows.push(Window {
                    reason,
                    second,
                    lines: 0,
                    suppressed: 0,
                });
                let last = windows.len() - 1;
                &mut windows[last]
            }
        };
        if window.second != second {
            window.second = second;
            window.lines = 0;
        }
        if window.lines >= LINES_PER_SECOND {
            window.suppressed += 1;
            return None;
        }
        window.lines += 1;
        Some(std::mem::take(&mut window.suppressed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_reason_gets_its_own_budget_and_skipped_lines_are_reported_once() {
        let budget = LogBudget::default();
        for _ in 0..LINES_PER_SECOND {
            assert_eq!(budget.admit("not-found", 7), Some(0));
        }
        for _ in 0..25 {
            assert_eq!(budget.admit("not-found", 7), None);
        }
        // Another reason is not starved by the flood.
        assert_eq!(budget.admit("bad-secret", 7), Some(0));
        // The next second: the first line says how many were skipped.
        assert_eq!(budget.admit("not-found", 8), Some(25));
        assert_eq!(budget.admit("not-found", 8), Some(0));
    }
}
