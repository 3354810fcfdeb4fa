//! The error codes every reply carries, and the wire decoding error.
//!
//! Codes are stable on the wire: a code is never reused for another meaning.
//! `docs/protocol.md` lists them with the action a client should take.

use std::fmt;

/// Error code carried by every reply frame; `None` means success.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u16)]
#[non_exhaustive]
pub enum ErrorCode {
    None = 0,
    UnknownServerError = 1,
    InvalidRequest = 2,
    UnsupportedVersion = 3,
    UnknownApi = 4,
    FrameTooLarge = 5,
    TooManyInflightRequests = 6,
    UnknownTopic = 10,
    UnknownPartition = 11,
    TopicAlreadyExists = 12,
    InvalidConfig = 13,
    InvalidTopicName = 14,
    CorruptBatch = 20,
    OffsetOutOfRange = 21,
    DiskFull = 22,
    StorageError = 23,
    RequestTimedOut = 24,
    SchemaValidationFailed = 30,
    SchemaNotFound = 31,
    SubjectNotFound = 32,
    IncompatibleSchema = 33,
    InvalidSchema = 34,
    NoRetryPolicy = 40,
    DlqEntryNotFound = 41,
    ShuttingDown = 50,
}

impl ErrorCode {
    /// Every code, for documentation and round-trip tests.
    pub const ALL: [ErrorCode; 25] = [
        ErrorCode::None,
        ErrorCode::UnknownServerError,
        ErrorCode::InvalidRequest,
        ErrorCode::UnsupportedVersion,
        ErrorCode::UnknownApi,
        ErrorCode::FrameTooLarge,
        ErrorCode::TooManyInflightRequests,
        ErrorCode::UnknownTopic,
        ErrorCode::UnknownPartition,
        ErrorCode::TopicAlreadyExists,
        ErrorCode::InvalidConfig,
        ErrorCode::InvalidTopicName,
        ErrorCode::CorruptBatch,
        ErrorCode::OffsetOutOfRange,
        ErrorCode::DiskFull,
        ErrorCode::StorageError,
        ErrorCode::RequestTimedOut,
        ErrorCode::SchemaValidationFailed,
        ErrorCode::SchemaNotFound,
        ErrorCode::SubjectNotFound,
        ErrorCode::IncompatibleSchema,
        ErrorCode::InvalidSchema,
        ErrorCode::NoRetryPolicy,
        ErrorCode::DlqEntryNotFound,
        ErrorCode::ShuttingDown,
    ];

    /// Maps a wire value back to a code; unknown values become
    /// `UnknownServerError` so that an old client still reports a failure.
    pub fn from_u16(value: u16) -> ErrorCode {
        Self::ALL
            .iter()
            .copied()
            .find(|code| *code as u16 == value)
            .unwrap_or(ErrorCode::UnknownServerError)
    }

    /// The upper-snake name used in logs, docs and CLI messages.
    pub fn name(self) -> &'static str {
        match self {
            ErrorCode::None => "NONE",
            ErrorCode::UnknownServerError => "UNKNOWN_SERVER_ERROR",
            ErrorCode::InvalidRequest => "INVALID_REQUEST",
            ErrorCode::UnsupportedVersion => "UNSUPPORTED_VERSION",
            ErrorCode::UnknownApi => "UNKNOWN_API",
            ErrorCode::FrameTooLarge => "FRAME_TOO_LARGE",
            ErrorCode::TooManyInflightRequests => "TOO_MANY_INFLIGHT_REQUESTS",
            ErrorCode::UnknownTopic => "UNKNOWN_TOPIC",
            ErrorCode::UnknownPartition => "UNKNOWN_PARTITION",
            ErrorCode::TopicAlreadyExists => "TOPIC_ALREADY_EXISTS",
            ErrorCode::InvalidConfig => "INVALID_CONFIG",
            ErrorCode::InvalidTopicName => "INVALID_TOPIC_NAME",
            ErrorCode::CorruptBatch => "CORRUPT_BATCH",
            ErrorCode::OffsetOutOfRange => "OFFSET_OUT_OF_RANGE",
            ErrorCode::DiskFull => "DISK_FULL",
            ErrorCode::StorageError => "STORAGE_ERROR",
            ErrorCode::RequestTimedOut => "REQUEST_TIMED_OUT",
            ErrorCode::SchemaValidationFailed => "SCHEMA_VALIDATION_FAILED",
            ErrorCode::SchemaNotFound => "SCHEMA_NOT_FOUND",
            ErrorCode::SubjectNotFound => "SUBJECT_NOT_FOUND",
            ErrorCode::IncompatibleSchema => "INCOMPATIBLE_SCHEMA",
            ErrorCode::InvalidSchema => "INVALID_SCHEMA",
            ErrorCode::NoRetryPolicy => "NO_RETRY_POLICY",
            ErrorCode::DlqEntryNotFound => "DLQ_ENTRY_NOT_FOUND",
            ErrorCode::ShuttingDown => "SHUTTING_DOWN",
        }
    }

    /// Whether retrying the same request later can succeed.
    pub fn is_retriable(self) -> bool {
        matches!(
            self,
            ErrorCode::DiskFull
                | ErrorCode::RequestTimedOut
                | ErrorCode::TooManyInflightRequests
                | ErrorCode::ShuttingDown
        )
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A reply-level failure: the code that goes on the wire and a message that
/// names the offending value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
        }
    }
}

/// Decoding failure of a frame body. `Incomplete` is kept apart from the
/// malformed cases because the caller reads more bytes rather than failing.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    #[error("incomplete {field}: need {need} bytes at offset {offset}, have {have}")]
    Incomplete {
        field: &'static str,
        offset: usize,
        need: usize,
        have: usize,
    },
    #[error("invalid UTF-8 in {field} at offset {offset}")]
    InvalidUtf8 { field: &'static str, offset: usize },
    #[error("invalid {field} at offset {offset}: {reason}")]
    Invalid {
        field: &'static str,
        offset: usize,
        reason: String,
    },
}

impl From<WireError> for ApiError {
    fn from(err: WireError) -> Self {
        ApiError::new(ErrorCode::InvalidRequest, err.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_u16(code as u16), code);
        }
    }

    #[test]
    fn unknown_code_maps_to_server_error() {
        assert_eq!(ErrorCode::from_u16(9999), ErrorCode::UnknownServerError);
    }
}
