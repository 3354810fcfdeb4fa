//! Single-thread wake-ups: the writer task's [`Notify`] and the offset
//! waiters that appends, flushes and long polls park on.

use std::cell::Cell;
use std::future::poll_fn;
use std::task::{Poll, Waker};

use futures_channel::oneshot;

use super::StorageError;

/// Wakes one task. A notification sent while the task is busy is kept, so
/// the next [`Notify::wait`] returns at once.
#[derive(Default)]
pub(crate) struct Notify {
    pending: Cell<bool>,
    waker: Cell<Option<Waker>>,
}

impl Notify {
    pub fn notify(&self) {
        self.pending.set(true);
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
    }

    pub async fn wait(&self) {
        poll_fn(|cx| {
            if self.pending.replace(false) {
                return Poll::Ready(());
            }
            self.waker.set(Some(cx.waker().clone()));
            Poll::Pending
        })
        .await
    }
}

pub(crate) type Completion = oneshot::Sender<Result<(), StorageError>>;

/// Tasks waiting until an end offset passes their offset.
#[derive(Debug, Default)]
pub(crate) struct OffsetWaiters {
    waiters: Vec<(u64, Completion)>,
}

impl OffsetWaiters {
    /// Registers a wait for `offset`.
    pub fn add(&mut self, offset: u64) -> oneshot::Receiver<Result<(), StorageError>> {
        let (sender, receiver) = oneshot::channel();
        self.waiters.push((offset, sender));
        receiver
    }

    pub fn is_empty(&self) -> bool {
        self.waiters.is_empty()
    }

    /// Completes every waiter whose offset is below `end` and returns how
    /// many there were.
    pub fn complete_below(&mut self, end: u64) -> usize {
        let mut completed = 0;
        for (_, sender) in self.waiters.extract_if(.., |(offset, _)| *offset < end) {
            let _ = sender.send(Ok(()));
            completed += 1;
        }
        completed
    }

    /// Fails every waiter whose offset is at or above `end`.
    pub fn fail_from(&mut self, end: u64, error: &StorageError) {
        for (_, sender) in self.waiters.extract_if(.., |(offset, _)| *offset >= end) {
            let _ = sender.send(Err(error.clone()));
        }
    }
}

/// Long polls waiting for the visible end to move.
#[derive(Debug, Default)]
pub(crate) struct DataWaiters {
    waiters: Vec<oneshot::Sender<()>>,
}

impl DataWaiters {
    /// Registers a long poll and drops those whose caller gave up (timed
    /// out), so an idle partition does not collect them.
    pub fn add(&mut self) -> oneshot::Receiver<()> {
        self.waiters.retain(|sender| !sender.is_canceled());
        let (sender, receiver) = oneshot::channel();
        self.waiters.push(sender);
        receiver
    }

    pub fn wake_all(&mut self) {
        for sender in self.waiters.drain(..) {
            let _ = sender.send(());
        }
    }
}
