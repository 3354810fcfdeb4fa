//! The broker's schema registry service on the control-plane thread: the
//! [`BrokerBackend`] that keeps the registry and makes its changes durable
//! in `__schemas`, the loader that rebuilds it at start, the server of the
//! shards' native registry requests, and the validator snapshots it
//! publishes to the shards.

mod backend;
mod load;
mod native;

use std::sync::Arc;

use axum::Router;
use tracing::{error, info};

pub use backend::BrokerBackend;

use super::webhook::Webhooks;
use crate::registry::rest::{router, RestState};
use crate::server::state::BrokerShared;

/// The internal single-partition topic that stores registry events, one
/// JSON record per event, in the order they were applied.
pub const SCHEMAS_TOPIC: &str = "__schemas";

/// Starts the registry service on the current (control-plane) runtime:
/// waits for the shards, loads `__schemas`, then serves native requests.
/// Returns the routes of the REST API and of `/webhooks`.
pub fn start(shared: Arc<BrokerShared>) -> Router {
    let webhooks = Webhooks::start(&shared.config.registry, &shared.config.broker.data_dir);
    let backend = Arc::new(BrokerBackend::new(shared.clone(), webhooks.clone()));
    let loading = backend.clone();
    tokio::spawn(async move {
        match load::run(&loading).await {
            Ok(events) => {
                info!(target: "ringbus::registry", events, "schema registry loaded");
                native::serve(loading).await;
            }
            Err(err) => error!(target: "ringbus::registry", %err,
                               "cannot load the schema registry; its API stays unavailable"),
        }
    });
    router(RestState::new(backend)).merge(super::webhook::routes(webhooks))
}
