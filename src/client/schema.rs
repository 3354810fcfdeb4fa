//! Client calls of the native schema registry APIs, and a subscription to
//! new schema versions.

use std::time::Duration;

use super::conn::{self, Connection};
use super::{Client, ClientError};
use crate::protocol::api::Body;
use crate::protocol::schema_api::{
    SchemaByIdRequest, SchemaCheckReply, SchemaConfigRequest, SchemaGetRequest, SchemaRequest,
    StringList,
};
use crate::protocol::ApiKey;

pub use crate::protocol::schema_api::SchemaVersionReply as SchemaVersion;

impl Client {
    /// Registers `schema` (of type `AVRO`, `PROTOBUF` or `JSON`) under
    /// `subject`; returns its id and version. Registering a schema the
    /// subject already contains returns the existing version.
    pub fn register_schema(
        &mut self,
        subject: &str,
        schema_type: &str,
        schema: &str,
    ) -> Result<SchemaVersion, ClientError> {
        let request = schema_request(subject, schema_type, schema, "");
        conn::decode(&self.connection().call(ApiKey::SchemaRegister, &request)?)
    }

    /// Finds the version of `subject` that contains `schema`.
    pub fn lookup_schema(
        &mut self,
        subject: &str,
        schema_type: &str,
        schema: &str,
    ) -> Result<SchemaVersion, ClientError> {
        let request = schema_request(subject, schema_type, schema, "");
        conn::decode(&self.connection().call(ApiKey::SchemaLookup, &request)?)
    }

    /// Returns the type and text of schema `id`; subject and version are
    /// left empty.
    pub fn schema_by_id(&mut self, id: u32) -> Result<SchemaVersion, ClientError> {
        conn::decode(
            &self
                .connection()
                .call(ApiKey::SchemaById, &SchemaByIdRequest { id })?,
        )
    }

    /// Tests `schema` against `subject` at its compatibility level: against
    /// `version` (a number or `latest`) when given, else against the
    /// versions the level names. Returns the incompatibilities found.
    pub fn check_schema(
        &mut self,
        subject: &str,
        schema_type: &str,
        schema: &str,
        version: Option<&str>,
    ) -> Result<SchemaCheckReply, ClientError> {
        let request = schema_request(subject, schema_type, schema, version.unwrap_or(""));
        conn::decode(&self.connection().call(ApiKey::SchemaCheck, &request)?)
    }

    /// Returns one version of `subject`, the latest when `version` is `None`.
    pub fn get_schema(
        &mut self,
        subject: &str,
        version: Option<&str>,
    ) -> Result<SchemaVersion, ClientError> {
        let request = SchemaGetRequest {
            subject: subject.to_owned(),
            version: version.unwrap_or("").to_owned(),
        };
        conn::decode(&self.connection().call(ApiKey::SchemaGet, &request)?)
    }

    /// Lists the subjects that have live versions.
    pub fn list_subjects(&mut self) -> Result<Vec<String>, ClientError> {
        let correlation_id = self.connection().send_with(ApiKey::SchemaList, |_| {})?;
        let body = self.connection().recv_for(correlation_id)?;
        Ok(conn::decode::<StringList>(&body)?.items)
    }

    /// Reads the compatibility level of `subject` (the global one when
    /// `None`), or sets it when `level` is given; returns the level in force.
    pub fn schema_level(
        &mut self,
        subject: Option<&str>,
        level: Option<&str>,
    ) -> Result<String, ClientError> {
        let request = SchemaConfigRequest {
            subject: subject.unwrap_or("").to_owned(),
            level: level.unwrap_or("").to_owned(),
        };
        let reply: StringList =
            conn::decode(&self.connection().call(ApiKey::SchemaConfig, &request)?)?;
        reply
            .items
            .into_iter()
            .next()
            .ok_or_else(|| ClientError::Protocol("config reply names no level".into()))
    }
}

fn schema_request(subject: &str, schema_type: &str, schema: &str, version: &str) -> SchemaRequest {
    SchemaRequest {
        subject: subject.to_owned(),
        schema_type: schema_type.to_owned(),
        schema: schema.to_owned(),
        references: Vec::new(),
        version: version.to_owned(),
    }
}

/// A connection subscribed to new schema versions.
pub struct SchemaSubscription {
    conn: Connection,
    correlation_id: u32,
}

impl SchemaSubscription {
    /// Connects to `addr` and subscribes to new versions of `subjects`
    /// (every subject when empty). Returns once the broker acknowledged, so
    /// every version registered afterwards is pushed.
    pub fn connect(addr: &str, subjects: &[&str]) -> Result<SchemaSubscription, ClientError> {
        let mut conn = Connection::connect(addr, "ringbus-schema-subscriber")?;
        let filter = StringList {
            items: subjects.iter().map(|s| s.to_string()).collect(),
        };
        let correlation_id = conn.send_with(ApiKey::SchemaSubscribe, |buf| filter.encode(buf))?;
        conn.recv_for(correlation_id)?;
        Ok(SchemaSubscription {
            conn,
            correlation_id,
        })
    }

    /// Waits up to `timeout` for the next new version; `None` on timeout.
    pub fn next(&mut self, timeout: Duration) -> Result<Option<SchemaVersion>, ClientError> {
        self.conn.set_read_timeout(Some(timeout))?;
        match self.conn.recv_for(self.correlation_id) {
            Ok(body) => Ok(Some(conn::decode(&body)?)),
            Err(ClientError::Io(err))
                if matches!(
                    err.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                Ok(None)
            }
            Err(err) => Err(err),
        }
    }
}

/// The reply of [`Client::check_schema`].
pub type SchemaCheck = SchemaCheckReply;
