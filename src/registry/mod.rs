//! registry
pub mod error;
pub mod model;
