//! Read-only queries on the registry: subjects, versions, schemas by id,
//! levels, modes, reference resolution and compatibility tests.

use std::collections::HashSet;

use super::compat::{self, CompatibilityLevel};
use super::schema::{self, ParsedSchema, ResolvedReference};
use super::{
    Mode, Registry, SchemaKey, SchemaRecord, SchemaReference, SchemaType, VersionSpec,
    LEVEL_DEFAULT, REFERENCE_DEPTH_MAX, SCHEMA_TEXT_BYTES_MAX,
};
use crate::registry::error::RegistryError;

/// A version under a subject with its schema, as the REST API returns it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubjectVersion {
    pub subject: String,
    pub version: u32,
    pub id: u32,
    pub schema_type: SchemaType,
    pub schema: String,
    pub references: Vec<SchemaReference>,
    pub deleted: bool,
}

impl Registry {
    /// Lists subject names in order; a subject whose versions are all
    /// soft-deleted is listed only with `include_deleted`.
    pub fn subjects(&self, include_deleted: bool, prefix: &str) -> Vec<String> {
        self.subjects
            .iter()
            .filter(|(name, _)| name.starts_with(prefix))
            .filter(|(_, s)| {
                if include_deleted {
                    !s.versions.is_empty()
                } else {
                    s.has_live_versions()
                }
            })
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// Lists a subject's version numbers in order.
    pub fn versions(
        &self,
        subject: &str,
        include_deleted: bool,
    ) -> Result<Vec<u32>, RegistryError> {
        let versions: Vec<u32> = self
            .subjects
            .get(subject)
            .map(|s| {
                s.versions
                    .iter()
                    .filter(|(_, e)| include_deleted || !e.deleted)
                    .map(|(v, _)| *v)
                    .collect()
            })
            .unwrap_or_default();
        if versions.is_empty() {
            return Err(RegistryError::SubjectNotFound(subject.to_owned()));
        }
        Ok(versions)
    }

    /// Returns one version of a subject with its schema.
    pub fn version(
        &self,
        subject: &str,
        spec: VersionSpec,
        include_deleted: bool,
    ) -> Result<SubjectVersion, RegistryError> {
        let state = self
            .subjects
            .get(subject)
            .filter(|s| {
                if include_deleted {
                    !s.versions.is_empty()
                } else {
                    s.has_live_versions()
                }
            })
            .ok_or_else(|| RegistryError::SubjectNotFound(subject.to_owned()))?;
        let (version, entry) = match spec {
            VersionSpec::Latest => state.latest(include_deleted),
            VersionSpec::Number(v) => state
                .versions
                .get(&v)
                .filter(|e| include_deleted || !e.deleted)
                .map(|e| (v, *e)),
        }
        .ok_or(RegistryError::VersionNotFound(match spec {
            VersionSpec::Number(v) => v,
            VersionSpec::Latest => 0,
        }))?;
        let record = self
            .schemas
            .get(&entry.id)
            .ok_or(RegistryError::SchemaIdNotFound(entry.id))?;
        Ok(SubjectVersion {
            subject: subject.to_owned(),
            version,
            id: entry.id,
            schema_type: record.schema_type,
            schema: record.schema.clone(),
            references: record.references.clone(),
            deleted: entry.deleted,
        })
    }

    /// Returns the schema with `id` while any version, soft-deleted or not,
    /// still uses it.
    pub fn schema(&self, id: u32) -> Result<&SchemaRecord, RegistryError> {
        let used = self
            .subjects
            .values()
            .any(|s| s.versions.values().any(|e| e.id == id));
        self.schemas
            .get(&id)
            .filter(|_| used)
            .ok_or(RegistryError::SchemaIdNotFound(id))
    }

    /// Lists the (subject, version) pairs that use schema `id`.
    pub fn versions_for_id(
        &self,
        id: u32,
        include_deleted: bool,
    ) -> Result<Vec<(String, u32)>, RegistryError> {
        self.schema(id)?;
        let mut found = Vec::new();
        for (name, state) in &self.subjects {
            for (version, entry) in &state.versions {
                if entry.id == id && (include_deleted || !entry.deleted) {
                    found.push((name.clone(), *version));
                }
            }
        }
        Ok(found)
    }

    /// Lists the schemas visible to validation: those used by at
    /// least one version that is not soft-deleted.
    pub fn live_schemas(&self) -> Vec<&SchemaRecord> {
        let live: HashSet<u32> = self
            .subjects
            .values()
            .flat_map(|s| s.versions.values())
            .filter(|e| !e.deleted)
            .map(|e| e.id)
            .collect();
        self.schemas
            .values()
            .filter(|record| live.contains(&record.id))
            .collect()
    }

    /// Lists the ids of the live versions of `subject`, oldest first.
    pub fn subject_ids(&self, subject: &str) -> Vec<u32> {
        self.subjects
            .get(subject)
            .map(|s| {
                s.versions
                    .values()
                    .filter(|e| !e.deleted)
                    .map(|e| e.id)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Lists the ids of schemas whose references name (subject, version).
    pub fn referenced_by(&self, subject: &str, version: u32) -> Vec<u32> {
        self.schemas
            .values()
            .filter(|r| {
                r.references
                    .iter()
                    .any(|x| x.subject == subject && x.version == version)
            })
            .filter(|r| self.schema(r.id).is_ok())
            .map(|r| r.id)
            .collect()
    }

    /// Returns the level set on `subject`, or the global one for `None`.
    pub fn level(&self, subject: Option<&str>) -> Option<CompatibilityLevel> {
        match subject {
            Some(s) => self.subjects.get(s).and_then(|s| s.level),
            None => self.level,
        }
    }

    /// Returns the level that applies to `subject`: its own, else the global
    /// one, else BACKWARD.
    pub fn effective_level(&self, subject: &str) -> CompatibilityLevel {
        self.level(Some(subject))
            .or(self.level)
            .unwrap_or(LEVEL_DEFAULT)
    }

    /// Returns the mode set on `subject`, or the global one for `None`.
    pub fn mode(&self, subject: Option<&str>) -> Option<Mode> {
        match subject {
            Some(s) => self.subjects.get(s).and_then(|s| s.mode),
            None => self.mode,
        }
    }

    /// Returns the mode that applies to `subject`, READWRITE by default.
    pub fn effective_mode(&self, subject: &str) -> Mode {
        self.mode(Some(subject))
            .or(self.mode)
            .unwrap_or(Mode::ReadWrite)
    }

    /// Resolves references to schema texts, transitively, dependencies first.
    pub fn resolve_references(
        &self,
        refs: &[SchemaReference],
    ) -> Result<Vec<ResolvedReference>, RegistryError> {
        let mut resolved = Vec::new();
        self.resolve_into(refs, 0, &mut resolved)?;
        Ok(resolved)
    }

    fn resolve_into(
        &self,
        refs: &[SchemaReference],
        depth: usize,
        resolved: &mut Vec<ResolvedReference>,
    ) -> Result<(), RegistryError> {
        if depth > REFERENCE_DEPTH_MAX {
            return Err(RegistryError::InvalidSchema(format!(
                "references nest deeper than {REFERENCE_DEPTH_MAX} levels"
            )));
        }
        for reference in refs {
            if resolved.iter().any(|r| r.name == reference.name) {
                continue;
            }
            let target = self
                .version(
                    &reference.subject,
                    VersionSpec::Number(reference.version),
                    true,
                )
                .map_err(|_| {
                    RegistryError::InvalidSchema(format!(
                        "reference '{}' names subject '{}' version {}, which does not exist",
                        reference.name, reference.subject, reference.version
                    ))
                })?;
            self.resolve_into(&target.references, depth + 1, resolved)?;
            resolved.push(ResolvedReference {
                name: reference.name.clone(),
                schema: target.schema,
            });
        }
        Ok(())
    }

    /// Parses a stored schema with its references.
    pub fn parse_record(&self, record: &SchemaRecord) -> Result<ParsedSchema, RegistryError> {
        let refs = self.resolve_references(&record.references)?;
        schema::parse(record.schema_type, &record.schema, &refs)
            .map_err(|e| RegistryError::InvalidSchema(e.to_string()))
    }

    /// Parses a schema from a request; returns it with its identity key.
    pub(super) fn parse_candidate(
        &self,
        schema_type: SchemaType,
        text: &str,
        references: &[SchemaReference],
    ) -> Result<(ParsedSchema, SchemaKey), RegistryError> {
        if text.len() > SCHEMA_TEXT_BYTES_MAX {
            return Err(RegistryError::SchemaTooLarge {
                size_bytes: text.len(),
                size_bytes_max: SCHEMA_TEXT_BYTES_MAX,
            });
        }
        let refs = self.resolve_references(references)?;
        let parsed = schema::parse(schema_type, text, &refs)
            .map_err(|e| RegistryError::InvalidSchema(e.to_string()))?;
        let key = SchemaKey {
            schema_type,
            canonical: schema::canonical(&parsed),
            references: references.to_vec(),
        };
        Ok((parsed, key))
    }

    /// Finds the version of `subject` that contains the given schema.
    pub fn lookup(
        &self,
        subject: &str,
        schema_type: SchemaType,
        text: &str,
        references: &[SchemaReference],
        include_deleted: bool,
    ) -> Result<SubjectVersion, RegistryError> {
        let versions = self.versions(subject, include_deleted)?;
        let (_, key) = self.parse_candidate(schema_type, text, references)?;
        let id = *self
            .ids_by_key
            .get(&key)
            .ok_or(RegistryError::SchemaNotFound)?;
        for version in versions.into_iter().rev() {
            let found = self.version(subject, VersionSpec::Number(version), include_deleted)?;
            if found.id == id {
                return Ok(found);
            }
        }
        Err(RegistryError::SchemaNotFound)
    }

    /// Tests a schema against `subject` at its level: against one version
    /// when `against` is set, else against the history the level names.
    /// Returns the incompatibilities; empty means compatible.
    pub fn test_compatibility(
        &self,
        subject: &str,
        against: Option<VersionSpec>,
        schema_type: SchemaType,
        text: &str,
        references: &[SchemaReference],
    ) -> Result<Vec<String>, RegistryError> {
        let level = self.effective_level(subject);
        let history = match against {
            None => self.live_history(subject)?,
            Some(spec) => match self.version(subject, spec, false) {
                Ok(found) => vec![self.parse_record(self.schema(found.id)?)?],
                // Testing against `latest` of an empty subject passes.
                Err(RegistryError::SubjectNotFound(_)) if spec == VersionSpec::Latest => Vec::new(),
                Err(e) => return Err(e),
            },
        };
        let (parsed, _) = self.parse_candidate(schema_type, text, references)?;
        Ok(compat::check(level, &parsed, &history))
    }

    /// Parses the live versions of `subject`, oldest first.
    pub(super) fn live_history(&self, subject: &str) -> Result<Vec<ParsedSchema>, RegistryError> {
        let mut history = Vec::new();
        for id in self.subject_ids(subject) {
            let record = self
                .schemas
                .get(&id)
                .ok_or(RegistryError::SchemaIdNotFound(id))?;
            history.push(self.parse_record(record)?);
        }
        Ok(history)
    }
}
