//! State shared by all shards, and the per-shard context.
//!
//! `BrokerShared` is read from every shard: its fields are atomics or an
//! `ArcSwap`, never a lock on a request path. `ShardCtx` belongs to one shard
//! thread and is reached through `Rc`, never shared across threads.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwap;
use bytes::{Bytes, BytesMut};
use futures_channel::oneshot;

use super::catalog::{Catalog, TopicMeta};
use super::offsets::OffsetStore;
use crate::config::Config;
use crate::protocol::api::{Acks, FetchReplyHeader, FetchRequest, OffsetFetchReply, ProduceReply};
use crate::protocol::dlq::{DlqCommand, DlqReply, FailReply, FailRequest};
use crate::protocol::ApiError;
use crate::shard::mesh::ShardMesh;
use crate::storage::Partition;

/// State every shard and the control plane read.
pub struct BrokerShared {
    pub config: Config,
    pub shard_count: usize,
    pub catalog: ArcSwap<Catalog>,
    pub main_port: u16,
    pub shard_ports: Vec<u16>,
    pub http_port: u16,
    /// Set by the disk monitor while free space is below `min_free_bytes`.
    pub disk_full: AtomicBool,
    pub free_bytes: AtomicU64,
    /// Shards that finished recovery and serve requests.
    pub shards_ready: AtomicUsize,
    pub shutting_down: AtomicBool,
    pub registry: crate::registry::shared::RegistryShared,
    /// Requests from the control plane for a shard; the admin shard takes
    /// them and routes each to its target.
    pub control_requests: async_channel::Sender<ControlRequest>,
    pub control_inbox: async_channel::Receiver<ControlRequest>,
    /// Per shard, the channel the control plane sends requests on.
    pub control: Vec<async_channel::Sender<MeshMessage>>,
}

/// A [`ShardRequest`] from the control plane, to run on `shard`.
pub struct ControlRequest {
    pub shard: usize,
    pub request: ShardRequest,
    pub reply: oneshot::Sender<ShardResult>,
}

/// Requests from the control plane waiting for the admin shard.
pub const CONTROL_REQUESTS_QUEUED_MAX: usize = 256;

impl BrokerShared {
    pub fn catalog(&self) -> arc_swap::Guard<Arc<Catalog>> {
        self.catalog.load()
    }

    pub fn is_ready(&self) -> bool {
        self.shards_ready.load(Ordering::Acquire) == self.shard_count
    }

    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Acquire)
    }
}

/// A partition-level request, run on the shard that owns the partition.
pub enum ShardRequest {
    Produce {
        topic: Arc<TopicMeta>,
        partition: u32,
        acks: Acks,
        records: BytesMut,
    },
    Fetch {
        topic: Arc<TopicMeta>,
        request: FetchRequest,
    },
    ListOffsets {
        topic: Arc<TopicMeta>,
        partition: u32,
        timestamp: i64,
    },
    OffsetCommit {
        key: String,
        offset: u64,
        metadata: String,
    },
    OffsetFetch {
        key: String,
    },
    CreateTopic {
        name: String,
        partitions: u32,
        config: Vec<(String, String)>,
    },
    DeleteTopic {
        name: String,
    },
    OpenPartitions {
        topic: Arc<TopicMeta>,
        partitions: Vec<u32>,
    },
    ClosePartitions {
        topic: Arc<TopicMeta>,
        partitions: Vec<u32>,
    },
    /// A Fail for an event of `failed` (`source` or its retry topic).
    Fail {
        source: Arc<TopicMeta>,
        failed: Arc<TopicMeta>,
        request: FailRequest,
    },
    /// A dead-letter operator command over all partitions; runs on any shard.
    DlqCommand(DlqCommand),
    /// A dead-letter operator command on one partition, run on its owner.
    DlqPartition {
        source: Arc<TopicMeta>,
        partition: u32,
        command: DlqCommand,
    },
    /// A copy of the shard's metrics, for the control plane's `/metrics`.
    Metrics,
}

/// The successful result of a [`ShardRequest`].
pub enum ReplyBody {
    Empty,
    Produce(ProduceReply),
    Fetch {
        header: FetchReplyHeader,
        chunks: Vec<Bytes>,
    },
    ListOffsets(i64),
    OffsetFetch(OffsetFetchReply),
    CreateTopic(u32),
    Fail(FailReply),
    Dlq(DlqReply),
    /// A body already encoded by the shard that built it.
    Raw(Bytes),
    /// The result of [`ShardRequest::Metrics`]; only the control plane asks
    /// for it, so it never goes on the wire.
    Metrics(Box<crate::metrics::ShardSnapshot>),
}

pub type ShardResult = Result<ReplyBody, ApiError>;

/// A request sent to another shard with the channel its result returns on.
pub struct MeshMessage {
    pub request: ShardRequest,
    pub reply: oneshot::Sender<ShardResult>,
}

/// Everything one shard owns.
pub struct ShardCtx {
    pub id: usize,
    pub shared: Arc<BrokerShared>,
    pub mesh: ShardMesh<MeshMessage>,
    pub partitions: RefCell<HashMap<(u32, u32), Partition>>,
    /// Consumer offsets, on the shard that owns the offsets topic.
    pub offsets: RefCell<Option<OffsetStore>>,
    /// Serializes topic creation and deletion on the admin shard.
    pub admin_lock: futures_util::lock::Mutex<()>,
    pub connections: Cell<usize>,
    /// Requests being processed on this shard, for the shutdown drain.
    pub inflight: Cell<usize>,
    /// Limits warnings about misbehaving clients.
    pub client_warnings: super::log_limit::LogLimiter,
    /// Retry orchestrator state: timing wheel and dead-letter indexes.
    pub retry: crate::retry::RetryShard,
}

impl ShardCtx {
    pub fn partition(&self, topic: &TopicMeta, partition: u32) -> Option<Partition> {
        self.partitions
            .borrow()
            .get(&(topic.id, partition))
            .cloned()
    }
}
