//! The thin layer over compio. Everything else in the broker reaches the
//! runtime through these names, so a compio upgrade touches this folder only.

use std::collections::HashSet;
use std::future::Future;
use std::time::Duration;

pub use compio::net::{TcpListener, TcpStream};
pub use compio::runtime::JoinHandle;

/// Builds a runtime for one shard, pinned to `cpu` when it is given.
pub fn build(cpu: Option<usize>) -> std::io::Result<compio::runtime::Runtime> {
    let mut builder = compio::runtime::RuntimeBuilder::new();
    if let Some(cpu) = cpu {
        builder.thread_affinity(HashSet::from([cpu]));
    }
    builder.build()
}

/// Spawns a task on the current shard and lets it run to completion on its
/// own.
pub fn spawn_detached<F: Future + 'static>(future: F) {
    compio::runtime::spawn(future).detach();
}

/// Spawns a task on the current shard, returning its handle.
pub fn spawn<F: Future + 'static>(future: F) -> JoinHandle<F::Output> {
    compio::runtime::spawn(future)
}

pub async fn sleep(duration: Duration) {
    compio::time::sleep(duration).await;
}

/// Runs `future` until `duration` passes; `None` when it timed out.
pub async fn timeout<F: Future>(duration: Duration, future: F) -> Option<F::Output> {
    compio::time::timeout(duration, future).await.ok()
}
