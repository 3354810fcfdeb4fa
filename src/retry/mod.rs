//! retry
pub mod policy;
pub mod wheel;
