//! Operator commands over dead-letter entries: list, show, redrive, purge.
//!
//! `run` may start on any shard: it sends one partition-level request per
//! partition of `T` to the partition's owner and merges the replies.

use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use tracing::info;

use super::entry::{DlqEntry, EntryState, EntryView};
use super::index::Indexed;
use super::log::{read_record, scan};
use super::orchestrator::{append_states, copy_headers};
use super::topics::{companion, dlq_topic, resolve_source, retry_topic};
use crate::protocol::api::Acks;
use crate::protocol::batch::BatchBuilder;
use crate::protocol::dlq::{DlqCommand, DlqReply};
use crate::protocol::{ApiError, ErrorCode};
use crate::server::catalog::TopicMeta;
use crate::server::offsets::now_ms;
use crate::server::ops::owned_partition;
use crate::server::route;
use crate::server::state::{ReplyBody, ShardCtx, ShardRequest, ShardResult};
use crate::shard::runtime;

/// Entries one redrive step re-publishes when no rate is set.
const REDRIVE_BATCH_MAX: usize = 1024;

/// Runs `command` over every partition it covers and merges the replies.
pub async fn run(ctx: Rc<ShardCtx>, command: DlqCommand) -> ShardResult {
    let source = resolve_source(&ctx.shared.catalog(), command.topic())?;
    check_command(&command)?;
    let partitions: Vec<u32> = match &command {
        DlqCommand::Show { partition, .. } => {
            source.owner(*partition)?;
            vec![*partition]
        }
        _ => (0..source.config.partitions).collect(),
    };
    let mut pending = Vec::new();
    for partition in partitions {
        let owner = source.owner(partition)?;
        let request = ShardRequest::DlqPartition {
            source: source.clone(),
            partition,
            command: command.clone(),
        };
        pending.push(route::submit(&ctx, owner, request).await);
    }
    let mut merged = DlqReply::default();
    for result in futures_util::future::join_all(pending).await {
        let ReplyBody::Dlq(reply) = result? else {
            unreachable!("partition commands reply with ReplyBody::Dlq");
        };
        merged.matched += reply.matched;
        merged.changed += reply.changed;
        merged.entries.extend(reply.entries);
    }
    if let DlqCommand::List { limit, .. } = &command {
        if *limit > 0 {
            merged.entries.truncate(*limit as usize);
        }
    }
    if let DlqCommand::Show {
        partition, offset, ..
    } = &command
    {
        if merged.entries.is_empty() {
            return Err(ApiError::new(
                ErrorCode::DlqEntryNotFound,
                format!(
                    "no dead-letter entry for offset {offset} of {}/{partition}; list entries with `ringbus dlq list {}`",
                    source.name, source.name
                ),
            ));
        }
    }
    Ok(ReplyBody::Dlq(merged))
}

/// Parses a state filter; empty means none.
fn parse_state(text: &str) -> Result<Option<EntryState>, ApiError> {
    if text.is_empty() {
        return Ok(None);
    }
    EntryState::parse(text).map(Some).ok_or_else(|| {
        ApiError::new(
            ErrorCode::InvalidRequest,
            format!("state '{text}' is invalid; use pending, retried, poison, redriven or purged"),
        )
    })
}

fn check_command(command: &DlqCommand) -> Result<(), ApiError> {
    match command {
        DlqCommand::List { state, .. } | DlqCommand::Purge { state, .. } => {
            parse_state(state).map(|_| ())
        }
        DlqCommand::Redrive { state, to, .. } => {
            parse_state(state)?;
            if to != "source" && to != "retry" {
                return Err(ApiError::new(
                    ErrorCode::InvalidRequest,
                    format!("redrive target '{to}' is invalid; use source or retry"),
                ));
            }
            Ok(())
        }
        DlqCommand::Show { .. } => Ok(()),
    }
}

fn view(indexed: &Indexed) -> String {
    let view = EntryView {
        entry: &indexed.entry,
        key: indexed
            .key
            .as_deref()
            .map(|k| String::from_utf8_lossy(k).into_owned()),
        dlq_offset: indexed.dlq_offset,
    };
    serde_json::to_string(&view).expect("entry serializes")
}

/// Runs `command` on one partition this shard owns.
pub async fn run_partition(
    ctx: Rc<ShardCtx>,
    source: Arc<TopicMeta>,
    partition: u32,
    command: DlqCommand,
) -> ShardResult {
    let reply = match command {
        DlqCommand::List { state, limit, .. } => {
            list(&ctx, &source, partition, parse_state(&state)?, limit)
        }
        DlqCommand::Show { offset, .. } => show(&ctx, &source, partition, offset).await?,
        DlqCommand::Redrive {
            state,
            to,
            rate_per_s,
            dry_run,
            ..
        } => {
            let state = parse_state(&state)?.unwrap_or(EntryState::Poison);
            redrive(
                &ctx,
                &source,
                partition,
                state,
                to == "retry",
                rate_per_s,
                dry_run,
            )
            .await?
        }
        DlqCommand::Purge {
            state, before_ms, ..
        } => purge(&ctx, &source, partition, parse_state(&state)?, before_ms).await?,
    };
    Ok(ReplyBody::Dlq(reply))
}

/// Whether an entry passes a state filter; no filter hides purged entries.
fn state_matches(entry: &DlqEntry, state: Option<EntryState>) -> bool {
    match state {
        Some(state) => entry.state == state,
        None => entry.state != EntryState::Purged,
    }
}

fn list(
    ctx: &ShardCtx,
    source: &TopicMeta,
    partition: u32,
    state: Option<EntryState>,
    limit: u32,
) -> DlqReply {
    ctx.retry.with_index(source, partition, |index| {
        let selected = index.sorted(|indexed| state_matches(&indexed.entry, state));
        let shown = if limit == 0 {
            selected.len()
        } else {
            selected.len().min(limit as usize)
        };
        DlqReply {
            matched: selected.len() as u64,
            changed: 0,
            entries: selected[..shown]
                .iter()
                .map(|(_, indexed)| view(indexed))
                .collect(),
        }
    })
}

/// Every record of every generation of the entry for `offset`, oldest first.
async fn show(
    ctx: &ShardCtx,
    source: &TopicMeta,
    partition: u32,
    offset: u64,
) -> Result<DlqReply, ApiError> {
    let dlq_meta = companion(&ctx.shared.catalog(), &dlq_topic(&source.name))?;
    let log = owned_partition(ctx, &dlq_meta, partition)?;
    let mut entries = Vec::new();
    scan(&log, &dlq_meta.name, partition, |record| {
        let Ok(entry) = DlqEntry::from_headers(record.header_pairs()) else {
            return;
        };
        if entry.source_offset == offset {
            let indexed = Indexed {
                entry,
                key: record.key.clone(),
                dlq_offset: record.offset,
                payload_offset: record.offset,
                timer: None,
            };
            entries.push(view(&indexed));
        }
    })
    .await?;
    Ok(DlqReply {
        matched: entries.len() as u64,
        changed: 0,
        entries,
    })
}

/// Re-publishes entries in `state` with a new redrive generation and the
/// attempt count reset to 1, to `T` or (with `to_retry`) to `T.retry`.
async fn redrive(
    ctx: &Rc<ShardCtx>,
    source: &Arc<TopicMeta>,
    partition: u32,
    state: EntryState,
    to_retry: bool,
    rate_per_s: u32,
    dry_run: bool,
) -> Result<DlqReply, ApiError> {
    let selected: Vec<Indexed> = ctx.retry.with_index(source, partition, |index| {
        index
            .sorted(|indexed| indexed.entry.state == state)
            .into_iter()
            .map(|(_, indexed)| indexed.clone())
            .collect()
    });
    let matched = selected.len() as u64;
    if dry_run || selected.is_empty() {
        return Ok(DlqReply {
            matched,
            changed: 0,
            entries: selected.iter().map(view).collect(),
        });
    }
    let catalog = ctx.shared.catalog();
    let target = if to_retry {
        companion(&catalog, &retry_topic(&source.name))?
    } else {
        source.clone()
    };
    let dlq_meta = companion(&catalog, &dlq_topic(&source.name))?;
    let dlq_log = owned_partition(ctx, &dlq_meta, partition)?;
    let step = if rate_per_s == 0 {
        REDRIVE_BATCH_MAX
    } else {
        (rate_per_s as usize / 10).clamp(1, REDRIVE_BATCH_MAX)
    };
    let mut changed = 0u64;
    for chunk in selected.chunks(step) {
        let now = now_ms();
        let mut copies = BatchBuilder::new(now);
        for indexed in chunk {
            let payload =
                read_record(&dlq_log, &dlq_meta.name, partition, indexed.payload_offset).await?;
            let generation = indexed.entry.redrive_generation.saturating_add(1);
            let headers = copy_headers(&indexed.entry, 1, generation);
            copies.push(
                now,
                payload.key.as_deref(),
                payload.value.as_deref(),
                &headers.as_pairs(),
            );
        }
        let request = ShardRequest::Produce {
            topic: target.clone(),
            partition,
            acks: Acks::Durable,
            records: copies.finish(),
        };
        route::submit(ctx, ctx.id, request).await.await?;
        let written =
            append_states(ctx, source, partition, chunk.to_vec(), EntryState::Redriven).await?;
        changed += written.len() as u64;
        if rate_per_s > 0 {
            runtime::sleep(Duration::from_millis(
                chunk.len() as u64 * 1000 / u64::from(rate_per_s),
            ))
            .await;
        }
    }
    info!(target: "ringbus::retry", topic = %source.name, partition, to = %target.name, count = changed,
          "dead-letter entries redriven");
    Ok(DlqReply {
        matched,
        changed,
        entries: Vec::new(),
    })
}

/// Marks matching entries purged and cancels their timers.
async fn purge(
    ctx: &Rc<ShardCtx>,
    source: &Arc<TopicMeta>,
    partition: u32,
    state: Option<EntryState>,
    before_ms: i64,
) -> Result<DlqReply, ApiError> {
    let selected: Vec<Indexed> = ctx.retry.with_index(source, partition, |index| {
        index
            .sorted(|indexed| {
                // An entry already purged is skipped, so a repeated purge
                // appends nothing.
                indexed.entry.state != EntryState::Purged
                    && state_matches(&indexed.entry, state)
                    && (before_ms <= 0 || indexed.entry.last_failure_ms < before_ms)
            })
            .into_iter()
            .map(|(_, indexed)| indexed.clone())
            .collect()
    });
    let matched = selected.len() as u64;
    let written = append_states(ctx, source, partition, selected, EntryState::Purged).await?;
    if !written.is_empty() {
        info!(target: "ringbus::retry", topic = %source.name, partition, count = written.len(),
              "dead-letter entries purged");
    }
    Ok(DlqReply {
        matched,
        changed: written.len() as u64,
        entries: Vec::new(),
    })
}
