//! Retention: which closed segments are past `retention_ms` or
//! `retention_bytes`, and deleting their files.
//!
//! Only whole closed segments are deleted, oldest first, so the log start
//! offset moves to the base offset of the oldest segment left.

use std::io;
use std::path::Path;

use tracing::{info, warn};

use super::partition::Partition;
use super::recovery::LogId;
use super::segment::{segment_path, Segment, INDEX_SUFFIX, LOG_SUFFIX, TIME_INDEX_SUFFIX};
use super::{LogConfig, RetentionReport, StorageError, LOG_TARGET};

/// Returns how many of the oldest segments retention deletes. The active
/// (last) segment is never counted.
pub(crate) fn expired_segment_count(
    segments: &[Segment],
    config: &LogConfig,
    now_ms: i64,
) -> usize {
    let closed = &segments[..segments.len().saturating_sub(1)];
    let by_time = config.retention_ms.map_or(0, |retention_ms| {
        let cutoff_ms = now_ms.saturating_sub(i64::try_from(retention_ms).unwrap_or(i64::MAX));
        closed
            .iter()
            .take_while(|segment| newest_timestamp_ms(segment) < cutoff_ms)
            .count()
    });
    let by_size = config.retention_bytes.map_or(0, |retention_bytes| {
        // Delete while what remains is still at least `retention_bytes`,
        // as Kafka does, so the log never shrinks below the limit.
        let mut remaining: u64 = segments.iter().map(|segment| segment.size_bytes).sum();
        closed
            .iter()
            .take_while(|segment| {
                let keep = remaining - segment.size_bytes < retention_bytes;
                if !keep {
                    remaining -= segment.size_bytes;
                }
                !keep
            })
            .count()
    });
    by_time.max(by_size)
}

/// Returns the time retention compares: the segment's max batch timestamp,
/// or its creation time if no batch carried a timestamp.
fn newest_timestamp_ms(segment: &Segment) -> i64 {
    if segment.max_timestamp_ms >= 0 {
        segment.max_timestamp_ms
    } else {
        segment.created_ms
    }
}

/// Deletes a removed segment's files. A missing index file is fine, since
/// indexes are rebuilt when absent.
pub(crate) async fn delete_files(
    dir: &Path,
    segment: &Segment,
    id: LogId<'_>,
) -> Result<(), StorageError> {
    for suffix in [LOG_SUFFIX, INDEX_SUFFIX, TIME_INDEX_SUFFIX] {
        let path = segment_path(dir, segment.base_offset, suffix);
        match compio::fs::remove_file(&path).await {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::NotFound && suffix != LOG_SUFFIX => {}
            Err(error) => {
                warn!(target: LOG_TARGET, topic = id.topic, partition = id.partition, path = %path.display(), %error, "failed to delete segment file");
                return Err(StorageError::io("delete segment file", &path, 0, error));
            }
        }
    }
    info!(
        target: LOG_TARGET,
        topic = id.topic,
        partition = id.partition,
        base_offset = segment.base_offset,
        size_bytes = segment.size_bytes,
        "deleted segment past retention"
    );
    Ok(())
}

impl Partition {
    /// Deletes whole closed segments past retention_ms / retention_bytes and
    /// moves the log start offset; returns what it removed.
    pub async fn enforce_retention(&self, now_ms: i64) -> Result<RetentionReport, StorageError> {
        let shared = &self.shared;
        let (removed, log_start_offset) = {
            let mut state = shared.state.borrow_mut();
            let count = expired_segment_count(&state.segments, &shared.config, now_ms);
            let removed: Vec<Segment> = state.segments.drain(..count).collect();
            let log_start_offset = state.segments[0].base_offset;
            assert!(
                log_start_offset >= state.log_start_offset,
                "log start offset moved back"
            );
            state.log_start_offset = log_start_offset;
            state.tail.drop_before(log_start_offset);
            state.check_offsets();
            (removed, log_start_offset)
        };
        let mut report = RetentionReport {
            log_start_offset,
            ..RetentionReport::default()
        };
        for segment in &removed {
            delete_files(&shared.dir, segment, shared.id()).await?;
            report.segments_deleted += 1;
            report.bytes_deleted += segment.size_bytes;
        }
        Ok(report)
    }
}
