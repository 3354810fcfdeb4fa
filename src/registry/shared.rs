//! The registry state that shards see: the validator snapshot, the stream
//! of new versions for subscribed connections, and the channel that carries
//! native registry requests from shards to the control plane.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwap;
use bytes::Bytes;
use futures_channel::oneshot;

use crate::protocol::{ApiError, ApiKey};
use crate::registry::model::SubjectChange;
use crate::registry::validate::Validators;

/// New versions that a slow subscriber may fall behind by before it misses
/// some; a subscriber that lags further is told how many it missed.
pub const CHANGES_QUEUED_MAX: usize = 1024;
/// Native registry requests waiting for the control plane.
pub const CALLS_QUEUED_MAX: usize = 1024;

/// A native registry request (API keys 20..=29) forwarded by a shard; the
/// control plane decodes `body`, runs it and sends the encoded reply body.
pub struct RegistryCall {
    pub api: ApiKey,
    pub body: Bytes,
    pub reply: oneshot::Sender<Result<Bytes, ApiError>>,
}

/// Registry state shared by the control plane and every shard.
pub struct RegistryShared {
    /// Compiled validators of every live schema; shards load it once per
    /// produce request and never lock.
    pub validators: ArcSwap<Validators>,
    /// Each new version, sent after it is durable and applied.
    pub changes: tokio::sync::broadcast::Sender<SubjectChange>,
    pub calls: async_channel::Sender<RegistryCall>,
    /// Taken once by the control plane.
    pub call_inbox: async_channel::Receiver<RegistryCall>,
    loaded: AtomicBool,
}

impl Default for RegistryShared {
    fn default() -> Self {
        RegistryShared::new()
    }
}

impl RegistryShared {
    pub fn new() -> RegistryShared {
        let (calls, call_inbox) = async_channel::bounded(CALLS_QUEUED_MAX);
        RegistryShared {
            validators: ArcSwap::from_pointee(Validators::new()),
            changes: tokio::sync::broadcast::channel(CHANGES_QUEUED_MAX).0,
            calls,
            call_inbox,
            loaded: AtomicBool::new(false),
        }
    }

    /// Whether the registry was rebuilt from `__schemas` since the start.
    pub fn is_loaded(&self) -> bool {
        self.loaded.load(Ordering::Acquire)
    }

    pub fn set_loaded(&self) {
        self.loaded.store(true, Ordering::Release);
    }

    /// Publishes a new validator snapshot to every shard.
    pub fn publish(&self, validators: Validators) {
        self.validators.store(Arc::new(validators));
    }
}
