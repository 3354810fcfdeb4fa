//! Schema checks on the produce path, run on the shard that owns the
//! partition against its validator snapshot, before anything is appended.
//!
//! A topic's `validation` setting picks the check. `schema_id` requires each
//! record to carry a schema id registered under the topic's subject, either
//! in a `schema_id` header (decimal text) or in the schema frame (magic byte
//! 0, then the id as 4 big-endian bytes). `payload` also validates the value:
//! as JSON against the header's schema, or by decoding the framed body. The
//! first failing record rejects the whole request.

use std::cell::RefCell;

use serde::{Deserialize, Serialize};

use crate::protocol::batch::{self, records};
use crate::protocol::{ApiError, ErrorCode};
use crate::registry::validate::{frame_parts, ValidationError, Validators};

/// Name of the record header that carries a JSON value's schema id.
pub const SCHEMA_ID_HEADER: &str = "schema_id";
/// Suffixes of the retry and dead-letter topics, which keep events exactly
/// as they failed and are therefore never validated.
pub const UNVALIDATED_SUFFIXES: [&str; 2] = [".retry", ".dlq"];

/// The schema check a topic applies to produced records.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Validation {
    #[default]
    None,
    /// Each record names a schema id registered under the topic's subject.
    SchemaId,
    /// As `SchemaId`, and the value must decode under that schema.
    Payload,
}

thread_local! {
    /// Copy of one JSON value: simd-json parses in place, and the stored
    /// bytes must stay intact. Reused so that records cost no allocation
    /// once it has grown to the largest value seen.
    static JSON_SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Returns the subject a topic's records must be registered under.
pub fn topic_subject<'a>(topic: &str, configured: &'a str) -> std::borrow::Cow<'a, str> {
    if configured.is_empty() {
        std::borrow::Cow::Owned(format!("{topic}-value"))
    } else {
        std::borrow::Cow::Borrowed(configured)
    }
}

/// Whether records produced to `topic` are checked under `validation`.
pub fn applies_to(topic: &str, validation: Validation) -> bool {
    validation != Validation::None
        && !UNVALIDATED_SUFFIXES
            .iter()
            .any(|suffix| topic.ends_with(suffix))
}

/// Checks every record of the concatenated batches in `blob`.
///
/// # Errors
/// `SCHEMA_VALIDATION_FAILED` naming the record's index in the request, the
/// schema id, the field path and the reason; `CORRUPT_BATCH` for a batch
/// whose records cannot be read.
pub fn check_records(
    validators: &Validators,
    topic: &str,
    subject: &str,
    validation: Validation,
    blob: &[u8],
) -> Result<(), ApiError> {
    let mut rest = blob;
    let mut index = 0usize;
    while !rest.is_empty() {
        let size = batch::framed_size(rest).map_err(|err| corrupt(topic, &err))?;
        let (one, next) = rest.split_at(size.min(rest.len()));
        for record in records(one) {
            let record = record.map_err(|err| corrupt(topic, &err))?;
            let mut schema_header = None;
            for (key, value) in record.headers.clone() {
                if key == SCHEMA_ID_HEADER {
                    schema_header = Some(value.unwrap_or_default());
                }
            }
            check_record(validators, subject, validation, schema_header, record.value)
                .map_err(|err| rejected(topic, index, &err))?;
            index += 1;
        }
        rest = next;
    }
    Ok(())
}

fn check_record(
    validators: &Validators,
    subject: &str,
    validation: Validation,
    schema_header: Option<&[u8]>,
    value: Option<&[u8]>,
) -> Result<(), ValidationError> {
    let Some(value) = value else {
        return Err(whole(0, "the record has no value".into()));
    };
    let id = match schema_header {
        Some(text) => parse_header_id(text)?,
        None => frame_parts(value)?.0,
    };
    if !validators.is_registered_under(subject, id) {
        return Err(whole(
            id,
            format!("schema id {id} is not a live version of subject '{subject}'"),
        ));
    }
    if validation != Validation::Payload {
        return Ok(());
    }
    if schema_header.is_none() {
        return validators.validate_framed(value).map(|_| ());
    }
    JSON_SCRATCH.with_borrow_mut(|scratch| {
        scratch.clear();
        scratch.extend_from_slice(value);
        validators.validate_json(id, scratch)
    })
}

fn parse_header_id(text: &[u8]) -> Result<u32, ValidationError> {
    std::str::from_utf8(text)
        .ok()
        .and_then(|t| t.trim().parse::<u32>().ok())
        .ok_or_else(|| {
            whole(
                0,
                format!(
                    "header '{SCHEMA_ID_HEADER}' is {:?}, not a decimal schema id",
                    String::from_utf8_lossy(text)
                ),
            )
        })
}

fn whole(schema_id: u32, reason: String) -> ValidationError {
    ValidationError {
        schema_id,
        path: "$".to_owned(),
        reason,
    }
}

fn rejected(topic: &str, index: usize, err: &ValidationError) -> ApiError {
    ApiError::new(
        ErrorCode::SchemaValidationFailed,
        format!(
            "record {index} of the request to topic '{topic}' failed validation against schema id {} at {}: {}; nothing was appended",
            err.schema_id, err.path, err.reason
        ),
    )
}

fn corrupt(topic: &str, err: &batch::BatchError) -> ApiError {
    ApiError::new(
        ErrorCode::CorruptBatch,
        format!("cannot read the records sent to topic '{topic}' for validation: {err}"),
    )
}
