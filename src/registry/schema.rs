//! Schema parsing and canonical form for the registry's three formats.
//!
//! `parse` turns registered schema text, with the texts of the schemas it
//! references, into a checked `ParsedSchema`. `canonical` renders the text
//! that gives identical schemas the same global id. Both run on the
//! control-plane thread when a schema is registered, and shards only receive
//! the parsed result.

mod avro;
mod json;
mod protobuf;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use json::{JsonReference, JsonSchema, MAIN_DOCUMENT};
pub use protobuf::ProtobufSchema;

/// Schema format of a subject version, spelled as in the Confluent REST API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum SchemaType {
    Avro,
    Protobuf,
    Json,
}

impl SchemaType {
    /// Returns the REST API spelling: `AVRO`, `PROTOBUF` or `JSON`.
    pub fn as_str(self) -> &'static str {
        match self {
            SchemaType::Avro => "AVRO",
            SchemaType::Protobuf => "PROTOBUF",
            SchemaType::Json => "JSON",
        }
    }
}

impl fmt::Display for SchemaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error for a schema type name other than AVRO, PROTOBUF or JSON.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown schema type '{0}': expected AVRO, PROTOBUF or JSON")]
pub struct UnknownSchemaType(pub String);

impl FromStr for SchemaType {
    type Err = UnknownSchemaType;

    /// Parses the type name case-insensitively.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_uppercase().as_str() {
            "AVRO" => Ok(SchemaType::Avro),
            "PROTOBUF" => Ok(SchemaType::Protobuf),
            "JSON" => Ok(SchemaType::Json),
            _ => Err(UnknownSchemaType(s.to_string())),
        }
    }
}

/// A schema reference as registered: the name the schema uses for it, and
/// the subject version that supplies it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Reference {
    pub name: String,
    pub subject: String,
    pub version: u32,
}

/// A reference with the text of the schema it points to.
///
/// `name` is the Avro full name of the referenced type, the Protobuf import
/// path, or the JSON Schema `$ref` URI (without fragment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedReference {
    pub name: String,
    pub schema: String,
}

/// A schema that parsed and passed its format's checks.
#[derive(Debug, Clone)]
pub enum ParsedSchema {
    /// An Avro schema with the named types of its references inlined, so it
    /// holds every definition it uses.
    Avro(apache_avro::Schema),
    /// A compiled `.proto` file with its imports.
    Protobuf(ProtobufSchema),
    /// A JSON Schema document with its referenced documents.
    Json(JsonSchema),
}

impl ParsedSchema {
    /// Returns the format of this schema.
    pub fn schema_type(&self) -> SchemaType {
        match self {
            ParsedSchema::Avro(_) => SchemaType::Avro,
            ParsedSchema::Protobuf(_) => SchemaType::Protobuf,
            ParsedSchema::Json(_) => SchemaType::Json,
        }
    }
}

/// Error for schema text that does not parse or fails its format's checks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SchemaError {
    /// The text is not valid JSON (Avro and JSON Schema) or not valid
    /// `.proto` syntax. `line` and `column` are 1-based.
    #[error(
        "invalid {schema_type} schema: syntax error at line {line}, column {column}: {message}"
    )]
    Syntax {
        schema_type: SchemaType,
        line: usize,
        column: usize,
        message: String,
    },
    /// The text parses but breaks a rule of its format, or a reference is
    /// missing or invalid.
    #[error("invalid {schema_type} schema: {message}")]
    Invalid {
        schema_type: SchemaType,
        message: String,
    },
}

impl SchemaError {
    fn invalid(schema_type: SchemaType, message: impl Into<String>) -> Self {
        SchemaError::Invalid {
            schema_type,
            message: message.into(),
        }
    }

    /// Builds a syntax error from a `serde_json` error, which carries the
    /// position of the first invalid character.
    fn json_syntax(schema_type: SchemaType, error: &serde_json::Error) -> Self {
        let (line, column) = (error.line(), error.column());
        // serde_json appends the position, which this error reports itself.
        let text = error.to_string();
        let suffix = format!(" at line {line} column {column}");
        let message = text.strip_suffix(&suffix).unwrap_or(&text).to_string();
        SchemaError::Syntax {
            schema_type,
            line,
            column,
            message,
        }
    }
}

/// Parses and checks `text` as a schema of type `t`.
///
/// `refs` supplies the schemas that `text` references. An invalid schema
/// gives a `SchemaError` naming the problem, with the line or field where
/// the parser reports one.
pub fn parse(
    t: SchemaType,
    text: &str,
    refs: &[ResolvedReference],
) -> Result<ParsedSchema, SchemaError> {
    match t {
        SchemaType::Avro => avro::parse(text, refs).map(ParsedSchema::Avro),
        SchemaType::Protobuf => protobuf::parse(text, refs).map(ParsedSchema::Protobuf),
        SchemaType::Json => json::parse(text, refs).map(ParsedSchema::Json),
    }
}

/// Renders the canonical text that gives identical schemas the same id.
///
/// Avro: the Parsing Canonical Form, extended with the attributes that
/// change how data is resolved (defaults, aliases, logical types), so `doc`
/// and custom attributes such as `arg.properties` do not change the id.
/// JSON Schema: the document with object keys sorted and no whitespace.
/// Protobuf: the source tokens without comments, separated by single spaces.
pub fn canonical(p: &ParsedSchema) -> String {
    match p {
        ParsedSchema::Avro(schema) => avro::canonical(schema),
        ParsedSchema::Protobuf(schema) => protobuf::canonical(schema),
        ParsedSchema::Json(schema) => json::canonical(schema),
    }
}
