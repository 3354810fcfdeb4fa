//! The schema registry: schemas and their parsing, compatibility checks,
//! the subject/version model, payload validation and the REST API.

pub mod compat;
pub mod error;
pub mod model;
pub mod produce;
pub mod rest;
pub mod schema;
pub mod shared;
pub mod validate;
