//! The schema registry's state: subjects, versions, global schema ids,
//! compatibility levels and modes.
//!
//! `Registry` is pure and synchronous. Every change is first planned against
//! the current state (`plan.rs`), which checks it and returns the
//! [`RegistryEvent`]s that express it. The owner makes those events durable in
//! the internal `__schemas` topic and then applies them (`event.rs`), so
//! replaying the stored events in order rebuilds the same state. The registry lives on
//! the control-plane thread; shards only see compiled validator snapshots.

mod event;
mod plan;
mod query;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

pub use crate::registry::{compat, schema};
pub use event::{RegistryEvent, SubjectChange};
pub use plan::{Planned, RegisterRequest, Registered};
pub use query::SubjectVersion;

pub use compat::CompatibilityLevel;
pub use schema::SchemaType;

/// Level used when neither the subject nor the global config sets one.
pub const LEVEL_DEFAULT: CompatibilityLevel = CompatibilityLevel::Backward;
/// Largest schema text accepted for registration, in bytes.
pub const SCHEMA_TEXT_BYTES_MAX: usize = 1 << 20;
/// Maximum subject name length, in bytes.
pub const SUBJECT_NAME_BYTES_MAX: usize = 1024;
/// Deepest chain of schema references followed when resolving one schema.
pub const REFERENCE_DEPTH_MAX: usize = 32;
/// Versions and schema ids are Java `int`s in Confluent's API.
pub const VERSION_MAX: u32 = i32::MAX as u32;
/// Largest schema id; ids start at 1.
pub const SCHEMA_ID_MAX: u32 = i32::MAX as u32;

/// Whether a subject (or the whole registry) accepts writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Mode {
    #[serde(rename = "READWRITE")]
    ReadWrite,
    #[serde(rename = "READONLY")]
    ReadOnly,
    /// Accepts registrations that carry their own id and version, without
    /// compatibility checks, for copying another registry's contents.
    #[serde(rename = "IMPORT")]
    Import,
}

impl Mode {
    /// Returns the name used in the REST API.
    pub fn name(self) -> &'static str {
        match self {
            Mode::ReadWrite => "READWRITE",
            Mode::ReadOnly => "READONLY",
            Mode::Import => "IMPORT",
        }
    }

    /// Parses a REST API name, ignoring case.
    pub fn from_name(name: &str) -> Option<Mode> {
        [Mode::ReadWrite, Mode::ReadOnly, Mode::Import]
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(name))
    }
}

/// A version selector from a REST path: a number or `latest`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VersionSpec {
    Latest,
    Number(u32),
}

impl VersionSpec {
    /// Parses `latest`, `-1` (Confluent's alias for latest) or 1..=2^31-1.
    pub fn parse(text: &str) -> Option<VersionSpec> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("latest") || text == "-1" {
            return Some(VersionSpec::Latest);
        }
        match text.parse::<u32>() {
            Ok(v) if (1..=VERSION_MAX).contains(&v) => Some(VersionSpec::Number(v)),
            _ => None,
        }
    }
}

/// Returns the REST API name of a schema type.
pub fn schema_type_name(t: SchemaType) -> &'static str {
    match t {
        SchemaType::Avro => "AVRO",
        SchemaType::Protobuf => "PROTOBUF",
        SchemaType::Json => "JSON",
    }
}

/// Parses a REST API schema type name, ignoring case.
pub fn schema_type_from_name(name: &str) -> Option<SchemaType> {
    [SchemaType::Avro, SchemaType::Protobuf, SchemaType::Json]
        .into_iter()
        .find(|t| schema_type_name(*t).eq_ignore_ascii_case(name))
}

const LEVELS: [CompatibilityLevel; 7] = [
    CompatibilityLevel::None,
    CompatibilityLevel::Backward,
    CompatibilityLevel::BackwardTransitive,
    CompatibilityLevel::Forward,
    CompatibilityLevel::ForwardTransitive,
    CompatibilityLevel::Full,
    CompatibilityLevel::FullTransitive,
];

/// Returns the REST API name of a compatibility level.
pub fn level_name(level: CompatibilityLevel) -> &'static str {
    match level {
        CompatibilityLevel::None => "NONE",
        CompatibilityLevel::Backward => "BACKWARD",
        CompatibilityLevel::BackwardTransitive => "BACKWARD_TRANSITIVE",
        CompatibilityLevel::Forward => "FORWARD",
        CompatibilityLevel::ForwardTransitive => "FORWARD_TRANSITIVE",
        CompatibilityLevel::Full => "FULL",
        CompatibilityLevel::FullTransitive => "FULL_TRANSITIVE",
    }
}

/// Parses a REST API compatibility level name, ignoring case.
pub fn level_from_name(name: &str) -> Option<CompatibilityLevel> {
    LEVELS
        .into_iter()
        .find(|l| level_name(*l).eq_ignore_ascii_case(name))
}

/// A named reference from one schema to a version registered under a subject.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SchemaReference {
    pub name: String,
    pub subject: String,
    pub version: u32,
}

/// A schema under its global id, as first registered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchemaRecord {
    pub id: u32,
    pub schema_type: SchemaType,
    pub schema: String,
    pub references: Vec<SchemaReference>,
}

/// The identity of a schema: registrations with the same key share one id.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct SchemaKey {
    schema_type: SchemaType,
    canonical: String,
    references: Vec<SchemaReference>,
}

/// One version under a subject.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VersionEntry {
    pub id: u32,
    /// Soft-deleted: hidden from reads unless they ask for deleted versions.
    pub deleted: bool,
}

/// A subject's versions and its own level and mode, if set.
#[derive(Clone, Debug, Default)]
struct Subject {
    versions: BTreeMap<u32, VersionEntry>,
    level: Option<CompatibilityLevel>,
    mode: Option<Mode>,
}

impl Subject {
    fn latest(&self, include_deleted: bool) -> Option<(u32, VersionEntry)> {
        self.versions
            .iter()
            .rev()
            .find(|(_, e)| include_deleted || !e.deleted)
            .map(|(v, e)| (*v, *e))
    }

    fn has_live_versions(&self) -> bool {
        self.versions.values().any(|e| !e.deleted)
    }
}

/// The registry state machine; see the module documentation.
#[derive(Clone, Debug, Default)]
pub struct Registry {
    schemas: BTreeMap<u32, SchemaRecord>,
    ids_by_key: HashMap<SchemaKey, u32>,
    subjects: BTreeMap<String, Subject>,
    level: Option<CompatibilityLevel>,
    mode: Option<Mode>,
}

impl Registry {
    /// Creates an empty registry with the default level and mode.
    pub fn new() -> Registry {
        Registry::default()
    }

    /// Builds a registry by applying `events` in order, as stored.
    pub fn replay<'a>(
        events: impl IntoIterator<Item = &'a RegistryEvent>,
    ) -> Result<Registry, crate::registry::error::RegistryError> {
        let mut registry = Registry::new();
        for event in events {
            registry.apply(event)?;
        }
        Ok(registry)
    }
}

/// Checks a subject name: non-empty, bounded, no control characters, and not
/// one of the names Confluent reserves for the global context.
pub fn validate_subject(subject: &str) -> Result<(), crate::registry::error::RegistryError> {
    let valid = !subject.is_empty()
        && subject.len() <= SUBJECT_NAME_BYTES_MAX
        && !subject.chars().any(char::is_control)
        && subject != "__GLOBAL"
        && subject != "__EMPTY";
    if valid {
        Ok(())
    } else {
        Err(crate::registry::error::RegistryError::InvalidSubject(
            subject.to_owned(),
        ))
    }
}
