//! The control plane's path to the shards: each shard receives
//! [`ShardQuery`] messages on a channel and replies on its own thread, so
//! the control plane reads shard-owned state without a lock.

use std::rc::Rc;

use futures_channel::oneshot;
use tracing::debug;

use super::offsets::OFFSETS_TOPIC;
use super::state::ShardCtx;
use crate::metrics::{PartitionOffsets, ShardSnapshot};
use crate::shard::runtime;

/// Queries one shard waits for at most before the control plane's sends
/// block; a scrape sends one per shard.
pub const QUERY_CHANNEL_CAPACITY: usize = 64;

/// A request from the control plane to one shard.
pub enum ShardQuery {
    /// Copy the shard's metrics, partition offsets and committed offsets.
    Metrics(oneshot::Sender<ShardSnapshot>),
}

/// Creates one query channel per shard: the senders for the control plane
/// and the receivers, indexed by shard, for the shard threads.
pub fn channels(
    shards: usize,
) -> (
    Vec<async_channel::Sender<ShardQuery>>,
    Vec<async_channel::Receiver<ShardQuery>>,
) {
    (0..shards)
        .map(|_| async_channel::bounded(QUERY_CHANNEL_CAPACITY))
        .unzip()
}

/// Replies to queries on the shard thread until the channel closes.
pub fn serve(ctx: &Rc<ShardCtx>, queries: async_channel::Receiver<ShardQuery>) {
    let ctx = ctx.clone();
    runtime::spawn_detached(async move {
        while let Ok(query) = queries.recv().await {
            match query {
                ShardQuery::Metrics(reply) => {
                    if reply.send(snapshot(&ctx)).is_err() {
                        debug!(target: "ringbus::control", shard = ctx.id, "metrics scrape ended before the shard replied");
                    }
                }
            }
        }
    });
}

fn snapshot(ctx: &ShardCtx) -> ShardSnapshot {
    let mut snapshot = ShardSnapshot::take(ctx.id);
    snapshot.connections = ctx.connections.get();
    let catalog = ctx.shared.catalog();
    let names: std::collections::HashMap<u32, &str> = catalog
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
            topic: topic.to_string(),
            partition: *partition,
            log_start_offset: stats.log_start_offset,
            high_watermark: stats.high_watermark,
        });
    }
    if let Some(store) = ctx.offsets.borrow().as_ref() {
        snapshot.committed = store.committed();
    }
    debug_assert!(snapshot
        .partitions
        .iter()
        .all(|p| p.topic != OFFSETS_TOPIC || p.partition == 0));
    snapshot
}
