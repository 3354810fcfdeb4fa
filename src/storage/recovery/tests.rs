//! Recovery tests: damaged logs and indexes on disk, then a reopen.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};

use tempfile::TempDir;

use crate::storage::partition::tests::{
    append_many, expected, make_batch, open, read_all, run, small_config,
};
use crate::storage::{LogConfig, Partition};

fn one_segment_config() -> LogConfig {
    LogConfig {
        segment_bytes: 1 << 20,
        ..small_config()
    }
}

fn log_path(dir: &Path, base_offset: u64) -> PathBuf {
    dir.join(format!("{base_offset:020}.log"))
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).unwrap().len()
}

/// Writes 10 batches (tags 0..10, offsets 0..30) into one segment, closes
/// the log and returns the file position of each batch.
fn write_ten_batches(dir: &Path) -> Vec<u64> {
    run(async {
        let partition = open(dir, one_segment_config()).await;
        append_many(&partition, 0, 10).await;
        partition.close().await.unwrap();
    });
    let mut positions = Vec::new();
    let mut position = 0;
    for tag in 0..10 {
        positions.push(position);
        position += make_batch(tag, 3, 1_000 + tag as i64).len() as u64;
    }
    assert_eq!(
        position,
        file_len(&log_path(dir, 0)),
        "batch sizes add up to the file"
    );
    positions
}

/// Reopens the log and reads all of it. The partition must be used and
/// closed on the same runtime, because its writer task runs there.
async fn reopen_and_read(dir: &Path, config: LogConfig) -> (Partition, Vec<(u64, String)>) {
    let partition = open(dir, config).await;
    let records = read_all(&partition, partition.log_start_offset(), 4_096).await;
    (partition, records)
}

fn flip_byte(path: &Path, position: u64) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[position as usize] ^= 0x40;
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn torn_tail_truncated() {
    let dir = TempDir::new().unwrap();
    let positions = write_ten_batches(dir.path());
    let path = log_path(dir.path(), 0);
    let file = OpenOptions::new().write(true).open(&path).unwrap();
    file.set_len(positions[9] + 20).unwrap();
    drop(file);

    run(async {
        let (partition, records) = reopen_and_read(dir.path(), one_segment_config()).await;
        assert_eq!(partition.log_end_offset(), 27);
        assert_eq!(records, expected(0, 0, 9));
        assert_eq!(file_len(&path), positions[9], "file cut at the torn batch");
        let info = partition.append(make_batch(9, 3, 0)).unwrap();
        assert_eq!(
            info.base_offset, 27,
            "offsets continue after the last valid batch"
        );
        partition.close().await.unwrap();
    });
}

#[test]
fn flipped_byte_in_last_batch_truncated() {
    let dir = TempDir::new().unwrap();
    let positions = write_ten_batches(dir.path());
    let path = log_path(dir.path(), 0);
    flip_byte(&path, file_len(&path) - 2);

    run(async {
        let (partition, records) = reopen_and_read(dir.path(), one_segment_config()).await;
        assert_eq!(partition.log_end_offset(), 27);
        assert_eq!(records, expected(0, 0, 9));
        assert_eq!(file_len(&path), positions[9]);
        partition.close().await.unwrap();
    });
}

#[test]
fn flipped_byte_mid_segment_truncates_there() {
    let dir = TempDir::new().unwrap();
    let positions = write_ten_batches(dir.path());
    let path = log_path(dir.path(), 0);
    // Byte 30 of a batch is inside `last_offset_delta`, covered by the CRC.
    flip_byte(&path, positions[5] + 30);

    run(async {
        let (partition, records) = reopen_and_read(dir.path(), one_segment_config()).await;
        assert_eq!(partition.log_end_offset(), 15);
        assert_eq!(records, expected(0, 0, 5));
        assert_eq!(file_len(&path), positions[5]);
        partition.close().await.unwrap();
    });
}

#[test]
fn damaged_base_offset_truncated() {
    let dir = TempDir::new().unwrap();
    let positions = write_ten_batches(dir.path());
    let path = log_path(dir.path(), 0);
    // The base offset is outside the CRC; recovery checks it continues the log.
    flip_byte(&path, positions[7] + 7);

    run(async {
        let (partition, records) = reopen_and_read(dir.path(), one_segment_config()).await;
        assert_eq!(partition.log_end_offset(), 21);
        assert_eq!(records, expected(0, 0, 7));
        partition.close().await.unwrap();
    });
}

#[test]
fn zeroed_tail_truncated() {
    let dir = TempDir::new().unwrap();
    let positions = write_ten_batches(dir.path());
    let path = log_path(dir.path(), 0);
    let end = file_len(&path);
    let file = OpenOptions::new().write(true).open(&path).unwrap();
    file.set_len(end + 4_096).unwrap();
    drop(file);

    run(async {
        let (partition, records) = reopen_and_read(dir.path(), one_segment_config()).await;
        assert_eq!(partition.log_end_offset(), 30);
        assert_eq!(records.len(), 30);
        assert_eq!(file_len(&path), end);
        assert!(positions[9] < end);
        partition.close().await.unwrap();
    });
}

/// Writes 200 batches across several segments and returns the segment
/// base offsets.
fn write_segments(dir: &Path) -> Vec<u64> {
    run(async {
        let partition = open(dir, small_config()).await;
        append_many(&partition, 0, 200).await;
        let bases: Vec<u64> = partition
            .shared
            .state
            .borrow()
            .segments
            .iter()
            .map(|s| s.base_offset)
            .collect();
        partition.close().await.unwrap();
        bases
    })
}

fn index_path(dir: &Path, base_offset: u64, suffix: &str) -> PathBuf {
    dir.join(format!("{base_offset:020}.{suffix}"))
}

#[test]
fn torn_tail_in_last_of_many_segments() {
    let dir = TempDir::new().unwrap();
    let bases = write_segments(dir.path());
    let last_base = *bases.last().unwrap();
    let path = log_path(dir.path(), last_base);
    let len = file_len(&path);
    let file = OpenOptions::new().write(true).open(&path).unwrap();
    file.set_len(len - 5).unwrap();
    drop(file);

    run(async {
        let (partition, records) = reopen_and_read(dir.path(), small_config()).await;
        assert_eq!(
            partition.log_end_offset(),
            597,
            "only the last batch is lost"
        );
        assert_eq!(records, expected(0, 0, 199));
        partition.close().await.unwrap();
    });
}

#[test]
fn missing_and_garbage_indexes_rebuilt() {
    let dir = TempDir::new().unwrap();
    let bases = write_segments(dir.path());
    assert!(
        bases.len() >= 4,
        "need three closed segments, got {bases:?}"
    );
    let paths = [
        index_path(dir.path(), bases[0], "index"),
        index_path(dir.path(), bases[1], "index"),
        index_path(dir.path(), bases[2], "timeindex"),
    ];
    let originals: Vec<Vec<u8>> = paths
        .iter()
        .map(|path| std::fs::read(path).unwrap())
        .collect();
    assert!(!originals[0].is_empty());
    assert!(!originals[2].is_empty());

    std::fs::remove_file(&paths[0]).unwrap();
    std::fs::write(&paths[1], b"not an index at all").unwrap();
    std::fs::write(&paths[2], [0xab; 24]).unwrap();

    run(async {
        let (partition, records) = reopen_and_read(dir.path(), small_config()).await;
        assert_eq!(records, expected(0, 0, 200));
        for (path, original) in paths.iter().zip(&originals) {
            assert_eq!(
                &std::fs::read(path).unwrap(),
                original,
                "{} rebuilt",
                path.display()
            );
        }
        assert_eq!(
            partition.offset_for_timestamp(1_030).await.unwrap(),
            Some(90)
        );
        partition.close().await.unwrap();
    });
}

#[test]
fn index_of_wrong_segment_rebuilt() {
    let dir = TempDir::new().unwrap();
    let bases = write_segments(dir.path());
    let first = index_path(dir.path(), bases[0], "index");
    let second = index_path(dir.path(), bases[1], "index");
    let original = std::fs::read(&second).unwrap();
    // Same shape, so only the check of the last entry's batch can tell.
    std::fs::copy(&first, &second).unwrap();

    run(async {
        let (partition, records) = reopen_and_read(dir.path(), small_config()).await;
        assert_eq!(records, expected(0, 0, 200));
        assert_eq!(std::fs::read(&second).unwrap(), original);
        partition.close().await.unwrap();
    });
}

/// Removes the index files of the segment at `base`, as a crash before the
/// background close wrote them would leave it.
fn remove_indexes(dir: &Path, base: u64) {
    for suffix in ["index", "timeindex"] {
        std::fs::remove_file(index_path(dir, base, suffix)).unwrap();
    }
}

#[test]
fn unsynced_previous_segment_truncated() {
    let dir = TempDir::new().unwrap();
    let bases = write_segments(dir.path());
    let (previous, last) = (bases[bases.len() - 2], bases[bases.len() - 1]);
    remove_indexes(dir.path(), previous);
    let path = log_path(dir.path(), previous);
    let whole = file_len(&path);
    let file = OpenOptions::new().write(true).open(&path).unwrap();
    file.set_len(whole - 5).unwrap();
    drop(file);
    let last_tag = last / 3 - 1;
    let valid = whole - make_batch(last_tag, 3, 1_000 + last_tag as i64).len() as u64;

    run(async {
        let (partition, records) = reopen_and_read(dir.path(), small_config()).await;
        assert_eq!(partition.log_end_offset(), last - 3);
        assert_eq!(records, expected(0, 0, last / 3 - 1));
        assert_eq!(file_len(&path), valid, "damaged bytes cut off");
        let later = log_path(dir.path(), last);
        assert!(!later.exists(), "later segment removed");
        append_many(&partition, last / 3 - 1, 5).await;
        partition.close().await.unwrap();
    });

    // The cut bytes are gone from the file, so new batches follow the valid
    // ones and a second restart reads everything.
    run(async {
        let (partition, records) = reopen_and_read(dir.path(), small_config()).await;
        assert_eq!(partition.log_end_offset(), last + 12);
        assert_eq!(records, expected(0, 0, last / 3 + 4));
        partition.close().await.unwrap();
    });
}

#[test]
fn cut_previous_segment_with_indexes_truncated() {
    let dir = TempDir::new().unwrap();
    let bases = write_segments(dir.path());
    let (previous, last) = (bases[bases.len() - 2], bases[bases.len() - 1]);
    let path = log_path(dir.path(), previous);
    let file = OpenOptions::new().write(true).open(&path).unwrap();
    file.set_len(file_len(&path) - 5).unwrap();
    drop(file);

    run(async {
        let (partition, records) = reopen_and_read(dir.path(), small_config()).await;
        assert_eq!(partition.log_end_offset(), last - 3);
        assert_eq!(records, expected(0, 0, last / 3 - 1));
        partition.close().await.unwrap();
    });
    assert!(
        !log_path(dir.path(), last).exists(),
        "later segment removed"
    );
}

#[test]
fn previous_segment_without_indexes_kept_whole() {
    let dir = TempDir::new().unwrap();
    let bases = write_segments(dir.path());
    let (previous, last) = (bases[bases.len() - 2], bases[bases.len() - 1]);
    remove_indexes(dir.path(), previous);

    run(async {
        let (partition, records) = reopen_and_read(dir.path(), small_config()).await;
        assert_eq!(partition.log_end_offset(), 600);
        assert_eq!(records, expected(0, 0, 200));
        partition.close().await.unwrap();
    });
    assert!(log_path(dir.path(), last).exists());
    assert!(
        index_path(dir.path(), previous, "index").exists(),
        "indexes rewritten"
    );
}

/// Config whose segments each hold one batch of [`big_batch`]: a segment
/// rolls before any second batch, and the batch exceeds two index intervals.
fn one_batch_segments() -> LogConfig {
    LogConfig {
        segment_bytes: 600,
        ..small_config()
    }
}

fn big_batch(tag: u64) -> bytes::BytesMut {
    let mut builder = crate::protocol::batch::BatchBuilder::new(1_000);
    builder.push(1_000, None, Some(&[tag as u8; 1_000]), &[]);
    builder.finish()
}

#[test]
fn single_batch_segment_indexes_load() {
    let dir = TempDir::new().unwrap();
    run(async {
        let partition = open(dir.path(), one_batch_segments()).await;
        let mut last = 0;
        for tag in 0..4 {
            last = partition.append(big_batch(tag)).unwrap().last_offset;
        }
        partition.wait_written(last).await.unwrap();
        partition.close().await.unwrap();

        let config = one_batch_segments();
        let segment = crate::storage::segment::Segment::open(dir.path(), 1)
            .await
            .unwrap();
        assert!(segment.size_bytes > 2 * u64::from(config.index_interval_bytes));
        let loaded = super::load_indexes(dir.path(), &segment, 2, &config).await;
        assert!(loaded.is_ok(), "{:?}", loaded.err());
    });
}

#[test]
fn bytes_after_whole_previous_segment_cut() {
    let dir = TempDir::new().unwrap();
    let bases = write_segments(dir.path());
    let (previous, last) = (bases[bases.len() - 2], bases[bases.len() - 1]);
    let path = log_path(dir.path(), previous);
    let whole = file_len(&path);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend_from_slice(&[0; 100]);
    std::fs::write(&path, bytes).unwrap();

    run(async {
        let (partition, records) = reopen_and_read(dir.path(), small_config()).await;
        assert_eq!(partition.log_end_offset(), 600);
        assert_eq!(records, expected(0, 0, 200));
        partition.close().await.unwrap();
    });
    assert!(log_path(dir.path(), last).exists(), "later segment kept");
    assert_eq!(file_len(&path), whole, "trailing bytes cut");
}

#[test]
fn lost_offsets_in_older_segment_reported() {
    let dir = TempDir::new().unwrap();
    let bases = write_segments(dir.path());
    let next = bases[1];
    let path = log_path(dir.path(), bases[0]);
    let file = OpenOptions::new().write(true).open(&path).unwrap();
    file.set_len(file_len(&path) - 5).unwrap();
    drop(file);

    run(async {
        let partition = open(dir.path(), small_config()).await;
        assert!(partition.read(0, 4_096).await.is_ok());
        let lost = next - 3;
        match partition.read(lost, 4_096).await {
            Err(crate::storage::StorageError::LostOffsets {
                first, next: end, ..
            }) => {
                assert_eq!((first, end), (lost, next));
            }
            other => panic!(
                "expected LostOffsets, got {:?}",
                other.map(|r| r.chunks.len())
            ),
        }
        assert!(partition.read(next, 4_096).await.is_ok());
        partition.close().await.unwrap();
    });
}
