//! Bodies of the native schema registry APIs (keys 20..=27). Names are
//! `u16`-length strings and schema texts `u32`-length UTF-8 blobs, since a
//! schema may exceed 64 KiB. An empty version string means "every version
//! the subject's compatibility level names" in a check and "latest" in a get.

use bytes::{BufMut, BytesMut};

use super::api::Body;
use super::codec::{put_blob, put_str, Reader};
use super::error::WireError;

/// A named reference from a schema to a version of another subject.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchemaRef {
    pub name: String,
    pub subject: String,
    pub version: u32,
}

/// Register (key 20), lookup (key 21) and check (key 23) request: a schema
/// under a subject. `version` is used by check only.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct SchemaRequest {
    pub subject: String,
    /// `AVRO`, `PROTOBUF` or `JSON`; empty means `AVRO`.
    pub schema_type: String,
    pub schema: String,
    pub references: Vec<SchemaRef>,
    pub version: String,
}

impl Body for SchemaRequest {
    fn encode(&self, buf: &mut BytesMut) {
        put_str(buf, &self.subject);
        put_str(buf, &self.schema_type);
        put_blob(buf, self.schema.as_bytes());
        buf.put_u32(self.references.len() as u32);
        for reference in &self.references {
            put_str(buf, &reference.name);
            put_str(buf, &reference.subject);
            buf.put_u32(reference.version);
        }
        put_str(buf, &self.version);
    }

    fn decode(reader: &mut Reader<'_>) -> Result<Self, WireError> {
        let subject = reader.string("subject")?;
        let schema_type = reader.string("schema_type")?;
        let schema = schema_text(reader)?;
        let count = reader.count("reference_count", 8)?;
        let mut references = Vec::with_capacity(count);
        for _ in 0..count {
            references.push(SchemaRef {
                name: reader.string("reference_name")?,
                subject: reader.string("reference_subject")?,
                version: reader.u32("reference_version")?,
            });
        }
        let version = reader.string("version")?;
        reader.finish("schema request")?;
        Ok(SchemaRequest {
            subject,
            schema_type,
            schema,
            references,
            version,
        })
    }
}

/// One version of a subject: the reply to register, lookup, get by id (with
/// an empty subject and version 0) and get version (key 24); also the push
/// frame of a subscription, with an empty schema text.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct SchemaVersionReply {
    pub subject: String,
    pub version: u32,
    pub id: u32,
    pub schema_type: String,
    pub schema: String,
}

impl Body for SchemaVersionReply {
    fn encode(&self, buf: &mut BytesMut) {
        put_str(buf, &self.subject);
        buf.put_u32(self.version);
        buf.put_u32(self.id);
        put_str(buf, &self.schema_type);
        put_blob(buf, self.schema.as_bytes());
    }

    fn decode(reader: &mut Reader<'_>) -> Result<Self, WireError> {
        let reply = SchemaVersionReply {
            subject: reader.string("subject")?,
            version: reader.u32("version")?,
            id: reader.u32("id")?,
            schema_type: reader.string("schema_type")?,
            schema: schema_text(reader)?,
        };
        reader.finish("schema version reply")?;
        Ok(reply)
    }
}

/// Reads a schema text blob, which must be UTF-8.
fn schema_text(reader: &mut Reader<'_>) -> Result<String, WireError> {
    let offset = reader.position();
    let bytes = reader.blob("schema")?;
    String::from_utf8(bytes.to_vec()).map_err(|_| WireError::Invalid {
        field: "schema",
        offset,
        reason: "schema text is not valid UTF-8".into(),
    })
}

/// Get by id request (key 22).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SchemaByIdRequest {
    pub id: u32,
}

impl Body for SchemaByIdRequest {
    fn encode(&self, buf: &mut BytesMut) {
        buf.put_u32(self.id);
    }

    fn decode(reader: &mut Reader<'_>) -> Result<Self, WireError> {
        let id = reader.u32("id")?;
        reader.finish("schema by id request")?;
        Ok(SchemaByIdRequest { id })
    }
}

/// Get version request (key 24); an empty version means latest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchemaGetRequest {
    pub subject: String,
    pub version: String,
}

impl Body for SchemaGetRequest {
    fn encode(&self, buf: &mut BytesMut) {
        put_str(buf, &self.subject);
        put_str(buf, &self.version);
    }

    fn decode(reader: &mut Reader<'_>) -> Result<Self, WireError> {
        let request = SchemaGetRequest {
            subject: reader.string("subject")?,
            version: reader.string("version")?,
        };
        reader.finish("schema get request")?;
        Ok(request)
    }
}

/// A list of strings: the list-subjects reply (key 25), the messages of a
/// check reply, and the subject filter of a subscribe request (key 27, empty
/// for every subject). The list-subjects request has an empty body.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct StringList {
    pub items: Vec<String>,
}

impl Body for StringList {
    fn encode(&self, buf: &mut BytesMut) {
        buf.put_u32(self.items.len() as u32);
        for item in &self.items {
            put_str(buf, item);
        }
    }

    fn decode(reader: &mut Reader<'_>) -> Result<Self, WireError> {
        let count = reader.count("item_count", 2)?;
        let mut items = Vec::with_capacity(count);
        for _ in 0..count {
            items.push(reader.string("item")?);
        }
        reader.finish("string list")?;
        Ok(StringList { items })
    }
}

/// Check reply (key 23): compatible or not, and why not.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct SchemaCheckReply {
    pub compatible: bool,
    pub messages: Vec<String>,
}

impl Body for SchemaCheckReply {
    fn encode(&self, buf: &mut BytesMut) {
        buf.put_u8(self.compatible as u8);
        StringList {
            items: self.messages.clone(),
        }
        .encode(buf);
    }

    fn decode(reader: &mut Reader<'_>) -> Result<Self, WireError> {
        let compatible = reader.u8("compatible")? != 0;
        let messages = StringList::decode(reader)?.items;
        Ok(SchemaCheckReply {
            compatible,
            messages,
        })
    }
}

/// Config request (key 26): reads the level of `subject` (empty for the
/// global level) when `level` is empty, else sets it. The reply is the
/// level in force, as one string.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct SchemaConfigRequest {
    pub subject: String,
    pub level: String,
}

impl Body for SchemaConfigRequest {
    fn encode(&self, buf: &mut BytesMut) {
        put_str(buf, &self.subject);
        put_str(buf, &self.level);
    }

    fn decode(reader: &mut Reader<'_>) -> Result<Self, WireError> {
        let request = SchemaConfigRequest {
            subject: reader.string("subject")?,
            level: reader.string("level")?,
        };
        reader.finish("schema config request")?;
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<T: Body + PartialEq + std::fmt::Debug>(value: T) {
        let mut buf = BytesMut::new();
        value.encode(&mut buf);
        let decoded = T::decode(&mut Reader::new(&buf)).expect("decodes");
        assert_eq!(decoded, value);
    }

    #[test]
    fn schema_bodies_round_trip() {
        round_trip(SchemaRequest {
            subject: "orders-value".into(),
            schema_type: "AVRO".into(),
            schema: "\"string\"".into(),
            references: vec![SchemaRef {
                name: "Item".into(),
                subject: "item".into(),
                version: 2,
            }],
            version: "latest".into(),
        });
        round_trip(SchemaVersionReply {
            subject: "s".into(),
            version: 3,
            id: 7,
            schema_type: "JSON".into(),
            schema: "{}".into(),
        });
        round_trip(SchemaByIdRequest { id: 9 });
        round_trip(SchemaGetRequest {
            subject: "s".into(),
            version: String::new(),
        });
        round_trip(StringList {
            items: vec!["a".into(), "b".into()],
        });
        round_trip(SchemaCheckReply {
            compatible: false,
            messages: vec!["field removed".into()],
        });
        round_trip(SchemaConfigRequest {
            subject: String::new(),
            level: "FULL".into(),
        });
    }
}
