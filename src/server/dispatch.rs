//! Request dispatch: decode the header, route the API to its handler and
//! queue the encoded reply on the connection.

use std::rc::Rc;

use bytes::{BufMut, BytesMut};
use futures_util::future::LocalBoxFuture;

use super::admin::ADMIN_SHARD;
use super::conn::{ConnState, Outgoing};
use super::offsets::{self, OFFSETS_TOPIC};
use super::route;
use super::state::{ReplyBody, ShardCtx, ShardRequest, ShardResult};
use crate::protocol::api::{
    Acks, ApiVersionsReply, Body, CreateTopicReply, CreateTopicRequest, DeleteTopicRequest,
    FetchRequest, ListOffsetsReply, ListOffsetsRequest, MetadataReply, MetadataRequest,
    OffsetCommitRequest, OffsetFetchRequest, ProduceRequest, TopicMetadata,
};
use crate::protocol::codec::Reader;
use crate::protocol::dlq::{DlqCommand, DlqCommandKind, FailRequest};
use crate::protocol::frame::{begin_reply, finish_frame, RequestHeader};
use crate::protocol::{ApiError, ApiKey, ErrorCode};
use crate::shard::runtime;

/// Handles one request frame (without its length prefix). Returns `Err`
/// only when the header cannot be parsed, which closes the connection.
pub async fn dispatch(
    ctx: &Rc<ShardCtx>,
    conn: &ConnState,
    mut frame: BytesMut,
) -> Result<(), String> {
    let (header, body_start) = RequestHeader::parse(&frame).map_err(|err| err.to_string())?;
    let correlation_id = header.correlation_id;
    let limit = ctx
        .shared
        .config
        .broker
        .max_inflight_requests_per_connection;
    if conn.inflight.get() >= limit {
        let err = ApiError::new(
            ErrorCode::TooManyInflightRequests,
            format!("{limit} requests are already in flight on this connection (broker.max_inflight_requests_per_connection); wait for replies"),
        );
        send_error(conn, correlation_id, &err);
        return Ok(());
    }
    let Some(api) = ApiKey::from_u16(header.api_key) else {
        let err = ApiError::new(
            ErrorCode::UnknownApi,
            format!(
                "API key {} is not supported; send ApiVersions to list the supported APIs",
                header.api_key
            ),
        );
        send_error(conn, correlation_id, &err);
        return Ok(());
    };
    let (min, max) = api.versions();
    if header.api_version < min || header.api_version > max {
        let err = ApiError::new(
            ErrorCode::UnsupportedVersion,
            format!(
                "{api:?} version {} is not supported; use {min}..={max}",
                header.api_version
            ),
        );
        send_error(conn, correlation_id, &err);
        return Ok(());
    }
    if ctx.shared.is_shutting_down() {
        send_error(
            conn,
            correlation_id,
            &ApiError::new(
                ErrorCode::ShuttingDown,
                "the broker is shutting down; reconnect after it restarts",
            ),
        );
        return Ok(());
    }
    let body = frame.split_off(body_start);
    if api == ApiKey::SchemaSubscribe {
        super::schema_calls::subscribe(ctx, conn, correlation_id, &body);
        return Ok(());
    }
    match start(ctx, api, body).await {
        Ok(Started::Pending { future, reply }) => track(ctx, conn, correlation_id, future, reply),
        Ok(Started::Done(result)) => send_result(conn, correlation_id, result),
        Err(err) => send_error(conn, correlation_id, &err),
    }
    Ok(())
}

/// A request after its ordered part: either finished, or a future to await.
enum Started {
    Done(ShardResult),
    Pending {
        future: LocalBoxFuture<'static, ShardResult>,
        /// False for produce with acks none: the result is not sent.
        reply: bool,
    },
}

fn pending(future: LocalBoxFuture<'static, ShardResult>) -> Started {
    Started::Pending {
        future,
        reply: true,
    }
}

async fn start(ctx: &Rc<ShardCtx>, api: ApiKey, mut body: BytesMut) -> Result<Started, ApiError> {
    let catalog = ctx.shared.catalog();
    match api {
        ApiKey::ApiVersions => Ok(Started::Done(Ok(raw(&api_versions())))),
        ApiKey::Metadata => {
            let request = decode_body::<MetadataRequest>(&body)?;
            let reply = metadata_reply(ctx, &request)?;
            Ok(Started::Done(Ok(raw(&reply))))
        }
        ApiKey::CreateTopic => {
            let request = decode_body::<CreateTopicRequest>(&body)?;
            let request = ShardRequest::CreateTopic {
                name: request.name,
                partitions: request.partitions,
                config: request.config,
            };
            Ok(pending(route::submit(ctx, ADMIN_SHARD, request).await))
        }
        ApiKey::DeleteTopic => {
            let request = decode_body::<DeleteTopicRequest>(&body)?;
            let request = ShardRequest::DeleteTopic { name: request.name };
            Ok(pending(route::submit(ctx, ADMIN_SHARD, request).await))
        }
        ApiKey::Produce => {
            let (request, start, len) = ProduceRequest::decode(&mut Reader::new(&body))?;
            let topic = catalog.topic(&request.topic)?.clone();
            if topic.is_internal() {
                return Err(ApiError::new(
                    ErrorCode::InvalidRequest,
                    format!("topic '{}' is internal to the broker; clients may read it but not write to it", topic.name),
                ));
            }
            let owner = topic.owner(request.partition)?;
            // The record batches stay in the receive buffer's memory.
            let mut records = body.split_off(start);
            records.truncate(len);
            let acks = request.acks;
            let request = ShardRequest::Produce {
                topic,
                partition: request.partition,
                acks,
                records,
            };
            let future = route::submit(ctx, owner, request).await;
            Ok(Started::Pending {
                future,
                reply: acks != Acks::None,
            })
        }
        ApiKey::Fetch => {
            let request = decode_body::<FetchRequest>(&body)?;
            let topic = catalog.topic(&request.topic)?.clone();
            let owner = topic.owner(request.partition)?;
            Ok(pending(
                route::submit(ctx, owner, ShardRequest::Fetch { topic, request }).await,
            ))
        }
        ApiKey::ListOffsets => {
            let request = decode_body::<ListOffsetsRequest>(&body)?;
            let topic = catalog.topic(&request.topic)?.clone();
            let owner = topic.owner(request.partition)?;
            let request = ShardRequest::ListOffsets {
                topic,
                partition: request.partition,
                timestamp: request.timestamp,
            };
            Ok(pending(route::submit(ctx, owner, request).await))
        }
        ApiKey::OffsetCommit => {
            let request = decode_body::<OffsetCommitRequest>(&body)?;
            check_commit(&request)?;
            let topic = catalog.topic(&request.topic)?;
            topic.owner(request.partition)?;
            let owner = catalog.topic(OFFSETS_TOPIC)?.owner(0)?;
            let request = ShardRequest::OffsetCommit {
                key: offsets::key(&request.group, topic.id, request.partition),
                offset: request.offset,
                metadata: request.metadata,
            };
            Ok(pending(route::submit(ctx, owner, request).await))
        }
        ApiKey::OffsetFetch => {
            let request = decode_body::<OffsetFetchRequest>(&body)?;
            let topic = catalog.topic(&request.topic)?;
            topic.owner(request.partition)?;
            let owner = catalog.topic(OFFSETS_TOPIC)?.owner(0)?;
            let key = offsets::key(&request.group, topic.id, request.partition);
            Ok(pending(
                route::submit(ctx, owner, ShardRequest::OffsetFetch { key }).await,
            ))
        }
        ApiKey::Fail => {
            let mut reader = Reader::new(&body);
            let request = FailRequest::decode(&mut reader)?;
            reader.finish("fail request")?;
            let (source, failed) = crate::retry::topics::resolve_failed(&catalog, &request.topic)?;
            let owner = failed.owner(request.partition)?;
            let request = ShardRequest::Fail {
                source,
                failed,
                request,
            };
            Ok(pending(route::submit(ctx, owner, request).await))
        }
        ApiKey::DlqList | ApiKey::DlqShow | ApiKey::DlqRedrive | ApiKey::DlqPurge => {
            let kind = match api {
                ApiKey::DlqList => DlqCommandKind::List,
                ApiKey::DlqShow => DlqCommandKind::Show,
                ApiKey::DlqRedrive => DlqCommandKind::Redrive,
                _ => DlqCommandKind::Purge,
            };
            let command = DlqCommand::decode_for(kind, &mut Reader::new(&body))?;
            Ok(pending(
                route::submit(ctx, ctx.id, ShardRequest::DlqCommand(command)).await,
            ))
        }
        api if super::schema_calls::is_forwarded(api) => {
            Ok(pending(super::schema_calls::forward(ctx, api, body)))
        }
        _ => Err(ApiError::new(
            ErrorCode::InvalidRequest,
            format!("{api:?} cannot be sent as a one-shot request"),
        )),
    }
}

/// Decodes a whole request body; trailing bytes are an error.
fn decode_body<T: Body>(body: &[u8]) -> Result<T, ApiError> {
    let mut reader = Reader::new(body);
    let value = T::decode(&mut reader)?;
    reader.finish("request body")?;
    Ok(value)
}

fn raw(body: &impl Body) -> ReplyBody {
    let mut buf = BytesMut::new();
    body.encode(&mut buf);
    ReplyBody::Raw(buf.freeze())
}

fn track(
    ctx: &Rc<ShardCtx>,
    conn: &ConnState,
    correlation_id: u32,
    future: LocalBoxFuture<'static, ShardResult>,
    reply: bool,
) {
    let inflight = conn.inflight.clone();
    let sender = conn.sender.clone();
    let ctx = ctx.clone();
    inflight.set(inflight.get() + 1);
    ctx.inflight.set(ctx.inflight.get() + 1);
    runtime::spawn_detached(async move {
        let result = future.await;
        ctx.inflight.set(ctx.inflight.get() - 1);
        if !reply {
            inflight.set(inflight.get() - 1);
            return;
        }
        let mut outgoing = encode_result(correlation_id, result);
        outgoing.counted = true;
        if sender.try_send(outgoing).is_err() {
            // The connection is gone; nothing will write this reply.
            inflight.set(inflight.get() - 1);
        }
    });
}

/// Queues an error reply.
pub fn send_error(conn: &ConnState, correlation_id: u32, err: &ApiError) {
    let _ = conn.sender.try_send(encode_error(correlation_id, err));
}

pub fn send_result(conn: &ConnState, correlation_id: u32, result: ShardResult) {
    let _ = conn.sender.try_send(encode_result(correlation_id, result));
}

fn encode_error(correlation_id: u32, err: &ApiError) -> Outgoing {
    let mut buf = BytesMut::with_capacity(16 + err.message.len());
    let start = begin_reply(&mut buf, correlation_id, err.code, &err.message);
    finish_frame(&mut buf, start, 0);
    Outgoing {
        head: buf.freeze(),
        chunks: Vec::new(),
        counted: false,
    }
}

fn encode_result(correlation_id: u32, result: ShardResult) -> Outgoing {
    let body = match result {
        Ok(body) => body,
        Err(err) => return encode_error(correlation_id, &err),
    };
    let mut buf = BytesMut::with_capacity(64);
    let start = begin_reply(&mut buf, correlation_id, ErrorCode::None, "");
    let mut chunks = Vec::new();
    let mut trailing = 0;
    match body {
        ReplyBody::Empty => {}
        ReplyBody::Produce(reply) => reply.encode(&mut buf),
        ReplyBody::Fetch {
            header,
            chunks: data,
        } => {
            header.encode(&mut buf);
            trailing = header.records_bytes as usize;
            chunks = data;
        }
        ReplyBody::ListOffsets(offset) => ListOffsetsReply { offset }.encode(&mut buf),
        ReplyBody::OffsetFetch(reply) => reply.encode(&mut buf),
        ReplyBody::CreateTopic(topic_id) => CreateTopicReply { topic_id }.encode(&mut buf),
        ReplyBody::Fail(reply) => reply.encode(&mut buf),
        ReplyBody::Dlq(reply) => reply.encode(&mut buf),
        ReplyBody::Raw(bytes) => buf.put_slice(&bytes),
        // Only the control plane requests metrics, so no client gets this.
        ReplyBody::Metrics(_) => {}
    }
    finish_frame(&mut buf, start, trailing);
    Outgoing {
        head: buf.freeze(),
        chunks,
        counted: false,
    }
}

/// Most topic names one Metadata request may list; each name costs a reply
/// entry, so the bound keeps replies far below the frame limit.
pub const METADATA_TOPICS_MAX: usize = 10_000;

/// Rejects commits that could not be read back as a committed offset.
fn check_commit(request: &OffsetCommitRequest) -> Result<(), ApiError> {
    if request.group.is_empty() {
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            "consumer group name is empty; name the group",
        ));
    }
    if request.offset > i64::MAX as u64 {
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            format!(
                "offset {} is above the largest offset {}",
                request.offset,
                i64::MAX
            ),
        ));
    }
    Ok(())
}

/// Builds the ApiVersions reply body.
pub fn api_versions() -> ApiVersionsReply {
    ApiVersionsReply {
        apis: ApiKey::ALL
            .iter()
            .map(|api| {
                let (min, max) = api.versions();
                (*api as u16, min, max)
            })
            .collect(),
    }
}

/// Builds the Metadata reply for the requested topics (all when empty).
pub fn metadata_reply(
    ctx: &ShardCtx,
    request: &MetadataRequest,
) -> Result<MetadataReply, ApiError> {
    if request.topics.len() > METADATA_TOPICS_MAX {
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            format!(
                "Metadata names {} topics; ask for at most {METADATA_TOPICS_MAX}, or none for all",
                request.topics.len()
            ),
        ));
    }
    let mut names: Vec<&str> = request.topics.iter().map(String::as_str).collect();
    names.sort_unstable();
    names.dedup();
    let catalog = ctx.shared.catalog();
    let mut metas: Vec<_> = if request.topics.is_empty() {
        catalog.topics.values().cloned().collect()
    } else {
        names
            .iter()
            .map(|name| catalog.topic(name).cloned())
            .collect::<Result<_, _>>()?
    };
    metas.sort_by(|a, b| a.name.cmp(&b.name));
    let topics = metas
        .iter()
        .map(|meta| TopicMetadata {
            name: meta.name.clone(),
            topic_id: meta.id,
            partition_shards: meta.shards.clone(),
            config: meta.config.to_pairs(),
        })
        .collect();
    Ok(MetadataReply {
        main_port: ctx.shared.main_port,
        shard_ports: ctx.shared.shard_ports.clone(),
        topics,
    })
}
