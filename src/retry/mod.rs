//! The DLQ and retry orchestrator: per-topic retry policies, the timing
//! wheel, dead-letter entries in `T.dlq`, re-publishing to `T.retry`,
//! poison alerts and operator commands. Everything but the alert webhooks
//! runs on the shard that owns the partition concerned.
pub mod alerts;
pub mod commands;
pub mod entry;
pub mod fail;
pub mod index;
pub mod log;
pub mod metrics;
pub mod orchestrator;
pub mod policy;
pub mod shard;
pub mod topics;
pub mod wheel;

pub use shard::RetryShard;
