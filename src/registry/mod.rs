//! registry
pub mod error;
pub mod model;
pub mod rest;
pub mod validate;
