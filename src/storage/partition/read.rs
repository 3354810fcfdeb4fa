//! Reads by offset and lookups by timestamp. Recent batches come from the
//! tail cache; older ones are read back from the segment files.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use compio::fs::File;

use super::{Partition, State};
use crate::storage::scan::{BatchScanner, Scanned};
use crate::storage::{Durability, ReadResult, StorageError};

/// Smallest chunk read from a segment file at a time.
const READ_CHUNK_BYTES_MIN: usize = 64 << 10;
/// Largest chunk read at a time, unless one batch is larger.
const READ_CHUNK_BYTES_MAX: usize = 16 << 20;

/// Byte range of a segment file that a read scans.
struct FileRange {
    file: File,
    path: PathBuf,
    start: u64,
    /// Visible bytes of the segment: written, or synced under `Always`.
    end: u64,
    next_segment_base: Option<u64>,
    lost_from: Option<u64>,
}

impl Partition {
    /// Reads whole batches starting with the one containing `offset`, up to
    /// `max_bytes` but always at least one batch if any is visible; served
    /// from the tail cache (Bytes clones, no copy) or from the segment file.
    pub async fn read(&self, offset: u64, max_bytes: usize) -> Result<ReadResult, StorageError> {
        let durability = self.shared.config.durability;
        let (high_watermark, log_start_offset) = {
            let state = self.shared.state.borrow();
            if offset < state.log_start_offset || offset > state.log_end_offset {
                return Err(out_of_range(&state, offset));
            }
            let high_watermark = state.high_watermark(durability);
            let mut result = ReadResult {
                high_watermark,
                log_start_offset: state.log_start_offset,
                ..ReadResult::default()
            };
            if offset >= high_watermark {
                return Ok(result);
            }
            if let Some((chunks, size_bytes)) = state.tail.read(offset, max_bytes, high_watermark) {
                if !chunks.is_empty() {
                    result.chunks = chunks;
                    result.size_bytes = size_bytes;
                    return Ok(result);
                }
            }
            (high_watermark, state.log_start_offset)
        };
        let (chunks, size_bytes) = self.read_files(offset, max_bytes, high_watermark).await?;
        Ok(ReadResult {
            chunks,
            size_bytes,
            high_watermark,
            log_start_offset,
        })
    }

    /// Returns the base offset of the first batch whose max timestamp is at
    /// or after `ts_ms`, or `None` if no visible batch qualifies. Like
    /// Kafka's ListOffsets, but at batch rather than record granularity.
    pub async fn offset_for_timestamp(&self, ts_ms: i64) -> Result<Option<u64>, StorageError> {
        let mut cursor = {
            let state = self.shared.state.borrow();
            let segment = state
                .segments
                .iter()
                .find(|segment| segment.max_timestamp_ms >= ts_ms);
            let Some(segment) = segment else {
                return Ok(None);
            };
            let relative_offset = segment.time_index.scan_start(ts_ms);
            segment.base_offset + u64::from(relative_offset)
        };
        loop {
            let (range, high_watermark) = {
                let state = self.shared.state.borrow();
                let Some(range) = self.file_range(&state, cursor) else {
                    return Ok(None);
                };
                (range, state.high_watermark(self.shared.config.durability))
            };
            let chunk_bytes = READ_CHUNK_BYTES_MIN;
            let mut scanner = BatchScanner::new(
                &range.file,
                &range.path,
                range.start,
                range.end,
                chunk_bytes,
                false,
            );
            loop {
                match scanner.next().await? {
                    Scanned::Batch(found) if found.base_offset >= high_watermark => {
                        return Ok(None)
                    }
                    Scanned::Batch(found) if found.max_timestamp_ms >= ts_ms => {
                        return Ok(Some(found.base_offset));
                    }
                    Scanned::Batch(_) => {}
                    Scanned::End => break,
                    Scanned::Invalid { position, reason } => {
                        return Err(corrupt(&range.path, position, reason));
                    }
                }
            }
            match range.next_segment_base {
                Some(base) => cursor = base,
                None => return Ok(None),
            }
        }
    }

    /// Reads from the segment files, moving to the next segment when the one
    /// holding `offset` has no visible batch at or after it.
    async fn read_files(
        &self,
        offset: u64,
        max_bytes: usize,
        high_watermark: u64,
    ) -> Result<(Vec<Bytes>, usize), StorageError> {
        let chunk_bytes = max_bytes
            .saturating_add(self.shared.config.index_interval_bytes as usize)
            .clamp(READ_CHUNK_BYTES_MIN, READ_CHUNK_BYTES_MAX);
        let mut cursor = offset;
        loop {
            let range = {
                let state = self.shared.state.borrow();
                // Retention may have deleted the segment since `read` checked.
                self.file_range(&state, cursor)
                    .ok_or_else(|| out_of_range(&state, offset))?
            };
            let mut chunks = Vec::new();
            let mut size_bytes = 0;
            let mut scanner = BatchScanner::new(
                &range.file,
                &range.path,
                range.start,
                range.end,
                chunk_bytes,
                false,
            );
            loop {
                let found = match scanner.next().await? {
                    Scanned::Batch(found) => found,
                    Scanned::End => break,
                    Scanned::Invalid { position, reason } => {
                        return Err(corrupt(&range.path, position, reason));
                    }
                };
                if found.last_offset < offset {
                    continue;
                }
                let len = found.data.len();
                let fits = chunks.is_empty() || size_bytes + len <= max_bytes;
                if found.base_offset >= high_watermark || !fits {
                    break;
                }
                let joined = (chunks.last()).and_then(|last| scanner.join(last, &found.data));
                match joined {
                    Some(joined) => *chunks.last_mut().expect("joined to the last chunk") = joined,
                    None => chunks.push(found.data),
                }
                size_bytes += len;
            }
            match range.next_segment_base {
                Some(base) if chunks.is_empty() => {
                    // An empty read of a segment with a lost tail means
                    // `cursor` is in the lost range: every readable batch of
                    // the segment is below it.
                    if let Some(lost) = range.lost_from {
                        return Err(StorageError::LostOffsets {
                            topic: self.shared.topic.clone(),
                            partition: self.shared.partition,
                            first: cursor.max(lost),
                            next: base,
                        });
                    }
                    cursor = base;
                }
                _ => return Ok((chunks, size_bytes)),
            }
        }
    }

    /// Locates the segment holding `offset` and the indexed position to
    /// start scanning from. Returns `None` if `offset` is before the log.
    fn file_range(&self, state: &State, offset: u64) -> Option<FileRange> {
        let index = state
            .segments
            .partition_point(|segment| segment.base_offset <= offset)
            .checked_sub(1)?;
        let segment = &state.segments[index];
        let is_active = index + 1 == state.segments.len();
        let end = if is_active && self.shared.config.durability == Durability::Always {
            segment.durable_bytes
        } else {
            segment.size_bytes
        };
        let relative_offset = u32::try_from(offset - segment.base_offset).unwrap_or(u32::MAX);
        Some(FileRange {
            file: segment.file.clone(),
            path: segment.log_path.clone(),
            start: u64::from(segment.offset_index.lookup(relative_offset)).min(end),
            end,
            next_segment_base: state.segments.get(index + 1).map(|next| next.base_offset),
            lost_from: segment.lost_from,
        })
    }
}

fn out_of_range(state: &State, offset: u64) -> StorageError {
    StorageError::OffsetOutOfRange {
        offset,
        log_start_offset: state.log_start_offset,
        log_end_offset: state.log_end_offset,
    }
}

fn corrupt(path: &Path, position: u64, reason: crate::protocol::batch::BatchError) -> StorageError {
    StorageError::CorruptLog {
        path: path.to_path_buf(),
        position,
        reason,
    }
}
