//! Routing of shard requests: run locally on the owner, or forward over the
//! mesh and await the reply.

use std::rc::Rc;

use futures_channel::oneshot;
use futures_util::future::{ready, LocalBoxFuture};

use super::ops;
use super::state::{BrokerShared, MeshMessage, ShardCtx, ShardRequest, ShardResult};
use crate::protocol::{ApiError, ErrorCode};
use crate::shard::runtime;

/// Starts `request` on `shard` and returns the future of its result.
///
/// The ordered part happens before this returns: a local request has run
/// its synchronous prefix, and a remote one sits in the mesh channel, which
/// the owner drains in order.
pub async fn submit(
    ctx: &Rc<ShardCtx>,
    shard: usize,
    request: ShardRequest,
) -> LocalBoxFuture<'static, ShardResult> {
    if shard == ctx.id {
        return ops::handle(ctx, request);
    }
    let (reply, receiver) = oneshot::channel();
    if let Err(err) = ctx.mesh.send(shard, MeshMessage { request, reply }).await {
        return Box::pin(ready(Err(ApiError::new(
            ErrorCode::ShuttingDown,
            err.to_string(),
        ))));
    }
    Box::pin(async move {
        receiver.await.unwrap_or_else(|_| {
            Err(ApiError::new(
                ErrorCode::ShuttingDown,
                format!("shard {shard} stopped before it replied"),
            ))
        })
    })
}

/// Serves the requests other shards send to this one, one task per peer.
/// Each message's synchronous part runs in arrival order; its waiting part
/// runs as its own task so one long poll does not block the channel.
pub fn serve_mesh(
    ctx: &Rc<ShardCtx>,
    receivers: Vec<(usize, async_channel::Receiver<MeshMessage>)>,
) {
    for (_peer, receiver) in receivers {
        let ctx = ctx.clone();
        runtime::spawn_detached(async move {
            while let Ok(message) = receiver.recv().await {
                let pending = ops::handle(&ctx, message.request);
                let reply = message.reply;
                runtime::spawn_detached(async move {
                    let _ = reply.send(pending.await);
                });
            }
        });
    }
}

/// Serves the requests the control plane sends, routing each to its target
/// shard; runs on the admin shard only.
pub fn serve_control(ctx: &Rc<ShardCtx>) {
    let ctx = ctx.clone();
    let inbox = ctx.shared.control_inbox.clone();
    runtime::spawn_detached(async move {
        while let Ok(message) = inbox.recv().await {
            let pending = submit(&ctx, message.shard, message.request).await;
            let reply = message.reply;
            runtime::spawn_detached(async move {
                let _ = reply.send(pending.await);
            });
        }
    });
}

/// Runs `request` on `shard` from outside the shards (the control plane)
/// and waits for its result.
pub async fn submit_from_outside(
    shared: &BrokerShared,
    shard: usize,
    request: ShardRequest,
) -> ShardResult {
    let shutting_down = |reason: String| Err(ApiError::new(ErrorCode::ShuttingDown, reason));
    let Some(inbox) = shared.control.get(shard) else {
        return shutting_down(format!("shard {shard} does not exist"));
    };
    let (reply, receiver) = oneshot::channel();
    if inbox.send(MeshMessage { request, reply }).await.is_err() {
        return shutting_down(format!("shard {shard} is not serving"));
    }
    receiver
        .await
        .unwrap_or_else(|_| shutting_down(format!("shard {shard} stopped before it replied")))
}
