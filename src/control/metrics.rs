//! `GET /metrics`: requests a snapshot from every shard over its query
//! channel and renders them as Prometheus text.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use futures_channel::oneshot;
use tracing::warn;

use crate::metrics::prometheus;
use crate::server::query::ShardQuery;
use crate::server::state::BrokerShared;

/// Maximum wait for one shard's snapshot. A shard that misses it is
/// reported as `ringbus_shard_up 0`.
const SHARD_REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// Serves `GET /metrics`.
pub async fn metrics(State(shared): State<Arc<BrokerShared>>) -> impl IntoResponse {
    let mut pending = Vec::with_capacity(shared.shard_queries.len());
    for (shard, queries) in shared.shard_queries.iter().enumerate() {
        let (reply, receiver) = oneshot::channel();
        let sent = queries.send(ShardQuery::Metrics(reply)).await.is_ok();
        pending.push((shard, sent.then_some(receiver)));
    }
    let mut snapshots = Vec::new();
    let mut missing = Vec::new();
    for (shard, receiver) in pending {
        let snapshot = match receiver {
            Some(receiver) => tokio::time::timeout(SHARD_REPLY_TIMEOUT, receiver)
                .await
                .ok()
                .and_then(Result::ok),
            None => None,
        };
        match snapshot {
            Some(snapshot) => snapshots.push(snapshot),
            None => {
                warn!(target: "ringbus::control", shard, "shard did not respond to the metrics scrape in time");
                missing.push(shard);
            }
        }
    }
    let text = prometheus::render(&snapshots, &missing);
    // DLQ and retry families (src/retry/) are appended to `text` here.
    ([(CONTENT_TYPE, prometheus::CONTENT_TYPE)], text)
}
