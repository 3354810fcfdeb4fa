//! The writer task of one partition: drains the append queue with vectored
//! writes, rolls segments (see [`super::roll`]), runs fdatasync (one per group of waiters) and
//! completes the waiters. It is the only code that changes segment files
//! after recovery, apart from retention deleting closed ones.

use std::path::PathBuf;
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use compio::buf::BufResult;
use compio::fs::File;
use compio::io::AsyncWriteAtExt;
use futures_channel::oneshot;
use tracing::{error, warn};

use super::notify::Notify;
use super::partition::{QueuedBatch, Shared, State, Status};
use super::roll;
use super::segment::WrittenBatch;
use super::{now_ms, Durability, StorageError, LOG_TARGET};

/// Maximum number of buffers in one vectored write: Linux rejects more than `UIO_MAXIOV`
/// (1024) iovecs with EINVAL.
const WRITE_BATCHES_MAX: usize = 1024;

/// Next action of the writer task.
enum Step {
    Write,
    Sync,
    WriteIndexes,
    /// Nothing to do until notified, or until the instant for an interval
    /// fdatasync.
    Idle(Option<Instant>),
    Exit,
}

/// Runs until the partition closes, fails or is dropped. `exit` fires when
/// the task ends, so `close` can wait for the last write.
pub(super) async fn run(shared: Weak<Shared>, wake: Rc<Notify>, exit: oneshot::Sender<()>) {
    loop {
        let Some(shared) = shared.upgrade() else {
            break;
        };
        roll::poll_close(&shared);
        match next_step(&shared) {
            Step::Write => write_queued(&shared).await,
            Step::Sync => sync(&shared).await,
            Step::WriteIndexes => write_active_indexes(&shared).await,
            Step::Idle(deadline) => {
                drop(shared);
                match deadline {
                    Some(deadline) => {
                        let _ = compio::time::timeout_at(deadline, wake.wait()).await;
                    }
                    None => wake.wait().await,
                }
            }
            Step::Exit => {
                roll::finish_close(&shared).await;
                if matches!(shared.state.borrow().status, Status::Closing) {
                    write_active_indexes(&shared).await;
                }
                break;
            }
        }
    }
    let _ = exit.send(());
}

/// Chooses the next action. A sync that waiters or the interval need runs
/// before the next write: otherwise a steady stream of appends would keep
/// the queue non-empty and starve fdatasync. Each sync then covers one
/// write, which carries every append that queued up during the previous
/// sync (group commit).
fn next_step(shared: &Shared) -> Step {
    let state = shared.state.borrow();
    let closing = match state.status {
        Status::Open => false,
        Status::Closing => true,
        Status::Closed | Status::Failed(_) => return Step::Exit,
    };
    let durability = shared.config.durability;
    let unsynced = state.written_end > state.durable_end;
    let interval = Duration::from_millis(shared.config.flush_interval_ms);
    let interval_due = durability == Durability::Interval && state.last_sync.elapsed() >= interval;
    let sync_urgent =
        durability == Durability::Always || !state.durable_waiters.is_empty() || interval_due;
    if unsynced && sync_urgent {
        return Step::Sync;
    }
    if !state.queue.is_empty() {
        return Step::Write;
    }

    // The queue is empty: finish flushes and a close.
    let flushing = !state.flush_waiters.is_empty();
    if unsynced && (flushing || closing) {
        return Step::Sync;
    }
    if flushing {
        return Step::WriteIndexes;
    }
    if closing {
        return Step::Exit;
    }
    if unsynced && durability == Durability::Interval {
        return Step::Idle(Some(state.last_sync + interval));
    }
    Step::Idle(None)
}

/// Writes queued batches to the active segment in one vectored write,
/// rolling first if the next batch does not belong in it.
async fn write_queued(shared: &Shared) {
    if needs_roll(shared) {
        roll::roll(shared).await;
        return;
    }
    let (batches, file, path, position) = take_write_batches(shared);
    let buffers: Vec<Bytes> = batches.iter().map(|batch| batch.data.clone()).collect();
    // NOTE: these are buffered writes plus fdatasync, not O_DIRECT, because
    // O_DIRECT needs aligned buffers, which would force a copy of every batch
    // out of its receive buffer.
    let BufResult(result, _) = (&file).write_vectored_all_at(buffers, position).await;
    match result {
        Ok(()) => complete_write(shared, &batches, position),
        Err(error) => {
            let error = StorageError::io("write segment", &path, position, error);
            drop_unwritten(shared, &file, &path, position, error).await;
        }
    }
}

/// Returns true when the first queued batch must start a new segment: the
/// active one is not empty and is full, too old, or out of relative offsets.
fn needs_roll(shared: &Shared) -> bool {
    let state = shared.state.borrow();
    let active = state.active();
    let Some(first) = state.queue.front() else {
        return false;
    };
    if active.is_empty() {
        return false;
    }
    let segment_age_ms = now_ms().saturating_sub(active.created_ms);
    active.size_bytes + first.data.len() as u64 > shared.config.segment_bytes
        || segment_age_ms >= i64::try_from(shared.config.segment_ms).unwrap_or(i64::MAX)
        || first.last_offset - active.base_offset > u64::from(u32::MAX)
}

/// Pops the batches for one write: up to [`WRITE_BATCHES_MAX`] that all fit
/// in the active segment. Returns them with the file and write position.
fn take_write_batches(shared: &Shared) -> (Vec<QueuedBatch>, File, PathBuf, u64) {
    let mut state = shared.state.borrow_mut();
    let active = state.active();
    let (file, path, position, base_offset) = (
        active.file.clone(),
        active.log_path.clone(),
        active.size_bytes,
        active.base_offset,
    );
    let mut size_bytes = position;
    let mut batches = Vec::new();
    while let Some(next) = state.queue.front() {
        let fits = size_bytes + next.data.len() as u64 <= shared.config.segment_bytes
            && next.last_offset - base_offset <= u64::from(u32::MAX);
        // The first batch goes in regardless: `needs_roll` already decided
        // it belongs in this segment, even when it alone exceeds the size.
        if batches.len() == WRITE_BATCHES_MAX || (!batches.is_empty() && !fits) {
            break;
        }
        size_bytes += next.data.len() as u64;
        batches.push(state.queue.pop_front().expect("front exists"));
    }
    (batches, file, path, position)
}

fn complete_write(shared: &Shared, batches: &[QueuedBatch], mut position: u64) {
    let mut state = shared.state.borrow_mut();
    let index_interval_bytes = shared.config.index_interval_bytes;
    let mut written_bytes = 0;
    for batch in batches {
        let size_bytes = batch.data.len() as u64;
        state.active_mut().record_batch(
            WrittenBatch {
                position,
                base_offset: batch.base_offset,
                last_offset: batch.last_offset,
                max_timestamp_ms: batch.max_timestamp_ms,
                size_bytes,
            },
            index_interval_bytes,
        );
        position += size_bytes;
        written_bytes += size_bytes;
    }
    let last = batches.last().expect("a write has at least one batch");
    state.written_end = last.last_offset + 1;
    state.queued_bytes -= written_bytes;
    state.stats.write_count += 1;
    state.check_offsets();
    let written_end = state.written_end;
    state.written_waiters.complete_below(written_end);
    if shared.config.durability != Durability::Always {
        state.data_waiters.wake_all();
    }
}

/// Handles a failed write or roll: truncates the file back to `position`,
/// drops every batch not yet written, and fails their waiters. Written data
/// stays, and later appends reuse the dropped offsets.
pub(super) async fn drop_unwritten(
    shared: &Shared,
    file: &File,
    path: &std::path::Path,
    position: u64,
    error: StorageError,
) {
    let truncated = file.set_len(position).await;
    {
        let mut state = shared.state.borrow_mut();
        let written_end = state.written_end;
        let dropped_offsets = state.log_end_offset - written_end;
        state.queue.clear();
        state.queued_bytes = 0;
        state.tail.truncate_from(written_end);
        state.log_end_offset = written_end;
        state.stats.write_error_count += 1;
        state.written_waiters.fail_from(written_end, &error);
        state.durable_waiters.fail_from(written_end, &error);
        for sender in state.flush_waiters.drain(..) {
            let _ = sender.send(Err(error.clone()));
        }
        state.check_offsets();
        warn!(
            target: LOG_TARGET,
            topic = shared.topic,
            partition = shared.partition,
            %error,
            dropped_offsets,
            log_end_offset = written_end,
            "write failed; dropped the unwritten batches"
        );
    }
    if let Err(truncate_error) = truncated {
        let truncate_error = StorageError::io("truncate segment", path, position, truncate_error);
        fail(shared, truncate_error);
    }
}

/// Runs one fdatasync covering everything written so far and completes the
/// durable waiters it covers.
async fn sync(shared: &Shared) {
    // The closed segment's bytes come first in the log, so they must be
    // durable before anything after them counts as durable.
    roll::finish_close(shared).await;
    if matches!(shared.state.borrow().status, Status::Failed(_)) {
        return;
    }
    let (file, path, size_bytes, written_end) = {
        let state = shared.state.borrow();
        let active = state.active();
        (
            active.file.clone(),
            active.log_path.clone(),
            active.size_bytes,
            state.written_end,
        )
    };
    let sync_started = Instant::now();
    if let Err(error) = file.sync_data().await {
        fail(
            shared,
            StorageError::io("fdatasync segment", &path, size_bytes, error),
        );
        return;
    }
    crate::metrics::record_fsync(sync_started.elapsed());
    let mut state = shared.state.borrow_mut();
    state.active_mut().durable_bytes = size_bytes;
    state.stats.fsync_count += 1;
    state.last_sync = Instant::now();
    mark_durable(shared, &mut state, written_end);
}

pub(super) fn mark_durable(shared: &Shared, state: &mut State, durable_end: u64) {
    state.durable_end = state.durable_end.max(durable_end);
    state.check_offsets();
    let durable_end = state.durable_end;
    let completed = state.durable_waiters.complete_below(durable_end);
    state.stats.durable_wait_count += completed as u64;
    if shared.config.durability == Durability::Always {
        state.data_waiters.wake_all();
    }
}

/// Writes the active segment's indexes and completes the flushes that were
/// waiting for them. Index errors are returned to those flushes.
async fn write_active_indexes(shared: &Shared) {
    let (index_files, flush_waiters) = {
        let mut state = shared.state.borrow_mut();
        let flush_waiters = std::mem::take(&mut state.flush_waiters);
        (state.active().index_files(&shared.dir), flush_waiters)
    };
    let result = index_files.write().await;
    if let Err(error) = &result {
        warn!(target: LOG_TARGET, topic = shared.topic, partition = shared.partition, %error, "failed to write active segment indexes");
    }
    for sender in flush_waiters {
        let _ = sender.send(result.clone());
    }
}

/// Puts the partition in the failed state after an fdatasync or truncate
/// error: the page cache may have lost writes, so nothing more is written
/// and every waiter gets the error.
pub(super) fn fail(shared: &Shared, cause: StorageError) {
    let mut state = shared.state.borrow_mut();
    error!(
        target: LOG_TARGET,
        topic = shared.topic,
        partition = shared.partition,
        error = %cause,
        "partition log failed; it rejects writes until reopened"
    );
    state.status = Status::Failed(cause);
    let error = shared
        .unusable(&state.status)
        .expect("a failed partition is unusable");
    let written_end = state.written_end;
    state.queue.clear();
    state.queued_bytes = 0;
    state.tail.truncate_from(written_end);
    state.log_end_offset = written_end;
    state.written_waiters.fail_from(0, &error);
    state.durable_waiters.fail_from(0, &error);
    for sender in state.flush_waiters.drain(..) {
        let _ = sender.send(Err(error.clone()));
    }
    state.data_waiters.wake_all();
}

#[cfg(test)]
mod tests;
