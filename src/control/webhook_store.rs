//! Durable copy of the webhooks added with `POST /webhooks`, kept as JSON in
//! `<data_dir>/webhooks.json` so that they survive a restart. Receivers from
//! `[registry] webhook_urls` live in the config file and are not stored here.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use tracing::error;

use super::webhook::{check_hook, Webhook};

/// File name of the stored webhooks within the data directory.
pub const FILE_NAME: &str = "webhooks.json";

/// Location of the stored webhooks.
#[derive(Clone, Debug)]
pub struct WebhookStore {
    path: PathBuf,
}

impl WebhookStore {
    pub fn new(data_dir: &Path) -> WebhookStore {
        WebhookStore {
            path: data_dir.join(FILE_NAME),
        }
    }

    /// Reads the stored webhooks. A missing file means none, and an unreadable
    /// or invalid file (including one with an invalid URL) is logged, moved
    /// aside to `webhooks.json.invalid-<ms>` so that the next save cannot
    /// overwrite it, and read as empty.
    pub fn load(&self) -> Vec<Webhook> {
        let text = match fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
            Err(err) => {
                self.set_aside(&err.to_string());
                return Vec::new();
            }
        };
        let hooks: Vec<Webhook> = match serde_json::from_str(&text) {
            Ok(hooks) => hooks,
            Err(err) => {
                self.set_aside(&err.to_string());
                return Vec::new();
            }
        };
        if let Some(reason) = hooks.iter().find_map(|hook| check_hook(hook).err()) {
            self.set_aside(&reason);
            return Vec::new();
        }
        hooks
    }

    fn set_aside(&self, reason: &str) {
        // A time-stamped name keeps an earlier set-aside file intact.
        let aside = self
            .path
            .with_extension(format!("json.invalid-{}", crate::server::offsets::now_ms()));
        let moved = fs::rename(&self.path, &aside);
        error!(target: "ringbus::webhook", path = %self.path.display(), %reason, aside = %aside.display(),
               moved = moved.is_ok(),
               "stored webhooks are unreadable or invalid and were not loaded; fix the file and move it back, or add them again with POST /webhooks");
    }

    /// Replaces the stored webhooks with `hooks`: writes a temporary file,
    /// syncs it, renames it over the old one and syncs the directory.
    ///
    /// # Errors
    /// The I/O error, naming the file.
    pub fn save(&self, hooks: &[Webhook]) -> Result<(), String> {
        let text = serde_json::to_vec_pretty(hooks).expect("webhooks serialize");
        let temporary = self.path.with_extension("json.tmp");
        let written = File::create(&temporary).and_then(|mut file| {
            file.write_all(&text)?;
            file.sync_all()
        });
        let renamed = written.and_then(|()| fs::rename(&temporary, &self.path));
        let synced = renamed.and_then(|()| match self.path.parent() {
            Some(dir) => File::open(dir)?.sync_all(),
            None => Ok(()),
        });
        synced.map_err(|err| {
            let _ = fs::remove_file(&temporary);
            format!(
                "cannot store webhooks in {}: {err}; check free space and permissions of the data directory",
                self.path.display()
            )
        })
    }
}
