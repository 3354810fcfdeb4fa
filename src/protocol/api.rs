//! API keys and the bodies of each request and reply.
//!
//! Every API is at version 0. Produce and Fetch carry record batches as
//! stored (Kafka RecordBatch v2); their byte blobs are split off the frame
//! rather than decoded here, so payload bytes are never copied by the codec.

use bytes::{BufMut, BytesMut};

use super::codec::{put_blob, put_str, Reader};
use super::error::WireError;

/// Identifies the API of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum ApiKey {
    ApiVersions = 0,
    Metadata = 1,
    CreateTopic = 2,
    DeleteTopic = 3,
    Produce = 4,
    Fetch = 5,
    ListOffsets = 6,
    OffsetCommit = 7,
    OffsetFetch = 8,
    SchemaRegister = 20,
    SchemaLookup = 21,
    SchemaById = 22,
    SchemaCheck = 23,
    SchemaGet = 24,
    SchemaList = 25,
    SchemaConfig = 26,
    SchemaSubscribe = 27,
    Fail = 30,
    DlqList = 31,
    DlqShow = 32,
    DlqRedrive = 33,
    DlqPurge = 34,
}

impl ApiKey {
    pub const ALL: [ApiKey; 22] = [
        ApiKey::ApiVersions,
        ApiKey::Metadata,
        ApiKey::CreateTopic,
        ApiKey::DeleteTopic,
        ApiKey::Produce,
        ApiKey::Fetch,
        ApiKey::ListOffsets,
        ApiKey::OffsetCommit,
        ApiKey::OffsetFetch,
        ApiKey::SchemaRegister,
        ApiKey::SchemaLookup,
        ApiKey::SchemaById,
        ApiKey::SchemaCheck,
        ApiKey::SchemaGet,
        ApiKey::SchemaList,
        ApiKey::SchemaConfig,
        ApiKey::SchemaSubscribe,
        ApiKey::Fail,
        ApiKey::DlqList,
        ApiKey::DlqShow,
        ApiKey::DlqRedrive,
        ApiKey::DlqPurge,
    ];

    pub fn from_u16(value: u16) -> Option<ApiKey> {
        Self::ALL.iter().copied().find(|key| *key as u16 == value)
    }

    /// Returns the (min, max) versions this broker accepts.
    pub fn versions(self) -> (u16, u16) {
        (0, 0)
    }
}

/// A request or reply body with a symmetric encoding.
pub trait Body: Sized {
    fn encode(&self, buf: &mut BytesMut);
    fn decode(reader: &mut Reader<'_>) -> Result<Self, WireError>;
}

/// Acknowledgement level a producer requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Acks {
    /// No reply at all: fire and forget.
    None = 0,
    /// Reply once the batch is written to the log file (and, on a topic with
    /// durability `always`, synced).
    Leader = 1,
    /// Reply once the batch is synced to disk, whatever the topic's policy.
    Durable = 2,
}

impl Acks {
    fn from_u8(value: u8, offset: usize) -> Result<Acks, WireError> {
        match value {
            0 => Ok(Acks::None),
            1 => Ok(Acks::Leader),
            2 => Ok(Acks::Durable),
            other => Err(WireError::Invalid {
                field: "acks",
                offset,
                reason: format!("{other} is not 0 (none), 1 (leader) or 2 (durable)"),
            }),
        }
    }
}

/// Special timestamps of a ListOffsets request.
pub const LIST_OFFSETS_EARLIEST: i64 = -2;
pub const LIST_OFFSETS_LATEST: i64 = -1;

fn put_pairs(buf: &mut BytesMut, pairs: &[(String, String)]) {
    buf.put_u32(pairs.len() as u32);
    for (key, value) in pairs {
        put_str(buf, key);
        put_str(buf, value);
    }
}

fn read_pairs(reader: &mut Reader<'_>) -> Result<Vec<(String, String)>, WireError> {
    let count = reader.count("config_count", 4)?;
    let mut pairs = Vec::with_capacity(count);
    for _ in 0..count {
        pairs.push((reader.string("config_key")?, reader.string("config_value")?));
    }
    Ok(pairs)
}

/// ApiVersions reply: each supported API with its version range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiVersionsReply {
    pub apis: Vec<(u16, u16, u16)>,
}

impl Body for ApiVersionsReply {
    fn encode(&self, buf: &mut BytesMut) {
        buf.put_u32(self.apis.len() as u32);
        for (key, min, max) in &self.apis {
            buf.put_u16(*key);
            buf.put_u16(*min);
            buf.put_u16(*max);
        }
    }

    fn decode(reader: &mut Reader<'_>) -> Result<Self, WireError> {
        let count = reader.count("api_count", 6)?;
        let mut apis = Vec::with_capacity(count);
        for _ in 0..count {
            apis.push((
                reader.u16("api_key")?,
                reader.u16("min_version")?,
                reader.u16("max_version")?,
            ));
        }
        Ok(ApiVersionsReply { apis })
    }
}

/// Metadata request: the topics to describe, or all when empty.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct MetadataRequest {
    pub topics: Vec<String>,
}

impl Body for MetadataRequest {
    fn encode(&self, buf: &mut BytesMut) {
        buf.put_u32(self.topics.len() as u32);
        for topic in &self.topics {
            put_str(buf, topic);
        }
    }

    fn decode(reader: &mut Reader<'_>) -> Result<Self, WireError> {
        let count = reader.count("topic_count", 2)?;
        let mut topics = Vec::with_capacity(count);
        for _ in 0..count {
            topics.push(reader.string("topic")?);
        }
        Ok(MetadataRequest { topics })
    }
}

/// One topic in a Metadata reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicMetadata {
    pub name: String,
    pub topic_id: u32,
    /// Owning shard of each partition, indexed by partition number.
    pub partition_shards: Vec<u16>,
    /// The topic's settings as `key = value` text, as in the config file.
    pub config: Vec<(String, String)>,
}

/// Metadata reply: the listeners and the requested topics.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetadataReply {
    pub main_port: u16,
    /// Each shard's own port, indexed by shard number.
    pub shard_ports: Vec<u16>,
    pub topics: Vec<TopicMetadata>,
}

impl Body for MetadataReply {
    fn encode(&self, buf: &mut BytesMut) {
        buf.put_u16(self.main_port);
        buf.put_u32(self.shard_ports.len() as u32);
        for port in &self.shard_ports {
            buf.put_u16(*port);
        }
        buf.put_u32(self.topics.len() as u32);
        for topic in &self.topics {
            put_str(buf, &topic.name);
            buf.put_u32(topic.topic_id);
            buf.put_u32(topic.partition_shards.len() as u32);
            for shard in &topic.partition_shards {
                buf.put_u16(*shard);
            }
            put_pairs(buf, &topic.config);
        }
    }

    fn decode(reader: &mut Reader<'_>) -> Result<Self, WireError> {
        let main_port = reader.u16("main_port")?;
        let shard_count = reader.count("shard_count", 2)?;
        let mut shard_ports = Vec::with_capacity(shard_count);
        for _ in 0..shard_count {
            shard_ports.push(reader.u16("shard_port")?);
        }
        let topic_count = reader.count("topic_count", 14)?;
        let mut topics = Vec::with_capacity(topic_count);
        for _ in 0..topic_count {
            let name = reader.string("topic")?;
            let topic_id = reader.u32("topic_id")?;
            let partitions = reader.count("partition_count", 2)?;
            let mut partition_shards = Vec::with_capacity(partitions);
            for _ in 0..partitions {
                partition_shards.push(reader.u16("partition_shard")?);
            }
            let config = read_pairs(reader)?;
            topics.push(TopicMetadata {
                name,
                topic_id,
                partition_shards,
                config,
            });
        }
        Ok(MetadataReply {
            main_port,
            shard_ports,
            topics,
        })
    }
}

/// CreateTopic request: the name, partition count and setting overrides
/// (`durability`, `retention_ms`, ...) as text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreateTopicRequest {
    pub name: String,
    pub partitions: u32,
    pub config: Vec<(String, String)>,
}

impl Body for CreateTopicRequest {
    fn encode(&self, buf: &mut BytesMut) {
        put_str(buf, &self.name);
        buf.put_u32(self.partitions);
        put_pairs(buf, &self.config);
    }

    fn decode(reader: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(CreateTopicRequest {
            name: reader.string("topic")?,
            partitions: reader.u32("partitions")?,
            config: read_pairs(reader)?,
        })
    }
}

/// CreateTopic reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreateTopicReply {
    pub topic_id: u32,
}

impl Body for CreateTopicReply {
    fn encode(&self, buf: &mut BytesMut) {
        buf.put_u32(self.topic_id);
    }

    fn decode(reader: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(CreateTopicReply {
            topic_id: reader.u32("topic_id")?,
        })
    }
}

/// DeleteTopic request; the reply has no body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeleteTopicRequest {
    pub name: String,
}

impl Body for DeleteTopicRequest {
    fn encode(&self, buf: &mut BytesMut) {
        put_str(buf, &self.name);
    }

    fn decode(reader: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(DeleteTopicRequest {
            name: reader.string("topic")?,
        })
    }
}

/// Produce request fields before the record batches, which follow as a
/// `u32`-length blob of one or more concatenated batches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProduceRequest {
    pub topic: String,
    pub partition: u32,
    pub acks: Acks,
    pub timeout_ms: u32,
}

impl ProduceRequest {
    /// Writes the fields and the records blob.
    pub fn encode(&self, buf: &mut BytesMut, records: &[u8]) {
        put_str(buf, &self.topic);
        buf.put_u32(self.partition);
        buf.put_u8(self.acks as u8);
        buf.put_u32(self.timeout_ms);
        put_blob(buf, records);
    }

    /// Writes the fields and the records blob's length prefix but not the
    /// records, which the caller sends after them without copying.
    pub fn encode_head(&self, buf: &mut BytesMut, records_bytes: usize) {
        put_str(buf, &self.topic);
        buf.put_u32(self.partition);
        buf.put_u8(self.acks as u8);
        buf.put_u32(self.timeout_ms);
        buf.put_u32(u32::try_from(records_bytes).expect("records blob under 4 GiB"));
    }

    /// Reads the fields and returns the records blob's start and length in
    /// the body, so the caller splits it off without copying.
    pub fn decode(reader: &mut Reader<'_>) -> Result<(Self, usize, usize), WireError> {
        let topic = reader.string("topic")?;
        let partition = reader.u32("partition")?;
        let acks_offset = reader.position();
        let acks = Acks::from_u8(reader.u8("acks")?, acks_offset)?;
        let timeout_ms = reader.u32("timeout_ms")?;
        let (start, len) = reader.blob_span("records")?;
        reader.finish("produce request")?;
        let request = ProduceRequest {
            topic,
            partition,
            acks,
            timeout_ms,
        };
        Ok((request, start, len))
    }
}

/// Produce reply: the offsets given to the first and last record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProduceReply {
    pub base_offset: u64,
    pub last_offset: u64,
}

impl Body for ProduceReply {
    fn encode(&self, buf: &mut BytesMut) {
        buf.put_u64(self.base_offset);
        buf.put_u64(self.last_offset);
    }

    fn decode(reader: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(ProduceReply {
            base_offset: reader.u64("base_offset")?,
            last_offset: reader.u64("last_offset")?,
        })
    }
}

/// Fetch request for one partition, with long poll.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchRequest {
    pub topic: String,
    pub partition: u32,
    pub offset: u64,
    /// Upper bound of the records blob, except that at least one whole batch
    /// is returned when one is available.
    pub max_bytes: u32,
    /// How long to wait for `min_bytes` to arrive before replying.
    pub max_wait_ms: u32,
    pub min_bytes: u32,
}

impl Body for FetchRequest {
    fn encode(&self, buf: &mut BytesMut) {
        put_str(buf, &self.topic);
        buf.put_u32(self.partition);
        buf.put_u64(self.offset);
        buf.put_u32(self.max_bytes);
        buf.put_u32(self.max_wait_ms);
        buf.put_u32(self.min_bytes);
    }

    fn decode(reader: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(FetchRequest {
            topic: reader.string("topic")?,
            partition: reader.u32("partition")?,
            offset: reader.u64("offset")?,
            max_bytes: reader.u32("max_bytes")?,
            max_wait_ms: reader.u32("max_wait_ms")?,
            min_bytes: reader.u32("min_bytes")?,
        })
    }
}

/// Fetch reply fields before the records blob.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FetchReplyHeader {
    pub high_watermark: u64,
    pub log_start_offset: u64,
    pub records_bytes: u32,
}

/// Bytes of [`FetchReplyHeader`] on the wire.
pub const FETCH_REPLY_HEADER_BYTES: usize = 8 + 8 + 4;

impl Body for FetchReplyHeader {
    fn encode(&self, buf: &mut BytesMut) {
        buf.put_u64(self.high_watermark);
        buf.put_u64(self.log_start_offset);
        buf.put_u32(self.records_bytes);
    }

    fn decode(reader: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(FetchReplyHeader {
            high_watermark: reader.u64("high_watermark")?,
            log_start_offset: reader.u64("log_start_offset")?,
            records_bytes: reader.u32("records_bytes")?,
        })
    }
}

/// ListOffsets request: `timestamp` is [`LIST_OFFSETS_EARLIEST`],
/// [`LIST_OFFSETS_LATEST`] or milliseconds since the Unix epoch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListOffsetsRequest {
    pub topic: String,
    pub partition: u32,
    pub timestamp: i64,
}

impl Body for ListOffsetsRequest {
    fn encode(&self, buf: &mut BytesMut) {
        put_str(buf, &self.topic);
        buf.put_u32(self.partition);
        buf.put_i64(self.timestamp);
    }

    fn decode(reader: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(ListOffsetsRequest {
            topic: reader.string("topic")?,
            partition: reader.u32("partition")?,
            timestamp: reader.i64("timestamp")?,
        })
    }
}

/// ListOffsets reply: the offset, or -1 when no record has a timestamp at or
/// after the one requested.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListOffsetsReply {
    pub offset: i64,
}

impl Body for ListOffsetsReply {
    fn encode(&self, buf: &mut BytesMut) {
        buf.put_i64(self.offset);
    }

    fn decode(reader: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(ListOffsetsReply {
            offset: reader.i64("offset")?,
        })
    }
}

/// OffsetCommit request: the next offset the group will read; the reply has
/// no body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OffsetCommitRequest {
    pub group: String,
    pub topic: String,
    pub partition: u32,
    pub offset: u64,
    pub metadata: String,
}

impl Body for OffsetCommitRequest {
    fn encode(&self, buf: &mut BytesMut) {
        put_str(buf, &self.group);
        put_str(buf, &self.topic);
        buf.put_u32(self.partition);
        buf.put_u64(self.offset);
        put_str(buf, &self.metadata);
    }

    fn decode(reader: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(OffsetCommitRequest {
            group: reader.string("group")?,
            topic: reader.string("topic")?,
            partition: reader.u32("partition")?,
            offset: reader.u64("offset")?,
            metadata: reader.string("metadata")?,
        })
    }
}

/// OffsetFetch request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OffsetFetchRequest {
    pub group: String,
    pub topic: String,
    pub partition: u32,
}

impl Body for OffsetFetchRequest {
    fn encode(&self, buf: &mut BytesMut) {
        put_str(buf, &self.group);
        put_str(buf, &self.topic);
        buf.put_u32(self.partition);
    }

    fn decode(reader: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(OffsetFetchRequest {
            group: reader.string("group")?,
            topic: reader.string("topic")?,
            partition: reader.u32("partition")?,
        })
    }
}

/// OffsetFetch reply: -1 when the group has committed nothing there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OffsetFetchReply {
    pub offset: i64,
    pub metadata: String,
}

impl Body for OffsetFetchReply {
    fn encode(&self, buf: &mut BytesMut) {
        buf.put_i64(self.offset);
        put_str(buf, &self.metadata);
    }

    fn decode(reader: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(OffsetFetchReply {
            offset: reader.i64("offset")?,
            metadata: reader.string("metadata")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<T: Body + PartialEq + std::fmt::Debug>(value: T) {
        let mut buf = BytesMut::new();
        value.encode(&mut buf);
        let mut reader = Reader::new(&buf);
        assert_eq!(T::decode(&mut reader).unwrap(), value);
        reader.finish("body").unwrap();
    }

    #[test]
    fn bodies_round_trip() {
        round_trip(MetadataReply {
            main_port: 9292,
            shard_ports: vec![9300, 9301],
            topics: vec![TopicMetadata {
                name: "orders".into(),
                topic_id: 3,
                partition_shards: vec![1, 0, 1],
                config: vec![("durability".into(), "always".into())],
            }],
        });
        round_trip(FetchRequest {
            topic: "orders".into(),
            partition: 2,
            offset: 10,
            max_bytes: 1 << 20,
            max_wait_ms: 500,
            min_bytes: 1,
        });
        round_trip(OffsetCommitRequest {
            group: "g".into(),
            topic: "t".into(),
            partition: 1,
            offset: 42,
            metadata: String::new(),
        });
    }

    #[test]
    fn produce_splits_records_span() {
        let mut buf = BytesMut::new();
        let request = ProduceRequest {
            topic: "t".into(),
            partition: 0,
            acks: Acks::Durable,
            timeout_ms: 1000,
        };
        request.encode(&mut buf, b"batch-bytes");
        let mut reader = Reader::new(&buf);
        let (decoded, start, len) = ProduceRequest::decode(&mut reader).unwrap();
        assert_eq!(decoded, request);
        assert_eq!(&buf[start..start + len], b"batch-bytes");
    }

    #[test]
    fn produce_rejects_unknown_acks() {
        let mut buf = BytesMut::new();
        put_str(&mut buf, "t");
        buf.put_u32(0);
        buf.put_u8(7);
        let err = ProduceRequest::decode(&mut Reader::new(&buf)).unwrap_err();
        assert!(err.to_string().contains("acks"), "{err}");
    }
}
