//! Building blocks of the `loadgen` binary: schema-driven event generation
//! (`datagen`) and the run summary with its histogram outputs (`report`).

pub mod datagen;
pub mod report;
