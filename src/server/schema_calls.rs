//! Native schema registry requests on a shard: each is forwarded to the
//! control plane, which owns the registry, and a subscription is served
//! from the broadcast of new versions.

use std::rc::Rc;

use bytes::BytesMut;
use futures_channel::oneshot;
use futures_util::future::{ready, LocalBoxFuture};
use tokio::sync::broadcast::error::RecvError;
use tracing::warn;

use super::conn::ConnState;
use super::dispatch;
use super::state::{ReplyBody, ShardCtx, ShardResult};
use crate::protocol::api::Body;
use crate::protocol::codec::Reader;
use crate::protocol::frame::{begin_reply, finish_frame};
use crate::protocol::schema_api::{SchemaVersionReply, StringList};
use crate::protocol::{ApiError, ApiKey, ErrorCode};
use crate::registry::model::schema_type_name;
use crate::registry::shared::RegistryCall;
use crate::shard::runtime;

/// Sends a registry request to the control plane and returns the future of
/// its reply.
pub fn forward(
    ctx: &ShardCtx,
    api: ApiKey,
    body: BytesMut,
) -> LocalBoxFuture<'static, ShardResult> {
    let (reply, receiver) = oneshot::channel();
    let call = RegistryCall {
        api,
        body: body.freeze(),
        reply,
    };
    if let Err(err) = ctx.shared.registry.calls.try_send(call) {
        let reason = if err.is_full() {
            "the registry has too many requests queued; retry shortly"
        } else {
            "the registry is not running"
        };
        return Box::pin(ready(Err(ApiError::new(
            ErrorCode::RequestTimedOut,
            reason,
        ))));
    }
    Box::pin(async move {
        match receiver.await {
            Ok(Ok(body)) => Ok(ReplyBody::Raw(body)),
            Ok(Err(err)) => Err(err),
            Err(_) => Err(ApiError::new(
                ErrorCode::ShuttingDown,
                "the registry stopped before it replied",
            )),
        }
    })
}

/// Acknowledges a subscription and then pushes one frame with the request's
/// correlation id for each new version of a subject in the filter (every
/// subject when it is empty), until the connection closes.
pub fn subscribe(ctx: &Rc<ShardCtx>, conn: &ConnState, correlation_id: u32, body: &[u8]) {
    let filter = match StringList::decode(&mut Reader::new(body)) {
        Ok(list) => list.items,
        Err(err) => return dispatch::send_error(conn, correlation_id, &err.into()),
    };
    // Subscribe before the acknowledgement, so that no version registered
    // after the client sees it can be missed.
    let mut changes = ctx.shared.registry.changes.subscribe();
    let sender = conn.sender.clone();
    dispatch::send_result(conn, correlation_id, Ok(ReplyBody::Empty));
    let shard = ctx.id;
    runtime::spawn_detached(async move {
        loop {
            let change = match changes.recv().await {
                Ok(change) => change,
                Err(RecvError::Lagged(missed)) => {
                    warn!(target: "ringbus::registry", shard, missed,
                          "a schema subscriber fell behind and missed notifications");
                    continue;
                }
                Err(RecvError::Closed) => return,
            };
            if !filter.is_empty() && !filter.contains(&change.subject) {
                continue;
            }
            let notice = SchemaVersionReply {
                subject: change.subject,
                version: change.version,
                id: change.id,
                schema_type: schema_type_name(change.schema_type).to_owned(),
                schema: String::new(),
            };
            // A closed connection has dropped its write loop's receiver.
            // NOTE: the task notices a closed connection only at the next
            // matching version, so until then it keeps a broadcast slot.
            if sender
                .try_send(push_frame(correlation_id, &notice))
                .is_err()
            {
                return;
            }
        }
    });
}

fn push_frame(correlation_id: u32, notice: &SchemaVersionReply) -> super::conn::Outgoing {
    let mut buf = BytesMut::with_capacity(64);
    let start = begin_reply(&mut buf, correlation_id, ErrorCode::None, "");
    notice.encode(&mut buf);
    finish_frame(&mut buf, start, 0);
    super::conn::Outgoing {
        head: buf.freeze(),
        chunks: Vec::new(),
        counted: false,
    }
}

/// Whether `api` is a registry request that the control plane answers.
pub fn is_forwarded(api: ApiKey) -> bool {
    matches!(
        api,
        ApiKey::SchemaRegister
            | ApiKey::SchemaLookup
            | ApiKey::SchemaById
            | ApiKey::SchemaCheck
            | ApiKey::SchemaGet
            | ApiKey::SchemaList
            | ApiKey::SchemaConfig
    )
}
