//! JSON shapes of the REST API: request bodies, replies and path values, in
//! Confluent's field names.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::registry::error::RegistryError;
use crate::registry::model::{
    schema_type_from_name, schema_type_name, Registry, SchemaReference, SchemaType, SubjectVersion,
    VersionSpec, VERSION_MAX,
};

/// The body of register, lookup and compatibility requests. Fields that
/// Confluent clients may add (`metadata`, `ruleSet`) are ignored.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct SchemaBody {
    pub schema: String,
    #[serde(default)]
    pub schema_type: Option<String>,
    #[serde(default)]
    pub references: Vec<ReferenceBody>,
    /// Id to import under; 0 or negative means none.
    #[serde(default)]
    pub id: Option<i64>,
    /// Version to import as; 0 or negative means the next one.
    #[serde(default)]
    pub version: Option<i64>,
}

#[derive(Debug, Clone, Deserialize)]
pub(super) struct ReferenceBody {
    pub name: String,
    pub subject: String,
    /// A version number, or -1 for the subject's latest version.
    pub version: i64,
}

/// Parses a JSON request body: malformed JSON is a 400, a body of the wrong
/// shape a 422.
pub(super) fn parse_body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, RegistryError> {
    serde_json::from_slice(bytes).map_err(|e| {
        if e.is_data() {
            RegistryError::InvalidRequest(format!("Invalid request body: {e}"))
        } else {
            RegistryError::MalformedJson(e.to_string())
        }
    })
}

impl SchemaBody {
    /// Returns the schema type, AVRO when the body names none.
    pub fn schema_type(&self) -> Result<SchemaType, RegistryError> {
        match &self.schema_type {
            None => Ok(SchemaType::Avro),
            Some(name) => schema_type_from_name(name).ok_or_else(|| {
                RegistryError::InvalidSchema(format!("unknown schema type '{name}'"))
            }),
        }
    }

    /// Resolves the references' versions: -1 becomes the latest live version.
    pub fn references(&self, registry: &Registry) -> Result<Vec<SchemaReference>, RegistryError> {
        self.references
            .iter()
            .map(|r| {
                let version = if r.version == -1 {
                    registry
                        .version(&r.subject, VersionSpec::Latest, false)
                        .map(|v| v.version)
                        .map_err(|_| {
                            RegistryError::InvalidSchema(format!(
                                "reference '{}' names subject '{}', which has no versions",
                                r.name, r.subject
                            ))
                        })?
                } else {
                    u32::try_from(r.version)
                        .ok()
                        .filter(|v| (1..=VERSION_MAX).contains(v))
                        .ok_or_else(|| RegistryError::InvalidVersion(r.version.to_string()))?
                };
                Ok(SchemaReference {
                    name: r.name.clone(),
                    subject: r.subject.clone(),
                    version,
                })
            })
            .collect()
    }

    /// Returns the id to import under, if the body gives one.
    pub fn import_id(&self) -> Result<Option<u32>, RegistryError> {
        positive(self.id, |v| {
            RegistryError::InvalidRequest(format!("Schema id {v} is out of range"))
        })
    }

    /// Returns the version to register as, if the body gives one.
    pub fn import_version(&self) -> Result<Option<u32>, RegistryError> {
        positive(self.version, |v| {
            RegistryError::InvalidVersion(v.to_string())
        })
    }
}

fn positive(
    value: Option<i64>,
    error: impl Fn(i64) -> RegistryError,
) -> Result<Option<u32>, RegistryError> {
    match value {
        None => Ok(None),
        Some(v) if v <= 0 => Ok(None),
        Some(v) => u32::try_from(v).map(Some).map_err(|_| error(v)),
    }
}

/// Parses a version path segment.
pub(super) fn version_spec(text: &str) -> Result<VersionSpec, RegistryError> {
    VersionSpec::parse(text).ok_or_else(|| RegistryError::InvalidVersion(text.to_owned()))
}

/// Parses a schema id path segment; anything else names no schema.
pub(super) fn schema_id(text: &str) -> Result<u32, RegistryError> {
    text.parse::<u32>()
        .map_err(|_| RegistryError::RouteNotFound)
}

/// `schemaType` is omitted for AVRO, as Confluent does.
fn type_field(t: SchemaType) -> Option<&'static str> {
    match t {
        SchemaType::Avro => None,
        other => Some(schema_type_name(other)),
    }
}

/// A version with its schema.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct VersionReply {
    subject: String,
    version: u32,
    id: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    schema_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    references: Vec<SchemaReference>,
    schema: String,
}

impl From<SubjectVersion> for VersionReply {
    fn from(v: SubjectVersion) -> VersionReply {
        VersionReply {
            subject: v.subject,
            version: v.version,
            id: v.id,
            schema_type: type_field(v.schema_type),
            references: v.references,
            schema: v.schema,
        }
    }
}

/// A schema by id.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct SchemaReply {
    #[serde(skip_serializing_if = "Option::is_none")]
    schema_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    references: Vec<SchemaReference>,
    schema: String,
}

impl SchemaReply {
    pub fn new(t: SchemaType, references: Vec<SchemaReference>, schema: String) -> SchemaReply {
        SchemaReply {
            schema_type: type_field(t),
            references,
            schema,
        }
    }
}

/// A (subject, version) pair using a schema id.
#[derive(Debug, Serialize)]
pub(super) struct SubjectVersionPair {
    pub subject: String,
    pub version: u32,
}

/// The reply of a compatibility test; `messages` only when verbose.
#[derive(Debug, Serialize)]
pub(super) struct CompatibilityReply {
    pub is_compatible: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub messages: Option<Vec<String>>,
}

/// `{"compatibility": "..."}` in PUT /config bodies and replies.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct LevelBody {
    pub compatibility: String,
}

/// `{"compatibilityLevel": "..."}` in GET and DELETE /config replies.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct LevelReply {
    pub compatibility_level: &'static str,
}

/// `{"mode": "..."}` in /mode bodies and replies.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct ModeBody {
    pub mode: String,
}
