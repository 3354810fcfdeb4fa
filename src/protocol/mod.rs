//! The native wire protocol: frames, API bodies, error codes and the record
//! batch format. Everything here is sans-IO so the broker, the client and
//! loadgen share one codec.

pub mod api;
pub mod batch;
pub mod codec;
pub mod dlq;
pub mod error;
pub mod frame;
pub mod schema_api;

pub use api::ApiKey;
pub use error::{ApiError, ErrorCode, WireError};
