//! The topic catalog: every topic's id, settings and partition placement.
//!
//! The catalog is immutable once published; a change builds a new one and
//! swaps it in, so request paths read it with one atomic load and no lock.
//! Each topic's metadata lives in `DATA/TOPIC/topic.json`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::config::TopicConfig;
use crate::protocol::{ApiError, ErrorCode};
use crate::shard::placement;

/// File name of a topic's metadata inside its directory.
pub const TOPIC_FILE: &str = "topic.json";
/// Maximum topic name length in bytes, as in Kafka.
pub const TOPIC_NAME_BYTES_MAX: usize = 249;
/// Prefix of the broker's own topics (consumer offsets, schemas, alerts).
pub const INTERNAL_PREFIX: &str = "__";

/// One topic as stored and as routed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TopicMeta {
    pub id: u32,
    pub name: String,
    pub config: TopicConfig,
    /// Id whose placement this topic shares, so that partition `p` of a
    /// retry or dead-letter topic lives on the shard of its source's `p`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement_id: Option<u32>,
    /// Owning shard of each partition, computed from the id at load.
    #[serde(skip)]
    pub shards: Vec<u16>,
}

impl TopicMeta {
    pub fn new(id: u32, name: String, config: TopicConfig, shard_count: usize) -> TopicMeta {
        let mut meta = TopicMeta {
            id,
            name,
            config,
            placement_id: None,
            shards: Vec::new(),
        };
        meta.place(shard_count);
        meta
    }

    /// Places the partitions as topic `placement_id` places its own.
    pub fn placed_with(mut self, placement_id: u32, shard_count: usize) -> TopicMeta {
        self.placement_id = Some(placement_id);
        self.place(shard_count);
        self
    }

    fn place(&mut self, shard_count: usize) {
        let placement_id = self.placement_id.unwrap_or(self.id);
        self.shards = (0..self.config.partitions)
            .map(|p| placement::owner(placement_id, p, shard_count) as u16)
            .collect();
    }

    /// Returns the owning shard of `partition`, or UNKNOWN_PARTITION naming it.
    pub fn owner(&self, partition: u32) -> Result<usize, ApiError> {
        self.shards
            .get(partition as usize)
            .map(|shard| *shard as usize)
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::UnknownPartition,
                    format!(
                        "partition {partition} does not exist in topic '{}', which has partitions 0..{}",
                        self.name,
                        self.config.partitions
                    ),
                )
            })
    }

    pub fn is_internal(&self) -> bool {
        self.name.starts_with(INTERNAL_PREFIX)
    }
}

/// An immutable snapshot of all topics.
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    pub topics: HashMap<String, Arc<TopicMeta>>,
}

impl Catalog {
    /// Looks a topic up, or returns UNKNOWN_TOPIC naming it.
    pub fn topic(&self, name: &str) -> Result<&Arc<TopicMeta>, ApiError> {
        self.topics.get(name).ok_or_else(|| {
            ApiError::new(
                ErrorCode::UnknownTopic,
                format!(
                    "topic '{name}' does not exist; create it with `ringbus topic create {name}`"
                ),
            )
        })
    }

    pub fn next_id(&self) -> u32 {
        self.topics.values().map(|t| t.id + 1).max().unwrap_or(0)
    }

    /// Loads every topic under `data_dir`, placing partitions over
    /// `shard_count` shards.
    pub fn load(data_dir: &Path, shard_count: usize) -> std::io::Result<Catalog> {
        let mut catalog = Catalog::default();
        if !data_dir.exists() {
            return Ok(catalog);
        }
        for entry in std::fs::read_dir(data_dir)? {
            let path = entry?.path().join(TOPIC_FILE);
            if !path.is_file() {
                continue;
            }
            let text = std::fs::read_to_string(&path)?;
            let mut meta: TopicMeta = serde_json::from_str(&text).map_err(|err| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{}: {err}", path.display()),
                )
            })?;
            meta.place(shard_count);
            catalog.topics.insert(meta.name.clone(), Arc::new(meta));
        }
        Ok(catalog)
    }
}

/// File in the data directory holding the next topic id, so ids of deleted
/// topics are never given out again. `~` cannot start a topic name.
pub const NEXT_ID_FILE: &str = "~next_topic_id";

/// Reads the next topic id stored in the data directory, or 0 when none is.
pub fn stored_next_id(data_dir: &Path) -> u32 {
    std::fs::read_to_string(data_dir.join(NEXT_ID_FILE))
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(0)
}

/// Stores the next topic id durably (temp file, fsync, rename).
pub fn store_next_id(data_dir: &Path, next: u32) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = data_dir.join(format!("{NEXT_ID_FILE}.tmp"));
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(next.to_string().as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&tmp, data_dir.join(NEXT_ID_FILE))?;
    std::fs::File::open(data_dir)?.sync_all()
}

/// Directory of a topic.
pub fn topic_dir(data_dir: &Path, topic: &str) -> PathBuf {
    data_dir.join(topic)
}

/// Directory of one partition.
pub fn partition_dir(data_dir: &Path, topic: &str, partition: u32) -> PathBuf {
    topic_dir(data_dir, topic).join(partition.to_string())
}

/// Writes a topic's metadata durably: temp file, fsync, rename, fsync of the
/// directory.
pub fn store_topic(data_dir: &Path, meta: &TopicMeta) -> std::io::Result<()> {
    let dir = topic_dir(data_dir, &meta.name);
    std::fs::create_dir_all(&dir)?;
    let tmp = dir.join(format!("{TOPIC_FILE}.tmp"));
    let text = serde_json::to_string_pretty(meta).expect("topic metadata serializes");
    {
        use std::io::Write;
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
    }
    std::fs::rename(&tmp, dir.join(TOPIC_FILE))?;
    std::fs::File::open(&dir)?.sync_all()?;
    std::fs::File::open(data_dir)?.sync_all()
}

/// Checks a topic name: 1 to 249 bytes of `[A-Za-z0-9._-]`, not `.` or `..`.
pub fn validate_topic_name(name: &str) -> Result<(), ApiError> {
    let fail = |reason: &str| {
        Err(ApiError::new(
            ErrorCode::InvalidTopicName,
            format!("invalid topic name '{name}': {reason}"),
        ))
    };
    if name.is_empty() || name.len() > TOPIC_NAME_BYTES_MAX {
        return fail("use 1 to 249 characters");
    }
    if name == "." || name == ".." {
        return fail("'.' and '..' are reserved");
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return fail(&format!(
            "character {bad:?} is not allowed; use letters, digits, '.', '_' and '-'"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_names_checked() {
        assert!(validate_topic_name("orders.v1_x-2").is_ok());
        assert!(validate_topic_name("").is_err());
        assert!(validate_topic_name("..").is_err());
        let err = validate_topic_name("a/b").unwrap_err();
        assert!(err.message.contains("'/'"), "{}", err.message);
        assert!(validate_topic_name(&"x".repeat(250)).is_err());
    }

    #[test]
    fn store_and_load_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let meta = TopicMeta::new(4, "t".into(), TopicConfig::default(), 2);
        store_topic(dir.path(), &meta).unwrap();
        let catalog = Catalog::load(dir.path(), 2).unwrap();
        assert_eq!(**catalog.topic("t").unwrap(), meta);
        assert_eq!(catalog.next_id(), 5);
        assert_eq!(
            catalog.topic("nope").unwrap_err().code,
            ErrorCode::UnknownTopic
        );
    }
}
