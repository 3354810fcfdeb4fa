//! Partition logs: append-only segment files of Kafka RecordBatch v2 bytes,
//! with sparse offset and time indexes, crash recovery, retention and
//! per-topic durability.
//!
//! A [`Partition`] is owned by one shard thread and is `!Send`. Its state
//! lives behind an `Rc<RefCell<..>>`, and one writer task on the same compio
//! runtime does every file write, roll and fdatasync. Appends are
//! synchronous: they validate the batches, assign offsets and queue the
//! bytes. Reads are served from a memory tail cache, or from the segment
//! files for older data.
//!
//! Directory layout, one folder per partition (`DATA/TOPIC/PARTITION/`):
//!
//! ```text
//! 00000000000000000000.log        batches as produced, base offsets rewritten
//! 00000000000000000000.index      sparse offset index
//! 00000000000000000000.timeindex  sparse time index
//! 00000000000000052311.log        next segment, named by its base offset
//! ```

mod error;
mod index;
mod notify;
mod partition;
mod recovery;
mod retention;
mod roll;
mod scan;
mod segment;
mod tail;
mod writer;

use serde::{Deserialize, Serialize};

pub use error::StorageError;
pub use partition::Partition;

/// When an appended batch counts as safe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    /// Written to the page cache by the writer task; fdatasync only at roll,
    /// flush and close.
    None,
    /// Like `None`, plus an fdatasync every `flush_interval_ms`.
    Interval,
    /// Every write is followed by an fdatasync shared by all the appends it
    /// covers (group commit). Readers see only synced batches.
    Always,
}

/// Settings of one partition log. Units are in the names. Fields missing
/// from a config file take their [`Default`] values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LogConfig {
    /// A segment rolls before a batch would take it past this size.
    pub segment_bytes: u64,
    /// A segment rolls at the first write after it is this old.
    pub segment_ms: u64,
    /// Bytes of log between two index entries.
    pub index_interval_bytes: u32,
    /// Closed segments whose newest batch is older than this are deleted.
    pub retention_ms: Option<u64>,
    /// Oldest closed segments are deleted while the log stays this large.
    pub retention_bytes: Option<u64>,
    pub durability: Durability,
    /// Interval between fdatasyncs under [`Durability::Interval`].
    pub flush_interval_ms: u64,
    /// Newest bytes kept in memory for fetches.
    pub tail_cache_bytes: u64,
}

impl Default for LogConfig {
    /// Kafka's defaults where Kafka has the setting (1 GiB segments, 7 days
    /// of time-based roll and retention, an index entry every 4 KiB).
    fn default() -> Self {
        const WEEK_MS: u64 = 7 * 24 * 3600 * 1000;
        Self {
            segment_bytes: 1 << 30,
            segment_ms: WEEK_MS,
            index_interval_bytes: 4096,
            retention_ms: Some(WEEK_MS),
            retention_bytes: None,
            durability: Durability::Interval,
            flush_interval_ms: 1000,
            tail_cache_bytes: 64 << 20,
        }
    }
}

impl LogConfig {
    /// Checks the limits the file formats impose: index positions are u32,
    /// so segments stay below 4 GiB.
    pub fn check(&self) -> Result<(), StorageError> {
        let invalid = |reason: String| Err(StorageError::InvalidConfig { reason });
        if self.segment_bytes == 0 || self.segment_bytes > u64::from(u32::MAX) {
            return invalid(format!(
                "segment_bytes is {}, expected 1..={}",
                self.segment_bytes,
                u32::MAX
            ));
        }
        if self.index_interval_bytes == 0 {
            return invalid("index_interval_bytes is 0, expected at least 1".to_string());
        }
        if self.durability == Durability::Interval && self.flush_interval_ms == 0 {
            return invalid("flush_interval_ms is 0, expected at least 1".to_string());
        }
        Ok(())
    }
}

/// Offsets and size of one successful [`Partition::append`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendInfo {
    pub base_offset: u64,
    pub last_offset: u64,
    pub record_count: u32,
    pub bytes: usize,
    pub max_timestamp_ms: i64,
}

/// Whole batches returned by [`Partition::read`], as stored.
#[derive(Debug, Clone, Default)]
pub struct ReadResult {
    /// Whole batches, one or more per chunk, sharing the cache or read buffers.
    pub chunks: Vec<bytes::Bytes>,
    pub size_bytes: usize,
    pub high_watermark: u64,
    pub log_start_offset: u64,
}

/// Segments and bytes deleted by [`Partition::enforce_retention`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetentionReport {
    pub segments_deleted: usize,
    pub bytes_deleted: u64,
    /// Log start offset after the deletion.
    pub log_start_offset: u64,
}

/// Counters and offsets of one partition, for metrics and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PartitionStats {
    pub log_start_offset: u64,
    pub log_end_offset: u64,
    pub high_watermark: u64,
    /// One past the last offset written to the file.
    pub written_end_offset: u64,
    /// One past the last offset covered by an fdatasync.
    pub durable_end_offset: u64,
    pub segment_count: usize,
    /// Bytes written to segment files, all segments.
    pub size_bytes: u64,
    pub tail_cache_bytes: u64,
    /// Bytes appended but not yet written.
    pub queued_bytes: u64,
    pub appended_batches: u64,
    pub appended_bytes: u64,
    /// Vectored writes issued by the writer task.
    pub write_count: u64,
    pub write_error_count: u64,
    /// fdatasync calls on the active segment, roll included.
    pub fsync_count: u64,
    /// `wait_durable` calls that completed successfully.
    pub durable_wait_count: u64,
    pub segments_rolled: u64,
}

/// Tracing target of every storage log line.
pub(crate) const LOG_TARGET: &str = "ringbus::storage";

/// Returns the wall-clock time in ms since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
}
