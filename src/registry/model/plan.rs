//! Planning of registry changes: each method checks a request against the
//! current state and returns the events that carry it out, without changing
//! anything. The caller persists the events, then applies them in order.

use super::compat::{self, CompatibilityLevel};
use super::{
    validate_subject, Mode, Registry, RegistryEvent, SchemaReference, SchemaType, VersionSpec,
    LEVEL_DEFAULT, SCHEMA_ID_MAX, VERSION_MAX,
};
use crate::registry::error::RegistryError;

/// The events that carry out a change, and the reply to send once they are
/// durable and applied. No events means the change was already in place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Planned<T> {
    pub events: Vec<RegistryEvent>,
    pub reply: T,
}

impl<T> Planned<T> {
    fn none(reply: T) -> Planned<T> {
        Planned {
            events: Vec::new(),
            reply,
        }
    }

    fn one(event: RegistryEvent, reply: T) -> Planned<T> {
        Planned {
            events: vec![event],
            reply,
        }
    }
}

/// A request to register a schema under a subject.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegisterRequest {
    pub subject: String,
    pub schema_type: SchemaType,
    pub schema: String,
    pub references: Vec<SchemaReference>,
    /// Store the canonical text instead of the text as given.
    pub normalize: bool,
    /// Id to register under; only in IMPORT mode.
    pub id: Option<u32>,
    /// Version to register as; any free version in IMPORT mode, otherwise
    /// only the next one.
    pub version: Option<u32>,
}

/// The id and version a registration resolved to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Registered {
    pub id: u32,
    pub version: u32,
}

fn read_only(subject: &str) -> RegistryError {
    RegistryError::OperationNotPermitted(format!("Subject '{subject}' is in read-only mode"))
}

impl Registry {
    /// Plans a registration: returns the existing id and version when the
    /// subject already contains the schema, otherwise checks compatibility
    /// (skipped in IMPORT mode) and assigns the id and the next version.
    pub fn register(
        &self,
        request: &RegisterRequest,
    ) -> Result<Planned<Registered>, RegistryError> {
        let subject = request.subject.as_str();
        validate_subject(subject)?;
        let mode = self.effective_mode(subject);
        if mode == Mode::ReadOnly {
            return Err(read_only(subject));
        }

        let importing = mode == Mode::Import;
        if request.id.is_some() && !importing {
            return Err(RegistryError::OperationNotPermitted(format!(
                "Subject '{subject}' is not in import mode; a schema id can only be given in \
                 IMPORT mode"
            )));
        }

        let (parsed, key) =
            self.parse_candidate(request.schema_type, &request.schema, &request.references)?;
        let existing_id = self.ids_by_key.get(&key).copied();
        if let Some(found) = existing_id.and_then(|id| self.live_version_with_id(subject, id)) {
            if request.id.is_none_or(|given| given == found.id) {
                return Ok(Planned::none(found));
            }
        }

        if !importing {
            let level = self.effective_level(subject);
            let messages = compat::check(level, &parsed, &self.live_history(subject)?);
            if !messages.is_empty() {
                return Err(RegistryError::Incompatible {
                    subject: subject.to_owned(),
                    messages,
                });
            }
        }

        let id = self.assign_id(request.id, existing_id)?;
        let version = self.assign_version(subject, request.version, importing)?;
        let schema = if request.normalize {
            key.canonical.clone()
        } else {
            request.schema.clone()
        };
        let event = RegistryEvent::SchemaRegistered {
            subject: subject.to_owned(),
            version,
            id,
            schema_type: request.schema_type,
            schema,
            canonical: key.canonical,
            references: key.references,
        };
        Ok(Planned::one(event, Registered { id, version }))
    }

    fn live_version_with_id(&self, subject: &str, id: u32) -> Option<Registered> {
        let state = self.subjects.get(subject)?;
        state
            .versions
            .iter()
            .rev()
            .find(|(_, e)| e.id == id && !e.deleted)
            .map(|(version, _)| Registered {
                id,
                version: *version,
            })
    }

    fn assign_id(&self, given: Option<u32>, existing: Option<u32>) -> Result<u32, RegistryError> {
        match (given, existing) {
            (Some(given), Some(existing)) if given != existing => {
                Err(RegistryError::IdDoesNotMatch(format!(
                    "Schema already registered with id {existing} instead of input id {given}"
                )))
            }
            (_, Some(existing)) => Ok(existing),
            (Some(given), None) => {
                if given == 0 || given > SCHEMA_ID_MAX {
                    return Err(RegistryError::InvalidRequest(format!(
                        "Schema id {given} is out of range 1..={SCHEMA_ID_MAX}"
                    )));
                }
                if self.schemas.contains_key(&given) {
                    return Err(RegistryError::IdDoesNotMatch(format!(
                        "Overwrite new schema with id {given} is not permitted."
                    )));
                }
                Ok(given)
            }
            (None, None) => {
                // Ids of hard-deleted schemas stay taken, so an id never
                // names two different schemas over the registry's life.
                let next = self.schemas.keys().next_back().map_or(1, |max| max + 1);
                if next > SCHEMA_ID_MAX {
                    return Err(RegistryError::Store("schema ids are exhausted".to_owned()));
                }
                Ok(next)
            }
        }
    }

    fn assign_version(
        &self,
        subject: &str,
        given: Option<u32>,
        importing: bool,
    ) -> Result<u32, RegistryError> {
        // Soft-deleted versions keep their numbers; hard-deleted ones free them.
        let next = self
            .subjects
            .get(subject)
            .and_then(|s| s.latest(true))
            .map_or(1, |(v, _)| v + 1);
        let version = given.unwrap_or(next);
        let taken = self
            .subjects
            .get(subject)
            .is_some_and(|s| s.versions.contains_key(&version));
        let valid =
            (1..=VERSION_MAX).contains(&version) && !taken && (importing || version == next);
        if valid {
            Ok(version)
        } else {
            Err(RegistryError::InvalidVersion(version.to_string()))
        }
    }

    /// Plans the deletion of one version; returns its number.
    pub fn delete_version(
        &self,
        subject: &str,
        spec: VersionSpec,
        permanent: bool,
    ) -> Result<Planned<u32>, RegistryError> {
        if self.effective_mode(subject) == Mode::ReadOnly {
            return Err(read_only(subject));
        }
        let state = self
            .subjects
            .get(subject)
            .filter(|s| !s.versions.is_empty())
            .ok_or_else(|| RegistryError::SubjectNotFound(subject.to_owned()))?;
        let version = match spec {
            // A permanent delete targets soft-deleted versions, so its
            // `latest` counts them.
            VersionSpec::Latest => state
                .latest(permanent)
                .map(|(v, _)| v)
                .ok_or_else(|| RegistryError::SubjectNotFound(subject.to_owned()))?,
            VersionSpec::Number(v) => v,
        };
        let entry = state
            .versions
            .get(&version)
            .ok_or(RegistryError::VersionNotFound(version))?;
        if !permanent && entry.deleted {
            return Err(RegistryError::VersionSoftDeleted(
                subject.to_owned(),
                version,
            ));
        }
        if permanent && !entry.deleted {
            return Err(RegistryError::VersionNotSoftDeleted(
                subject.to_owned(),
                version,
            ));
        }
        self.check_unreferenced(subject, version)?;
        let event = RegistryEvent::VersionDeleted {
            subject: subject.to_owned(),
            version,
            permanent,
        };
        Ok(Planned::one(event, version))
    }

    /// Plans the deletion of a subject; returns the versions it deletes.
    pub fn delete_subject(
        &self,
        subject: &str,
        permanent: bool,
    ) -> Result<Planned<Vec<u32>>, RegistryError> {
        if self.effective_mode(subject) == Mode::ReadOnly {
            return Err(read_only(subject));
        }
        let state = self
            .subjects
            .get(subject)
            .filter(|s| !s.versions.is_empty())
            .ok_or_else(|| RegistryError::SubjectNotFound(subject.to_owned()))?;
        if permanent && state.has_live_versions() {
            return Err(RegistryError::SubjectNotSoftDeleted(subject.to_owned()));
        }
        if !permanent && !state.has_live_versions() {
            return Err(RegistryError::SubjectSoftDeleted(subject.to_owned()));
        }
        let versions: Vec<u32> = state
            .versions
            .iter()
            .filter(|(_, e)| permanent || !e.deleted)
            .map(|(v, _)| *v)
            .collect();
        for version in &versions {
            self.check_unreferenced(subject, *version)?;
        }
        let event = RegistryEvent::SubjectDeleted {
            subject: subject.to_owned(),
            permanent,
        };
        Ok(Planned::one(event, versions))
    }

    fn check_unreferenced(&self, subject: &str, version: u32) -> Result<(), RegistryError> {
        if self.referenced_by(subject, version).is_empty() {
            Ok(())
        } else {
            Err(RegistryError::ReferenceExists {
                subject: subject.to_owned(),
                version,
            })
        }
    }

    /// Plans setting the level of `subject`, or the global level for `None`.
    pub fn set_level(
        &self,
        subject: Option<&str>,
        level: CompatibilityLevel,
    ) -> Result<Planned<CompatibilityLevel>, RegistryError> {
        if let Some(s) = subject {
            validate_subject(s)?;
        }
        let event = RegistryEvent::LevelSet {
            subject: subject.map(str::to_owned),
            level,
        };
        Ok(Planned::one(event, level))
    }

    /// Plans removing a level setting; returns the level that was in force.
    pub fn clear_level(
        &self,
        subject: Option<&str>,
    ) -> Result<Planned<CompatibilityLevel>, RegistryError> {
        let current = self.level(subject);
        if let Some(s) = subject {
            if current.is_none() && self.subjects.get(s).is_none_or(|x| x.versions.is_empty()) {
                return Err(RegistryError::SubjectNotFound(s.to_owned()));
            }
        }
        let reply = current
            .or_else(|| subject.map(|s| self.effective_level(s)))
            .unwrap_or(LEVEL_DEFAULT);
        if current.is_none() {
            return Ok(Planned::none(reply));
        }
        let event = RegistryEvent::LevelCleared {
            subject: subject.map(str::to_owned),
        };
        Ok(Planned::one(event, reply))
    }

    /// Plans setting the mode of `subject`, or the global mode for `None`.
    /// IMPORT needs an empty subject (or registry) unless `force` is set.
    pub fn set_mode(
        &self,
        subject: Option<&str>,
        mode: Mode,
        force: bool,
    ) -> Result<Planned<Mode>, RegistryError> {
        if let Some(s) = subject {
            validate_subject(s)?;
        }
        let has_schemas = match subject {
            Some(s) => self.subjects.get(s).is_some_and(|x| !x.versions.is_empty()),
            None => self.subjects.values().any(|x| !x.versions.is_empty()),
        };
        if mode == Mode::Import && has_schemas && !force {
            return Err(RegistryError::OperationNotPermitted(
                "Cannot import since found existing subjects".to_owned(),
            ));
        }
        let event = RegistryEvent::ModeSet {
            subject: subject.map(str::to_owned),
            mode,
        };
        Ok(Planned::one(event, mode))
    }

    /// Plans removing a mode setting; returns the mode that was in force.
    pub fn clear_mode(&self, subject: Option<&str>) -> Result<Planned<Mode>, RegistryError> {
        let current = self.mode(subject);
        if let Some(s) = subject {
            if current.is_none() && self.subjects.get(s).is_none_or(|x| x.versions.is_empty()) {
                return Err(RegistryError::SubjectNotFound(s.to_owned()));
            }
        }
        let reply = current
            .or_else(|| subject.map(|s| self.effective_mode(s)))
            .unwrap_or(Mode::ReadWrite);
        if current.is_none() {
            return Ok(Planned::none(reply));
        }
        let event = RegistryEvent::ModeCleared {
            subject: subject.map(str::to_owned),
        };
        Ok(Planned::one(event, reply))
    }
}
