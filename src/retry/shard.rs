//! The orchestrator state one shard owns: a timing wheel over its pending
//! dead-letter entries and the index of each `T.dlq` partition it owns.
//!
//! Only the owning shard thread touches it (`RefCell`, no locks); no borrow
//! is held across an await.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::atomic::Ordering;

use tracing::info;

use super::entry::EntryState;
use super::index::{EntryKey, PartitionIndex};
use super::log::scan;
use super::metrics;
use super::topics::dlq_topic;
use super::wheel::{TimerId, TimerWheel};
use crate::protocol::ApiError;
use crate::server::catalog::TopicMeta;
use crate::server::offsets::now_ms;
use crate::server::state::ShardCtx;

/// Target of a wheel timer: one attempt of one entry. A timer whose
/// entry has moved on (another attempt, another state) is ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimerRef {
    /// Id of the source topic `T`.
    pub topic_id: u32,
    pub partition: u32,
    pub key: EntryKey,
    pub attempt: u32,
}

/// Per-shard orchestrator state.
pub struct RetryShard {
    pub wheel: RefCell<TimerWheel<TimerRef>>,
    /// Indexes by (source topic id, partition).
    indexes: RefCell<HashMap<(u32, u32), PartitionIndex>>,
    wake_sender: async_channel::Sender<()>,
    pub(super) wake_receiver: async_channel::Receiver<()>,
}

impl Default for RetryShard {
    fn default() -> Self {
        let (wake_sender, wake_receiver) = async_channel::bounded(1);
        RetryShard {
            wheel: RefCell::new(TimerWheel::new(now_ms().max(0) as u64)),
            indexes: RefCell::new(HashMap::new()),
            wake_sender,
            wake_receiver,
        }
    }
}

impl RetryShard {
    /// Runs `f` on the index of `topic`'s partition, creating it when missing.
    pub fn with_index<R>(
        &self,
        topic: &TopicMeta,
        partition: u32,
        f: impl FnOnce(&mut PartitionIndex) -> R,
    ) -> R {
        let mut indexes = self.indexes.borrow_mut();
        let index = indexes
            .entry((topic.id, partition))
            .or_insert_with(|| PartitionIndex::new(metrics::global().topic(&topic.name)));
        f(index)
    }

    /// Puts a pending entry on the wheel and wakes the orchestrator task.
    pub fn schedule(
        &self,
        topic: &TopicMeta,
        partition: u32,
        key: EntryKey,
        attempt: u32,
        due_ms: i64,
    ) {
        let timer = TimerRef {
            topic_id: topic.id,
            partition,
            key,
            attempt,
        };
        let id = self.wheel.borrow_mut().insert(due_ms.max(0) as u64, timer);
        let current = self.with_index(topic, partition, |index| index.set_timer(key, attempt, id));
        if current {
            metrics::global()
                .timers_pending
                .fetch_add(1, Ordering::Relaxed);
        } else {
            self.wheel.borrow_mut().cancel(id);
        }
        // A full channel already contains a wake-up, which is enough.
        let _ = self.wake_sender.try_send(());
    }

    /// Cancels a timer returned by `PartitionIndex::apply`.
    pub fn cancel(&self, timer: Option<TimerId>) {
        if let Some(id) = timer {
            if self.wheel.borrow_mut().cancel(id).is_some() {
                metrics::global()
                    .timers_pending
                    .fetch_sub(1, Ordering::Relaxed);
            }
        }
    }
}

/// Rebuilds the index of every dead-letter partition this shard owns from
/// its log, and puts every pending entry back on the wheel. Entries already
/// due fire on the orchestrator's first pass.
pub async fn rebuild(ctx: &Rc<ShardCtx>) -> Result<(), ApiError> {
    let catalog = ctx.shared.catalog();
    let mut pending_total = 0usize;
    for source in catalog.topics.values() {
        if source.config.retry_policy().is_none() {
            continue;
        }
        let Some(dlq) = catalog.topics.get(&dlq_topic(&source.name)) else {
            continue;
        };
        for partition in 0..dlq.config.partitions {
            let Some(log) = ctx.partition(dlq, partition) else {
                continue;
            };
            let mut index = PartitionIndex::new(metrics::global().topic(&source.name));
            scan(&log, &dlq.name, partition, |record| {
                index.apply_record(&dlq.name, partition, record)
            })
            .await?;
            let pending: Vec<(EntryKey, u32, i64)> = index
                .entries
                .iter()
                .filter(|(_, indexed)| indexed.entry.state == EntryState::Pending)
                .map(|(key, indexed)| (*key, indexed.entry.attempt, indexed.entry.next_due_ms))
                .collect();
            pending_total += pending.len();
            ctx.retry
                .indexes
                .borrow_mut()
                .insert((source.id, partition), index);
            for (key, attempt, due_ms) in pending {
                ctx.retry.schedule(source, partition, key, attempt, due_ms);
            }
        }
    }
    info!(target: "ringbus::retry", shard = ctx.id, pending = pending_total, "dead-letter indexes rebuilt");
    Ok(())
}
