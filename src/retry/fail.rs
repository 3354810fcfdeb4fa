//! The Fail API on the shard that owns the failed partition: read the event
//! from the broker's own log, append a dead-letter entry to `T.dlq`, reply
//! once it is durable, then put it on the timing wheel.

use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use tracing::debug;

use super::entry::{self, header, push_reason, DlqEntry, EntryState, DEFAULT_CLASS};
use super::index::EntryKey;
use super::log::{read_record, OwnedRecord};
use super::metrics;
use super::policy::{event_identity, RetryDecision};
use super::topics::{companion, dlq_topic};
use crate::protocol::batch::BatchBuilder;
use crate::protocol::dlq::{FailReply, FailRequest};
use crate::protocol::{ApiError, ErrorCode};
use crate::server::catalog::TopicMeta;
use crate::server::offsets::now_ms;
use crate::server::ops::{check_disk, owned_partition, storage_error};
use crate::server::state::{ReplyBody, ShardCtx, ShardResult};

/// Who the failed record is: the original event, its generation and the
/// attempt that failed.
struct Identity {
    source_offset: u64,
    generation: u32,
    attempt: u32,
    /// Reason history carried by a re-published copy.
    carried_history: Vec<String>,
}

/// Handles a Fail for an event of `failed` (the source topic `source` or
/// its retry topic).
pub async fn fail(
    ctx: Rc<ShardCtx>,
    source: Arc<TopicMeta>,
    failed: Arc<TopicMeta>,
    request: FailRequest,
) -> ShardResult {
    let partition = request.partition;
    let failed_log = owned_partition(&ctx, &failed, partition)?;
    let dlq_meta = companion(&ctx.shared.catalog(), &dlq_topic(&source.name))?;
    let dlq_log = owned_partition(&ctx, &dlq_meta, partition)?;
    let record = read_record(&failed_log, &failed.name, partition, request.offset).await?;
    let identity = identify(&source, &failed, &record)?;
    let key: EntryKey = (identity.source_offset, identity.generation);

    // From here to the append nothing awaits, so the check and the append
    // are atomic on this shard.
    let existing = ctx
        .retry
        .with_index(&source, partition, |index| index.entries.get(&key).cloned());
    if let Some(current) = existing
        .as_ref()
        .filter(|c| c.entry.attempt >= identity.attempt)
    {
        // The same attempt (or an older one) was already reported. Reply
        // once its record is durable, so a repeat never acknowledges early.
        dlq_log
            .wait_durable(current.dlq_offset)
            .await
            .map_err(|err| storage_error(err, &dlq_meta.name, partition))?;
        debug!(target: "ringbus::retry", topic = %failed.name, partition, offset = request.offset,
               attempt = identity.attempt, "repeated fail report ignored");
        return Ok(reply(false, current.dlq_offset, &current.entry));
    }
    check_disk(&ctx)?;
    let now = now_ms();
    let policy = source
        .config
        .retry_policy()
        .expect("resolved source has a policy");
    let class = if request.class.is_empty() {
        DEFAULT_CLASS.to_owned()
    } else {
        check_class(&request.class)?;
        request.class.to_ascii_lowercase()
    };
    let class = class.as_str();
    let identity_hash = event_identity(&source.name, partition, identity.source_offset);
    let delay_ms = match policy.decide(identity.attempt, class, identity_hash) {
        RetryDecision::Retry { delay_ms, .. } => delay_ms,
        // Poison entries are due at once; the orchestrator marks them.
        RetryDecision::Poison(_) => 0,
    };
    let mut history = match &existing {
        Some(current) => current.entry.reason_history.clone(),
        None => identity.carried_history,
    };
    push_reason(&mut history, &request.reason);
    let entry = DlqEntry {
        state: EntryState::Pending,
        source_topic: source.name.clone(),
        source_partition: partition,
        source_offset: identity.source_offset,
        redrive_generation: identity.generation,
        attempt: identity.attempt,
        reason: entry::bound_reason(&request.reason),
        class: class.to_owned(),
        reason_history: history,
        first_failure_ms: existing.as_ref().map_or(now, |c| c.entry.first_failure_ms),
        last_failure_ms: now,
        next_due_ms: now.saturating_add(i64::try_from(delay_ms).unwrap_or(i64::MAX)),
        failed_topic: failed.name.clone(),
        failed_offset: request.offset,
    };
    let headers = entry.headers();
    let mut builder = BatchBuilder::new(now);
    builder.push(
        now,
        record.key.as_deref(),
        record.value.as_deref(),
        &headers.as_pairs(),
    );
    let info = dlq_log
        .append(builder.finish())
        .map_err(|err| storage_error(err, &dlq_meta.name, partition))?;
    let old_timer = ctx.retry.with_index(&source, partition, |index| {
        index.apply(entry.clone(), record.key.clone(), info.base_offset)
    });
    ctx.retry.cancel(old_timer);

    dlq_log
        .wait_durable(info.last_offset)
        .await
        .map_err(|err| storage_error(err, &dlq_meta.name, partition))?;
    metrics::global()
        .fails_accepted
        .fetch_add(1, Ordering::Relaxed);
    ctx.retry
        .schedule(&source, partition, key, entry.attempt, entry.next_due_ms);
    Ok(reply(true, info.base_offset, &entry))
}

fn reply(changed: bool, dlq_offset: u64, entry: &DlqEntry) -> ReplyBody {
    ReplyBody::Fail(FailReply {
        changed,
        dlq_offset,
        attempt: entry.attempt,
        state: entry.state.name().to_owned(),
        next_due_ms: entry.next_due_ms,
    })
}

/// Works out which event and attempt a failed record is. A record of `T`
/// is attempt 1 of itself, unless an operator redrive put it there; a
/// record of `T.retry` names its source and attempt in its headers.
fn identify(
    source: &TopicMeta,
    failed: &TopicMeta,
    record: &OwnedRecord,
) -> Result<Identity, ApiError> {
    let from_retry = failed.id != source.id;
    let redriven = record.header(header::GENERATION).is_some();
    if !from_retry && !redriven {
        return Ok(Identity {
            source_offset: record.offset,
            generation: 0,
            attempt: 1,
            carried_history: Vec::new(),
        });
    }
    let number = |name: &str| -> Result<u64, ApiError> {
        let text = record
            .header(name)
            .ok_or_else(|| invalid_copy(failed, record, name))?;
        text.parse().map_err(|_| invalid_copy(failed, record, name))
    };
    let carried_history = record
        .header(header::REASON_HISTORY)
        .and_then(|text| serde_json::from_str(text).ok())
        .unwrap_or_default();
    Ok(Identity {
        source_offset: number(header::SOURCE_OFFSET)?,
        generation: u32::try_from(number(header::GENERATION)?).unwrap_or(u32::MAX),
        attempt: u32::try_from(number(header::ATTEMPT)?)
            .unwrap_or(u32::MAX)
            .max(1),
        carried_history,
    })
}

fn invalid_copy(failed: &TopicMeta, record: &OwnedRecord, name: &str) -> ApiError {
    ApiError::new(
        ErrorCode::InvalidRequest,
        format!(
            "record {} of topic '{}' has no valid '{name}' header, so it was not published by the retry \
             orchestrator; report failures of retry copies only",
            record.offset, failed.name
        ),
    )
}

/// Longest failure class accepted, in bytes; classes travel in every retry
/// copy's headers, so they stay short.
pub const CLASS_BYTES_MAX: usize = 64;

/// Checks a failure class: 1 to 64 bytes of letters, digits, `.`, `_` or
/// `-`. Classes compare case-insensitively, as they are stored lowercased.
fn check_class(class: &str) -> Result<(), ApiError> {
    let valid = class.len() <= CLASS_BYTES_MAX
        && class
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if valid {
        return Ok(());
    }
    let shown: String = class.chars().take(CLASS_BYTES_MAX).collect();
    Err(ApiError::new(
        crate::protocol::ErrorCode::InvalidRequest,
        format!(
            "failure class {shown:?} is invalid; use up to {CLASS_BYTES_MAX} letters, digits, '.', '_' or '-'"
        ),
    ))
}
