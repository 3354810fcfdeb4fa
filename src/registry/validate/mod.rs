//! Payload validation against registered schemas, compiled per schema id.
//!
//! The control plane compiles a [`Validators`] set from the registry and
//! hands each shard a read-only snapshot inside an `Arc`. A shard validates
//! the records of the partitions it owns against its snapshot, with no lock
//! and no cross-shard hop, and swaps the snapshot when the registry changes.
//!
//! Values arrive as JSON (with the schema id carried beside them) or as
//! schema-framed binary: magic byte 0, the schema id as a 4-byte big-endian
//! integer, then the Avro or Protobuf body (Protobuf first carries its
//! message indexes) or JSON text. Decoding untrusted bytes is bounded by the
//! limits named here and in the format modules.

mod avro;
mod avro_binary;
mod avro_json;
mod failure;
mod json_schema;
mod protobuf;
pub(crate) mod scratch;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

pub use avro::AvroValidator;
pub use avro_binary::DATUM_ITEMS_MAX;
pub use avro_json::{UnionEncoding, VISITS_PER_JSON_NODE_MAX};
pub use json_schema::JsonSchemaValidator;
pub use protobuf::ProtobufValidator;

use crate::registry::model::schema::{self, ParsedSchema, ResolvedReference};
use crate::registry::model::{Registry, SchemaRecord};
use failure::Failure;

/// Maximum nesting of arrays, maps, records, union tags or messages in one
/// value. Deeper values are rejected before they can exhaust the stack,
/// whatever the schema allows, so recursive schemas are bounded too.
pub const NESTING_DEPTH_MAX: usize = 64;
/// First byte of a schema-framed value.
pub const FRAME_MAGIC: u8 = 0;
/// Magic byte plus the 4-byte schema id.
pub const FRAME_HEADER_BYTES: usize = 5;

/// Why a value was rejected: the schema it was checked against, the path to
/// the offending part (`$.items[2].price`) and the reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidationError {
    pub schema_id: u32,
    pub path: String,
    pub reason: String,
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "schema {}: {}: {}",
            self.schema_id, self.path, self.reason
        )
    }
}

impl std::error::Error for ValidationError {}

impl ValidationError {
    fn whole(schema_id: u32, reason: impl Into<String>) -> ValidationError {
        ValidationError {
            schema_id,
            path: "$".to_owned(),
            reason: reason.into(),
        }
    }

    pub(crate) fn from_failure(schema_id: u32, failure: Failure) -> ValidationError {
        ValidationError {
            schema_id,
            path: failure.path_text(),
            reason: failure.reason.into_owned(),
        }
    }
}

/// One schema compiled for validation.
#[derive(Clone, Debug)]
pub enum CompiledSchema {
    Avro(AvroValidator),
    Protobuf(ProtobufValidator),
    Json(JsonSchemaValidator),
}

impl CompiledSchema {
    /// Compiles a parsed schema; `refs` are the texts its references name.
    pub fn from_parsed(
        parsed: &ParsedSchema,
        refs: &[ResolvedReference],
    ) -> Result<CompiledSchema, String> {
        match parsed {
            ParsedSchema::Avro(schema) => {
                let named = if refs.is_empty() {
                    Vec::new()
                } else {
                    apache_avro::Schema::parse_list(refs.iter().map(|r| &r.schema))
                        .map_err(|e| format!("invalid Avro reference: {e}"))?
                };
                AvroValidator::new(schema, &named).map(CompiledSchema::Avro)
            }
            ParsedSchema::Protobuf(proto) => {
                ProtobufValidator::new(proto.file().clone()).map(CompiledSchema::Protobuf)
            }
            ParsedSchema::Json(json) => {
                JsonSchemaValidator::new(&json.document, refs).map(CompiledSchema::Json)
            }
        }
    }

    /// Parses and compiles a stored schema, resolving its references.
    pub fn compile(registry: &Registry, record: &SchemaRecord) -> Result<CompiledSchema, String> {
        let refs = registry
            .resolve_references(&record.references)
            .map_err(|e| e.to_string())?;
        let parsed =
            schema::parse(record.schema_type, &record.schema, &refs).map_err(|e| e.to_string())?;
        CompiledSchema::from_parsed(&parsed, &refs)
    }

    /// Validates a JSON value, parsed in place. Avro accepts both plain JSON
    /// and the Avro JSON encoding of unions; Protobuf expects its JSON mapping
    /// of the file's first message.
    pub(crate) fn validate_json(&self, json: &mut [u8]) -> Result<(), Failure> {
        match self {
            CompiledSchema::Avro(avro) => scratch::with_tape(json, |value, nodes| {
                avro.validate_tape(value, nodes, UnionEncoding::Either)
            }),
            CompiledSchema::Protobuf(protobuf) => protobuf.validate_json(json),
            CompiledSchema::Json(json_schema) => json_schema.validate_json(json),
        }
    }

    /// Validates the body of a framed value (the bytes after the header).
    pub(crate) fn validate_body(&self, body: &[u8]) -> Result<(), Failure> {
        match self {
            CompiledSchema::Avro(avro) => avro.validate_binary(body),
            CompiledSchema::Protobuf(protobuf) => protobuf.validate_binary(body),
            CompiledSchema::Json(json_schema) => {
                scratch::with_copy(body, |text| json_schema.validate_json(text))
            }
        }
    }
}

/// Compiled validators by schema id, and the live ids of each subject.
#[derive(Clone, Debug, Default)]
pub struct Validators {
    schemas: HashMap<u32, Arc<CompiledSchema>>,
    subjects: HashMap<String, Vec<u32>>,
}

impl Validators {
    /// Creates an empty set.
    pub fn new() -> Validators {
        Validators::default()
    }

    /// Compiles every live schema of `registry`. Returns the set and the ids
    /// that failed to compile, with the reason; those ids then reject every
    /// value as unregistered.
    pub fn from_registry(registry: &Registry) -> (Validators, Vec<(u32, String)>) {
        let mut validators = Validators::new();
        let mut failed = Vec::new();
        for record in registry.live_schemas() {
            match CompiledSchema::compile(registry, record) {
                Ok(compiled) => validators.insert(record.id, Arc::new(compiled)),
                Err(reason) => failed.push((record.id, reason)),
            }
        }
        for subject in registry.subjects(false, "") {
            let ids = registry.subject_ids(&subject);
            validators.subjects.insert(subject, ids);
        }
        (validators, failed)
    }

    /// Builds the set for a changed `registry`, reusing the validators of
    /// ids this set already has (an id never changes its schema) and
    /// compiling the rest. Returns the ids that failed, as `from_registry`.
    pub fn refreshed(&self, registry: &Registry) -> (Validators, Vec<(u32, String)>) {
        let mut validators = Validators::new();
        let mut failed = Vec::new();
        for record in registry.live_schemas() {
            if let Some(compiled) = self.schemas.get(&record.id) {
                validators.insert(record.id, compiled.clone());
                continue;
            }
            match CompiledSchema::compile(registry, record) {
                Ok(compiled) => validators.insert(record.id, Arc::new(compiled)),
                Err(reason) => failed.push((record.id, reason)),
            }
        }
        for subject in registry.subjects(false, "") {
            let ids = registry.subject_ids(&subject);
            validators.subjects.insert(subject, ids);
        }
        (validators, failed)
    }

    /// Adds or replaces the validator of schema `id`.
    pub fn insert(&mut self, id: u32, compiled: Arc<CompiledSchema>) {
        self.schemas.insert(id, compiled);
    }

    /// Records the ids of the live versions of `subject`, replacing any before.
    pub fn set_subject_ids(&mut self, subject: &str, ids: Vec<u32>) {
        if ids.is_empty() {
            self.subjects.remove(subject);
        } else {
            self.subjects.insert(subject.to_owned(), ids);
        }
    }

    /// Returns the validator of schema `id`.
    pub fn get(&self, id: u32) -> Option<&Arc<CompiledSchema>> {
        self.schemas.get(&id)
    }

    /// Whether `id` is the id of a live version of `subject`.
    pub fn is_registered_under(&self, subject: &str, id: u32) -> bool {
        self.subjects
            .get(subject)
            .is_some_and(|ids| ids.contains(&id))
    }

    fn compiled(&self, id: u32) -> Result<&CompiledSchema, ValidationError> {
        self.schemas
            .get(&id)
            .map(|c| c.as_ref())
            .ok_or_else(|| ValidationError::whole(id, format!("schema id {id} is not registered")))
    }

    /// Validates a JSON value against schema `id`; `value` is parsed in
    /// place, so its bytes are left scrambled.
    pub fn validate_json(&self, id: u32, value: &mut [u8]) -> Result<(), ValidationError> {
        self.compiled(id)?
            .validate_json(value)
            .map_err(|f| ValidationError::from_failure(id, f))
    }

    /// Validates a schema-framed value and returns the schema id it carries.
    pub fn validate_framed(&self, value: &[u8]) -> Result<u32, ValidationError> {
        let (id, body) = frame_parts(value)?;
        self.compiled(id)?
            .validate_body(body)
            .map_err(|f| ValidationError::from_failure(id, f))?;
        Ok(id)
    }
}

/// Splits a framed value into its schema id and body.
pub fn frame_parts(value: &[u8]) -> Result<(u32, &[u8]), ValidationError> {
    let Some((header, body)) = value.split_first_chunk::<FRAME_HEADER_BYTES>() else {
        return Err(ValidationError::whole(
            0,
            format!(
                "value of {} bytes is shorter than the {FRAME_HEADER_BYTES}-byte schema frame",
                value.len()
            ),
        ));
    };
    if header[0] != FRAME_MAGIC {
        return Err(ValidationError::whole(
            0,
            format!("unknown magic byte {}, expected {FRAME_MAGIC}", header[0]),
        ));
    }
    let id = u32::from_be_bytes([header[1], header[2], header[3], header[4]]);
    Ok((id, body))
}
