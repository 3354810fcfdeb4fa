//! Segment rolls. The new segment takes writes at once, while the closed
//! segment's fdatasync and index files run in a background task. Syncing a
//! full 1 GiB segment took about 450 ms on the benchmark machine, and
//! appends must not wait for it.
//!
//! At most one closed segment is unsynced at a time: a roll, a sync and
//! the writer's exit first wait for the previous close to finish. So after a
//! crash only the segment before the active one can have lost bytes, and
//! recovery checks it when its index files, written after its fdatasync,
//! are missing or invalid.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use compio::fs::File;
use futures_channel::oneshot;
use tracing::{info, warn};

use super::partition::{Shared, Status};
use super::segment::{IndexFiles, Segment};
use super::writer::{drop_unwritten, fail, mark_durable};
use super::{now_ms, StorageError, LOG_TARGET};

/// A closed segment whose fdatasync runs in the background.
pub(super) struct ClosingSegment {
    base_offset: u64,
    /// Offset after the segment's last batch: the durable end once synced.
    end_offset: u64,
    /// Time the fdatasync took, or its error.
    done: oneshot::Receiver<Result<Duration, StorageError>>,
}

/// Starts a new segment at the written end and hands the old one to a
/// background fdatasync, after the previous close has finished.
pub(super) async fn roll(shared: &Shared) {
    finish_close(shared).await;
    if matches!(shared.state.borrow().status, Status::Failed(_)) {
        return;
    }
    let (old_file, old_path, old_size, old_base, index_files, written_end) = {
        let mut state = shared.state.borrow_mut();
        let active = state.active_mut();
        active.seal_time_index();
        let index_files = active.index_files(&shared.dir);
        let active = state.active();
        (
            active.file.clone(),
            active.log_path.clone(),
            active.size_bytes,
            active.base_offset,
            index_files,
            state.written_end,
        )
    };
    let new_segment = match create_segment(shared, written_end).await {
        Ok(segment) => segment,
        Err(error) => {
            // Nothing was written to the new segment, so the old one keeps
            // its size and the queued batches are dropped like a failed write.
            drop_unwritten(shared, &old_file, &old_path, old_size, error).await;
            return;
        }
    };
    let done = spawn_close(shared, old_file, old_path.clone(), old_size, index_files);
    let mut state = shared.state.borrow_mut();
    state.segments.push(new_segment);
    state.stats.segments_rolled += 1;
    state.closing = Some(ClosingSegment {
        base_offset: old_base,
        end_offset: written_end,
        done,
    });
    info!(
        target: LOG_TARGET,
        topic = shared.topic,
        partition = shared.partition,
        closed_segment = %old_path.display(),
        base_offset = written_end,
        "rolled segment"
    );
}

/// Syncs the closed segment's log, then writes its index files, in a task of
/// its own. Wakes the writer when done.
fn spawn_close(
    shared: &Shared,
    file: File,
    path: PathBuf,
    size_bytes: u64,
    index_files: IndexFiles,
) -> oneshot::Receiver<Result<Duration, StorageError>> {
    let (sender, receiver) = oneshot::channel();
    let wake = shared.wake_writer.clone();
    let (topic, partition) = (shared.topic.clone(), shared.partition);
    compio::runtime::spawn(async move {
        let started = Instant::now();
        let synced = file
            .sync_data()
            .await
            .map(|()| started.elapsed())
            .map_err(|error| StorageError::io("fdatasync segment", &path, size_bytes, error));
        // The index files follow the fdatasync, so valid ones on disk mean
        // the log was synced; recovery relies on that order.
        if synced.is_ok() {
            if let Err(error) = index_files.write().await {
                // Recovery rebuilds indexes that are missing or do not match the log.
                warn!(target: LOG_TARGET, topic, partition, %error, "failed to write indexes of a closed segment");
            }
        }
        let _ = sender.send(synced);
        wake.notify();
    })
    .detach();
    receiver
}

/// Waits for the background close, if one runs, and applies its result.
pub(super) async fn finish_close(shared: &Shared) {
    let Some(closing) = shared.state.borrow_mut().closing.take() else {
        return;
    };
    let result = closing
        .done
        .await
        .unwrap_or_else(|_| Err(task_lost(shared)));
    apply_close(shared, closing.base_offset, closing.end_offset, result);
}

/// Applies the background close's result if it has arrived, without waiting.
pub(super) fn poll_close(shared: &Shared) {
    let mut state = shared.state.borrow_mut();
    let Some(closing) = state.closing.as_mut() else {
        return;
    };
    let result = match closing.done.try_recv() {
        Ok(None) => return,
        Ok(Some(result)) => result,
        Err(_) => Err(task_lost(shared)),
    };
    let closing = state.closing.take().expect("checked above");
    drop(state);
    apply_close(shared, closing.base_offset, closing.end_offset, result);
}

/// Error for a background close whose task ended before sending a result,
/// as when its runtime shuts down.
fn task_lost(shared: &Shared) -> StorageError {
    let error = std::io::Error::other("the sync task ended without a result");
    StorageError::io("fdatasync segment", &shared.dir, 0, error)
}

fn apply_close(
    shared: &Shared,
    base_offset: u64,
    end_offset: u64,
    result: Result<Duration, StorageError>,
) {
    let elapsed = match result {
        Ok(elapsed) => elapsed,
        Err(error) => return fail(shared, error),
    };
    crate::metrics::record_fsync(elapsed);
    let mut state = shared.state.borrow_mut();
    // Retention may have deleted the segment meanwhile.
    if let Some(segment) = state
        .segments
        .iter_mut()
        .find(|segment| segment.base_offset == base_offset)
    {
        segment.durable_bytes = segment.size_bytes;
    }
    state.stats.fsync_count += 1;
    mark_durable(shared, &mut state, end_offset);
}

/// Creates the next segment file and fdatasyncs the directory, so that the
/// new file survives a crash.
async fn create_segment(shared: &Shared, base_offset: u64) -> Result<Segment, StorageError> {
    let segment = Segment::create(&shared.dir, base_offset, now_ms()).await?;
    let dir = File::open(&shared.dir)
        .await
        .map_err(|error| StorageError::io("open directory", &shared.dir, 0, error))?;
    dir.sync_all()
        .await
        .map_err(|error| StorageError::io("fsync directory", &shared.dir, 0, error))?;
    Ok(segment)
}
