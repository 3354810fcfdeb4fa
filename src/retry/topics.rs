//! The topics a retry policy brings: `T.retry` (re-published events) and
//! `T.dlq` (the dead-letter log), plus the broker's `__alerts` topic.
//!
//! Both companions have `T`'s partition count and share `T`'s placement (see
//! `TopicMeta::placement_id`), so partition `p` of all three lives on one
//! shard for any shard count, and Fail never leaves the owning shard.

use std::rc::Rc;
use std::sync::Arc;

use tracing::info;

use crate::config::TopicConfig;
use crate::protocol::{ApiError, ErrorCode};
use crate::server::admin;
use crate::server::catalog::{Catalog, TopicMeta, TOPIC_NAME_BYTES_MAX};
use crate::server::state::ShardCtx;
use crate::storage::Durability;

pub const RETRY_SUFFIX: &str = ".retry";
pub const DLQ_SUFFIX: &str = ".dlq";
/// Internal topic with one record per poison event.
pub const ALERTS_TOPIC: &str = "__alerts";

pub fn retry_topic(topic: &str) -> String {
    format!("{topic}{RETRY_SUFFIX}")
}

pub fn dlq_topic(topic: &str) -> String {
    format!("{topic}{DLQ_SUFFIX}")
}

/// Rejects a new topic with a policy whose companion names are too long or
/// already taken.
pub fn check_names_free(ctx: &ShardCtx, name: &str, config: &TopicConfig) -> Result<(), ApiError> {
    if config.retry_policy().is_none() {
        return Ok(());
    }
    let catalog = ctx.shared.catalog();
    for companion in [retry_topic(name), dlq_topic(name)] {
        if companion.len() > TOPIC_NAME_BYTES_MAX {
            return Err(ApiError::new(
                ErrorCode::InvalidTopicName,
                format!(
                    "topic '{name}' has a retry policy, so its companion '{companion}' needs a name of at most \
                     {TOPIC_NAME_BYTES_MAX} bytes; shorten the name"
                ),
            ));
        }
        if catalog.topics.contains_key(&companion) {
            return Err(ApiError::new(
                ErrorCode::TopicAlreadyExists,
                format!("topic '{name}' has a retry policy, but its companion '{companion}' already exists; delete it first"),
            ));
        }
    }
    Ok(())
}

/// Settings of a companion: `T`'s, without a policy of its own; the
/// dead-letter log is synced on every append and kept forever.
fn companion_config(source: &TopicConfig, dead_letter: bool) -> TopicConfig {
    let mut config = TopicConfig {
        max_attempts: 0,
        ..source.clone()
    };
    if dead_letter {
        config.durability = Durability::Always;
        config.retention_ms = 0;
        config.retention_bytes = 0;
    }
    config
}

/// Creates `T.retry` and `T.dlq` when `T` has a policy and they are missing.
/// The caller holds the admin lock.
pub async fn create_companions(ctx: &Rc<ShardCtx>, meta: &TopicMeta) -> Result<(), ApiError> {
    if meta.config.retry_policy().is_none() {
        return Ok(());
    }
    for (name, dead_letter) in [
        (retry_topic(&meta.name), false),
        (dlq_topic(&meta.name), true),
    ] {
        if ctx.shared.catalog().topics.contains_key(&name) {
            continue;
        }
        let config = companion_config(&meta.config, dead_letter);
        admin::create_placed(ctx, name, config, Some(meta.id)).await?;
    }
    Ok(())
}

/// Creates `__alerts` and any companion topic that a crash during topic
/// creation left missing. Runs on the admin shard at start.
pub async fn ensure_topics(ctx: &Rc<ShardCtx>) -> Result<(), ApiError> {
    let _guard = ctx.admin_lock.lock().await;
    if !ctx.shared.catalog().topics.contains_key(ALERTS_TOPIC) {
        let config = TopicConfig {
            partitions: 1,
            durability: Durability::Always,
            max_attempts: 0,
            segment_bytes: 64 << 20,
            ..ctx.shared.config.topic_defaults.clone()
        };
        admin::create_internal(ctx, ALERTS_TOPIC.to_owned(), config).await?;
    }
    let with_policy: Vec<Arc<TopicMeta>> = ctx
        .shared
        .catalog()
        .topics
        .values()
        .filter(|meta| !meta.is_internal() && meta.config.retry_policy().is_some())
        .cloned()
        .collect();
    for meta in with_policy {
        let missing = [retry_topic(&meta.name), dlq_topic(&meta.name)]
            .iter()
            .any(|name| !ctx.shared.catalog().topics.contains_key(name));
        if missing {
            info!(target: "ringbus::retry", topic = %meta.name, "creating missing retry and dead-letter topics");
            create_companions(ctx, &meta).await?;
        }
    }
    Ok(())
}

/// Resolves the topic a Fail names to its source topic `T` (with a policy)
/// and the topic the event was read from (`T` or `T.retry`).
pub fn resolve_failed(
    catalog: &Catalog,
    name: &str,
) -> Result<(Arc<TopicMeta>, Arc<TopicMeta>), ApiError> {
    let failed = catalog.topic(name)?.clone();
    if failed.config.retry_policy().is_some() {
        return Ok((failed.clone(), failed));
    }
    if let Some(base) = name.strip_suffix(RETRY_SUFFIX) {
        if let Some(source) = catalog.topics.get(base) {
            if source.config.retry_policy().is_some() {
                return Ok((source.clone(), failed));
            }
        }
    }
    Err(no_policy(name))
}

/// The source topic `T` an operator command names; it must have a policy.
pub fn resolve_source(catalog: &Catalog, name: &str) -> Result<Arc<TopicMeta>, ApiError> {
    let source = catalog.topic(name)?.clone();
    if source.config.retry_policy().is_none() {
        return Err(no_policy(name));
    }
    Ok(source)
}

fn no_policy(name: &str) -> ApiError {
    ApiError::new(
        ErrorCode::NoRetryPolicy,
        format!(
            "topic '{name}' has no retry policy, so it has no dead-letter log; create the topic with \
             --max-attempts N (N >= 1) to enable fail and retries"
        ),
    )
}

/// The companion topic `name` of `source`, which must exist.
pub fn companion(catalog: &Catalog, name: &str) -> Result<Arc<TopicMeta>, ApiError> {
    catalog.topics.get(name).cloned().ok_or_else(|| {
        ApiError::new(
            ErrorCode::UnknownTopic,
            format!("topic '{name}' is missing; restart the broker to recreate it"),
        )
    })
}

/// Rejects deleting `T.retry` or `T.dlq` while `T` has a policy; deleting
/// `T` deletes them too.
pub fn check_deletable(catalog: &Catalog, name: &str) -> Result<(), ApiError> {
    let source = name
        .strip_suffix(RETRY_SUFFIX)
        .or_else(|| name.strip_suffix(DLQ_SUFFIX));
    let Some(source) = source.and_then(|source| catalog.topics.get(source)) else {
        return Ok(());
    };
    if source.config.retry_policy().is_none() {
        return Ok(());
    }
    Err(ApiError::new(
        ErrorCode::InvalidRequest,
        format!(
            "topic '{name}' belongs to the retry policy of '{}'; delete '{}' to delete both",
            source.name, source.name
        ),
    ))
}

/// Returns the companion topics of `source` that exist.
pub fn companions_of(catalog: &Catalog, source: &TopicMeta) -> Vec<Arc<TopicMeta>> {
    if source.config.retry_policy().is_none() {
        return Vec::new();
    }
    [retry_topic(&source.name), dlq_topic(&source.name)]
        .iter()
        .filter_map(|name| catalog.topics.get(name).cloned())
        .collect()
}
