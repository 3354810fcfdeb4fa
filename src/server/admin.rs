//! Topic creation and deletion. Both run on the admin shard (shard 0),
//! one at a time, and publish a new catalog only after every owning shard
//! has opened (or closed) its partitions.

use std::collections::BTreeMap;
use std::path::Path;
use std::rc::Rc;
use std::sync::Arc;

use tracing::{info, warn};

use super::catalog::{self, TopicMeta, INTERNAL_PREFIX};
use super::route;
use super::state::{ReplyBody, ShardCtx, ShardRequest, ShardResult};
use crate::protocol::{ApiError, ErrorCode};
use crate::storage::Partition;

/// The shard that runs topic creation and deletion.
pub const ADMIN_SHARD: usize = 0;
/// Prefix of a topic directory that is being deleted; `~` never appears in
/// a topic name, so it cannot clash with a live topic.
pub const DELETED_PREFIX: &str = "~deleted-";

pub async fn create_topic(
    ctx: Rc<ShardCtx>,
    name: String,
    partitions: u32,
    overrides: Vec<(String, String)>,
) -> ShardResult {
    let _guard = ctx.admin_lock.lock().await;
    catalog::validate_topic_name(&name)?;
    if name.starts_with(INTERNAL_PREFIX) {
        return Err(ApiError::new(
            ErrorCode::InvalidTopicName,
            format!("invalid topic name '{name}': names starting with '{INTERNAL_PREFIX}' are reserved for the broker"),
        ));
    }
    if ctx.shared.catalog().topics.contains_key(&name) {
        return Err(ApiError::new(
            ErrorCode::TopicAlreadyExists,
            format!("topic '{name}' already exists; delete it first or pick another name"),
        ));
    }
    check_validation_applies(&name, &overrides)?;
    let mut pairs = overrides;
    // 0 requests the broker's default partition count.
    if partitions > 0 {
        pairs.push(("partitions".into(), partitions.to_string()));
    }
    let config = ctx
        .shared
        .config
        .topic_defaults
        .with_overrides(&pairs)
        .map_err(|err| ApiError::new(ErrorCode::InvalidConfig, format!("topic '{name}': {err}")))?;
    crate::retry::topics::check_names_free(&ctx, &name, &config)?;
    let meta = create_internal(&ctx, name, config).await?;
    crate::retry::topics::create_companions(&ctx, &meta).await?;
    Ok(ReplyBody::CreateTopic(meta.id))
}

/// Rejects an explicit `validation` setting on a topic whose name marks it
/// as a retry or dead-letter topic: those keep events exactly as they
/// failed and are never validated, so the setting would silently do nothing.
fn check_validation_applies(name: &str, overrides: &[(String, String)]) -> Result<(), ApiError> {
    use crate::registry::produce::UNVALIDATED_SUFFIXES;
    let Some(suffix) = UNVALIDATED_SUFFIXES.iter().find(|s| name.ends_with(*s)) else {
        return Ok(());
    };
    let requested = overrides
        .iter()
        .find(|(key, value)| key == "validation" && value != "none");
    match requested {
        None => Ok(()),
        Some((_, value)) => Err(ApiError::new(
            ErrorCode::InvalidConfig,
            format!(
                "topic '{name}': validation = {value} has no effect on topics ending in '{suffix}', \
                 which keep events as they failed; pick another name or leave validation unset"
            ),
        )),
    }
}

/// Creates a topic without the name checks that keep clients away from
/// internal names; the broker uses it for its own topics.
pub async fn create_internal(
    ctx: &Rc<ShardCtx>,
    name: String,
    config: crate::config::TopicConfig,
) -> Result<Arc<TopicMeta>, ApiError> {
    create_placed(ctx, name, config, None).await
}

/// Creates a topic, placing its partitions as topic `placement_id` places
/// its own when one is given.
pub async fn create_placed(
    ctx: &Rc<ShardCtx>,
    name: String,
    config: crate::config::TopicConfig,
    placement_id: Option<u32>,
) -> Result<Arc<TopicMeta>, ApiError> {
    let shared = &ctx.shared;
    let data_dir = &shared.config.broker.data_dir;
    let id = shared
        .catalog()
        .next_id()
        .max(catalog::stored_next_id(data_dir));
    catalog::store_next_id(data_dir, id + 1).map_err(|err| {
        ApiError::new(
            ErrorCode::StorageError,
            format!(
                "cannot store the next topic id under {}: {err}",
                data_dir.display()
            ),
        )
    })?;
    let mut meta = TopicMeta::new(id, name, config, shared.shard_count);
    if let Some(placement_id) = placement_id {
        meta = meta.placed_with(placement_id, shared.shard_count);
    }
    let meta = Arc::new(meta);
    catalog::store_topic(&shared.config.broker.data_dir, &meta).map_err(|err| {
        ApiError::new(
            ErrorCode::StorageError,
            format!("cannot store metadata of topic '{}': {err}", meta.name),
        )
    })?;
    for_each_owner(ctx, &meta, |topic, partitions| {
        ShardRequest::OpenPartitions { topic, partitions }
    })
    .await?;
    let mut next = (**shared.catalog()).clone();
    next.topics.insert(meta.name.clone(), meta.clone());
    shared.catalog.store(Arc::new(next));
    info!(target: "ringbus::admin", topic = %meta.name, id = meta.id,
          partitions = meta.config.partitions, "topic created");
    Ok(meta)
}

pub async fn delete_topic(ctx: Rc<ShardCtx>, name: String) -> ShardResult {
    let _guard = ctx.admin_lock.lock().await;
    let shared = &ctx.shared;
    let meta = shared.catalog().topic(&name)?.clone();
    if meta.is_internal() {
        return Err(ApiError::new(
            ErrorCode::InvalidTopicName,
            format!("topic '{name}' is internal to the broker and cannot be deleted"),
        ));
    }
    crate::retry::topics::check_deletable(&shared.catalog(), &name)?;
    remove_topic(&ctx, &meta).await?;
    for companion in crate::retry::topics::companions_of(&shared.catalog(), &meta) {
        remove_topic(&ctx, &companion).await?;
    }
    crate::retry::metrics::global().reset_topic(&name);
    Ok(ReplyBody::Empty)
}

/// Unpublishes a topic, closes its partitions and removes its files. The
/// caller holds the admin lock.
async fn remove_topic(ctx: &Rc<ShardCtx>, meta: &Arc<TopicMeta>) -> Result<(), ApiError> {
    let shared = &ctx.shared;
    let name = meta.name.clone();
    let mut next = (**shared.catalog()).clone();
    next.topics.remove(&name);
    shared.catalog.store(Arc::new(next));
    for_each_owner(ctx, meta, |topic, partitions| {
        ShardRequest::ClosePartitions { topic, partitions }
    })
    .await?;
    remove_topic_dir(&shared.config.broker.data_dir, meta).map_err(|err| {
        ApiError::new(
            ErrorCode::StorageError,
            format!("topic '{name}' was closed but its files could not be removed: {err}"),
        )
    })?;
    info!(target: "ringbus::admin", topic = %name, id = meta.id, "topic deleted");
    Ok(())
}

/// Renames the directory first so a crash mid-delete never leaves a
/// half-deleted topic that loads at the next start.
fn remove_topic_dir(data_dir: &Path, meta: &TopicMeta) -> std::io::Result<()> {
    let dir = catalog::topic_dir(data_dir, &meta.name);
    let doomed = data_dir.join(format!("{DELETED_PREFIX}{}-{}", meta.id, meta.name));
    std::fs::rename(&dir, &doomed)?;
    std::fs::File::open(data_dir)?.sync_all()?;
    std::fs::remove_dir_all(&doomed)
}

/// Removes directories left by deletions that a crash interrupted.
pub fn remove_interrupted_deletes(data_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(data_dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if name.to_string_lossy().starts_with(DELETED_PREFIX) {
            if let Err(err) = std::fs::remove_dir_all(entry.path()) {
                warn!(target: "ringbus::admin", path = %entry.path().display(), %err,
                      "cannot remove the rest of a deleted topic");
            }
        }
    }
}

/// Sends one request per owning shard with that shard's partitions and
/// waits for all of them.
async fn for_each_owner(
    ctx: &Rc<ShardCtx>,
    meta: &Arc<TopicMeta>,
    make: impl Fn(Arc<TopicMeta>, Vec<u32>) -> ShardRequest,
) -> Result<(), ApiError> {
    let mut by_shard: BTreeMap<usize, Vec<u32>> = BTreeMap::new();
    for partition in 0..meta.config.partitions {
        by_shard
            .entry(meta.shards[partition as usize] as usize)
            .or_default()
            .push(partition);
    }
    let mut pending = Vec::new();
    for (shard, partitions) in by_shard {
        pending.push(route::submit(ctx, shard, make(meta.clone(), partitions)).await);
    }
    for result in futures_util::future::join_all(pending).await {
        result?;
    }
    Ok(())
}

pub async fn open_partitions(
    ctx: Rc<ShardCtx>,
    topic: Arc<TopicMeta>,
    partitions: Vec<u32>,
) -> ShardResult {
    let data_dir = ctx.shared.config.broker.data_dir.clone();
    for partition in partitions {
        let dir = catalog::partition_dir(&data_dir, &topic.name, partition);
        let log = Partition::open(dir, &topic.name, partition, topic.config.log_config())
            .await
            .map_err(|err| super::ops::storage_error(err, &topic.name, partition))?;
        ctx.partitions
            .borrow_mut()
            .insert((topic.id, partition), log);
    }
    Ok(ReplyBody::Empty)
}

pub async fn close_partitions(
    ctx: Rc<ShardCtx>,
    topic: Arc<TopicMeta>,
    partitions: Vec<u32>,
) -> ShardResult {
    for partition in partitions {
        let log = ctx.partitions.borrow_mut().remove(&(topic.id, partition));
        if let Some(log) = log {
            log.close()
                .await
                .map_err(|err| super::ops::storage_error(err, &topic.name, partition))?;
        }
    }
    Ok(ReplyBody::Empty)
}
