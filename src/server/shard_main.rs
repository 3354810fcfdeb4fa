//! The body of one shard thread: recover its partitions, serve the mesh and
//! its listeners, apply retention, and shut down cleanly.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::{error, info, warn};

use super::admin::{self, ADMIN_SHARD};
use super::offsets::{self, OffsetStore, OFFSETS_TOPIC};
use super::state::{BrokerShared, MeshMessage, ShardCtx};
use super::{conn, route};
use crate::config::TopicConfig;
use crate::protocol::ApiError;
use crate::shard::mesh::ShardMesh;
use crate::shard::runtime::{self, TcpListener};
use crate::storage::Durability;

/// Inputs a shard thread starts with; everything here is `Send`.
pub struct ShardStart {
    pub id: usize,
    pub shared: Arc<BrokerShared>,
    pub mesh: ShardMesh<MeshMessage>,
    pub listeners: Vec<std::net::TcpListener>,
    pub shutdown: async_channel::Receiver<()>,
    pub cpu: Option<usize>,
    /// Requests from the control plane, served like a mesh peer's.
    pub control: async_channel::Receiver<MeshMessage>,
}

/// Runs a shard to completion on the calling thread.
pub fn run(start: ShardStart) -> Result<(), String> {
    let runtime = runtime::build(start.cpu).map_err(|err| {
        format!(
            "shard {}: cannot start the io_uring runtime: {err}",
            start.id
        )
    })?;
    runtime.block_on(serve(start))
}

async fn serve(mut start: ShardStart) -> Result<(), String> {
    let mut receivers = start.mesh.take_receivers();
    receivers.push((usize::MAX, start.control.clone()));
    let ctx = Rc::new(ShardCtx {
        id: start.id,
        shared: start.shared.clone(),
        mesh: start.mesh,
        partitions: RefCell::new(HashMap::new()),
        offsets: RefCell::new(None),
        admin_lock: futures_util::lock::Mutex::new(()),
        connections: Cell::new(0),
        inflight: Cell::new(0),
        client_warnings: Default::default(),
        retry: crate::retry::RetryShard::default(),
    });
    route::serve_mesh(&ctx, receivers);
    open_owned(&ctx)
        .await
        .map_err(|err| format!("shard {}: recovery failed: {err}", ctx.id))?;
    if ctx.id == ADMIN_SHARD {
        ensure_internal_topics(&ctx)
            .await
            .map_err(|err| format!("cannot create internal topics: {err}"))?;
        route::serve_control(&ctx);
        crate::retry::topics::ensure_topics(&ctx)
            .await
            .map_err(|err| format!("cannot create retry and alert topics: {err}"))?;
    }
    crate::retry::shard::rebuild(&ctx).await.map_err(|err| {
        format!(
            "shard {}: cannot rebuild the dead-letter index: {err}",
            ctx.id
        )
    })?;
    let orchestrator = runtime::spawn(crate::retry::orchestrator::run(ctx.clone()));
    let mut accepts = Vec::new();
    for listener in start.listeners {
        let listener = TcpListener::from_std(listener)
            .map_err(|err| format!("shard {}: cannot register listener: {err}", ctx.id))?;
        accepts.push(runtime::spawn(accept_loop(ctx.clone(), listener)));
    }
    let retention = runtime::spawn(retention_loop(ctx.clone()));
    ctx.shared.shards_ready.fetch_add(1, Ordering::AcqRel);
    info!(target: "ringbus::shard", shard = ctx.id, partitions = ctx.partitions.borrow().len(), "shard serving");
    let _ = start.shutdown.recv().await;
    drop(accepts);
    drop(retention);
    drop(orchestrator);
    shutdown(&ctx).await;
    Ok(())
}

/// Opens every partition this shard owns, running recovery on each.
async fn open_owned(ctx: &Rc<ShardCtx>) -> Result<(), ApiError> {
    let catalog = ctx.shared.catalog();
    for topic in catalog.topics.values() {
        let owned: Vec<u32> = (0..topic.config.partitions)
            .filter(|p| topic.shards[*p as usize] as usize == ctx.id)
            .collect();
        if owned.is_empty() {
            continue;
        }
        admin::open_partitions(ctx.clone(), topic.clone(), owned).await?;
    }
    load_offsets_if_owned(ctx).await
}

/// Rebuilds the consumer-offset store when this shard owns its partition.
pub async fn load_offsets_if_owned(ctx: &Rc<ShardCtx>) -> Result<(), ApiError> {
    let catalog = ctx.shared.catalog();
    let Ok(topic) = catalog.topic(OFFSETS_TOPIC) else {
        return Ok(());
    };
    let Some(log) = ctx.partition(topic, 0) else {
        return Ok(());
    };
    let store = OffsetStore::load(&log).await?;
    info!(target: "ringbus::offsets", shard = ctx.id, groups_positions = store.len(),
          "consumer offsets loaded");
    *ctx.offsets.borrow_mut() = Some(store);
    Ok(())
}

async fn ensure_internal_topics(ctx: &Rc<ShardCtx>) -> Result<(), ApiError> {
    for name in [OFFSETS_TOPIC, crate::control::registry::SCHEMAS_TOPIC] {
        if ctx.shared.catalog().topics.contains_key(name) {
            continue;
        }
        let config = TopicConfig {
            partitions: 1,
            durability: Durability::Always,
            retention_ms: 0,
            retention_bytes: 0,
            segment_bytes: 64 << 20,
            validation: crate::registry::produce::Validation::None,
            ..ctx.shared.config.topic_defaults.clone()
        };
        let _guard = ctx.admin_lock.lock().await;
        admin::create_internal(ctx, name.to_string(), config).await?;
    }
    Ok(())
}

async fn accept_loop(ctx: Rc<ShardCtx>, listener: TcpListener) {
    let limit = ctx.shared.config.broker.max_connections_per_shard;
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(err) => {
                warn!(target: "ringbus::server", shard = ctx.id, %err, "accept failed");
                runtime::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        if ctx.connections.get() >= limit {
            warn!(target: "ringbus::server", shard = ctx.id, %peer, limit,
                  "closing new connection: broker.max_connections_per_shard reached");
            drop(stream);
            continue;
        }
        ctx.connections.set(ctx.connections.get() + 1);
        let ctx = ctx.clone();
        runtime::spawn_detached(async move {
            conn::serve(ctx.clone(), stream, peer).await;
            ctx.connections.set(ctx.connections.get() - 1);
        });
    }
}

async fn retention_loop(ctx: Rc<ShardCtx>) {
    let interval = Duration::from_millis(ctx.shared.config.broker.retention_check_interval_ms);
    loop {
        runtime::sleep(interval).await;
        let partitions: Vec<_> = ctx.partitions.borrow().values().cloned().collect();
        let now = offsets::now_ms();
        for log in partitions {
            if let Err(err) = log.enforce_retention(now).await {
                warn!(target: "ringbus::storage", shard = ctx.id, %err, "retention failed");
            }
        }
    }
}

/// Waits for in-flight requests (up to `shutdown_timeout_ms`), then flushes
/// and syncs every partition.
async fn shutdown(ctx: &Rc<ShardCtx>) {
    let deadline =
        Instant::now() + Duration::from_millis(ctx.shared.config.broker.shutdown_timeout_ms);
    while ctx.inflight.get() > 0 && Instant::now() < deadline {
        runtime::sleep(Duration::from_millis(5)).await;
    }
    if ctx.inflight.get() > 0 {
        warn!(target: "ringbus::shard", shard = ctx.id, inflight = ctx.inflight.get(),
              "shutdown timeout reached with requests in flight");
    }
    let partitions: Vec<_> = ctx.partitions.borrow_mut().drain().collect();
    for ((topic_id, partition), log) in partitions {
        if let Err(err) = log.close().await {
            error!(target: "ringbus::shard", shard = ctx.id, topic_id, partition, %err,
                   "flush at shutdown failed");
        }
    }
    info!(target: "ringbus::shard", shard = ctx.id, "shard stopped");
}
