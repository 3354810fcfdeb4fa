//! The fetch-ahead consumer.
//!
//! Each assigned partition always has one Fetch in flight: as soon as a
//! reply arrives, the next Fetch for that partition is sent before the
//! records are handed to the caller, so the broker works while the caller
//! processes. Positions are tracked per partition and committed for a group.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use super::conn::{decode, Connection};
use super::{split_fetch, Client, ClientError};
use crate::protocol::api::{
    FetchRequest, MetadataReply, MetadataRequest, LIST_OFFSETS_EARLIEST, LIST_OFFSETS_LATEST,
};
use crate::protocol::batch;
use crate::protocol::{ApiKey, ErrorCode};

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Start position of a consumer in each partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartFrom {
    Earliest,
    Latest,
    Offset(u64),
    /// The group's committed offset, or the earliest when it has none.
    Committed,
}

/// Consumer settings.
#[derive(Clone, Debug)]
pub struct ConsumerConfig {
    pub group: Option<String>,
    pub start: StartFrom,
    pub max_bytes: u32,
    pub max_wait_ms: u32,
    pub min_bytes: u32,
    pub shard_aware: bool,
}

impl Default for ConsumerConfig {
    fn default() -> Self {
        ConsumerConfig {
            group: None,
            start: StartFrom::Committed,
            max_bytes: 1 << 20,
            max_wait_ms: 200,
            min_bytes: 1,
            shard_aware: true,
        }
    }
}

/// One consumed record; key, value and header values share the fetched
/// reply's memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub partition: u32,
    pub offset: u64,
    pub timestamp_ms: i64,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    pub headers: Vec<(String, Option<Bytes>)>,
}

struct PartitionState {
    partition: u32,
    /// Set while the position is one the caller asked for and no fetch has
    /// succeeded yet: an out-of-range error is then reported, not reset.
    explicit: bool,
    /// Next offset to hand to the caller.
    position: u64,
    conn: usize,
    outstanding: Option<u32>,
}

pub struct Consumer {
    topic: String,
    config: ConsumerConfig,
    admin: Client,
    conns: HashMap<usize, Connection>,
    partitions: Vec<PartitionState>,
    buffered: VecDeque<Record>,
}

const MAIN_PORT: usize = usize::MAX;

impl Consumer {
    /// Subscribes to `partitions` of `topic` (all when `None`).
    pub fn connect(
        bootstrap: &str,
        topic: &str,
        partitions: Option<Vec<u32>>,
        config: ConsumerConfig,
    ) -> Result<Consumer, ClientError> {
        let mut admin = Client::connect(bootstrap)?;
        let request = MetadataRequest {
            topics: vec![topic.to_string()],
        };
        let metadata: MetadataReply =
            decode(&admin.connection().call(ApiKey::Metadata, &request)?)?;
        let meta = &metadata.topics[0];
        let count = meta.partition_shards.len() as u32;
        let chosen = partitions.unwrap_or_else(|| (0..count).collect());
        let host = bootstrap
            .rsplit_once(':')
            .map_or("127.0.0.1", |(host, _)| host)
            .to_string();
        let mut conns = HashMap::new();
        let mut states = Vec::new();
        for partition in chosen {
            if partition >= count {
                return Err(ClientError::Usage(format!(
                    "partition {partition} does not exist in topic '{topic}', which has partitions 0..{count}"
                )));
            }
            let shard = meta.partition_shards[partition as usize] as usize;
            let key = if config.shard_aware { shard } else { MAIN_PORT };
            if let std::collections::hash_map::Entry::Vacant(slot) = conns.entry(key) {
                let port = if key == MAIN_PORT {
                    metadata.main_port
                } else {
                    metadata.shard_ports[shard]
                };
                slot.insert(Connection::connect(
                    format!("{host}:{port}"),
                    "ringbus-consumer",
                )?);
            }
            let position = start_position(&mut admin, topic, partition, &config)?;
            states.push(PartitionState {
                partition,
                explicit: matches!(config.start, StartFrom::Offset(_)),
                position,
                conn: key,
                outstanding: None,
            });
        }
        Ok(Consumer {
            topic: topic.to_string(),
            config,
            admin,
            conns,
            partitions: states,
            buffered: VecDeque::new(),
        })
    }

    /// Returns the next offset this consumer hands out for `partition`.
    pub fn position(&self, partition: u32) -> Option<u64> {
        self.partitions
            .iter()
            .find(|p| p.partition == partition)
            .map(|p| p.position)
    }

    /// Returns buffered records, or waits up to `timeout` for more.
    pub fn poll(&mut self, timeout: Duration) -> Result<Vec<Record>, ClientError> {
        let deadline = Instant::now() + timeout;
        loop {
            self.send_missing_fetches()?;
            if !self.buffered.is_empty() {
                return Ok(self.buffered.drain(..).collect());
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(Vec::new());
            }
            for key in self.readable(deadline - now)? {
                self.receive(key)?;
            }
        }
    }

    fn send_missing_fetches(&mut self) -> Result<(), ClientError> {
        for state in &mut self.partitions {
            if state.outstanding.is_some() {
                continue;
            }
            let request = FetchRequest {
                topic: self.topic.clone(),
                partition: state.partition,
                offset: state.position,
                max_bytes: self.config.max_bytes,
                max_wait_ms: self.config.max_wait_ms,
                min_bytes: self.config.min_bytes,
            };
            let conn = self
                .conns
                .get_mut(&state.conn)
                .expect("connection per partition");
            state.outstanding = Some(conn.send(ApiKey::Fetch, &request)?);
        }
        Ok(())
    }

    /// Connections with a reply ready to read, waiting up to `timeout`.
    fn readable(&self, timeout: Duration) -> Result<Vec<usize>, ClientError> {
        let keys: Vec<usize> = self.conns.keys().copied().collect();
        let mut fds: Vec<libc::pollfd> = keys
            .iter()
            .map(|key| libc::pollfd {
                fd: self.conns[key].raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        let timeout_ms = timeout.as_millis().clamp(1, i32::MAX as u128) as i32;
        // SAFETY: `fds` is a valid array of pollfd for the whole call.
        let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
        if rc < 0 {
            let err = std::io::Error::last_os_error();
            if err.kind() == std::io::ErrorKind::Interrupted {
                return Ok(Vec::new());
            }
            return Err(ClientError::Io(err));
        }
        Ok(keys
            .into_iter()
            .zip(fds)
            .filter(|(_, fd)| fd.revents != 0)
            .map(|(key, _)| key)
            .collect())
    }

    fn receive(&mut self, key: usize) -> Result<(), ClientError> {
        let reply = self
            .conns
            .get_mut(&key)
            .expect("readable connection")
            .recv()?;
        let correlation_id = reply.header.correlation_id;
        let index = self
            .partitions
            .iter()
            .position(|p| p.conn == key && p.outstanding == Some(correlation_id))
            .ok_or_else(|| {
                ClientError::Protocol(format!(
                    "fetch reply with unknown correlation id {correlation_id}"
                ))
            })?;
        self.partitions[index].outstanding = None;
        let partition = self.partitions[index].partition;
        let body = match reply.into_result() {
            Ok(body) => body,
            Err(err)
                if err.code() == Some(ErrorCode::OffsetOutOfRange)
                    && !self.partitions[index].explicit =>
            {
                let earliest =
                    self.admin
                        .list_offsets(&self.topic, partition, LIST_OFFSETS_EARLIEST)?;
                self.partitions[index].position = earliest.max(0) as u64;
                return Ok(());
            }
            Err(err) => return Err(err),
        };
        self.partitions[index].explicit = false;
        let fetched = split_fetch(body)?;
        let position = self.partitions[index].position;
        let next = unpack(&fetched.records, partition, position, &mut self.buffered)?;
        self.partitions[index].position = next;
        // Fetch ahead before the caller sees these records.
        self.send_missing_fetches()
    }

    /// Commits every partition's position for the configured group.
    pub fn commit(&mut self) -> Result<(), ClientError> {
        let positions: Vec<(u32, u64)> = self
            .partitions
            .iter()
            .map(|p| (p.partition, p.position))
            .collect();
        self.commit_offsets(positions)
    }

    /// Commits the given next-offset-to-read per partition for the group,
    /// for callers that processed only part of what `poll` returned.
    pub fn commit_offsets(
        &mut self,
        offsets: impl IntoIterator<Item = (u32, u64)>,
    ) -> Result<(), ClientError> {
        let group = self.config.group.clone().ok_or_else(|| {
            ClientError::Usage("commit needs a consumer group; set ConsumerConfig::group".into())
        })?;
        for (partition, offset) in offsets {
            self.admin
                .commit_offset(&group, &self.topic, partition, offset)?;
        }
        Ok(())
    }

    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The connection used for offsets and other one-shot calls.
    pub fn admin_client(&mut self) -> &mut Client {
        &mut self.admin
    }
}

fn start_position(
    admin: &mut Client,
    topic: &str,
    partition: u32,
    config: &ConsumerConfig,
) -> Result<u64, ClientError> {
    let offset = match (config.start, &config.group) {
        (StartFrom::Earliest, _) => admin.list_offsets(topic, partition, LIST_OFFSETS_EARLIEST)?,
        (StartFrom::Latest, _) => admin.list_offsets(topic, partition, LIST_OFFSETS_LATEST)?,
        (StartFrom::Offset(offset), _) => offset as i64,
        (StartFrom::Committed, Some(group)) => match admin.fetch_offset(group, topic, partition)? {
            -1 => admin.list_offsets(topic, partition, LIST_OFFSETS_EARLIEST)?,
            committed => committed,
        },
        (StartFrom::Committed, None) => {
            admin.list_offsets(topic, partition, LIST_OFFSETS_EARLIEST)?
        }
    };
    Ok(offset.max(0) as u64)
}

/// Decodes the batches in `records`, keeping records at or after `from`;
/// returns the offset after the last record.
pub fn unpack(
    records: &Bytes,
    partition: u32,
    mut from: u64,
    out: &mut VecDeque<Record>,
) -> Result<u64, ClientError> {
    let corrupt =
        |err: batch::BatchError| ClientError::Protocol(format!("partition {partition}: {err}"));
    let mut rest = &records[..];
    while !rest.is_empty() {
        let info = batch::validate(rest).map_err(corrupt)?;
        let (one, tail) = rest.split_at(info.size_bytes);
        for view in batch::records(one) {
            let view = view.map_err(corrupt)?;
            if view.offset < from {
                continue;
            }
            out.push_back(Record {
                partition,
                offset: view.offset,
                timestamp_ms: view.timestamp_ms,
                key: view.key.map(|k| records.slice_ref(k)),
                value: view.value.map(|v| records.slice_ref(v)),
                headers: view
                    .headers
                    .map(|(name, value)| (name.to_string(), value.map(|v| records.slice_ref(v))))
                    .collect(),
            });
            from = view.offset + 1;
        }
        rest = tail;
    }
    Ok(from)
}
