//! The native client: blocking connections, an admin API, a batching
//! producer and a fetch-ahead consumer. The CLI, loadgen and the tests use
//! it; it shares the protocol codecs with the broker.

pub mod conn;
pub mod consumer;
pub mod dlq;
pub mod partitioner;
pub mod producer;
pub mod schema;

use std::net::SocketAddr;

use bytes::Bytes;

use crate::protocol::api::{
    ApiVersionsReply, CreateTopicReply, CreateTopicRequest, DeleteTopicRequest, FetchReplyHeader,
    FetchRequest, ListOffsetsReply, ListOffsetsRequest, MetadataReply, MetadataRequest,
    OffsetCommitRequest, OffsetFetchReply, OffsetFetchRequest, FETCH_REPLY_HEADER_BYTES,
};
use crate::protocol::{ApiError, ApiKey, ErrorCode};
pub use conn::Connection;
pub use consumer::{Consumer, ConsumerConfig, Record, StartFrom};
pub use dlq::{Delivery, RetryConsumer};
pub use producer::{Producer, ProducerConfig};
pub use schema::{SchemaCheck, SchemaSubscription, SchemaVersion};

/// A client-side failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        addr: String,
        source: std::io::Error,
    },
    #[error("I/O error: {0}")]
    Io(std::io::Error),
    #[error("{0}")]
    Api(ApiError),
    #[error("protocol error: {0}")]
    Protocol(String),
    #[error("{0}")]
    Usage(String),
}

impl ClientError {
    /// Returns the broker's error code, when the broker sent one.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ClientError::Api(err) => Some(err.code),
            _ => None,
        }
    }
}

/// A fetch reply: the partition's offsets and the stored batches.
pub struct FetchResult {
    pub header: FetchReplyHeader,
    pub records: Bytes,
}

/// Admin and one-shot calls over one connection.
pub struct Client {
    conn: Connection,
}

impl Client {
    pub fn connect(addr: &str) -> Result<Client, ClientError> {
        Ok(Client {
            conn: Connection::connect(addr, "ringbus-client")?,
        })
    }

    pub fn peer(&self) -> SocketAddr {
        self.conn.peer()
    }

    pub fn connection(&mut self) -> &mut Connection {
        &mut self.conn
    }

    pub fn api_versions(&mut self) -> Result<ApiVersionsReply, ClientError> {
        let correlation_id = self.conn.send_with(ApiKey::ApiVersions, |_| {})?;
        conn::decode(&self.conn.recv_for(correlation_id)?)
    }

    pub fn metadata(&mut self, topics: &[&str]) -> Result<MetadataReply, ClientError> {
        let request = MetadataRequest {
            topics: topics.iter().map(|t| t.to_string()).collect(),
        };
        conn::decode(&self.conn.call(ApiKey::Metadata, &request)?)
    }

    /// Creates a topic; `config` contains setting overrides such as
    /// `("durability", "always")`.
    pub fn create_topic(
        &mut self,
        name: &str,
        partitions: u32,
        config: &[(&str, &str)],
    ) -> Result<u32, ClientError> {
        let request = CreateTopicRequest {
            name: name.to_string(),
            partitions,
            config: config
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        let reply: CreateTopicReply =
            conn::decode(&self.conn.call(ApiKey::CreateTopic, &request)?)?;
        Ok(reply.topic_id)
    }

    pub fn delete_topic(&mut self, name: &str) -> Result<(), ClientError> {
        let request = DeleteTopicRequest {
            name: name.to_string(),
        };
        self.conn.call(ApiKey::DeleteTopic, &request).map(|_| ())
    }

    /// The offset for `timestamp`: `-2` earliest, `-1` latest, or the first
    /// offset at or after a time in milliseconds (-1 when there is none).
    pub fn list_offsets(
        &mut self,
        topic: &str,
        partition: u32,
        timestamp: i64,
    ) -> Result<i64, ClientError> {
        let request = ListOffsetsRequest {
            topic: topic.to_string(),
            partition,
            timestamp,
        };
        let reply: ListOffsetsReply =
            conn::decode(&self.conn.call(ApiKey::ListOffsets, &request)?)?;
        Ok(reply.offset)
    }

    pub fn fetch(&mut self, request: &FetchRequest) -> Result<FetchResult, ClientError> {
        let body = self.conn.call(ApiKey::Fetch, request)?;
        split_fetch(body)
    }

    pub fn commit_offset(
        &mut self,
        group: &str,
        topic: &str,
        partition: u32,
        offset: u64,
    ) -> Result<(), ClientError> {
        let request = OffsetCommitRequest {
            group: group.to_string(),
            topic: topic.to_string(),
            partition,
            offset,
            metadata: String::new(),
        };
        self.conn.call(ApiKey::OffsetCommit, &request).map(|_| ())
    }

    /// Fetches the group's committed offset, or -1 when it has none.
    pub fn fetch_offset(
        &mut self,
        group: &str,
        topic: &str,
        partition: u32,
    ) -> Result<i64, ClientError> {
        let request = OffsetFetchRequest {
            group: group.to_string(),
            topic: topic.to_string(),
            partition,
        };
        let reply: OffsetFetchReply =
            conn::decode(&self.conn.call(ApiKey::OffsetFetch, &request)?)?;
        Ok(reply.offset)
    }
}

/// Splits a Fetch reply body into its header and records blob.
pub fn split_fetch(body: Bytes) -> Result<FetchResult, ClientError> {
    let header: FetchReplyHeader = conn::decode(&body[..FETCH_REPLY_HEADER_BYTES.min(body.len())])?;
    let end = FETCH_REPLY_HEADER_BYTES + header.records_bytes as usize;
    if body.len() < end {
        return Err(ClientError::Protocol(format!(
            "fetch reply holds {} bytes but declares {end}",
            body.len()
        )));
    }
    Ok(FetchResult {
        header,
        records: body.slice(FETCH_REPLY_HEADER_BYTES..end),
    })
}
