//! The free-space monitor: a plain thread that checks the data directory's
//! filesystem with statvfs and flips the shared `disk_full` flag, which
//! produce reads with one relaxed load.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tracing::{info, warn};

use super::state::BrokerShared;

/// Free bytes available to unprivileged writers on the filesystem holding
/// `path`.
pub fn free_bytes(path: &Path) -> std::io::Result<u64> {
    let c_path = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "path contains NUL"))?;
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c_path` is a valid NUL-terminated string and `stat` is a
    // writable statvfs that outlives the call.
    let rc = unsafe { libc::statvfs(c_path.as_ptr(), &mut stat) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok((stat.f_bavail as u64).saturating_mul(stat.f_frsize as u64))
}

/// Updates the flag once; returns whether the disk counts as full.
pub fn check(shared: &BrokerShared) -> bool {
    let dir = &shared.config.broker.data_dir;
    let min = shared.config.broker.min_free_bytes;
    let free = match free_bytes(dir) {
        Ok(free) => free,
        Err(err) => {
            warn!(target: "ringbus::disk", dir = %dir.display(), %err, "cannot read free disk space");
            return shared.disk_full.load(Ordering::Relaxed);
        }
    };
    shared.free_bytes.store(free, Ordering::Relaxed);
    let full = free < min;
    let was_full = shared.disk_full.swap(full, Ordering::Relaxed);
    if full && !was_full {
        warn!(target: "ringbus::disk", dir = %dir.display(), free_bytes = free, min_free_bytes = min,
              "free disk space below min_free_bytes; rejecting produce until space returns");
    } else if !full && was_full {
        info!(target: "ringbus::disk", dir = %dir.display(), free_bytes = free,
              "free disk space recovered; accepting produce again");
    }
    full
}

/// Starts the monitor thread.
pub fn spawn_monitor(shared: Arc<BrokerShared>) -> std::io::Result<std::thread::JoinHandle<()>> {
    let interval = Duration::from_millis(shared.config.broker.disk_check_interval_ms);
    std::thread::Builder::new()
        .name("ringbus-disk".into())
        .spawn(move || {
            while !shared.is_shutting_down() {
                check(&shared);
                std::thread::sleep(interval);
            }
        })
}
