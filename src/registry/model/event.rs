//! Registry events: the durable form of every change, and their application.
//!
//! Events are stored as JSON records in `__schemas`. `apply` trusts that an
//! event was planned against the state it is applied to, but still rejects
//! one that contradicts the state (a corrupt or reordered log) instead of
//! overwriting data.

use serde::{Deserialize, Serialize};

use super::{
    level_from_name, level_name, schema_type_from_name, schema_type_name, CompatibilityLevel, Mode,
    Registry, SchemaKey, SchemaRecord, SchemaReference, SchemaType, VersionEntry,
};
use crate::registry::error::RegistryError;

/// One change to the registry, as stored in the `__schemas` topic.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum RegistryEvent {
    /// A new version under `subject`; also creates schema `id` if it is new.
    SchemaRegistered {
        subject: String,
        version: u32,
        id: u32,
        #[serde(with = "type_name")]
        schema_type: SchemaType,
        schema: String,
        /// The text that identifies the schema for id reuse.
        canonical: String,
        references: Vec<SchemaReference>,
    },
    VersionDeleted {
        subject: String,
        version: u32,
        permanent: bool,
    },
    SubjectDeleted {
        subject: String,
        permanent: bool,
    },
    /// Sets the level of `subject`, or the global level when it is `None`.
    LevelSet {
        subject: Option<String>,
        #[serde(with = "level_text")]
        level: CompatibilityLevel,
    },
    LevelCleared {
        subject: Option<String>,
    },
    ModeSet {
        subject: Option<String>,
        mode: Mode,
    },
    ModeCleared {
        subject: Option<String>,
    },
}

/// A new version under a subject, for webhooks and consumer notifications.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubjectChange {
    pub subject: String,
    pub version: u32,
    pub id: u32,
    #[serde(with = "type_name")]
    pub schema_type: SchemaType,
}

mod type_name {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::{schema_type_from_name, schema_type_name, SchemaType};

    pub fn serialize<S: Serializer>(t: &SchemaType, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(schema_type_name(*t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SchemaType, D::Error> {
        let name = String::deserialize(d)?;
        schema_type_from_name(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown schema type {name}")))
    }
}

mod level_text {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::{level_from_name, level_name, CompatibilityLevel};

    pub fn serialize<S: Serializer>(l: &CompatibilityLevel, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(level_name(*l))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<CompatibilityLevel, D::Error> {
        let name = String::deserialize(d)?;
        level_from_name(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown level {name}")))
    }
}

fn corrupt(what: String) -> RegistryError {
    RegistryError::Store(format!("registry event contradicts the state: {what}"))
}

impl Registry {
    /// Applies one event; returns the notification for a new version.
    ///
    /// # Errors
    /// An event that contradicts the state (an id bound to another schema, a
    /// version that already exists, a deletion of something absent) is
    /// rejected with `RegistryError::Store` and changes nothing.
    pub fn apply(&mut self, event: &RegistryEvent) -> Result<Option<SubjectChange>, RegistryError> {
        match event {
            RegistryEvent::SchemaRegistered {
                subject,
                version,
                id,
                schema_type,
                schema,
                canonical,
                references,
            } => {
                let key = SchemaKey {
                    schema_type: *schema_type,
                    canonical: canonical.clone(),
                    references: references.clone(),
                };
                let record = SchemaRecord {
                    id: *id,
                    schema_type: *schema_type,
                    schema: schema.clone(),
                    references: references.clone(),
                };
                self.apply_registered(subject, *version, key, record)
                    .map(Some)
            }
            RegistryEvent::VersionDeleted {
                subject,
                version,
                permanent,
            } => self
                .apply_version_deleted(subject, *version, *permanent)
                .map(|_| None),
            RegistryEvent::SubjectDeleted { subject, permanent } => self
                .apply_subject_deleted(subject, *permanent)
                .map(|_| None),
            RegistryEvent::LevelSet { subject, level } => {
                *self.level_slot(subject.as_deref()) = Some(*level);
                Ok(None)
            }
            RegistryEvent::LevelCleared { subject } => {
                *self.level_slot(subject.as_deref()) = None;
                self.drop_empty_subject(subject.as_deref());
                Ok(None)
            }
            RegistryEvent::ModeSet { subject, mode } => {
                *self.mode_slot(subject.as_deref()) = Some(*mode);
                Ok(None)
            }
            RegistryEvent::ModeCleared { subject } => {
                *self.mode_slot(subject.as_deref()) = None;
                self.drop_empty_subject(subject.as_deref());
                Ok(None)
            }
        }
    }

    fn apply_registered(
        &mut self,
        subject: &str,
        version: u32,
        key: SchemaKey,
        record: SchemaRecord,
    ) -> Result<SubjectChange, RegistryError> {
        let id = record.id;
        if let Some(existing) = self.ids_by_key.get(&key) {
            if *existing != id {
                return Err(corrupt(format!(
                    "schema already has id {existing}, not {id}"
                )));
            }
        } else if self.schemas.contains_key(&id) {
            return Err(corrupt(format!("id {id} is bound to another schema")));
        }
        let taken = self
            .subjects
            .get(subject)
            .is_some_and(|s| s.versions.contains_key(&version));
        if taken {
            return Err(corrupt(format!(
                "subject '{subject}' already has version {version}"
            )));
        }
        let schema_type = record.schema_type;
        self.schemas.entry(id).or_insert(record);
        self.ids_by_key.insert(key, id);
        let entry = VersionEntry { id, deleted: false };
        self.subjects
            .entry(subject.to_owned())
            .or_default()
            .versions
            .insert(version, entry);
        Ok(SubjectChange {
            subject: subject.to_owned(),
            version,
            id,
            schema_type,
        })
    }

    fn apply_version_deleted(
        &mut self,
        subject: &str,
        version: u32,
        permanent: bool,
    ) -> Result<(), RegistryError> {
        let missing = || corrupt(format!("subject '{subject}' has no version {version}"));
        let state = self.subjects.get_mut(subject).ok_or_else(missing)?;
        if permanent {
            state.versions.remove(&version).ok_or_else(missing)?;
        } else {
            state
                .versions
                .get_mut(&version)
                .ok_or_else(missing)?
                .deleted = true;
        }
        self.drop_empty_subject(Some(subject));
        Ok(())
    }

    fn apply_subject_deleted(
        &mut self,
        subject: &str,
        permanent: bool,
    ) -> Result<(), RegistryError> {
        if permanent {
            // A permanently deleted subject also loses its level and mode.
            self.subjects
                .remove(subject)
                .ok_or_else(|| corrupt(format!("subject '{subject}' does not exist")))?;
            return Ok(());
        }
        let state = self
            .subjects
            .get_mut(subject)
            .ok_or_else(|| corrupt(format!("subject '{subject}' does not exist")))?;
        for entry in state.versions.values_mut() {
            entry.deleted = true;
        }
        Ok(())
    }

    fn level_slot(&mut self, subject: Option<&str>) -> &mut Option<CompatibilityLevel> {
        match subject {
            Some(s) => &mut self.subjects.entry(s.to_owned()).or_default().level,
            None => &mut self.level,
        }
    }

    fn mode_slot(&mut self, subject: Option<&str>) -> &mut Option<Mode> {
        match subject {
            Some(s) => &mut self.subjects.entry(s.to_owned()).or_default().mode,
            None => &mut self.mode,
        }
    }

    /// Forgets a subject that has no versions, level or mode left.
    fn drop_empty_subject(&mut self, subject: Option<&str>) {
        let Some(name) = subject else { return };
        let empty = self
            .subjects
            .get(name)
            .is_some_and(|s| s.versions.is_empty() && s.level.is_none() && s.mode.is_none());
        if empty {
            self.subjects.remove(name);
        }
    }
}
