//! Partition tests on real files: appends, reads, rolls, durability,
//! retention and timestamp lookups.

use std::future::Future;
use std::path::Path;

use bytes::BytesMut;
use tempfile::TempDir;

use super::*;
use crate::protocol::batch::{records, BatchBuilder};
use crate::storage::ReadResult;

pub(crate) fn run<F: Future>(future: F) -> F::Output {
    compio::runtime::Runtime::new().unwrap().block_on(future)
}

/// Small segments and frequent index entries, so that tests cross many
/// segments with few bytes. The tail cache is off so reads hit the files.
pub(crate) fn small_config() -> LogConfig {
    LogConfig {
        segment_bytes: 4096,
        segment_ms: u64::MAX,
        index_interval_bytes: 256,
        retention_ms: None,
        retention_bytes: None,
        durability: Durability::None,
        flush_interval_ms: 1000,
        tail_cache_bytes: 0,
    }
}

/// Builds a batch of `count` records whose values are `"{tag}-{i}"`.
pub(crate) fn make_batch(tag: u64, count: usize, timestamp_ms: i64) -> BytesMut {
    let mut builder = BatchBuilder::new(timestamp_ms);
    for i in 0..count {
        let value = format!("{tag}-{i}");
        builder.push(timestamp_ms, None, Some(value.as_bytes()), &[]);
    }
    builder.finish()
}

pub(crate) async fn open(dir: &Path, config: LogConfig) -> Partition {
    Partition::open(dir.to_path_buf(), "orders", 3, config)
        .await
        .unwrap()
}

/// Appends `batches` batches of 3 records, tags `first_tag..`, and waits
/// until they are written.
pub(crate) async fn append_many(partition: &Partition, first_tag: u64, batches: u64) -> u64 {
    let mut last_offset = 0;
    for tag in first_tag..first_tag + batches {
        let info = partition
            .append(make_batch(tag, 3, 1_000 + tag as i64))
            .unwrap();
        last_offset = info.last_offset;
    }
    partition.wait_written(last_offset).await.unwrap();
    last_offset
}

/// Reads everything from `from` to the high watermark and returns each
/// record's offset and value.
pub(crate) async fn read_all(
    partition: &Partition,
    from: u64,
    max_bytes: usize,
) -> Vec<(u64, String)> {
    let mut out = Vec::new();
    let mut offset = from;
    loop {
        let result = partition.read(offset, max_bytes).await.unwrap();
        if result.chunks.is_empty() {
            break;
        }
        for record in records_of(&result) {
            assert!(
                record.0 >= offset,
                "read returned offset {} before {offset}",
                record.0
            );
            out.push(record);
        }
        offset = out.last().unwrap().0 + 1;
    }
    out
}

fn records_of(result: &ReadResult) -> Vec<(u64, String)> {
    let mut out = Vec::new();
    for chunk in &result.chunks {
        // A chunk contains one or more whole batches.
        let mut rest = &chunk[..];
        while !rest.is_empty() {
            let info = batch::validate(rest).unwrap();
            for record in records(rest) {
                let record = record.unwrap();
                let value = String::from_utf8(record.value.unwrap().to_vec()).unwrap();
                out.push((record.offset, value));
            }
            rest = &rest[info.size_bytes..];
        }
    }
    assert_eq!(
        result.chunks.iter().map(|chunk| chunk.len()).sum::<usize>(),
        result.size_bytes
    );
    out
}

/// Returns the records `append_many(first_tag, batches)` wrote from offset
/// `base`.
pub(crate) fn expected(base: u64, first_tag: u64, batches: u64) -> Vec<(u64, String)> {
    let mut out = Vec::new();
    let mut offset = base;
    for tag in first_tag..first_tag + batches {
        for i in 0..3 {
            out.push((offset, format!("{tag}-{i}")));
            offset += 1;
        }
    }
    out
}

#[test]
fn append_read_round_trip_across_segments() {
    let dir = TempDir::new().unwrap();
    run(async {
        let partition = open(dir.path(), small_config()).await;
        let last_offset = append_many(&partition, 0, 200).await;
        assert_eq!(last_offset, 599);
        assert_eq!(partition.log_end_offset(), 600);
        assert_eq!(partition.high_watermark(), 600);
        let stats = partition.stats();
        assert!(
            stats.segment_count >= 4,
            "expected many segments, got {}",
            stats.segment_count
        );

        assert_eq!(read_all(&partition, 0, 1_000).await, expected(0, 0, 200));
        // Adjacent batches read from a file come back as one buffer.
        let result = partition.read(0, 1_000).await.unwrap();
        assert_eq!(result.chunks.len(), 1);
        assert!(records_of(&result).len() > 3);
        // A start in the middle of a batch returns that whole batch.
        let result = partition.read(301, 1).await.unwrap();
        let got = records_of(&result);
        assert_eq!(got.len(), 3, "one whole batch despite max_bytes 1");
        assert_eq!(got[0].0, 300);
        partition.close().await.unwrap();
    });
}

#[test]
fn tail_cache_serves_recent_reads() {
    let dir = TempDir::new().unwrap();
    run(async {
        let config = LogConfig {
            tail_cache_bytes: 1 << 20,
            ..small_config()
        };
        let partition = open(dir.path(), config).await;
        append_many(&partition, 0, 50).await;
        assert!(partition.stats().tail_cache_bytes > 0);
        assert_eq!(read_all(&partition, 0, 700).await, expected(0, 0, 50));
        partition.close().await.unwrap();
    });
}

#[test]
fn read_bounds_and_empty_reads() {
    let dir = TempDir::new().unwrap();
    run(async {
        let partition = open(dir.path(), small_config()).await;
        append_many(&partition, 0, 2).await;
        let at_end = partition.read(6, 1_000).await.unwrap();
        assert!(at_end.chunks.is_empty());
        assert_eq!(at_end.high_watermark, 6);
        assert!(matches!(
            partition.read(7, 1_000).await,
            Err(StorageError::OffsetOutOfRange {
                offset: 7,
                log_start_offset: 0,
                log_end_offset: 6
            })
        ));
        partition.close().await.unwrap();
    });
}

#[test]
fn reopen_continues_offsets() {
    let dir = TempDir::new().unwrap();
    run(async {
        let partition = open(dir.path(), small_config()).await;
        append_many(&partition, 0, 60).await;
        partition.close().await.unwrap();

        let partition = open(dir.path(), small_config()).await;
        assert_eq!(partition.log_end_offset(), 180);
        assert_eq!(partition.high_watermark(), 180);
        let info = partition.append(make_batch(60, 3, 5_000)).unwrap();
        assert_eq!(info.base_offset, 180);
        assert_eq!(info.last_offset, 182);
        partition.wait_written(182).await.unwrap();
        assert_eq!(read_all(&partition, 0, 4_096).await, expected(0, 0, 61));
        partition.close().await.unwrap();
    });
}

#[test]
fn append_rejects_corrupt_batch_atomically() {
    let dir = TempDir::new().unwrap();
    run(async {
        let partition = open(dir.path(), small_config()).await;
        let mut buf = make_batch(0, 2, 0);
        let first_len = buf.len();
        let mut corrupt = make_batch(1, 2, 0);
        let last = corrupt.len() - 1;
        corrupt[last] ^= 0xff;
        buf.extend_from_slice(&corrupt);

        let error = partition.append(buf).unwrap_err();
        assert!(
            matches!(
                error,
                StorageError::CorruptBatch { position, reason: batch::BatchError::CrcMismatch { .. } }
                    if position == first_len
            ),
            "{error}"
        );
        assert_eq!(partition.log_end_offset(), 0, "nothing appended");
        assert!(matches!(
            partition.append(BytesMut::new()),
            Err(StorageError::CorruptBatch { position: 0, .. })
        ));
        partition.close().await.unwrap();
    });
}

#[test]
fn append_assigns_offsets_to_each_batch() {
    let dir = TempDir::new().unwrap();
    run(async {
        let partition = open(dir.path(), small_config()).await;
        let mut buf = make_batch(0, 2, 10);
        buf.extend_from_slice(&make_batch(1, 4, 30));
        let info = partition.append(buf).unwrap();
        assert_eq!(info.base_offset, 0);
        assert_eq!(info.last_offset, 5);
        assert_eq!(info.record_count, 6);
        assert_eq!(info.max_timestamp_ms, 30);
        partition.wait_written(5).await.unwrap();
        let offsets: Vec<u64> = read_all(&partition, 0, 1_000)
            .await
            .iter()
            .map(|r| r.0)
            .collect();
        assert_eq!(offsets, [0, 1, 2, 3, 4, 5]);
        partition.close().await.unwrap();
    });
}

#[test]
fn segment_rolls_by_size() {
    let dir = TempDir::new().unwrap();
    run(async {
        let partition = open(dir.path(), small_config()).await;
        append_many(&partition, 0, 100).await;
        let segments: Vec<(u64, u64, u64)> = partition
            .shared
            .state
            .borrow()
            .segments
            .iter()
            .map(|s| (s.base_offset, s.next_offset, s.size_bytes))
            .collect();
        assert!(segments.len() > 2);
        for pair in segments.windows(2) {
            assert!(pair[0].2 <= 4096, "closed segment of {} bytes", pair[0].2);
            assert_eq!(pair[0].1, pair[1].0, "segments are contiguous");
        }
        partition.close().await.unwrap();
    });
}

#[test]
fn segment_rolls_by_time() {
    let dir = TempDir::new().unwrap();
    run(async {
        let config = LogConfig {
            segment_ms: 1,
            ..small_config()
        };
        let partition = open(dir.path(), config).await;
        append_many(&partition, 0, 1).await;
        assert_eq!(partition.stats().segment_count, 1);
        // The sleep guarantees the segment is at least 1 ms old.
        compio::time::sleep(std::time::Duration::from_millis(3)).await;
        append_many(&partition, 1, 1).await;
        assert_eq!(partition.stats().segment_count, 2);
        assert_eq!(partition.stats().segments_rolled, 1);
        assert_eq!(read_all(&partition, 0, 1_000).await, expected(0, 0, 2));
        partition.close().await.unwrap();
    });
}

#[test]
fn oversized_batch_gets_own_segment() {
    let dir = TempDir::new().unwrap();
    run(async {
        let partition = open(dir.path(), small_config()).await;
        append_many(&partition, 0, 1).await;
        let mut builder = BatchBuilder::new(0);
        builder.push(0, None, Some(&[7u8; 6_000]), &[]);
        let info = partition.append(builder.finish()).unwrap();
        partition.wait_written(info.last_offset).await.unwrap();
        append_many(&partition, 1, 1).await;
        let sizes: Vec<u64> = (partition.shared.state.borrow().segments.iter())
            .map(|s| s.size_bytes)
            .collect();
        assert_eq!(sizes.len(), 3, "sizes {sizes:?}");
        assert!(sizes[1] > 4096);
        let result = partition.read(3, 10).await.unwrap();
        assert_eq!(result.chunks.len(), 1);
        assert!(result.size_bytes > 6_000);
        partition.close().await.unwrap();
    });
}

#[test]
fn wait_for_data_wakes_on_write() {
    let dir = TempDir::new().unwrap();
    run(async {
        let partition = open(dir.path(), small_config()).await;
        let poller = partition.clone();
        let waiting = compio::runtime::spawn(async move {
            poller.wait_for_data(0).await;
            poller.high_watermark()
        });
        append_many(&partition, 0, 1).await;
        assert_eq!(waiting.await.unwrap(), 3);
        // Already past: returns at once.
        partition.wait_for_data(2).await;
        partition.close().await.unwrap();
    });
}

#[test]
fn wait_for_unappended_offset_rejected() {
    let dir = TempDir::new().unwrap();
    run(async {
        let partition = open(dir.path(), small_config()).await;
        assert!(matches!(
            partition.wait_written(0).await,
            Err(StorageError::OffsetOutOfRange { offset: 0, .. })
        ));
        assert!(matches!(
            partition.wait_durable(5).await,
            Err(StorageError::OffsetOutOfRange { offset: 5, .. })
        ));
        partition.close().await.unwrap();
    });
}

#[test]
fn closed_partition_rejects_appends() {
    let dir = TempDir::new().unwrap();
    run(async {
        let partition = open(dir.path(), small_config()).await;
        let other = partition.clone();
        append_many(&partition, 0, 1).await;
        partition.close().await.unwrap();
        assert!(matches!(
            other.append(make_batch(1, 1, 0)),
            Err(StorageError::Closed { partition: 3, .. })
        ));
        assert_eq!(
            read_all(&other, 0, 1_000).await.len(),
            3,
            "reads still work"
        );
    });
}

#[test]
fn dropped_partition_stops_writer() {
    let dir = TempDir::new().unwrap();
    run(async {
        let partition = open(dir.path(), small_config()).await;
        let exit = partition
            .shared
            .state
            .borrow_mut()
            .writer_exit
            .take()
            .unwrap();
        drop(partition);
        assert_eq!(exit.await, Ok(()), "the writer task ended");
    });
}

#[test]
fn always_durability_hides_unsynced() {
    let dir = TempDir::new().unwrap();
    run(async {
        let config = LogConfig {
            durability: Durability::Always,
            ..small_config()
        };
        let partition = open(dir.path(), config).await;
        let info = partition.append(make_batch(0, 3, 0)).unwrap();
        assert_eq!(
            partition.high_watermark(),
            0,
            "not visible before fdatasync"
        );
        assert!(partition.read(0, 1_000).await.unwrap().chunks.is_empty());
        partition.wait_durable(info.last_offset).await.unwrap();
        assert_eq!(partition.high_watermark(), 3);
        assert_eq!(read_all(&partition, 0, 1_000).await, expected(0, 0, 1));
        partition.close().await.unwrap();
    });
}

#[test]
fn group_commit_shares_fdatasync() {
    let dir = TempDir::new().unwrap();
    run(async {
        let config = LogConfig {
            durability: Durability::Always,
            segment_bytes: 1 << 20,
            ..small_config()
        };
        let partition = open(dir.path(), config).await;
        let waiter_count = 50;
        let mut tasks = Vec::new();
        for tag in 0..waiter_count {
            let partition = partition.clone();
            tasks.push(compio::runtime::spawn(async move {
                let info = partition.append(make_batch(tag, 2, 0)).unwrap();
                partition.wait_durable(info.last_offset).await
            }));
        }
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        let stats = partition.stats();
        assert_eq!(stats.durable_wait_count, waiter_count);
        assert!(stats.fsync_count >= 1);
        assert!(
            stats.fsync_count < waiter_count,
            "{} fdatasyncs for {waiter_count} waiters",
            stats.fsync_count
        );
        assert_eq!(stats.durable_end_offset, 2 * waiter_count);
        partition.close().await.unwrap();
    });
}

/// Returns to the runtime once, so it runs other tasks and polls for I/O.
async fn yield_once() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            return std::task::Poll::Ready(());
        }
        yielded = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    })
    .await
}

#[test]
fn durable_wait_completes_under_steady_appends() {
    let dir = TempDir::new().unwrap();
    run(async {
        let config = LogConfig {
            durability: Durability::Always,
            segment_bytes: 64 << 20,
            ..small_config()
        };
        let partition = open(dir.path(), config).await;
        let first = partition.append(make_batch(0, 1, 0)).unwrap();
        let waiter = partition.clone();
        let done = Rc::new(std::cell::Cell::new(false));
        let done_flag = done.clone();
        compio::runtime::spawn(async move {
            waiter.wait_durable(first.last_offset).await.unwrap();
            done_flag.set(true);
        })
        .detach();
        // Append on every turn of the runtime, so that each write finds new
        // batches queued; the writer must still fdatasync in between.
        let batch = make_batch(1, 1, 0);
        let mut appended = 1;
        while !done.get() && appended < 100_000 {
            partition.append(batch.clone()).unwrap();
            appended += 1;
            yield_once().await;
        }
        assert!(done.get(), "wait_durable starved by {appended} appends");
        partition.close().await.unwrap();
    });
}

#[test]
fn interval_durability_syncs_later() {
    let dir = TempDir::new().unwrap();
    run(async {
        let config = LogConfig {
            durability: Durability::Interval,
            flush_interval_ms: 5,
            ..small_config()
        };
        let partition = open(dir.path(), config).await;
        append_many(&partition, 0, 3).await;
        // Bounded wait for the timer-driven fdatasync; no timing is asserted.
        for _ in 0..1_000 {
            if partition.stats().durable_end_offset == 9 {
                break;
            }
            compio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        assert_eq!(partition.stats().durable_end_offset, 9);
        assert!(partition.stats().fsync_count >= 1);
        partition.close().await.unwrap();
    });
}

#[test]
fn flush_writes_active_indexes() {
    let dir = TempDir::new().unwrap();
    run(async {
        let config = LogConfig {
            segment_bytes: 1 << 20,
            ..small_config()
        };
        let partition = open(dir.path(), config).await;
        append_many(&partition, 0, 40).await;
        partition.flush().await.unwrap();
        assert_eq!(partition.stats().durable_end_offset, 120);
        let index = std::fs::read(dir.path().join("00000000000000000000.index")).unwrap();
        let expected_index = partition
            .shared
            .state
            .borrow()
            .active()
            .offset_index
            .encode();
        assert!(!index.is_empty());
        assert_eq!(index, expected_index);
        partition.close().await.unwrap();
    });
}

#[test]
fn offset_for_timestamp_finds_first_batch() {
    let dir = TempDir::new().unwrap();
    run(async {
        let partition = open(dir.path(), small_config()).await;
        // Batch `tag` has timestamp 1000 + tag, offsets 3 * tag ..= 3 * tag + 2.
        append_many(&partition, 0, 100).await;
        assert!(partition.stats().segment_count > 2);
        assert_eq!(partition.offset_for_timestamp(0).await.unwrap(), Some(0));
        assert_eq!(
            partition.offset_for_timestamp(1_000).await.unwrap(),
            Some(0)
        );
        assert_eq!(
            partition.offset_for_timestamp(1_001).await.unwrap(),
            Some(3)
        );
        assert_eq!(
            partition.offset_for_timestamp(1_050).await.unwrap(),
            Some(150)
        );
        assert_eq!(
            partition.offset_for_timestamp(1_099).await.unwrap(),
            Some(297)
        );
        assert_eq!(partition.offset_for_timestamp(1_100).await.unwrap(), None);

        // Out-of-order timestamps: the first batch reaching the target wins.
        let info = partition.append(make_batch(500, 1, 5_000)).unwrap();
        partition.append(make_batch(501, 1, 4_000)).unwrap();
        let last = partition.append(make_batch(502, 1, 6_000)).unwrap();
        partition.wait_written(last.last_offset).await.unwrap();
        assert_eq!(
            partition.offset_for_timestamp(4_500).await.unwrap(),
            Some(info.base_offset)
        );
        assert_eq!(
            partition.offset_for_timestamp(5_001).await.unwrap(),
            Some(last.base_offset)
        );

        partition.close().await.unwrap();
        let partition = open(dir.path(), small_config()).await;
        assert_eq!(
            partition.offset_for_timestamp(1_050).await.unwrap(),
            Some(150),
            "after reopen"
        );
        partition.close().await.unwrap();
    });
}

#[test]
fn retention_by_bytes_moves_start() {
    let dir = TempDir::new().unwrap();
    run(async {
        let config = LogConfig {
            retention_bytes: Some(3 * 4096),
            ..small_config()
        };
        let partition = open(dir.path(), config).await;
        append_many(&partition, 0, 200).await;
        let before = partition.stats();
        let report = partition
            .enforce_retention(crate::storage::now_ms())
            .await
            .unwrap();
        let after = partition.stats();
        assert!(report.segments_deleted > 0);
        assert_eq!(
            after.segment_count,
            before.segment_count - report.segments_deleted
        );
        assert_eq!(after.size_bytes, before.size_bytes - report.bytes_deleted);
        assert!(
            after.size_bytes >= 3 * 4096,
            "retention keeps at least retention_bytes"
        );
        assert!(
            after.size_bytes - partition.shared.state.borrow().segments[0].size_bytes < 3 * 4096
        );
        assert_eq!(report.log_start_offset, after.log_start_offset);
        assert!(after.log_start_offset > 0);
        assert!(matches!(
            partition.read(0, 1_000).await,
            Err(StorageError::OffsetOutOfRange { offset: 0, .. })
        ));
        let start = after.log_start_offset;
        let remaining = read_all(&partition, start, 1_000).await;
        assert_eq!(remaining.first().unwrap().0, start);
        assert_eq!(remaining.last().unwrap().0, 599);
        let first_log = dir.path().join("00000000000000000000.log");
        assert!(!first_log.exists(), "deleted segment file is gone");

        partition.close().await.unwrap();
        let partition = open(dir.path(), small_config()).await;
        assert_eq!(
            partition.log_start_offset(),
            start,
            "start survives a reopen"
        );
        partition.close().await.unwrap();
    });
}

#[test]
fn retention_by_time_moves_start() {
    let dir = TempDir::new().unwrap();
    run(async {
        let config = LogConfig {
            retention_ms: Some(10_000),
            ..small_config()
        };
        let partition = open(dir.path(), config).await;
        // Old batches at 1_000 + tag ms, then new ones at 1_000_000 ms.
        append_many(&partition, 0, 60).await;
        let mut last = 0;
        for tag in 60..120 {
            last = partition
                .append(make_batch(tag, 3, 1_000_000))
                .unwrap()
                .last_offset;
        }
        partition.wait_written(last).await.unwrap();

        let report = partition.enforce_retention(1_005_000).await.unwrap();
        assert!(report.segments_deleted > 0);
        let start = partition.log_start_offset();
        assert!(
            start <= 180,
            "no segment with new batches is deleted, start {start}"
        );
        let oldest_max_timestamp_ms = partition.shared.state.borrow().segments[0].max_timestamp_ms;
        assert!(oldest_max_timestamp_ms >= 1_000_000 - 10_000);
        let nothing = partition.enforce_retention(1_005_000).await.unwrap();
        assert_eq!(nothing.segments_deleted, 0);
        partition.close().await.unwrap();
    });
}
