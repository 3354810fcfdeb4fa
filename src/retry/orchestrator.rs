//! The per-shard orchestrator task: fires due timers, re-publishes entries
//! below `max_attempts` to `T.retry` and marks the others poison.
//!
//! Order per due entry: the copy is appended to `T.retry` and synced, and
//! only then is the `retried` state appended to `T.dlq`. A crash between the
//! two leaves the entry pending, so the restart re-publishes it once more with
//! the same `idempotency_key`: a duplicate consumers can drop, never a loss.

use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tracing::{error, warn};

use super::alerts;
use super::entry::{header, idempotency_key, DlqEntry, EntryState, Headers};
use super::index::Indexed;
use super::log::read_record;
use super::metrics;
use super::policy::{event_identity, RetryDecision};
use super::shard::TimerRef;
use super::topics::{companion, dlq_topic, retry_topic};
use crate::protocol::batch::BatchBuilder;
use crate::protocol::ApiError;
use crate::server::catalog::TopicMeta;
use crate::server::offsets::now_ms;
use crate::server::ops::{owned_partition, storage_error};
use crate::server::state::ShardCtx;
use crate::shard::runtime;

/// Maximum sleep between passes when no timer is due sooner, so that a
/// shutdown is noticed.
const IDLE_WAIT_MS: u64 = 1000;
/// Entries of one partition handled per batch of appends.
const DUE_BATCH_MAX: usize = 1024;

/// Runs the orchestrator of this shard until shutdown.
pub async fn run(ctx: Rc<ShardCtx>) {
    let mut fired = Vec::new();
    while !ctx.shared.is_shutting_down() {
        let now = now_ms().max(0) as u64;
        ctx.retry.wheel.borrow_mut().advance(now, &mut fired);
        if !fired.is_empty() {
            let counters = metrics::global();
            counters
                .timers_pending
                .fetch_sub(fired.len() as i64, Ordering::Relaxed);
            for (due_ms, _) in &fired {
                counters.timer_fired(*due_ms, now);
            }
            process_due(&ctx, std::mem::take(&mut fired)).await;
            continue;
        }
        let next = ctx.retry.wheel.borrow().next_due_ms();
        let wait_ms = next.map_or(IDLE_WAIT_MS, |due| {
            due.saturating_sub(now).clamp(1, IDLE_WAIT_MS)
        });
        runtime::timeout(
            Duration::from_millis(wait_ms),
            ctx.retry.wake_receiver.recv(),
        )
        .await;
    }
}

/// Groups fired timers by partition and handles each group in batches.
async fn process_due(ctx: &Rc<ShardCtx>, fired: Vec<(u64, TimerRef)>) {
    let mut groups: BTreeMap<(u32, u32), Vec<TimerRef>> = BTreeMap::new();
    for (_, timer) in fired {
        groups
            .entry((timer.topic_id, timer.partition))
            .or_default()
            .push(timer);
    }
    for ((topic_id, partition), timers) in groups {
        let source = ctx
            .shared
            .catalog()
            .topics
            .values()
            .find(|meta| meta.id == topic_id)
            .cloned();
        let Some(source) = source else {
            continue; // The topic was deleted.
        };
        for chunk in timers.chunks(DUE_BATCH_MAX) {
            if let Err(err) = process_chunk(ctx, &source, partition, chunk).await {
                error!(target: "ringbus::retry", topic = %source.name, partition, %err,
                       "cannot handle due dead-letter entries; they are retried after a restart");
            }
        }
    }
}

/// Takes the entries of `timers` still pending at the timer's attempt,
/// clearing their timer handles.
fn still_due(
    ctx: &ShardCtx,
    source: &TopicMeta,
    partition: u32,
    timers: &[TimerRef],
) -> Vec<Indexed> {
    ctx.retry.with_index(source, partition, |index| {
        timers
            .iter()
            .filter_map(|timer| {
                let indexed = index.entries.get_mut(&timer.key)?;
                let current = indexed.entry.state == EntryState::Pending
                    && indexed.entry.attempt == timer.attempt;
                if !current {
                    return None;
                }
                indexed.timer = None;
                Some(indexed.clone())
            })
            .collect()
    })
}

async fn process_chunk(
    ctx: &Rc<ShardCtx>,
    source: &Arc<TopicMeta>,
    partition: u32,
    timers: &[TimerRef],
) -> Result<(), ApiError> {
    let policy = source
        .config
        .retry_policy()
        .expect("topics with timers have a policy");
    let mut retries = Vec::new();
    let mut poisons = Vec::new();
    for indexed in still_due(ctx, source, partition, timers) {
        let entry = &indexed.entry;
        let identity = event_identity(&source.name, partition, entry.source_offset);
        match policy.decide(entry.attempt, &entry.class, identity) {
            RetryDecision::Retry { attempt, .. } => retries.push((indexed, attempt)),
            RetryDecision::Poison(_) => poisons.push(indexed),
        }
    }
    if !retries.is_empty() {
        republish(ctx, source, partition, retries).await?;
    }
    if !poisons.is_empty() {
        mark_poison(ctx, source, partition, poisons).await?;
    }
    Ok(())
}

/// Builds the headers of a re-published copy.
pub fn copy_headers(entry: &DlqEntry, attempt: u32, generation: u32) -> Headers {
    let history = serde_json::to_string(&entry.reason_history).expect("strings serialize");
    Headers(vec![
        (header::ATTEMPT, attempt.to_string()),
        (header::SOURCE_TOPIC, entry.source_topic.clone()),
        (header::SOURCE_PARTITION, entry.source_partition.to_string()),
        (header::SOURCE_OFFSET, entry.source_offset.to_string()),
        (header::GENERATION, generation.to_string()),
        (
            header::IDEMPOTENCY_KEY,
            idempotency_key(
                &entry.source_topic,
                entry.source_partition,
                entry.source_offset,
                generation,
                attempt,
            ),
        ),
        (header::REASON_HISTORY, history),
        (header::REASON, entry.reason.clone()),
        (header::CLASS, entry.class.clone()),
    ])
}

/// Appends the copies to `T.retry`, syncs them, then appends and syncs the
/// `retried` states.
async fn republish(
    ctx: &Rc<ShardCtx>,
    source: &Arc<TopicMeta>,
    partition: u32,
    due: Vec<(Indexed, u32)>,
) -> Result<(), ApiError> {
    let catalog = ctx.shared.catalog();
    let retry_meta = companion(&catalog, &retry_topic(&source.name))?;
    let dlq_meta = companion(&catalog, &dlq_topic(&source.name))?;
    let retry_log = owned_partition(ctx, &retry_meta, partition)?;
    let dlq_log = owned_partition(ctx, &dlq_meta, partition)?;
    let now = now_ms();
    let mut copies = BatchBuilder::new(now);
    for (indexed, attempt) in &due {
        let payload =
            read_record(&dlq_log, &dlq_meta.name, partition, indexed.payload_offset).await?;
        let headers = copy_headers(&indexed.entry, *attempt, indexed.entry.redrive_generation);
        copies.push(
            now,
            payload.key.as_deref(),
            payload.value.as_deref(),
            &headers.as_pairs(),
        );
    }
    let info = retry_log
        .append(copies.finish())
        .map_err(|err| storage_error(err, &retry_meta.name, partition))?;
    retry_log
        .wait_durable(info.last_offset)
        .await
        .map_err(|err| storage_error(err, &retry_meta.name, partition))?;
    metrics::global()
        .retries_published
        .fetch_add(due.len() as u64, Ordering::Relaxed);
    let entries = due.into_iter().map(|(indexed, _)| indexed).collect();
    append_states(ctx, source, partition, entries, EntryState::Retried).await?;
    Ok(())
}

/// Appends a record in state `state` for each entry that is still at the
/// attempt it had when read (a newer Fail wins), and syncs them. Returns the
/// entries written.
pub async fn append_states(
    ctx: &Rc<ShardCtx>,
    source: &Arc<TopicMeta>,
    partition: u32,
    entries: Vec<Indexed>,
    state: EntryState,
) -> Result<Vec<DlqEntry>, ApiError> {
    let dlq_meta = companion(&ctx.shared.catalog(), &dlq_topic(&source.name))?;
    let dlq_log = owned_partition(ctx, &dlq_meta, partition)?;
    let now = now_ms();
    let mut builder = BatchBuilder::new(now);
    let mut written = Vec::new();
    ctx.retry.with_index(source, partition, |index| {
        for indexed in entries {
            let key = (
                indexed.entry.source_offset,
                indexed.entry.redrive_generation,
            );
            let unchanged = index
                .entries
                .get(&key)
                .is_some_and(|current| current.dlq_offset == indexed.dlq_offset);
            if unchanged {
                let mut entry = indexed.entry.clone();
                entry.state = state;
                let headers = entry.headers();
                builder.push(now, indexed.key.as_deref(), None, &headers.as_pairs());
                written.push((entry, indexed.key.clone()));
            }
        }
    });
    if written.is_empty() {
        return Ok(Vec::new());
    }
    let info = dlq_log
        .append(builder.finish())
        .map_err(|err| storage_error(err, &dlq_meta.name, partition))?;
    let timers: Vec<_> = ctx.retry.with_index(source, partition, |index| {
        written
            .iter()
            .enumerate()
            .map(|(i, (entry, key))| {
                index.apply(entry.clone(), key.clone(), info.base_offset + i as u64)
            })
            .collect()
    });
    for timer in timers {
        ctx.retry.cancel(timer);
    }
    dlq_log
        .wait_durable(info.last_offset)
        .await
        .map_err(|err| storage_error(err, &dlq_meta.name, partition))?;
    Ok(written.into_iter().map(|(entry, _)| entry).collect())
}

/// Marks entries poison, then logs, counts and alerts for each.
async fn mark_poison(
    ctx: &Rc<ShardCtx>,
    source: &Arc<TopicMeta>,
    partition: u32,
    entries: Vec<Indexed>,
) -> Result<(), ApiError> {
    let written = append_states(ctx, source, partition, entries, EntryState::Poison).await?;
    metrics::global()
        .poison_events
        .fetch_add(written.len() as u64, Ordering::Relaxed);
    for entry in &written {
        warn!(target: "ringbus::retry", topic = %entry.source_topic, partition, offset = entry.source_offset,
              generation = entry.redrive_generation, attempts = entry.attempt, class = %entry.class,
              reason = %entry.reason, "event is poison: no retries left");
    }
    // NOTE: the alert follows the durable poison record, so a crash between
    // the two loses that alert (at most once), never the poison decision.
    alerts::raise(ctx, &written).await;
    Ok(())
}
