//! Rebuilds the registry at start by replaying `__schemas` from offset 0,
//! read through the shard that owns it.

use std::time::Duration;

use tracing::warn;

use super::{BrokerBackend, SCHEMAS_TOPIC};
use crate::protocol::api::FetchRequest;
use crate::protocol::batch::{self, records};
use crate::registry::model::RegistryEvent;
use crate::server::state::{ReplyBody, ShardRequest};

/// Bytes asked for per fetch while loading.
const LOAD_FETCH_BYTES: u32 = 4 << 20;
/// Interval between checks that every shard serves requests.
const READY_POLL_MS: u64 = 10;

/// Waits for the shards, replays every stored event, publishes the first
/// validator snapshot and marks the registry loaded. Returns the number of
/// events read.
pub async fn run(backend: &BrokerBackend) -> Result<usize, String> {
    let shared = &backend.shared;
    while !shared.is_ready() {
        if shared.is_shutting_down() {
            return Err("the broker stopped before its shards were ready".into());
        }
        tokio::time::sleep(Duration::from_millis(READY_POLL_MS)).await;
    }
    let mut registry = backend.registry.lock().await;
    let topic = shared
        .catalog()
        .topic(SCHEMAS_TOPIC)
        .map_err(|err| err.to_string())?
        .clone();
    let shard = topic.owner(0).map_err(|err| err.to_string())?;
    let mut offset = 0u64;
    let mut count = 0usize;
    loop {
        let request = FetchRequest {
            topic: SCHEMAS_TOPIC.to_owned(),
            partition: 0,
            offset,
            max_bytes: LOAD_FETCH_BYTES,
            max_wait_ms: 0,
            min_bytes: 0,
        };
        let reply = backend
            .call_shard(
                shard,
                ShardRequest::Fetch {
                    topic: topic.clone(),
                    request,
                },
            )
            .await?;
        let ReplyBody::Fetch { header, chunks } = reply else {
            return Err(format!("unexpected reply to a fetch of {SCHEMAS_TOPIC}"));
        };
        let bytes: Vec<u8> = chunks.concat();
        let next = replay_batches(&bytes, offset, &mut registry, &mut count)?;
        if next >= header.high_watermark || next == offset {
            break;
        }
        offset = next;
    }
    backend.publish(&registry);
    shared.registry.set_loaded();
    Ok(count)
}

/// Applies the events in the batches of `bytes` from `offset` on; returns
/// the offset after the last record read.
fn replay_batches(
    mut bytes: &[u8],
    mut offset: u64,
    registry: &mut crate::registry::model::Registry,
    count: &mut usize,
) -> Result<u64, String> {
    while !bytes.is_empty() {
        let size = match batch::framed_size(bytes) {
            Ok(size) if size <= bytes.len() => size,
            _ => break,
        };
        let (one, rest) = bytes.split_at(size);
        for record in records(one) {
            let record =
                record.map_err(|err| format!("{SCHEMAS_TOPIC}: unreadable batch: {err}"))?;
            if record.offset < offset {
                continue;
            }
            offset = record.offset + 1;
            *count += 1;
            apply_record(registry, record.offset, record.value.unwrap_or_default());
        }
        bytes = rest;
    }
    Ok(offset)
}

/// Applies one stored event; an event that cannot be read or contradicts
/// the state is logged and skipped, and changes nothing.
fn apply_record(registry: &mut crate::registry::model::Registry, offset: u64, value: &[u8]) {
    let event: RegistryEvent = match serde_json::from_slice(value) {
        Ok(event) => event,
        Err(err) => {
            warn!(target: "ringbus::registry", offset, %err, "skipping an unreadable registry event");
            return;
        }
    };
    if let Err(err) = registry.apply(&event) {
        warn!(target: "ringbus::registry", offset, %err, "skipping a registry event");
    }
}
