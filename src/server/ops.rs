//! Partition-level requests, run on the shard that owns the partition.
//!
//! `handle` runs the ordered part of a request (the append that assigns
//! offsets) before it returns, and leaves the waiting (durability, long
//! poll) to the returned future. Requests from one connection or one mesh
//! channel therefore append in the order they arrived.

use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use futures_util::future::{ready, LocalBoxFuture};

use super::admin;
use super::catalog::TopicMeta;
use super::offsets;
use super::state::{ReplyBody, ShardCtx, ShardRequest, ShardResult};
use crate::metrics;
use crate::protocol::api::{
    Acks, FetchReplyHeader, FetchRequest, ProduceReply, LIST_OFFSETS_EARLIEST, LIST_OFFSETS_LATEST,
};
use crate::protocol::batch;
use crate::protocol::{ApiError, ErrorCode};
use crate::retry;
use crate::shard::runtime;
use crate::storage::{Durability, Partition, StorageError};

/// Runs `request` on this shard.
pub fn handle(ctx: &Rc<ShardCtx>, request: ShardRequest) -> LocalBoxFuture<'static, ShardResult> {
    match request {
        ShardRequest::Produce {
            topic,
            partition,
            acks,
            records,
        } => produce(ctx, topic, partition, acks, records),
        ShardRequest::Fetch { topic, request } => Box::pin(fetch(ctx.clone(), topic, request)),
        ShardRequest::ListOffsets {
            topic,
            partition,
            timestamp,
        } => Box::pin(list_offsets(ctx.clone(), topic, partition, timestamp)),
        ShardRequest::OffsetCommit {
            key,
            offset,
            metadata,
        } => Box::pin(offsets::commit(ctx.clone(), key, offset, metadata)),
        ShardRequest::OffsetFetch { key } => Box::pin(ready(offsets::fetch(ctx, &key))),
        ShardRequest::CreateTopic {
            name,
            partitions,
            config,
        } => Box::pin(admin::create_topic(ctx.clone(), name, partitions, config)),
        ShardRequest::DeleteTopic { name } => Box::pin(admin::delete_topic(ctx.clone(), name)),
        ShardRequest::OpenPartitions { topic, partitions } => {
            Box::pin(admin::open_partitions(ctx.clone(), topic, partitions))
        }
        ShardRequest::ClosePartitions { topic, partitions } => {
            Box::pin(admin::close_partitions(ctx.clone(), topic, partitions))
        }
        ShardRequest::Fail {
            source,
            failed,
            request,
        } => Box::pin(retry::fail::fail(ctx.clone(), source, failed, request)),
        ShardRequest::DlqCommand(command) => Box::pin(retry::commands::run(ctx.clone(), command)),
        ShardRequest::DlqPartition {
            source,
            partition,
            command,
        } => Box::pin(retry::commands::run_partition(
            ctx.clone(),
            source,
            partition,
            command,
        )),
        ShardRequest::Metrics => {
            let snapshot = super::snapshot::take(ctx);
            Box::pin(ready(Ok(ReplyBody::Metrics(Box::new(snapshot)))))
        }
    }
}

/// The open log of a partition this shard owns.
pub fn owned_partition(
    ctx: &ShardCtx,
    topic: &TopicMeta,
    partition: u32,
) -> Result<Partition, ApiError> {
    topic.owner(partition)?;
    ctx.partition(topic, partition).ok_or_else(|| {
        ApiError::new(
            ErrorCode::UnknownPartition,
            format!(
                "partition {partition} of topic '{}' is not open on shard {}; retry after Metadata",
                topic.name, ctx.id
            ),
        )
    })
}

/// Maps a storage failure to the reply code and a message with its ids.
pub fn storage_error(err: StorageError, topic: &str, partition: u32) -> ApiError {
    let code = match &err {
        StorageError::CorruptBatch { .. } => ErrorCode::CorruptBatch,
        StorageError::DiskFull { .. } => ErrorCode::DiskFull,
        StorageError::OffsetOutOfRange { .. } => ErrorCode::OffsetOutOfRange,
        StorageError::QueueFull { .. } => ErrorCode::RequestTimedOut,
        _ => ErrorCode::StorageError,
    };
    ApiError::new(code, format!("{topic}/{partition}: {err}"))
}

fn produce(
    ctx: &Rc<ShardCtx>,
    topic: Arc<TopicMeta>,
    partition: u32,
    acks: Acks,
    records: BytesMut,
) -> LocalBoxFuture<'static, ShardResult> {
    let log = match owned_partition(ctx, &topic, partition) {
        Ok(log) => log,
        Err(err) => return Box::pin(ready(Err(err))),
    };
    if let Err(err) = check_disk(ctx) {
        return Box::pin(ready(Err(err)));
    }
    let checked = check_records(ctx, &topic, &records);
    if let Err(err) = checked {
        if err.code == ErrorCode::SchemaValidationFailed {
            let rejected = metrics::count_records(&records);
            metrics::record_schema_rejections(topic.id, &topic.name, rejected);
        }
        return Box::pin(ready(Err(err)));
    }
    let info = match log.append(records) {
        Ok(info) => info,
        Err(err) => return Box::pin(ready(Err(storage_error(err, &topic.name, partition)))),
    };
    let wait_durable = acks == Acks::Durable || topic.config.durability == Durability::Always;
    let started = Instant::now();
    Box::pin(async move {
        let waited = if wait_durable {
            log.wait_durable(info.last_offset).await
        } else {
            log.wait_written(info.last_offset).await
        };
        waited.map_err(|err| storage_error(err, &topic.name, partition))?;
        let (records, bytes) = (u64::from(info.record_count), info.bytes as u64);
        metrics::record_produce(topic.id, &topic.name, records, bytes, started.elapsed());
        Ok(ReplyBody::Produce(ProduceReply {
            base_offset: info.base_offset,
            last_offset: info.last_offset,
        }))
    })
}

/// Walks every record of every batch, as Kafka does for uncompressed
/// batches, so a batch whose CRC is right but whose records are malformed
/// never reaches consumers. The topic's `validation` setting is applied in
/// the same walk, with one load of the shard's validator snapshot.
fn check_records(ctx: &ShardCtx, topic: &TopicMeta, records: &[u8]) -> Result<(), ApiError> {
    use crate::registry::produce;
    let validation = topic.config.validation;
    let validators;
    let subject;
    let mut schemas = None;
    if !topic.is_internal() && produce::applies_to(&topic.name, validation) {
        validators = ctx.shared.registry.validators.load();
        subject = produce::topic_subject(&topic.name, &topic.config.subject);
        schemas = Some(produce::RecordChecker::new(
            &validators,
            &topic.name,
            &subject,
            validation,
        ));
    }
    let mut rest = records;
    let mut position = 0usize;
    while !rest.is_empty() {
        let corrupt = |err: batch::BatchError| {
            ApiError::new(
                ErrorCode::CorruptBatch,
                format!("invalid batch at byte {position} of the request: {err}; send uncompressed Kafka RecordBatch v2 batches"),
            )
        };
        // The CRC comes first so damaged bytes are reported as such. `append`
        // checks it again; CRC-32C runs at over 20 GiB/s, next to the record
        // walk it is small.
        let size = batch::validate(rest).map_err(corrupt)?.size_bytes;
        for record in batch::records(&rest[..size]) {
            let record = record.map_err(corrupt)?;
            if let Some(checker) = schemas.as_mut() {
                checker.check(&record)?;
            }
        }
        rest = &rest[size..];
        position += size;
    }
    Ok(())
}

/// Rejects writes while free disk space is below `min_free_bytes`.
pub fn check_disk(ctx: &ShardCtx) -> Result<(), ApiError> {
    let shared = &ctx.shared;
    if !shared.disk_full.load(Ordering::Relaxed) {
        return Ok(());
    }
    Err(ApiError::new(
        ErrorCode::DiskFull,
        format!(
            "free disk space {} bytes under {} is below broker.min_free_bytes = {}; free space or lower the setting",
            shared.free_bytes.load(Ordering::Relaxed),
            shared.config.broker.data_dir.display(),
            shared.config.broker.min_free_bytes
        ),
    ))
}

fn out_of_range(topic: &str, partition: u32, offset: u64, start: u64, end: u64) -> ApiError {
    ApiError::new(
        ErrorCode::OffsetOutOfRange,
        format!(
            "offset {offset} is outside {start}..={end} of {topic}/{partition}; \
             list the earliest or latest offset and fetch from there"
        ),
    )
}

async fn fetch(ctx: Rc<ShardCtx>, topic: Arc<TopicMeta>, request: FetchRequest) -> ShardResult {
    let partition = request.partition;
    let log = owned_partition(&ctx, &topic, partition)?;
    let started = Instant::now();
    let deadline = started + Duration::from_millis(request.max_wait_ms as u64);
    loop {
        let start = log.log_start_offset();
        let end = log.high_watermark();
        if request.offset < start || request.offset > end {
            return Err(out_of_range(
                &topic.name,
                partition,
                request.offset,
                start,
                end,
            ));
        }
        let now = Instant::now();
        if request.offset < end {
            let read = log
                .read(request.offset, request.max_bytes as usize)
                .await
                .map_err(|err| storage_error(err, &topic.name, partition))?;
            if read.size_bytes >= request.min_bytes as usize || now >= deadline {
                let records = read
                    .chunks
                    .iter()
                    .map(|chunk| metrics::count_records(chunk))
                    .sum();
                let bytes = read.size_bytes as u64;
                metrics::record_fetch(topic.id, &topic.name, records, bytes, started.elapsed());
                return Ok(ReplyBody::Fetch {
                    header: FetchReplyHeader {
                        high_watermark: read.high_watermark,
                        log_start_offset: read.log_start_offset,
                        records_bytes: read.size_bytes as u32,
                    },
                    chunks: read.chunks,
                });
            }
        }
        if now >= deadline || ctx.shared.is_shutting_down() {
            metrics::record_fetch(topic.id, &topic.name, 0, 0, started.elapsed());
            return Ok(ReplyBody::Fetch {
                header: FetchReplyHeader {
                    high_watermark: end,
                    log_start_offset: start,
                    records_bytes: 0,
                },
                chunks: Vec::new(),
            });
        }
        runtime::timeout(deadline - now, log.wait_for_data(end)).await;
    }
}

async fn list_offsets(
    ctx: Rc<ShardCtx>,
    topic: Arc<TopicMeta>,
    partition: u32,
    timestamp: i64,
) -> ShardResult {
    let log = owned_partition(&ctx, &topic, partition)?;
    let offset = match timestamp {
        LIST_OFFSETS_EARLIEST => log.log_start_offset() as i64,
        LIST_OFFSETS_LATEST => log.high_watermark() as i64,
        ts if ts < 0 => {
            return Err(ApiError::new(
                ErrorCode::InvalidRequest,
                format!("timestamp {ts} is invalid; use -2 (earliest), -1 (latest) or milliseconds since the epoch"),
            ))
        }
        ts => log
            .offset_for_timestamp(ts)
            .await
            .map_err(|err| storage_error(err, &topic.name, partition))?
            .map_or(-1, |offset| offset as i64),
    };
    Ok(ReplyBody::ListOffsets(offset))
}
