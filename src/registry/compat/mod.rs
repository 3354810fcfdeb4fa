//! Schema compatibility checks with Confluent Schema Registry's semantics.
//!
//! `can_read` reports whether data written with one schema can be read with
//! another. Avro follows the schema-resolution rules of the Avro
//! specification as the reference Java implementation applies them.
//! Protobuf and JSON Schema follow Confluent's schema-diff rules. `check` applies a subject's
//! compatibility level to a new schema and the subject's history. Runs on
//! the control-plane thread when a schema is registered or tested.

mod avro;
mod json;
mod json_change;
mod json_model;
mod json_object;
mod protobuf;
mod protobuf_change;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::schema::ParsedSchema;

/// Compatibility level of a subject, as in the Confluent REST API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CompatibilityLevel {
    None,
    #[default]
    Backward,
    BackwardTransitive,
    Forward,
    ForwardTransitive,
    Full,
    FullTransitive,
}

impl CompatibilityLevel {
    /// Returns the REST API spelling, such as `BACKWARD_TRANSITIVE`.
    pub fn as_str(self) -> &'static str {
        match self {
            CompatibilityLevel::None => "NONE",
            CompatibilityLevel::Backward => "BACKWARD",
            CompatibilityLevel::BackwardTransitive => "BACKWARD_TRANSITIVE",
            CompatibilityLevel::Forward => "FORWARD",
            CompatibilityLevel::ForwardTransitive => "FORWARD_TRANSITIVE",
            CompatibilityLevel::Full => "FULL",
            CompatibilityLevel::FullTransitive => "FULL_TRANSITIVE",
        }
    }

    fn is_transitive(self) -> bool {
        matches!(
            self,
            CompatibilityLevel::BackwardTransitive
                | CompatibilityLevel::ForwardTransitive
                | CompatibilityLevel::FullTransitive
        )
    }

    /// Returns whether the new schema must read data written with old ones.
    fn checks_backward(self) -> bool {
        matches!(
            self,
            CompatibilityLevel::Backward
                | CompatibilityLevel::BackwardTransitive
                | CompatibilityLevel::Full
                | CompatibilityLevel::FullTransitive
        )
    }

    /// Returns whether old schemas must read data written with the new one.
    fn checks_forward(self) -> bool {
        matches!(
            self,
            CompatibilityLevel::Forward
                | CompatibilityLevel::ForwardTransitive
                | CompatibilityLevel::Full
                | CompatibilityLevel::FullTransitive
        )
    }
}

impl fmt::Display for CompatibilityLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error for a compatibility level name that is not one of the seven levels.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown compatibility level '{0}': expected NONE, BACKWARD, BACKWARD_TRANSITIVE, \
     FORWARD, FORWARD_TRANSITIVE, FULL or FULL_TRANSITIVE"
)]
pub struct UnknownCompatibilityLevel(pub String);

impl FromStr for CompatibilityLevel {
    type Err = UnknownCompatibilityLevel;

    /// Parses the level name case-insensitively.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let level = match s.to_ascii_uppercase().as_str() {
            "NONE" => CompatibilityLevel::None,
            "BACKWARD" => CompatibilityLevel::Backward,
            "BACKWARD_TRANSITIVE" => CompatibilityLevel::BackwardTransitive,
            "FORWARD" => CompatibilityLevel::Forward,
            "FORWARD_TRANSITIVE" => CompatibilityLevel::ForwardTransitive,
            "FULL" => CompatibilityLevel::Full,
            "FULL_TRANSITIVE" => CompatibilityLevel::FullTransitive,
            _ => return Err(UnknownCompatibilityLevel(s.to_string())),
        };
        Ok(level)
    }
}

/// Lists why data written with `writer` cannot be read with `reader`; an
/// empty list means it can.
///
/// Each message starts with the incompatibility type and the location in
/// the schema, e.g. `READER_FIELD_MISSING_DEFAULT_VALUE at /fields/2: ...`.
pub fn can_read(reader: &ParsedSchema, writer: &ParsedSchema) -> Vec<String> {
    match (reader, writer) {
        (ParsedSchema::Avro(reader), ParsedSchema::Avro(writer)) => avro::can_read(reader, writer),
        (ParsedSchema::Protobuf(reader), ParsedSchema::Protobuf(writer)) => {
            protobuf::can_read(reader, writer)
        }
        (ParsedSchema::Json(reader), ParsedSchema::Json(writer)) => json::can_read(reader, writer),
        _ => vec![format!(
            "SCHEMA_TYPE_CHANGED: the schema type changed from {} to {}",
            writer.schema_type(),
            reader.schema_type()
        )],
    }
}

/// Checks `new` against the subject's `history` (oldest first) under
/// `level` and lists the incompatibilities; an empty list means compatible.
///
/// Non-transitive levels compare with the latest version only, transitive
/// ones with every version. BACKWARD: `new` reads the old schema's data.
/// FORWARD: the old schema reads `new`'s data. FULL: both.
pub fn check(
    level: CompatibilityLevel,
    new: &ParsedSchema,
    history: &[ParsedSchema],
) -> Vec<String> {
    let compared: &[ParsedSchema] = match (level.is_transitive(), history.split_last()) {
        (_, None) => &[],
        (true, Some(_)) => history,
        (false, Some((latest, _))) => std::slice::from_ref(latest),
    };
    let mut messages = Vec::new();
    // Newest first, as Confluent reports them.
    for old in compared.iter().rev() {
        if level.checks_backward() {
            messages.extend(can_read(new, old));
        }
        if level.checks_forward() {
            messages.extend(can_read(old, new));
        }
    }
    messages
}
