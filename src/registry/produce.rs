//! Schema checks on the produce path, run on the shard that owns the
//! partition against its validator snapshot, before anything is appended.
//!
//! A topic's `validation` setting picks the check. `schema_id` requires each
//! record to carry a schema id registered under the topic's subject, either
//! in a `schema_id` header (decimal text) or in the schema frame (magic byte
//! 0, then the id as 4 big-endian bytes). Of several `schema_id` headers,
//! the last one counts. `payload` also validates the value:
//! as JSON against the header's schema, or by decoding the framed body. The
//! first failing record rejects the whole request.

use serde::{Deserialize, Serialize};

use crate::protocol::batch::RecordView;
use crate::protocol::{ApiError, ErrorCode};
use crate::registry::validate::{
    frame_parts, scratch, CompiledSchema, ValidationError, Validators, FRAME_HEADER_BYTES,
};

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

/// Schema check of one request's records, run inside the broker's own walk
/// of the batches so that each record is decoded once.
pub struct RecordChecker<'a> {
    validators: &'a Validators,
    topic: &'a str,
    subject: &'a str,
    validation: Validation,
    /// Index of the next record within the request.
    index: usize,
    /// Last schema id found live under the subject, with its validator if
    /// it compiled. Records of one request nearly always share an id, and
    /// this skips the lookups.
    live: Option<(u32, Option<&'a CompiledSchema>)>,
}

impl<'a> RecordChecker<'a> {
    pub fn new(
        validators: &'a Validators,
        topic: &'a str,
        subject: &'a str,
        validation: Validation,
    ) -> RecordChecker<'a> {
        RecordChecker {
            validators,
            topic,
            subject,
            validation,
            index: 0,
            live: None,
        }
    }

    /// Checks the next record of the request.
    ///
    /// # Errors
    /// `SCHEMA_VALIDATION_FAILED` naming the record's index in the request,
    /// the schema id, the field path and the reason.
    pub fn check(&mut self, record: &RecordView<'_>) -> Result<(), ApiError> {
        let index = self.index;
        self.index += 1;
        self.check_value(schema_header(record), record.value)
            .map_err(|err| rejected(self.topic, index, &err))
    }

    fn check_value(
        &mut self,
        schema_header: Option<&[u8]>,
        value: Option<&[u8]>,
    ) -> Result<(), ValidationError> {
        let Some(value) = value else {
            return Err(whole(0, "the record has no value".into()));
        };
        let id = match schema_header {
            Some(text) => parse_header_id(text)?,
            None => frame_parts(value).map_err(unframed)?.0,
        };
        let compiled = self.live_schema(id)?;
        if self.validation != Validation::Payload {
            return Ok(());
        }
        let compiled = compiled.ok_or_else(|| {
            whole(
                id,
                format!("schema id {id} has no validator; see the broker log"),
            )
        })?;
        let checked = match schema_header {
            Some(_) => scratch::with_copy(value, |json| compiled.validate_json(json)),
            None => compiled.validate_body(&value[FRAME_HEADER_BYTES..]),
        };
        checked.map_err(|failure| ValidationError::from_failure(id, failure))
    }

    /// Checks that `id` is a live version of the subject and returns its
    /// validator.
    fn live_schema(&mut self, id: u32) -> Result<Option<&'a CompiledSchema>, ValidationError> {
        if let Some((live, compiled)) = self.live {
            if live == id {
                return Ok(compiled);
            }
        }
        if !self.validators.is_registered_under(self.subject, id) {
            return Err(whole(
                id,
                format!(
                    "schema id {id} is not a live version of subject '{}'",
                    self.subject
                ),
            ));
        }
        let compiled = self.validators.get(id).map(|c| c.as_ref());
        self.live = Some((id, compiled));
        Ok(compiled)
    }
}

/// Returns the value of the record's last `schema_id` header.
fn schema_header<'r>(record: &RecordView<'r>) -> Option<&'r [u8]> {
    record
        .headers
        .last_value(SCHEMA_ID_HEADER)
        .map(Option::unwrap_or_default)
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

/// Explains a value with neither a `schema_id` header nor a schema frame.
fn unframed(err: ValidationError) -> ValidationError {
    whole(
        0,
        format!(
            "the record has no '{SCHEMA_ID_HEADER}' header and its value is not schema-framed ({}); \
             add the header with the schema id, or start the value with magic byte 0 and the 4-byte id",
            err.reason
        ),
    )
}

fn rejected(topic: &str, index: usize, err: &ValidationError) -> ApiError {
    // Schema ids start at 1, so 0 marks a record rejected before any schema
    // was found.
    let message = if err.schema_id == 0 {
        format!(
            "record {index} of the request to topic '{topic}' was rejected: {}; nothing was appended",
            err.reason
        )
    } else {
        format!(
            "record {index} of the request to topic '{topic}' failed validation against schema id {} at {}: {}; nothing was appended",
            err.schema_id, err.path, err.reason
        )
    };
    ApiError::new(ErrorCode::SchemaValidationFailed, message)
}
