//! Consumer-group offsets, stored durably in the internal topic
//! `__consumer_offsets` (one partition, durability `always`).
//!
//! Each commit appends one record: key `group NUL topic NUL partition`,
//! value the next offset to read (`u64` big-endian) then the client's
//! metadata text. The owning shard keeps the latest value per key in memory
//! and rebuilds it from the log at start.

use std::collections::HashMap;
use std::rc::Rc;
use std::time::{SystemTime, UNIX_EPOCH};

use super::ops::{check_disk, storage_error};
use super::state::{ReplyBody, ShardCtx, ShardResult};
use crate::protocol::api::OffsetFetchReply;
use crate::protocol::batch::{self, BatchBuilder};
use crate::protocol::{ApiError, ErrorCode};
use crate::storage::Partition;

/// Name of the internal offsets topic.
pub const OFFSETS_TOPIC: &str = "__consumer_offsets";

/// Latest committed value per key, with the log offset that stored it so a
/// late completion never overwrites a newer commit.
#[derive(Default)]
pub struct OffsetStore {
    entries: HashMap<String, Committed>,
}

struct Committed {
    log_offset: u64,
    offset: u64,
    metadata: String,
}

/// The store key of one group's position in one partition. Keyed by topic
/// id, which is never reused, so a topic deleted and created again under
/// the same name starts without the old topic's positions.
pub fn key(group: &str, topic_id: u32, partition: u32) -> String {
    format!("{group}\u{0}{topic_id}\u{0}{partition}")
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl OffsetStore {
    /// Number of (group, topic, partition) positions stored.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Lists every stored position, for the consumer-lag metric. Keys that
    /// do not split into group, topic id and partition are skipped.
    pub fn committed(&self) -> Vec<crate::metrics::CommittedOffset> {
        self.entries
            .iter()
            .filter_map(|(key, committed)| {
                let mut parts = key.split('\u{0}');
                let group = parts.next()?;
                let topic_id = parts.next()?.parse().ok()?;
                let partition = parts.next()?.parse().ok()?;
                Some(crate::metrics::CommittedOffset {
                    group: group.to_string(),
                    topic_id,
                    partition,
                    offset: committed.offset,
                })
            })
            .collect()
    }

    fn apply(&mut self, key: String, log_offset: u64, value: &[u8]) {
        if value.len() < 8 {
            return;
        }
        let offset = u64::from_be_bytes(value[..8].try_into().expect("8 bytes"));
        let metadata = String::from_utf8_lossy(&value[8..]).into_owned();
        let newer = self
            .entries
            .get(&key)
            .is_none_or(|current| current.log_offset < log_offset);
        if newer {
            self.entries.insert(
                key,
                Committed {
                    log_offset,
                    offset,
                    metadata,
                },
            );
        }
    }

    /// Rebuilds the store by reading the whole offsets log.
    pub async fn load(log: &Partition) -> Result<OffsetStore, ApiError> {
        let mut store = OffsetStore::default();
        let mut position = log.log_start_offset();
        while position < log.high_watermark() {
            let read = log
                .read(position, 1 << 20)
                .await
                .map_err(|err| storage_error(err, OFFSETS_TOPIC, 0))?;
            if read.chunks.is_empty() {
                break;
            }
            for chunk in &read.chunks {
                position = store.apply_chunk(chunk, position)?;
            }
        }
        Ok(store)
    }

    /// Applies every record at or after `from` in a chunk of whole batches,
    /// returning the offset after the last one.
    fn apply_chunk(&mut self, mut chunk: &[u8], mut from: u64) -> Result<u64, ApiError> {
        let corrupt = |err: batch::BatchError| {
            ApiError::new(ErrorCode::StorageError, format!("{OFFSETS_TOPIC}/0: {err}"))
        };
        while !chunk.is_empty() {
            let info = batch::validate(chunk).map_err(corrupt)?;
            let (one, rest) = chunk.split_at(info.size_bytes);
            for record in batch::records(one) {
                let record = record.map_err(corrupt)?;
                if record.offset < from {
                    continue;
                }
                if let (Some(key), Some(value)) = (record.key, record.value) {
                    self.apply(
                        String::from_utf8_lossy(key).into_owned(),
                        record.offset,
                        value,
                    );
                }
                from = record.offset + 1;
            }
            chunk = rest;
        }
        Ok(from)
    }
}

fn offsets_log(ctx: &ShardCtx) -> Result<Partition, ApiError> {
    let catalog = ctx.shared.catalog();
    let topic = catalog.topic(OFFSETS_TOPIC)?;
    super::ops::owned_partition(ctx, topic, 0)
}

/// Appends a commit durably, then records it in memory.
pub async fn commit(ctx: Rc<ShardCtx>, key: String, offset: u64, metadata: String) -> ShardResult {
    check_disk(&ctx)?;
    let log = offsets_log(&ctx)?;
    let mut value = Vec::with_capacity(8 + metadata.len());
    value.extend_from_slice(&offset.to_be_bytes());
    value.extend_from_slice(metadata.as_bytes());
    let now = now_ms();
    let mut builder = BatchBuilder::new(now);
    builder.push(now, Some(key.as_bytes()), Some(&value), &[]);
    let info = log
        .append(builder.finish())
        .map_err(|err| storage_error(err, OFFSETS_TOPIC, 0))?;
    log.wait_durable(info.last_offset)
        .await
        .map_err(|err| storage_error(err, OFFSETS_TOPIC, 0))?;
    let mut store = ctx.offsets.borrow_mut();
    store
        .get_or_insert_with(OffsetStore::default)
        .apply(key, info.base_offset, &value);
    Ok(ReplyBody::Empty)
}

/// Returns the committed position of a key, or -1 when there is none.
pub fn fetch(ctx: &ShardCtx, key: &str) -> ShardResult {
    let store = ctx.offsets.borrow();
    let reply = store
        .as_ref()
        .and_then(|store| store.entries.get(key))
        .map_or(
            OffsetFetchReply {
                offset: -1,
                metadata: String::new(),
            },
            |committed| OffsetFetchReply {
                offset: committed.offset as i64,
                metadata: committed.metadata.clone(),
            },
        );
    Ok(ReplyBody::OffsetFetch(reply))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_of_commits_applies() {
        let mut bytes = bytes::BytesMut::new();
        for (i, offset) in [5u64, 9].iter().enumerate() {
            let mut builder = BatchBuilder::new(0);
            builder.push(
                0,
                Some(key("g", 7, 0).as_bytes()),
                Some(&offset.to_be_bytes()),
                &[],
            );
            let mut batch = builder.finish();
            batch::set_base_offset(&mut batch, i as u64);
            bytes.extend_from_slice(&batch);
        }
        let mut store = OffsetStore::default();
        let next = store.apply_chunk(&bytes, 0).unwrap();
        assert_eq!(next, 2);
        assert_eq!(store.entries[&key("g", 7, 0)].offset, 9);
    }
}
