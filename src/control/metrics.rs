//! `GET /metrics`: requests a snapshot from every shard over the control
//! plane's shard channels and renders them, then the retry orchestrator's
//! counters, as Prometheus text.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use tracing::warn;

use crate::metrics::prometheus;
use crate::server::route::submit_from_outside;
use crate::server::state::{BrokerShared, ReplyBody, ShardRequest};

/// Maximum wait for one shard's snapshot. A shard that misses it is
/// reported as `ringbus_shard_up 0`.
const SHARD_REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// Serves `GET /metrics`.
pub async fn metrics(State(shared): State<Arc<BrokerShared>>) -> impl IntoResponse {
    let mut snapshots = Vec::new();
    let mut missing = Vec::new();
    for shard in 0..shared.shard_count {
        let request = submit_from_outside(&shared, shard, ShardRequest::Metrics);
        match tokio::time::timeout(SHARD_REPLY_TIMEOUT, request).await {
            Ok(Ok(ReplyBody::Metrics(snapshot))) => snapshots.push(*snapshot),
            Ok(Ok(_)) => {
                warn!(target: "ringbus::control", shard, "shard replied to a metrics request with another body");
                missing.push(shard);
            }
            Ok(Err(err)) => {
                warn!(target: "ringbus::control", shard, %err, "metrics request to a shard failed");
                missing.push(shard);
            }
            Err(_) => {
                warn!(target: "ringbus::control", shard, "metrics request to a shard timed out");
                missing.push(shard);
            }
        }
    }
    let mut text = prometheus::render(&snapshots, &missing);
    crate::retry::metrics::global().render(&mut text);
    ([(CONTENT_TYPE, prometheus::CONTENT_TYPE)], text)
}
