//! The progress line printed each second while stdout is a terminal.

use std::io::Write;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::shared::Counters;

/// A running progress printer; dropping it stops the thread.
pub struct Progress {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Progress {
    /// Starts printing one line per second from `counters`.
    pub fn start(counters: Arc<Counters>) -> Progress {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::spawn(move || print_each_second(&counters, &stopped));
        Progress {
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn print_each_second(counters: &Counters, stopped: &mpsc::Receiver<()>) {
    let started = Instant::now();
    let (mut messages, mut bytes) = (0, 0);
    while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(Duration::from_secs(1)) {
        let now_messages = counters.messages.load(Ordering::Relaxed);
        let now_bytes = counters.bytes.load(Ordering::Relaxed);
        let errors = counters.errors.load(Ordering::Relaxed);
        let line = format!(
            "[{:>4.0} s] {:>12} msg/s {:>10.2} MB/s  total {} msgs  errors {}",
            started.elapsed().as_secs_f64(),
            now_messages - messages,
            (now_bytes - bytes) as f64 / 1e6,
            now_messages,
            errors
        );
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
        messages = now_messages;
        bytes = now_bytes;
    }
}
