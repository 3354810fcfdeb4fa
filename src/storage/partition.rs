//! [`Partition`]: the public face of one partition log. Appends and offset
//! queries are synchronous; waits, reads and maintenance are async and run
//! on the shard's compio runtime next to the writer task.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use futures_channel::oneshot;
use tracing::info;

use super::notify::{Completion, DataWaiters, Notify, OffsetWaiters};
use super::recovery::{self, LogId};
use super::segment::Segment;
use super::tail::{CachedBatch, TailCache};
use super::{writer, AppendInfo, Durability, LogConfig, PartitionStats, StorageError, LOG_TARGET};
use crate::protocol::batch;

mod read;

/// Maximum bytes appended but not yet written. Past it, appends are rejected
/// with [`StorageError::QueueFull`] until the writer catches up, which bounds
/// the memory a slow disk can pin.
pub const QUEUED_BYTES_MAX: u64 = 256 << 20;

/// One partition's log, owned by a single shard thread. Clones share the
/// same log.
///
/// Offsets move in this order, checked on every update:
/// `log_start_offset <= durable end <= written end <= log_end_offset`.
/// The high watermark (what readers see) is the durable end under
/// [`Durability::Always`] and the written end otherwise.
#[derive(Clone)]
pub struct Partition {
    pub(super) shared: Rc<Shared>,
}

/// State shared by the partition handles and the writer task.
pub(super) struct Shared {
    pub topic: String,
    pub partition: u32,
    pub dir: PathBuf,
    pub config: LogConfig,
    pub state: RefCell<State>,
    pub wake_writer: Rc<Notify>,
}

pub(super) enum Status {
    Open,
    /// `close` was called: the writer drains the queue and stops.
    Closing,
    Closed,
    /// An fdatasync or truncate failed, so the file contents are unknown.
    Failed(StorageError),
}

/// A batch appended but not yet written.
#[derive(Debug, Clone)]
pub(super) struct QueuedBatch {
    pub base_offset: u64,
    pub last_offset: u64,
    pub max_timestamp_ms: i64,
    pub data: Bytes,
}

pub(super) struct State {
    /// Oldest first; the last one is the active segment.
    pub segments: Vec<Segment>,
    pub log_start_offset: u64,
    pub log_end_offset: u64,
    pub written_end: u64,
    pub durable_end: u64,
    pub queue: VecDeque<QueuedBatch>,
    pub queued_bytes: u64,
    pub tail: TailCache,
    pub written_waiters: OffsetWaiters,
    pub durable_waiters: OffsetWaiters,
    pub flush_waiters: Vec<Completion>,
    pub data_waiters: DataWaiters,
    pub status: Status,
    pub last_sync: Instant,
    pub stats: PartitionStats,
    pub writer_exit: Option<oneshot::Receiver<()>>,
    /// The last closed segment while its fdatasync runs in the background.
    pub closing: Option<super::roll::ClosingSegment>,
}

impl Shared {
    pub fn id(&self) -> LogId<'_> {
        LogId {
            topic: &self.topic,
            partition: self.partition,
        }
    }

    /// Returns the error appends and waits get in a failed or closed state.
    pub fn unusable(&self, status: &Status) -> Option<StorageError> {
        match status {
            Status::Open => None,
            Status::Failed(cause) => Some(StorageError::Failed {
                topic: self.topic.clone(),
                partition: self.partition,
                cause: Box::new(cause.clone()),
            }),
            Status::Closing | Status::Closed => Some(StorageError::Closed {
                topic: self.topic.clone(),
                partition: self.partition,
            }),
        }
    }
}

impl Drop for Shared {
    /// Wakes the writer task so that it sees the partition is gone and ends.
    /// Batches still queued are lost; [`Partition::close`] writes them first.
    fn drop(&mut self) {
        self.wake_writer.notify();
    }
}

impl State {
    pub fn high_watermark(&self, durability: Durability) -> u64 {
        match durability {
            Durability::Always => self.durable_end,
            Durability::None | Durability::Interval => self.written_end,
        }
    }

    pub fn active(&self) -> &Segment {
        self.segments
            .last()
            .expect("a log always has an active segment")
    }

    pub fn active_mut(&mut self) -> &mut Segment {
        self.segments
            .last_mut()
            .expect("a log always has an active segment")
    }

    /// Asserts the offset order; a violation would expose unwritten data.
    pub fn check_offsets(&self) {
        assert!(
            self.log_start_offset <= self.durable_end
                && self.durable_end <= self.written_end
                && self.written_end <= self.log_end_offset,
            "offsets out of order: start {} durable {} written {} end {}",
            self.log_start_offset,
            self.durable_end,
            self.written_end,
            self.log_end_offset
        );
    }
}

impl Partition {
    /// Opens or creates the log in `dir`, running recovery, and spawns the
    /// partition's writer task on the current compio runtime.
    pub async fn open(
        dir: PathBuf,
        topic: &str,
        partition: u32,
        config: LogConfig,
    ) -> Result<Partition, StorageError> {
        config.check()?;
        let id = LogId { topic, partition };
        let segments = recovery::recover(&dir, id, &config).await?;
        let log_start_offset = segments[0].base_offset;
        let log_end_offset = segments
            .last()
            .expect("recovery returns a segment")
            .next_offset;
        let (exit_sender, exit_receiver) = oneshot::channel();
        let state = State {
            segments,
            log_start_offset,
            log_end_offset,
            written_end: log_end_offset,
            durable_end: log_end_offset,
            queue: VecDeque::new(),
            queued_bytes: 0,
            tail: TailCache::new(config.tail_cache_bytes),
            written_waiters: OffsetWaiters::default(),
            durable_waiters: OffsetWaiters::default(),
            flush_waiters: Vec::new(),
            data_waiters: DataWaiters::default(),
            status: Status::Open,
            last_sync: Instant::now(),
            stats: PartitionStats::default(),
            writer_exit: Some(exit_receiver),
            closing: None,
        };
        let shared = Rc::new(Shared {
            topic: topic.to_string(),
            partition,
            dir,
            config,
            state: RefCell::new(state),
            wake_writer: Rc::new(Notify::default()),
        });
        let task = writer::run(
            Rc::downgrade(&shared),
            shared.wake_writer.clone(),
            exit_sender,
        );
        compio::runtime::spawn(task).detach();
        info!(
            target: LOG_TARGET,
            topic,
            partition,
            dir = %shared.dir.display(),
            log_start_offset,
            log_end_offset,
            "opened partition log"
        );
        Ok(Partition { shared })
    }

    /// Validates every batch in `batches` (one or more concatenated; framing,
    /// magic 2, CRC-32C), assigns offsets by rewriting each base offset in
    /// place, keeps the bytes in the tail cache and queues them for the writer.
    /// All or nothing: on any invalid batch nothing is appended. Synchronous:
    /// appends from one caller keep their order. No copy of payload bytes.
    pub fn append(&self, mut batches: BytesMut) -> Result<AppendInfo, StorageError> {
        let shared = &self.shared;
        let mut state = shared.state.borrow_mut();
        if let Some(error) = shared.unusable(&state.status) {
            return Err(error);
        }
        if state.queued_bytes >= QUEUED_BYTES_MAX {
            return Err(StorageError::QueueFull {
                queued_bytes: state.queued_bytes,
                limit: QUEUED_BYTES_MAX,
            });
        }
        let checked = check_batches(&batches)?;
        let base_offset = state.log_end_offset;
        let total_bytes = batches.len();

        let mut next_offset = base_offset;
        let mut position = 0;
        while position < batches.len() {
            let info = batch::inspect(&batches[position..]).expect("checked above");
            batch::set_base_offset(&mut batches[position..], next_offset);
            next_offset += u64::from(info.last_offset_delta) + 1;
            position += info.size_bytes;
        }

        let mut bytes = batches.freeze();
        let mut batch_offset = base_offset;
        while !bytes.is_empty() {
            let info = batch::inspect(&bytes).expect("checked above");
            let data = bytes.split_to(info.size_bytes);
            let last_offset = batch_offset + u64::from(info.last_offset_delta);
            state.tail.push(CachedBatch {
                base_offset: batch_offset,
                last_offset,
                data: data.clone(),
            });
            state.queue.push_back(QueuedBatch {
                base_offset: batch_offset,
                last_offset,
                max_timestamp_ms: info.max_timestamp_ms,
                data,
            });
            batch_offset = last_offset + 1;
        }

        state.log_end_offset = next_offset;
        state.queued_bytes += total_bytes as u64;
        state.stats.appended_batches += checked.batch_count;
        state.stats.appended_bytes += total_bytes as u64;
        state.check_offsets();
        drop(state);
        shared.wake_writer.notify();
        Ok(AppendInfo {
            base_offset,
            last_offset: next_offset - 1,
            record_count: checked.record_count,
            bytes: total_bytes,
            max_timestamp_ms: checked.max_timestamp_ms,
        })
    }

    /// Resolves once every byte up to `last_offset` is written to the file
    /// (page cache), or with the write error (e.g. ENOSPC -> DiskFull).
    ///
    /// Call it right after [`Partition::append`], before the task awaits
    /// anything else: a failed write drops the queued batches and their
    /// offsets are assigned again, so only waiters registered before the
    /// failure learn that their batch was dropped.
    pub async fn wait_written(&self, last_offset: u64) -> Result<(), StorageError> {
        let receiver = {
            let mut state = self.shared.state.borrow_mut();
            if let Some(error) = self.shared.unusable(&state.status) {
                return Err(error);
            }
            if last_offset < state.written_end {
                return Ok(());
            }
            check_appended(&state, last_offset)?;
            state.written_waiters.add(last_offset)
        };
        self.await_completion(receiver).await
    }

    /// Resolves once every byte up to `last_offset` is fdatasync'd.
    /// Concurrent waiters share one fdatasync (group commit). The same
    /// ordering rule as for [`Partition::wait_written`] applies.
    pub async fn wait_durable(&self, last_offset: u64) -> Result<(), StorageError> {
        let receiver = {
            let mut state = self.shared.state.borrow_mut();
            if let Some(error) = self.shared.unusable(&state.status) {
                return Err(error);
            }
            if last_offset < state.durable_end {
                state.stats.durable_wait_count += 1;
                return Ok(());
            }
            check_appended(&state, last_offset)?;
            state.durable_waiters.add(last_offset)
        };
        self.shared.wake_writer.notify();
        self.await_completion(receiver).await
    }

    /// Resolves when the visible end moves past `offset` (long poll), or when
    /// the partition closes or fails; the caller adds the timeout.
    pub async fn wait_for_data(&self, offset: u64) {
        let receiver = {
            let mut state = self.shared.state.borrow_mut();
            let visible_end = state.high_watermark(self.shared.config.durability);
            if offset < visible_end || !matches!(state.status, Status::Open) {
                return;
            }
            state.data_waiters.add()
        };
        let _ = receiver.await;
    }

    pub fn log_start_offset(&self) -> u64 {
        self.shared.state.borrow().log_start_offset
    }

    /// Next offset to assign.
    pub fn log_end_offset(&self) -> u64 {
        self.shared.state.borrow().log_end_offset
    }

    /// End of what readers see: the durable end under
    /// [`Durability::Always`], the written end otherwise.
    pub fn high_watermark(&self) -> u64 {
        let state = self.shared.state.borrow();
        state.high_watermark(self.shared.config.durability)
    }

    /// Writes everything queued, fdatasyncs, writes the active indexes.
    pub async fn flush(&self) -> Result<(), StorageError> {
        let receiver = {
            let mut state = self.shared.state.borrow_mut();
            if let Some(error) = self.shared.unusable(&state.status) {
                return Err(error);
            }
            let (sender, receiver) = oneshot::channel();
            state.flush_waiters.push(sender);
            receiver
        };
        self.shared.wake_writer.notify();
        self.await_completion(receiver).await
    }

    /// Flushes, stops the writer task and closes the log. Other clones of
    /// this handle get [`StorageError::Closed`] afterwards.
    pub async fn close(self) -> Result<(), StorageError> {
        let flushed = self.flush().await;
        let exit = {
            let mut state = self.shared.state.borrow_mut();
            if matches!(state.status, Status::Open) {
                state.status = Status::Closing;
            }
            state.writer_exit.take()
        };
        self.shared.wake_writer.notify();
        if let Some(exit) = exit {
            let _ = exit.await;
        }
        let mut state = self.shared.state.borrow_mut();
        if !matches!(state.status, Status::Failed(_)) {
            state.status = Status::Closed;
        }
        state.data_waiters.wake_all();
        info!(
            target: LOG_TARGET,
            topic = self.shared.topic,
            partition = self.shared.partition,
            log_end_offset = state.log_end_offset,
            "closed partition log"
        );
        flushed
    }

    /// Offsets, sizes and counters.
    pub fn stats(&self) -> PartitionStats {
        let state = self.shared.state.borrow();
        PartitionStats {
            log_start_offset: state.log_start_offset,
            log_end_offset: state.log_end_offset,
            high_watermark: state.high_watermark(self.shared.config.durability),
            written_end_offset: state.written_end,
            durable_end_offset: state.durable_end,
            segment_count: state.segments.len(),
            size_bytes: state
                .segments
                .iter()
                .map(|segment| segment.size_bytes)
                .sum(),
            tail_cache_bytes: state.tail.size_bytes(),
            queued_bytes: state.queued_bytes,
            ..state.stats
        }
    }

    async fn await_completion(
        &self,
        receiver: oneshot::Receiver<Result<(), StorageError>>,
    ) -> Result<(), StorageError> {
        receiver.await.unwrap_or_else(|_| {
            Err(StorageError::Closed {
                topic: self.shared.topic.clone(),
                partition: self.shared.partition,
            })
        })
    }
}

/// Totals of a validated append.
struct CheckedBatches {
    batch_count: u64,
    record_count: u32,
    max_timestamp_ms: i64,
}

/// Validates every batch in `buf`, so that an append is all or nothing.
fn check_batches(buf: &[u8]) -> Result<CheckedBatches, StorageError> {
    if buf.is_empty() {
        let reason = batch::BatchError::Incomplete {
            need: batch::BATCH_HEADER_BYTES,
            have: 0,
        };
        return Err(StorageError::CorruptBatch {
            position: 0,
            reason,
        });
    }
    let mut checked = CheckedBatches {
        batch_count: 0,
        record_count: 0,
        max_timestamp_ms: i64::MIN,
    };
    let mut position = 0;
    while position < buf.len() {
        let info = batch::validate(&buf[position..])
            .map_err(|reason| StorageError::CorruptBatch { position, reason })?;
        checked.batch_count += 1;
        checked.record_count = checked.record_count.saturating_add(info.record_count);
        checked.max_timestamp_ms = checked.max_timestamp_ms.max(info.max_timestamp_ms);
        position += info.size_bytes;
    }
    Ok(checked)
}

/// Rejects waits for offsets that were never appended.
fn check_appended(state: &State, last_offset: u64) -> Result<(), StorageError> {
    if last_offset >= state.log_end_offset {
        return Err(StorageError::OffsetOutOfRange {
            offset: last_offset,
            log_start_offset: state.log_start_offset,
            log_end_offset: state.log_end_offset,
        });
    }
    Ok(())
}

#[cfg(test)]
pub(super) mod tests;
