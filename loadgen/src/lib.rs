//! The `loadgen` binary's parts: the command line (`args`), the producer and
//! consumer threads (`produce`, `consume`) over shard-aware blocking
//! connections (`net`), the run that joins them (`run`), schema-driven event
//! generation (`datagen`, `payload`, `registry`) and the run summary with its
//! histogram outputs (`report`, `progress`).

pub mod args;
pub mod consume;
pub mod datagen;
pub mod net;
pub mod payload;
pub mod produce;
pub mod progress;
pub mod registry;
pub mod report;
pub mod run;
pub mod shared;
