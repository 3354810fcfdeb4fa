//! The broker-side [`RegistryBackend`]. The registry lives on the
//! control-plane thread. Every write is planned on tokio's blocking pool,
//! then appended to `__schemas` as one record batch through the shard that
//! owns it, and is applied and published only after that batch is synced.
//! Reads use the last published copy, so they do not wait for a write's
//! planning or persist step.

use std::sync::Arc;

use arc_swap::ArcSwap;
use bytes::BytesMut;
use futures_channel::oneshot;
use tokio::sync::Mutex;
use tracing::{info, warn};

use super::SCHEMAS_TOPIC;
use crate::control::webhook::Webhooks;
use crate::protocol::api::Acks;
use crate::protocol::batch::BatchBuilder;
use crate::registry::error::RegistryError;
use crate::registry::model::{Registry, RegistryEvent, SubjectChange};
use crate::registry::rest::{BackendFuture, ReadJob, RegistryBackend, WriteJob};
use crate::server::state::{BrokerShared, ControlRequest, ReplyBody, ShardRequest};

/// The registry of a running broker; see the module documentation.
pub struct BrokerBackend {
    pub(super) shared: Arc<BrokerShared>,
    webhooks: Arc<Webhooks>,
    /// Held across a write's persist step, so writes are serialized.
    pub(super) registry: Mutex<Registry>,
    /// Copy of the registry that reads use, replaced after each durable
    /// write, so reads skip the write lock and return only durable changes.
    snapshot: ArcSwap<Registry>,
}

impl BrokerBackend {
    pub fn new(shared: Arc<BrokerShared>, webhooks: Arc<Webhooks>) -> BrokerBackend {
        BrokerBackend {
            shared,
            webhooks,
            registry: Mutex::new(Registry::new()),
            snapshot: ArcSwap::from_pointee(Registry::new()),
        }
    }

    fn check_loaded(&self) -> Result<(), RegistryError> {
        if self.shared.registry.is_loaded() {
            return Ok(());
        }
        Err(RegistryError::Store(format!(
            "the registry is still loading from {SCHEMAS_TOPIC}; retry once /ready returns 200"
        )))
    }

    async fn run_write(&self, job: WriteJob) -> Result<(), RegistryError> {
        self.check_loaded()?;
        let mut registry = self.registry.lock().await;
        // Under the lock the snapshot equals `registry`. Planning runs on the
        // blocking pool, because a compatibility check of a large schema can
        // take long and this thread also serves reads, /health and /metrics.
        let planned_on = self.snapshot.load_full();
        let events = tokio::task::spawn_blocking(move || job(&planned_on))
            .await
            .map_err(|err| RegistryError::Store(format!("the change planner failed: {err}")))??;
        if events.is_empty() {
            return Ok(());
        }
        self.persist(&events).await?;
        let mut changes = Vec::new();
        for event in &events {
            // The events were planned against this state under the lock, so
            // apply fails only on a planner bug. The event is already
            // durable, and a replay logs and skips it in the same way.
            match registry.apply(event) {
                Ok(Some(change)) => changes.push(change),
                Ok(None) => {}
                Err(err) => warn!(target: "ringbus::registry", %err, "stored event not applied"),
            }
        }
        self.publish(&registry);
        drop(registry);
        for change in changes {
            self.announce(change);
        }
        Ok(())
    }

    /// Appends `events` to `__schemas` as one batch and waits until it is
    /// synced, so a crash keeps either all of them or none.
    async fn persist(&self, events: &[RegistryEvent]) -> Result<(), RegistryError> {
        let now_ms = crate::server::offsets::now_ms();
        let mut builder = BatchBuilder::new(now_ms);
        for event in events {
            let json = serde_json::to_vec(event).map_err(|err| {
                RegistryError::Store(format!("cannot encode a registry event: {err}"))
            })?;
            builder.push(now_ms, None, Some(&json), &[]);
        }
        let records = builder.finish();
        self.submit_produce(records).await
    }

    async fn submit_produce(&self, records: BytesMut) -> Result<(), RegistryError> {
        let store = |what: String| RegistryError::Store(format!("{SCHEMAS_TOPIC}: {what}"));
        let catalog = self.shared.catalog();
        let topic = catalog
            .topic(SCHEMAS_TOPIC)
            .map_err(|err| store(err.to_string()))?
            .clone();
        let shard = topic.owner(0).map_err(|err| store(err.to_string()))?;
        let request = ShardRequest::Produce {
            topic,
            partition: 0,
            acks: Acks::Durable,
            records,
        };
        match self.call_shard(shard, request).await {
            Ok(_) => Ok(()),
            Err(message) => Err(store(message)),
        }
    }

    /// Runs `request` on `shard` through the admin shard's control inbox.
    pub(super) async fn call_shard(
        &self,
        shard: usize,
        request: ShardRequest,
    ) -> Result<ReplyBody, String> {
        let (reply, receiver) = oneshot::channel();
        let message = ControlRequest {
            shard,
            request,
            reply,
        };
        self.shared
            .control_requests
            .send(message)
            .await
            .map_err(|_| "the shards have stopped".to_owned())?;
        match receiver.await {
            Ok(Ok(body)) => Ok(body),
            Ok(Err(err)) => Err(err.to_string()),
            Err(_) => Err(format!("shard {shard} stopped before it replied")),
        }
    }

    /// Compiles the schemas that are new since the last snapshot and hands
    /// the shards a new one, then replaces the snapshot that reads use.
    pub(super) fn publish(&self, registry: &Registry) {
        let current = self.shared.registry.validators.load();
        let (next, failed) = current.refreshed(registry);
        for (id, reason) in failed {
            warn!(target: "ringbus::registry", id, %reason,
                  "schema does not compile for validation; records naming it are rejected");
        }
        self.shared.registry.publish(next);
        self.snapshot.store(Arc::new(registry.clone()));
    }

    fn announce(&self, change: SubjectChange) {
        info!(target: "ringbus::registry", subject = %change.subject, version = change.version,
              id = change.id, "schema version registered");
        // No receiver only means that no connection subscribed.
        let _ = self.shared.registry.changes.send(change.clone());
        self.webhooks.notify(change);
    }
}

impl RegistryBackend for BrokerBackend {
    fn read(&self, job: ReadJob) -> BackendFuture<'_> {
        Box::pin(async move {
            self.check_loaded()?;
            job(&self.snapshot.load());
            Ok(())
        })
    }

    fn write(&self, job: WriteJob) -> BackendFuture<'_> {
        Box::pin(self.run_write(job))
    }
}
