//! Rate limiting for repeated warnings, so a misbehaving client cannot fill
//! the log. Shard-local: no atomics, no locks.

use std::cell::Cell;
use std::time::{Duration, Instant};

/// Warnings logged per window before the rest are only counted.
pub const WARNINGS_PER_WINDOW_MAX: u32 = 10;
/// Length of one rate-limit window.
pub const WINDOW: Duration = Duration::from_secs(10);

/// Counts warnings of one kind in fixed windows.
pub struct LogLimiter {
    window_start: Cell<Instant>,
    logged: Cell<u32>,
    suppressed: Cell<u64>,
}

impl Default for LogLimiter {
    fn default() -> Self {
        LogLimiter {
            window_start: Cell::new(Instant::now()),
            logged: Cell::new(0),
            suppressed: Cell::new(0),
        }
    }
}

impl LogLimiter {
    /// Returns `Some(suppressed_before)` when this warning should be logged,
    /// with the number dropped since the last logged one, or `None` when it
    /// is over the limit and only counted.
    pub fn admit(&self) -> Option<u64> {
        let now = Instant::now();
        if now.duration_since(self.window_start.get()) >= WINDOW {
            self.window_start.set(now);
            self.logged.set(0);
        }
        if self.logged.get() >= WARNINGS_PER_WINDOW_MAX {
            self.suppressed.set(self.suppressed.get() + 1);
            return None;
        }
        self.logged.set(self.logged.get() + 1);
        Some(self.suppressed.replace(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limiter_counts_suppressed_warnings() {
        let limiter = LogLimiter::default();
        for _ in 0..WARNINGS_PER_WINDOW_MAX {
            assert_eq!(limiter.admit(), Some(0));
        }
        assert_eq!(limiter.admit(), None);
        assert_eq!(limiter.admit(), None);
        limiter.window_start.set(Instant::now() - WINDOW);
        assert_eq!(
            limiter.admit(),
            Some(2),
            "the next window reports what was dropped"
        );
    }
}
