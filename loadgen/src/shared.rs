//! State shared by the load threads: the run's clock and the counters the
//! progress line reads. Threads add to the counters once per batch or
//! fetch, never per event.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

/// Highest latency a histogram records, in µs (one hour); larger samples
/// are clamped to it.
pub const LATENCY_US_MAX: u64 = 3_600_000_000;
/// Significant digits of every latency histogram.
const LATENCY_SIGFIG: u8 = 3;

/// Returns an empty µs latency histogram.
pub fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, LATENCY_US_MAX, LATENCY_SIGFIG).expect("valid histogram bounds")
}

/// Records `latency` in µs, clamped into the histogram's range.
pub fn record_latency(histogram: &mut Histogram<u64>, latency: Duration, count: u64) {
    let us = (latency.as_micros() as u64).clamp(1, LATENCY_US_MAX);
    histogram
        .record_n(us, count)
        .expect("value clamped into range");
}

/// The run's time line: load starts at `start`, measurement at
/// `measure_from` (after the warmup).
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    pub start: Instant,
    pub measure_from: Instant,
}

impl Clock {
    pub fn new(warmup: Duration) -> Clock {
        let start = Instant::now();
        Clock {
            start,
            measure_from: start + warmup,
        }
    }

    /// Nanoseconds since `start`, the stamp an e2e event carries.
    pub fn stamp_ns(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.start).as_nanos() as u64
    }

    /// Converts an e2e stamp back to an instant.
    pub fn instant_of(&self, stamp_ns: u64) -> Instant {
        self.start + Duration::from_nanos(stamp_ns)
    }
}

/// Counters of measured work, read by the progress line and the e2e stop rule.
#[derive(Default)]
pub struct Counters {
    /// Measured events done: acknowledged, or received in consume and e2e runs.
    pub messages: AtomicU64,
    pub bytes: AtomicU64,
    pub errors: AtomicU64,
    /// Measured events acknowledged by the broker (e2e: what consumers await).
    pub produced: AtomicU64,
    /// Set once every producer thread has finished.
    pub producers_done: AtomicBool,
    /// Set to end every thread early, for example after a fatal error.
    pub abort: AtomicBool,
}

impl Counters {
    pub fn add(&self, messages: u64, bytes: u64) {
        self.messages.fetch_add(messages, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    pub fn add_errors(&self, errors: u64) {
        self.errors.fetch_add(errors, Ordering::Relaxed);
    }

    pub fn aborted(&self) -> bool {
        self.abort.load(Ordering::Relaxed)
    }
}

/// The measurements of one load thread.
pub struct ThreadResult {
    pub latency_us: Histogram<u64>,
    pub messages: u64,
    pub bytes: u64,
    pub errors: u64,
    /// When the thread's last measured event completed.
    pub last_completion: Option<Instant>,
    /// A failure that ended the thread early.
    pub failure: Option<String>,
}

impl ThreadResult {
    pub fn new() -> ThreadResult {
        ThreadResult {
            latency_us: latency_histogram(),
            messages: 0,
            bytes: 0,
            errors: 0,
            last_completion: None,
            failure: None,
        }
    }

    pub fn complete_at(&mut self, at: Instant) {
        self.last_completion = Some(self.last_completion.map_or(at, |last| last.max(at)));
    }
}

impl Default for ThreadResult {
    fn default() -> Self {
        ThreadResult::new()
    }
}
