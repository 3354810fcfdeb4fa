//! ringbus: a single-node, thread-per-core event broker on io_uring.
//!
//! The crate is both the broker (`ringbus serve`) and the library its clients
//! use. Each folder is one part of the design: `shard` (executors and the
//! cross-core mesh), `storage` (segment logs), `protocol` (frames and codecs),
//! `server` (connections and dispatch), `registry` (schemas), `retry` (timing
//! wheel and dead-letter orchestration), `client` (the native client) and
//! `control` (the HTTP control plane).

pub mod cli;
pub mod client;
pub mod config;
pub mod control;
pub mod metrics;
pub mod protocol;
pub mod registry;
pub mod retry;
pub mod server;
pub mod shard;
pub mod storage;
