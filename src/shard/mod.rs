//! Shards: one compio executor per core, each pinned, owning its partitions
//! outright; the bounded mesh between them; and partition placement.

pub mod mesh;
pub mod placement;
pub mod runtime;
