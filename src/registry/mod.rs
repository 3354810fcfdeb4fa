//! registry
pub mod compat;
pub mod schema;
