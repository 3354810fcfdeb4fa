//! The shard side of a metrics scrape: [`take`] copies this shard's
//! counters, partition offsets and (on the shard that owns the offsets
//! topic) committed offsets. It runs on the shard thread as
//! `ShardRequest::Metrics`, which the control plane sends over its channel
//! to each shard.

use std::collections::HashMap;

use super::state::ShardCtx;
use crate::metrics::{PartitionOffsets, ShardSnapshot};

/// Copies the calling shard's metrics and offsets.
pub fn take(ctx: &ShardCtx) -> ShardSnapshot {
    let mut snapshot = ShardSnapshot::take(ctx.id);
    snapshot.connections = ctx.connections.get();
    let catalog = ctx.shared.catalog();
    let names: HashMap<u32, &str> = catalog
        .topics
        .values()
        .map(|topic| (topic.id, topic.name.as_str()))
        .collect();
    for ((topic_id, partition), log) in ctx.partitions.borrow().iter() {
        let Some(topic) = names.get(topic_id) else {
            continue;
        };
        let stats = log.stats();
        snapshot.partitions.push(PartitionOffsets {
            topic_id: *topic_id,
            topic: topic.to_string(),
            partition: *partition,
            log_start_offset: stats.log_start_offset,
            high_watermark: stats.high_watermark,
        });
    }
    if let Some(store) = ctx.offsets.borrow().as_ref() {
        snapshot.committed = store.committed();
    }
    snapshot
}
