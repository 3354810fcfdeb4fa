//! The storage seam of the REST API: reads run against the current registry,
//! writes are planned, made durable, then applied, one at a time.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard};

use crate::registry::error::RegistryError;
use crate::registry::model::{Registry, RegistryEvent, SubjectChange};

/// The future a backend returns for one read or write.
pub type BackendFuture<'a> = Pin<Box<dyn Future<Output = Result<(), RegistryError>> + Send + 'a>>;
/// A read-only job; it sends its own result (the REST layer passes a oneshot).
pub type ReadJob = Box<dyn FnOnce(&Registry) + Send>;
/// A change planner: returns the events that carry the change out.
pub type WriteJob = Box<dyn FnOnce(&Registry) -> Result<Vec<RegistryEvent>, RegistryError> + Send>;

/// Access to the registry for the REST API: reads and serialized writes.
///
/// The broker's backend keeps the registry on the control-plane thread and
/// persists events to the `__schemas` topic; [`MemoryBackend`] keeps them in
/// memory for tests.
pub trait RegistryBackend: Send + Sync + 'static {
    /// Runs `job` against the current state.
    fn read(&self, job: ReadJob) -> BackendFuture<'_>;

    /// Runs `job` against the current state, makes the events it returns
    /// durable, applies them in order, then resolves. Writes are serialized:
    /// no other write may change the state between planning and applying.
    ///
    /// # Errors
    /// The planner's error, or `RegistryError::Store` when persisting fails
    /// (then nothing is applied).
    fn write(&self, job: WriteJob) -> BackendFuture<'_>;
}

/// An in-memory backend: a registry behind a mutex, with the event log and
/// the change notifications kept for inspection.
#[derive(Debug, Default)]
pub struct MemoryBackend {
    state: Mutex<MemoryState>,
}

#[derive(Debug, Default)]
struct MemoryState {
    registry: Registry,
    events: Vec<RegistryEvent>,
    changes: Vec<SubjectChange>,
}

impl MemoryBackend {
    /// Creates a backend over an empty registry.
    pub fn new() -> MemoryBackend {
        MemoryBackend::default()
    }

    fn lock(&self) -> Result<MutexGuard<'_, MemoryState>, RegistryError> {
        self.state
            .lock()
            .map_err(|_| RegistryError::Store("registry lock poisoned by a panic".to_owned()))
    }

    /// Returns every event applied so far, oldest first.
    pub fn events(&self) -> Vec<RegistryEvent> {
        self.lock().map(|s| s.events.clone()).unwrap_or_default()
    }

    /// Returns the notifications for the versions registered so far.
    pub fn changes(&self) -> Vec<SubjectChange> {
        self.lock().map(|s| s.changes.clone()).unwrap_or_default()
    }

    /// Returns a copy of the current registry.
    pub fn registry(&self) -> Registry {
        self.lock().map(|s| s.registry.clone()).unwrap_or_default()
    }

    fn run_write(&self, job: WriteJob) -> Result<(), RegistryError> {
        let mut state = self.lock()?;
        let events = job(&state.registry)?;
        for event in events {
            if let Some(change) = state.registry.apply(&event)? {
                state.changes.push(change);
            }
            state.events.push(event);
        }
        Ok(())
    }
}

impl RegistryBackend for MemoryBackend {
    fn read(&self, job: ReadJob) -> BackendFuture<'_> {
        let result = self.lock().map(|state| job(&state.registry));
        Box::pin(std::future::ready(result))
    }

    fn write(&self, job: WriteJob) -> BackendFuture<'_> {
        Box::pin(std::future::ready(self.run_write(job)))
    }
}
