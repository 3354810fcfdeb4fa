//! [`StorageError`]: every way a partition log operation can fail.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use thiserror::Error;

use crate::protocol::batch::BatchError;

/// Error from a partition log operation. I/O errors name the operation, the
/// file and the byte offset. The type is `Clone` (I/O errors are shared
/// behind an `Arc`) because one failed write or fdatasync is reported to
/// every waiter it covered.
#[derive(Debug, Clone, Error)]
#[non_exhaustive]
pub enum StorageError {
    #[error("{operation} failed on {} at byte {offset}: {source}", path.display())]
    Io {
        operation: &'static str,
        path: PathBuf,
        offset: u64,
        #[source]
        source: Arc<io::Error>,
    },
    /// The file system returned ENOSPC. Appends work again once space returns.
    #[error("disk full: {operation} failed on {} at byte {offset}", path.display())]
    DiskFull {
        operation: &'static str,
        path: PathBuf,
        offset: u64,
    },
    /// A produced batch failed validation. `position` is the batch's first
    /// byte within the appended buffer; positions inside `reason` count from
    /// that byte.
    #[error("invalid batch at byte {position} of the request: {reason}")]
    CorruptBatch {
        position: usize,
        #[source]
        reason: BatchError,
    },
    /// A read asked for an offset outside `log_start_offset..=log_end_offset`.
    #[error("offset {offset} is out of range: the log holds {log_start_offset}..{log_end_offset}")]
    OffsetOutOfRange {
        offset: u64,
        log_start_offset: u64,
        log_end_offset: u64,
    },
    /// An earlier fdatasync or truncate failed, so the file contents are
    /// unknown. The partition rejects appends until it is reopened.
    #[error("partition {topic}-{partition} failed earlier and rejects writes: {cause}")]
    Failed {
        topic: String,
        partition: u32,
        cause: Box<StorageError>,
    },
    #[error("partition {topic}-{partition} is closed")]
    Closed { topic: String, partition: u32 },
    #[error("invalid log config: {reason}")]
    InvalidConfig { reason: String },
    /// The writer queue contains `queued_bytes`, above `limit`, because the
    /// disk is slower than the producers. Retry once earlier writes complete.
    #[error("write queue full: {queued_bytes} bytes queued, limit {limit}")]
    QueueFull { queued_bytes: u64, limit: u64 },
    /// Recovery found a closed segment corrupt from `first` on, so offsets
    /// `first` up to `next` cannot be read.
    #[error(
        "offsets {first} to {} of {topic}-{partition} were lost to a corrupt segment (see the broker log); fetch from {next} to skip them",
        next - 1
    )]
    LostOffsets {
        topic: String,
        partition: u32,
        first: u64,
        next: u64,
    },
    /// A segment file contains bytes that are not a valid batch where one
    /// should start.
    #[error("corrupt log {} at byte {position}: {reason}", path.display())]
    CorruptLog {
        path: PathBuf,
        position: u64,
        #[source]
        reason: BatchError,
    },
    /// A file in the partition directory is not where the log expects it,
    /// for example a segment whose name is not its base offset.
    #[error("invalid log layout in {}: {reason}", path.display())]
    InvalidLayout { path: PathBuf, reason: String },
}

impl StorageError {
    /// Wraps an I/O error, turning ENOSPC into [`StorageError::DiskFull`].
    pub fn io(operation: &'static str, path: &Path, offset: u64, source: io::Error) -> Self {
        if source.raw_os_error() == Some(libc::ENOSPC) {
            return StorageError::DiskFull {
                operation,
                path: path.to_path_buf(),
                offset,
            };
        }
        StorageError::Io {
            operation,
            path: path.to_path_buf(),
            offset,
            source: Arc::new(source),
        }
    }

    /// Returns true for ENOSPC, which the shard maps to its own error code.
    pub fn is_disk_full(&self) -> bool {
        match self {
            StorageError::DiskFull { .. } => true,
            StorageError::Failed { cause, .. } => cause.is_disk_full(),
            _ => false,
        }
    }
}
