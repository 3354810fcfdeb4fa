//! [`BatchScanner`]: reads a segment's log batch by batch in large chunks.
//! Recovery, index rebuilds, file reads and timestamp lookups share it.

use std::path::Path;

use bytes::Bytes;
use compio::fs::File;

use super::segment::read_exact_at;
use super::StorageError;
use crate::protocol::batch::{self, BatchError};

/// A batch found by the scanner. `data` shares the chunk buffer it was read
/// into, so keeping it costs no copy.
#[derive(Debug, Clone)]
pub(crate) struct ScannedBatch {
    pub position: u64,
    pub base_offset: u64,
    pub last_offset: u64,
    pub max_timestamp_ms: i64,
    pub data: Bytes,
}

/// Result of one scanner step.
#[derive(Debug)]
pub(crate) enum Scanned {
    Batch(ScannedBatch),
    /// The scan reached its end position exactly at a batch boundary.
    End,
    /// The bytes at `position` are not a whole valid batch. A batch that
    /// runs past the end position is reported as [`BatchError::Incomplete`].
    Invalid {
        position: u64,
        reason: BatchError,
    },
}

pub(crate) struct BatchScanner<'a> {
    file: &'a File,
    path: &'a Path,
    /// File position of `chunk[0]`.
    chunk_position: u64,
    chunk: Bytes,
    /// Next batch position within `chunk`.
    cursor: usize,
    end: u64,
    chunk_bytes: usize,
    verify_crc: bool,
}

impl<'a> BatchScanner<'a> {
    /// Scans `file` from `start` to `end`, reading `chunk_bytes` at a time
    /// (more when a batch is larger). With `verify_crc` each batch is fully
    /// validated; without it only its header is checked.
    pub fn new(
        file: &'a File,
        path: &'a Path,
        start: u64,
        end: u64,
        chunk_bytes: usize,
        verify_crc: bool,
    ) -> Self {
        Self {
            file,
            path,
            chunk_position: start,
            chunk: Bytes::new(),
            cursor: 0,
            end,
            chunk_bytes: chunk_bytes.max(batch::BATCH_HEADER_BYTES),
            verify_crc,
        }
    }

    /// Returns the next batch, the end, or the first invalid position.
    /// Errors are I/O failures only.
    pub async fn next(&mut self) -> Result<Scanned, StorageError> {
        loop {
            let position = self.chunk_position + self.cursor as u64;
            if position >= self.end {
                return Ok(Scanned::End);
            }
            let available = &self.chunk[self.cursor..];
            let checked = if self.verify_crc {
                batch::validate(available)
            } else {
                batch::inspect(available).and_then(|info| {
                    if available.len() < info.size_bytes {
                        return Err(BatchError::Incomplete {
                            need: info.size_bytes,
                            have: available.len(),
                        });
                    }
                    Ok(info)
                })
            };
            let info = match checked {
                Ok(info) => info,
                Err(BatchError::Incomplete { need, .. }) => {
                    let remaining = self.end - position;
                    if need as u64 > remaining {
                        let reason = BatchError::Incomplete {
                            need,
                            have: remaining as usize,
                        };
                        return Ok(Scanned::Invalid { position, reason });
                    }
                    self.refill(position, need).await?;
                    continue;
                }
                Err(reason) => return Ok(Scanned::Invalid { position, reason }),
            };
            let data = self.chunk.slice(self.cursor..self.cursor + info.size_bytes);
            self.cursor += info.size_bytes;
            let base_offset = batch::base_offset(&data);
            return Ok(Scanned::Batch(ScannedBatch {
                position,
                base_offset,
                // The base offset is outside the CRC, so a damaged one may be huge.
                last_offset: base_offset.saturating_add(u64::from(info.last_offset_delta)),
                max_timestamp_ms: info.max_timestamp_ms,
                data,
            }));
        }
    }

    /// Returns one buffer covering `first` and `second` when both are
    /// adjacent slices of the current chunk, so readers hand fewer buffers
    /// to the socket.
    pub fn join(&self, first: &Bytes, second: &Bytes) -> Option<Bytes> {
        let chunk_start = self.chunk.as_ptr() as usize;
        let chunk_end = chunk_start + self.chunk.len();
        let first_start = first.as_ptr() as usize;
        let second_start = second.as_ptr() as usize;
        let second_end = second_start + second.len();
        let adjacent = first_start + first.len() == second_start;
        if first_start < chunk_start || second_end > chunk_end || !adjacent {
            return None;
        }
        Some(
            self.chunk
                .slice(first_start - chunk_start..second_end - chunk_start),
        )
    }

    /// Reads a new chunk starting at `position` with at least `need` bytes.
    async fn refill(&mut self, position: u64, need: usize) -> Result<(), StorageError> {
        let remaining = usize::try_from(self.end - position).unwrap_or(usize::MAX);
        let len = self.chunk_bytes.max(need).min(remaining);
        let chunk = read_exact_at(self.file, self.path, position, len).await?;
        self.chunk = chunk.freeze();
        self.chunk_position = position;
        self.cursor = 0;
        Ok(())
    }
}
