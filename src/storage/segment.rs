//! One segment of a partition log: the `.log` file, its in-memory indexes
//! and the counters the writer updates after each write.
//!
//! Files are named by the segment's base offset, zero-padded to 20 digits
//! (`00000000000000000042.log`), so a directory listing sorts them in offset
//! order. A segment is owned by its partition's shard thread.

use std::path::{Path, PathBuf};

use bytes::BytesMut;
use compio::buf::{BufResult, IntoInner, IoBuf};
use compio::fs::{File, OpenOptions};
use compio::io::AsyncReadAtExt;

use super::index::{OffsetEntry, OffsetIndex, TimeEntry, TimeIndex};
use super::StorageError;

pub(crate) const LOG_SUFFIX: &str = "log";
pub(crate) const INDEX_SUFFIX: &str = "index";
pub(crate) const TIME_INDEX_SUFFIX: &str = "timeindex";

/// Returns the path of a segment file, e.g. `DIR/00000000000000000042.log`.
pub(crate) fn segment_path(dir: &Path, base_offset: u64, suffix: &str) -> PathBuf {
    dir.join(format!("{base_offset:020}.{suffix}"))
}

/// Returns the base offset encoded in a `.log` file name, or `None` for any
/// other name.
pub(crate) fn parse_log_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".log")?;
    if digits.len() != 20 || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// A batch the writer placed in a segment.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WrittenBatch {
    pub position: u64,
    pub base_offset: u64,
    pub last_offset: u64,
    pub max_timestamp_ms: i64,
    pub size_bytes: u64,
}

/// One segment. Only the last segment of a partition (the active one)
/// changes. Closed segments keep their indexes in memory for reads.
#[derive(Debug)]
pub(crate) struct Segment {
    pub base_offset: u64,
    pub log_path: PathBuf,
    pub file: File,
    /// Bytes written to the log file.
    pub size_bytes: u64,
    /// Bytes covered by the last successful fdatasync.
    pub durable_bytes: u64,
    /// One past the last offset written; `base_offset` while empty.
    pub next_offset: u64,
    /// Largest batch max timestamp, `i64::MIN` while empty.
    pub max_timestamp_ms: i64,
    /// Relative offset of the first batch that reached `max_timestamp_ms`.
    max_timestamp_relative_offset: u32,
    pub offset_index: OffsetIndex,
    pub time_index: TimeIndex,
    bytes_since_index_entry: u64,
    /// Wall-clock creation time in ms since the Unix epoch, for `segment_ms`.
    pub created_ms: i64,
    /// First offset that recovery found unreadable in this closed segment:
    /// the offsets from here to the next segment's base are lost.
    pub lost_from: Option<u64>,
}

impl Segment {
    /// Creates an empty segment file. Fails if one already exists.
    pub async fn create(dir: &Path, base_offset: u64, now_ms: i64) -> Result<Self, StorageError> {
        let log_path = segment_path(dir, base_offset, LOG_SUFFIX);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&log_path)
            .await
            .map_err(|error| StorageError::io("create segment", &log_path, 0, error))?;
        Ok(Self::new(base_offset, log_path, file, 0, now_ms))
    }

    /// Opens an existing segment file for reads and writes, without indexes.
    pub async fn open(dir: &Path, base_offset: u64) -> Result<Self, StorageError> {
        let log_path = segment_path(dir, base_offset, LOG_SUFFIX);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&log_path)
            .await
            .map_err(|error| StorageError::io("open segment", &log_path, 0, error))?;
        let metadata = file
            .metadata()
            .await
            .map_err(|error| StorageError::io("stat segment", &log_path, 0, error))?;
        let created_ms = metadata
            .created()
            .or_else(|_| metadata.modified())
            .map(system_time_ms)
            .unwrap_or_else(|_| super::now_ms());
        Ok(Self::new(
            base_offset,
            log_path,
            file,
            metadata.len(),
            created_ms,
        ))
    }

    fn new(base_offset: u64, log_path: PathBuf, file: File, size_bytes: u64, now_ms: i64) -> Self {
        Self {
            base_offset,
            log_path,
            file,
            size_bytes,
            durable_bytes: size_bytes,
            next_offset: base_offset,
            max_timestamp_ms: i64::MIN,
            max_timestamp_relative_offset: 0,
            offset_index: OffsetIndex::default(),
            time_index: TimeIndex::default(),
            bytes_since_index_entry: 0,
            created_ms: now_ms,
            lost_from: None,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.size_bytes == 0
    }

    /// Converts an absolute offset in this segment to a relative one.
    pub fn relative_offset(&self, offset: u64) -> u32 {
        let relative = offset - self.base_offset;
        u32::try_from(relative).expect("segments roll before 2^32 offsets")
    }

    /// Records a batch written at the end of the log: moves the size and the
    /// offsets, and adds index entries once `index_interval_bytes` have
    /// passed since the last entry.
    pub fn record_batch(&mut self, batch: WrittenBatch, index_interval_bytes: u32) {
        assert_eq!(
            batch.position, self.size_bytes,
            "batches are recorded in file order"
        );
        assert!(
            batch.base_offset >= self.next_offset,
            "offsets must increase"
        );
        let relative_offset = self.relative_offset(batch.base_offset);
        if batch.max_timestamp_ms > self.max_timestamp_ms {
            self.max_timestamp_ms = batch.max_timestamp_ms;
            self.max_timestamp_relative_offset = relative_offset;
        }
        if batch.position > 0 && self.bytes_since_index_entry >= u64::from(index_interval_bytes) {
            let position = u32::try_from(batch.position).expect("segments stay below 4 GiB");
            self.offset_index.push(OffsetEntry {
                relative_offset,
                position,
            });
            self.time_index.push(self.max_time_entry());
            self.bytes_since_index_entry = 0;
        }
        self.bytes_since_index_entry += batch.size_bytes;
        self.size_bytes += batch.size_bytes;
        self.next_offset = batch.last_offset + 1;
    }

    fn max_time_entry(&self) -> TimeEntry {
        TimeEntry {
            timestamp_ms: self.max_timestamp_ms,
            relative_offset: self.max_timestamp_relative_offset,
        }
    }

    /// Adds the segment's max timestamp to the time index, so that a closed
    /// segment's time index ends with its max timestamp.
    pub fn seal_time_index(&mut self) {
        if self.max_timestamp_ms != i64::MIN {
            self.time_index.push(self.max_time_entry());
        }
    }

    /// Encodes both index files. The active segment's time index gets its
    /// max timestamp entry in the file only, so later batches can still add
    /// entries in memory.
    pub fn index_files(&self, dir: &Path) -> IndexFiles {
        let mut time_index = self.time_index.clone();
        if self.max_timestamp_ms != i64::MIN {
            time_index.push(self.max_time_entry());
        }
        IndexFiles {
            offset_index: (
                segment_path(dir, self.base_offset, INDEX_SUFFIX),
                self.offset_index.encode(),
            ),
            time_index: (
                segment_path(dir, self.base_offset, TIME_INDEX_SUFFIX),
                time_index.encode(),
            ),
        }
    }

    /// Writes both index files whole, replacing older contents.
    pub async fn write_indexes(&self, dir: &Path) -> Result<(), StorageError> {
        self.index_files(dir).write().await
    }

    /// Forgets the indexes and counters so that a recovery scan can replay
    /// the log's batches through [`Segment::record_batch`].
    pub fn clear(&mut self) {
        self.offset_index = OffsetIndex::default();
        self.time_index = TimeIndex::default();
        self.size_bytes = 0;
        self.durable_bytes = 0;
        self.next_offset = self.base_offset;
        self.max_timestamp_ms = i64::MIN;
        self.max_timestamp_relative_offset = 0;
        self.bytes_since_index_entry = 0;
    }

    /// Sets indexes loaded from files for a closed segment.
    pub fn set_loaded_indexes(
        &mut self,
        offset_index: OffsetIndex,
        time_index: TimeIndex,
        next_offset: u64,
    ) {
        if let Some(max_timestamp_ms) = time_index.max_timestamp_ms() {
            self.max_timestamp_ms = max_timestamp_ms;
            self.max_timestamp_relative_offset =
                time_index.entries().last().map_or(0, |e| e.relative_offset);
        }
        self.offset_index = offset_index;
        self.time_index = time_index;
        self.next_offset = next_offset;
    }
}

/// Encoded index files of one segment, ready to write without borrowing it.
#[derive(Debug)]
pub(crate) struct IndexFiles {
    offset_index: (PathBuf, Vec<u8>),
    time_index: (PathBuf, Vec<u8>),
}

impl IndexFiles {
    /// Writes both files whole. A crash midway leaves a prefix of the
    /// entries or a stale file; recovery checks both and rebuilds if needed.
    pub async fn write(self) -> Result<(), StorageError> {
        for (path, contents) in [self.offset_index, self.time_index] {
            let BufResult(result, _) = compio::fs::write(&path, contents).await;
            result.map_err(|error| StorageError::io("write index", &path, 0, error))?;
        }
        Ok(())
    }
}

/// Reads exactly `len` bytes at `position` into a new buffer.
pub(crate) async fn read_exact_at(
    file: &File,
    path: &Path,
    position: u64,
    len: usize,
) -> Result<BytesMut, StorageError> {
    let buf = BytesMut::with_capacity(len);
    let BufResult(result, buf) = file.read_exact_at(buf.slice(..len), position).await;
    result.map_err(|error| StorageError::io("read segment", path, position, error))?;
    Ok(buf.into_inner())
}

fn system_time_ms(time: std::time::SystemTime) -> i64 {
    let since_epoch = time
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_names_round_trip() {
        let path = segment_path(Path::new("/data/t/0"), 42, LOG_SUFFIX);
        assert_eq!(path, Path::new("/data/t/0/00000000000000000042.log"));
        let name = path.file_name().unwrap().to_str().unwrap();
        assert_eq!(parse_log_name(name), Some(42));
        assert_eq!(parse_log_name("00000000000000000042.index"), None);
        assert_eq!(parse_log_name("42.log"), None);
        assert_eq!(parse_log_name("0000000000000000004x.log"), None);
    }
}
