//! Write-error tests on a 1 MiB tmpfs, where ENOSPC is real.

use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

use crate::protocol::batch::BatchBuilder;
use crate::storage::partition::tests::{read_all, run, small_config};
use crate::storage::{LogConfig, Partition, StorageError};

/// A tmpfs mounted for one test and unmounted when dropped. Mounting needs
/// root (or CAP_SYS_ADMIN).
struct Tmpfs {
    path: PathBuf,
    _parent: TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Self {
        let parent = TempDir::new().unwrap();
        let path = parent.path().join("mnt");
        std::fs::create_dir(&path).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&path)
            .status()
            .expect("failed to run mount");
        assert!(
            status.success(),
            "mounting a tmpfs at {} failed; this test needs root",
            path.display()
        );
        Self {
            path,
            _parent: parent,
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.path).status();
    }
}

fn batch_of(value_bytes: usize, tag: u8) -> bytes::BytesMut {
    let mut builder = BatchBuilder::new(0);
    // ASCII values, because the shared read helper decodes them as UTF-8.
    builder.push(0, None, Some(&vec![b'a' + tag % 26; value_bytes]), &[]);
    builder.finish()
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).unwrap().len()
}

#[test]
fn disk_full_drops_unwritten_then_recovers() {
    let tmpfs = Tmpfs::mount("1m");
    let filler = tmpfs.path.join("filler");
    std::fs::write(&filler, vec![0u8; 600 << 10]).unwrap();
    let dir = tmpfs.path.join("orders").join("0");
    let config = LogConfig {
        segment_bytes: 4 << 20,
        tail_cache_bytes: 4 << 20,
        ..small_config()
    };
    run(async {
        let partition = Partition::open(dir.clone(), "orders", 0, config)
            .await
            .unwrap();
        let mut written_batches = 0;
        let mut disk_full = None;
        for tag in 0..100u8 {
            let info = partition.append(batch_of(16 << 10, tag)).unwrap();
            match partition.wait_written(info.last_offset).await {
                Ok(()) => written_batches += 1,
                Err(error) => {
                    disk_full = Some(error);
                    break;
                }
            }
        }
        let error = disk_full.expect("400 KiB of free space ran out");
        assert!(error.is_disk_full(), "expected DiskFull, got {error}");
        assert!(matches!(
            error,
            StorageError::DiskFull {
                operation: "write segment",
                ..
            }
        ));
        assert!(written_batches > 0);

        let stats = partition.stats();
        assert_eq!(
            stats.log_end_offset, written_batches,
            "log end reset to the written end"
        );
        assert_eq!(stats.written_end_offset, written_batches);
        assert_eq!(stats.high_watermark, written_batches);
        assert_eq!(stats.write_error_count, 1);
        assert_eq!(stats.queued_bytes, 0);
        let log = dir.join("00000000000000000000.log");
        assert_eq!(file_len(&log), stats.size_bytes, "partial write truncated");
        assert_eq!(
            read_all(&partition, 0, 1 << 20).await.len() as u64,
            written_batches
        );

        std::fs::remove_file(&filler).unwrap();
        let info = partition.append(batch_of(16 << 10, 200)).unwrap();
        assert_eq!(
            info.base_offset, written_batches,
            "the dropped offset is assigned again"
        );
        partition.wait_written(info.last_offset).await.unwrap();
        let records = read_all(&partition, 0, 1 << 20).await;
        assert_eq!(records.len() as u64, written_batches + 1);
        partition.close().await.unwrap();
    });
}
