//! Opening a partition directory: finds the segments, loads or rebuilds
//! their indexes, and truncates a torn or corrupt tail of the last segment.
//!
//! Closed segments are fdatasync'd after they roll, before their index
//! files are written, and only the last closed segment can still be
//! unsynced (see [`super::roll`]). So the active segment is checked batch by
//! batch (length, magic, CRC-32C, offsets), and so is the segment before it
//! when its index files do not load. Every closed segment's index files are
//! trusted only if the batches after the last offset index entry run whole
//! to the next segment's base offset. A damaged tail there is truncated and
//! the later segment removed, because its offsets no longer follow. The
//! active segment's indexes are always rebuilt from the scan, because they
//! were last written at a roll, flush or close and may be stale.

use std::io;
use std::path::Path;

use tracing::{debug, error, info, warn};

use super::index::{OffsetIndex, TimeIndex};
use super::scan::{BatchScanner, Scanned};
use super::segment::{
    parse_log_name, segment_path, Segment, WrittenBatch, INDEX_SUFFIX, LOG_SUFFIX,
    TIME_INDEX_SUFFIX,
};
use super::{now_ms, LogConfig, StorageError, LOG_TARGET};

/// Bytes read at a time while scanning a log.
const SCAN_CHUNK_BYTES: usize = 1 << 20;

/// Names a partition in log lines.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LogId<'a> {
    pub topic: &'a str,
    pub partition: u32,
}

/// Opens every segment in `dir`, creating the directory and a first empty
/// segment if needed. Returns the segments oldest first.
pub(crate) async fn recover(
    dir: &Path,
    id: LogId<'_>,
    config: &LogConfig,
) -> Result<Vec<Segment>, StorageError> {
    compio::fs::create_dir_all(dir)
        .await
        .map_err(|error| StorageError::io("create directory", dir, 0, error))?;
    let bases = list_segments(dir)?;
    let Some((&last_base, closed_bases)) = bases.split_last() else {
        return Ok(vec![Segment::create(dir, 0, now_ms()).await?]);
    };
    let mut segments = Vec::with_capacity(bases.len());
    for (i, &base) in closed_bases.iter().enumerate() {
        let next_base = bases[i + 1];
        let mut segment = Segment::open(dir, base).await?;
        if i + 1 == closed_bases.len() {
            if let Some((position, reason)) =
                load_previous(dir, &mut segment, next_base, id, config).await?
            {
                // The previous segment lost its tail: it becomes the active one.
                truncate_previous(&mut segment, position, &reason, next_base, id).await?;
                remove_segment(dir, last_base, id)?;
                segments.push(segment);
                return Ok(segments);
            }
        }
        if i + 1 < closed_bases.len() {
            load_closed(dir, &mut segment, next_base, id, config).await?;
        }
        segments.push(segment);
    }
    let mut active = Segment::open(dir, last_base).await?;
    recover_active(&mut active, id, config).await?;
    segments.push(active);
    Ok(segments)
}

/// Returns the base offsets of the `.log` files in `dir`, sorted.
fn list_segments(dir: &Path) -> Result<Vec<u64>, StorageError> {
    // NOTE: compio has no directory listing; this runs once per open.
    let entries = std::fs::read_dir(dir)
        .map_err(|error| StorageError::io("list directory", dir, 0, error))?;
    let mut bases = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|error| StorageError::io("list directory", dir, 0, error))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(base) = parse_log_name(name) {
            bases.push(base);
        } else if name.ends_with(".log") {
            warn!(target: LOG_TARGET, dir = %dir.display(), file = name, "ignoring log file with an invalid name");
        }
    }
    bases.sort_unstable();
    Ok(bases)
}

/// Loads the segment before the active one. Returns the valid length and
/// the reason when its log has a damaged batch or ends before `next_base`,
/// as when its fdatasync after the roll did not finish before a crash.
async fn load_previous(
    dir: &Path,
    segment: &mut Segment,
    next_base: u64,
    id: LogId<'_>,
    config: &LogConfig,
) -> Result<Option<(u64, String)>, StorageError> {
    let reason = match load_indexes(dir, segment, next_base, config).await {
        Ok((offset_index, time_index)) => {
            segment.set_loaded_indexes(offset_index, time_index, next_base);
            return Ok(None);
        }
        Err(reason) => reason,
    };
    info!(
        target: LOG_TARGET,
        topic = id.topic,
        partition = id.partition,
        segment = %segment.log_path.display(),
        %reason,
        "checking the last closed segment batch by batch"
    );
    if let Some((position, reason)) = replay(segment, config).await? {
        if segment.next_offset != next_base {
            return Ok(Some((position, reason)));
        }
        // Every offset up to the next segment is here: only bytes after the
        // last batch are bad, and cutting them loses nothing.
        warn!(
            target: LOG_TARGET,
            topic = id.topic,
            partition = id.partition,
            segment = %segment.log_path.display(),
            position,
            %reason,
            "cutting bytes after the last batch of the last closed segment"
        );
        cut_and_sync(segment, position).await?;
    }
    if segment.next_offset != next_base {
        let reason = format!(
            "log ends at offset {}, before the next segment's base {next_base}",
            segment.next_offset
        );
        return Ok(Some((segment.size_bytes, reason)));
    }
    segment.seal_time_index();
    segment.write_indexes(dir).await?;
    Ok(None)
}

/// Cuts the segment before the active one at `position`, where its valid
/// batches end, so that it can be the active segment again. Its indexes
/// already cover only the valid batches, from the replay that found the
/// damage. Offsets from its valid end up to `next_base` are lost.
async fn truncate_previous(
    segment: &mut Segment,
    position: u64,
    reason: &str,
    next_base: u64,
    id: LogId<'_>,
) -> Result<(), StorageError> {
    let file_size = std::fs::metadata(&segment.log_path)
        .map_err(|error| StorageError::io("stat segment", &segment.log_path, 0, error))?
        .len();
    warn!(
        target: LOG_TARGET,
        topic = id.topic,
        partition = id.partition,
        segment = %segment.log_path.display(),
        position,
        dropped_bytes = file_size.saturating_sub(position),
        first_lost_offset = segment.next_offset,
        next_segment_base = next_base,
        %reason,
        "truncating the damaged tail of the last closed segment"
    );
    cut_and_sync(segment, position).await
}

/// Truncates the segment's log to `position` and syncs it, so every byte
/// left counts as durable.
async fn cut_and_sync(segment: &mut Segment, position: u64) -> Result<(), StorageError> {
    let path = &segment.log_path;
    segment
        .file
        .set_len(position)
        .await
        .map_err(|error| StorageError::io("truncate segment", path, position, error))?;
    segment
        .file
        .sync_data()
        .await
        .map_err(|error| StorageError::io("fdatasync segment", path, position, error))?;
    segment.durable_bytes = segment.size_bytes;
    Ok(())
}

/// Deletes the log and index files of the segment at `base_offset`.
fn remove_segment(dir: &Path, base_offset: u64, id: LogId<'_>) -> Result<(), StorageError> {
    for suffix in [LOG_SUFFIX, INDEX_SUFFIX, TIME_INDEX_SUFFIX] {
        let path = segment_path(dir, base_offset, suffix);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => return Err(StorageError::io("remove segment", &path, 0, error)),
        }
    }
    warn!(
        target: LOG_TARGET,
        topic = id.topic,
        partition = id.partition,
        base_offset,
        "removed the active segment because the segment before it lost its tail"
    );
    Ok(())
}

/// Loads a closed segment's index files, or rebuilds and rewrites them.
async fn load_closed(
    dir: &Path,
    segment: &mut Segment,
    next_base: u64,
    id: LogId<'_>,
    config: &LogConfig,
) -> Result<(), StorageError> {
    match load_indexes(dir, segment, next_base, config).await {
        Ok((offset_index, time_index)) => {
            segment.set_loaded_indexes(offset_index, time_index, next_base);
            Ok(())
        }
        Err(reason) => {
            warn!(
                target: LOG_TARGET,
                topic = id.topic,
                partition = id.partition,
                segment = %segment.log_path.display(),
                %reason,
                "rebuilding segment indexes from the log"
            );
            rebuild_closed(segment, id, config).await?;
            if segment.next_offset < next_base {
                segment.lost_from = Some(segment.next_offset);
            }
            segment.next_offset = segment.next_offset.max(next_base);
            segment.write_indexes(dir).await
        }
    }
}

/// Reads and checks both index files. The error is a reason to rebuild.
async fn load_indexes(
    dir: &Path,
    segment: &Segment,
    next_base: u64,
    config: &LogConfig,
) -> Result<(OffsetIndex, TimeIndex), String> {
    let index_path = segment_path(dir, segment.base_offset, INDEX_SUFFIX);
    let time_index_path = segment_path(dir, segment.base_offset, TIME_INDEX_SUFFIX);
    let offset_bytes = read_index_file(&index_path).await?;
    let time_bytes = read_index_file(&time_index_path).await?;
    let offset_index = OffsetIndex::decode(&offset_bytes, segment.size_bytes)
        .map_err(|reason| format!("{}: {reason}", index_path.display()))?;
    let offset_span = next_base - segment.base_offset;
    let time_index = TimeIndex::decode(&time_bytes, offset_span)
        .map_err(|reason| format!("{}: {reason}", time_index_path.display()))?;

    // A sealed time index always contains the max timestamp of a non-empty
    // segment, so an empty file there means a write was cut short. An empty
    // offset index is checked by `check_tail`.
    if segment.size_bytes > 0 && time_index.entries().is_empty() {
        return Err("time index file is empty for a non-empty log".to_string());
    }
    check_tail(
        segment,
        &offset_index,
        next_base,
        config.index_interval_bytes,
    )
    .await?;
    Ok((offset_index, time_index))
}

async fn read_index_file(path: &Path) -> Result<Vec<u8>, String> {
    match compio::fs::read(path).await {
        Ok(bytes) => Ok(bytes),
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            Err(format!("{} is missing", path.display()))
        }
        Err(error) => Err(format!("{} could not be read: {error}", path.display())),
    }
}

/// Checks the log from the last offset index entry to its end: every batch
/// there must be whole and valid, the first must start at the entry, and
/// the last must end just before `next_base`. This catches a tail cut off
/// after the indexes were written, and reads at most one index interval
/// plus a batch. With no entry the scan starts at byte 0, and a batch that
/// starts `index_interval_bytes` or more into the log shows the empty index
/// is damaged: the writer would have indexed it.
async fn check_tail(
    segment: &Segment,
    offset_index: &OffsetIndex,
    next_base: u64,
    index_interval_bytes: u32,
) -> Result<(), String> {
    let indexed = !offset_index.entries().is_empty();
    let (position, mut expected) = match offset_index.entries().last() {
        Some(entry) => (
            u64::from(entry.position),
            segment.base_offset + u64::from(entry.relative_offset),
        ),
        None => (0, segment.base_offset),
    };
    let (file, path) = (&segment.file, &segment.log_path);
    let mut scanner = BatchScanner::new(
        file,
        path,
        position,
        segment.size_bytes,
        SCAN_CHUNK_BYTES,
        true,
    );
    loop {
        match scanner.next().await.map_err(|error| error.to_string())? {
            Scanned::Batch(found)
                if !indexed && found.position >= u64::from(index_interval_bytes) =>
            {
                return Err(format!(
                    "offset index file is empty, but the batch at byte {} needs an entry",
                    found.position
                ));
            }
            Scanned::Batch(found) if found.base_offset == expected => {
                expected = found.last_offset + 1;
            }
            Scanned::Batch(found) => {
                return Err(format!(
                    "batch at byte {} has offset {}, expected {expected}",
                    found.position, found.base_offset
                ));
            }
            Scanned::Invalid { position, reason } => {
                return Err(format!("invalid batch at byte {position}: {reason}"));
            }
            Scanned::End if expected == next_base => return Ok(()),
            Scanned::End => {
                return Err(format!(
                    "log ends at offset {expected}, before the next segment's base {next_base}"
                ));
            }
        }
    }
}

/// Rebuilds a closed segment's indexes by scanning its log. A corrupt batch
/// inside a closed segment is logged and ends the readable part of that
/// segment. The file itself is left as it is, and fetches of the offsets
/// after that point get `LostOffsets`.
async fn rebuild_closed(
    segment: &mut Segment,
    id: LogId<'_>,
    config: &LogConfig,
) -> Result<(), StorageError> {
    let file_size = segment.size_bytes;
    if let Some((position, reason)) = replay(segment, config).await? {
        error!(
            target: LOG_TARGET,
            topic = id.topic,
            partition = id.partition,
            segment = %segment.log_path.display(),
            position,
            file_size,
            %reason,
            "corrupt batch inside a closed segment; fetches of the offsets after it get an error naming them"
        );
    }
    segment.seal_time_index();
    Ok(())
}

/// Scans the active segment, truncates it at the first torn or corrupt
/// batch, and rebuilds its indexes in memory.
async fn recover_active(
    segment: &mut Segment,
    id: LogId<'_>,
    config: &LogConfig,
) -> Result<(), StorageError> {
    let file_size = segment.size_bytes;
    let Some((position, reason)) = replay(segment, config).await? else {
        debug!(
            target: LOG_TARGET,
            topic = id.topic,
            partition = id.partition,
            segment = %segment.log_path.display(),
            size_bytes = file_size,
            "rebuilt active segment indexes from the log"
        );
        // Bytes that survived a process crash may still sit only in the page
        // cache; one sync makes everything recovered count as durable.
        let path = &segment.log_path;
        segment
            .file
            .sync_data()
            .await
            .map_err(|error| StorageError::io("fdatasync segment", path, file_size, error))?;
        segment.durable_bytes = segment.size_bytes;
        return Ok(());
    };
    warn!(
        target: LOG_TARGET,
        topic = id.topic,
        partition = id.partition,
        segment = %segment.log_path.display(),
        position,
        dropped_bytes = file_size - position,
        %reason,
        "truncating torn or corrupt log tail"
    );
    cut_and_sync(segment, position).await
}

/// Replays every valid batch of the segment's log into its indexes. Returns
/// the position and reason of the first invalid batch, if any.
async fn replay(
    segment: &mut Segment,
    config: &LogConfig,
) -> Result<Option<(u64, String)>, StorageError> {
    let file_size = segment.size_bytes;
    segment.clear();
    let file = segment.file.clone();
    let path = segment.log_path.clone();
    let mut scanner = BatchScanner::new(&file, &path, 0, file_size, SCAN_CHUNK_BYTES, true);
    loop {
        let found = match scanner.next().await? {
            Scanned::End => return Ok(None),
            Scanned::Invalid { position, reason } => {
                return Ok(Some((position, reason.to_string())));
            }
            Scanned::Batch(found) => found,
        };
        if let Some(reason) = offset_problem(segment, found.base_offset, found.last_offset) {
            return Ok(Some((found.position, reason)));
        }
        segment.record_batch(
            WrittenBatch {
                position: found.position,
                base_offset: found.base_offset,
                last_offset: found.last_offset,
                max_timestamp_ms: found.max_timestamp_ms,
                size_bytes: found.data.len() as u64,
            },
            config.index_interval_bytes,
        );
    }
}

/// Checks that a scanned batch continues the segment's offsets exactly: the
/// writer never leaves gaps inside a segment. The base offset is outside the
/// CRC, so a damaged one passes validation and is caught only here.
fn offset_problem(segment: &Segment, base_offset: u64, last_offset: u64) -> Option<String> {
    let relative_last = last_offset - segment.base_offset.min(last_offset);
    if base_offset != segment.next_offset || relative_last > u64::from(u32::MAX) {
        return Some(format!(
            "batch offsets {base_offset}..={last_offset} do not follow offset {}",
            segment.next_offset
        ));
    }
    None
}

#[cfg(test)]
mod tests;
