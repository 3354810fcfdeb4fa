//! The control plane: one thread running the HTTP listener (health,
//! readiness, the registry REST API, webhooks, DLQ admin and metrics). It reads the
//! shared broker state and talks to shards only through channels.

mod dlq;
mod metrics;

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use tracing::error;

use crate::server::state::BrokerShared;

pub mod registry;
pub mod webhook;
mod webhook_store;

/// Starts the control-plane thread serving `listener`.
pub fn spawn(shared: Arc<BrokerShared>, listener: std::net::TcpListener) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("ringbus-control".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(runtime) => runtime,
                Err(err) => {
                    error!(target: "ringbus::control", %err, "cannot start the control-plane runtime");
                    return;
                }
            };
            runtime.block_on(serve(shared, listener));
        })?;
    Ok(())
}

async fn serve(shared: Arc<BrokerShared>, listener: std::net::TcpListener) {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(listener) => listener,
        Err(err) => {
            error!(target: "ringbus::control", %err, "cannot register the HTTP listener");
            return;
        }
    };
    let app = router(shared.clone()).merge(registry::start(shared));
    if let Err(err) = axum::serve(listener, app).await {
        error!(target: "ringbus::control", %err, "HTTP listener failed");
    }
}

/// The control-plane routes.
pub fn router(shared: Arc<BrokerShared>) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics::metrics))
        .merge(dlq::routes())
        .with_state(shared)
}

async fn health() -> &'static str {
    "ok\n"
}

async fn ready(State(shared): State<Arc<BrokerShared>>) -> (StatusCode, String) {
    let ready = shared
        .shards_ready
        .load(std::sync::atomic::Ordering::Acquire);
    if shared.is_ready() && shared.registry.is_loaded() && !shared.is_shutting_down() {
        return (StatusCode::OK, "ready\n".into());
    }
    (
        StatusCode::SERVICE_UNAVAILABLE,
        format!(
            "not ready: {ready} of {} shards serving\n",
            shared.shard_count
        ),
    )
}
