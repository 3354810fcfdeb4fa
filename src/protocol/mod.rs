//! protocol

pub mod batch;
