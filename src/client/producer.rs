//! The batching producer.
//!
//! Records accumulate per partition into one RecordBatch; a batch is sent
//! when it reaches `batch_bytes`, when it is older than `linger_ms` at the
//! next `send` or `poll`, or on `flush`. Up to `max_inflight` requests are
//! pipelined per connection. With `shard_aware`, each partition's batches go
//! to its owning shard's own port, skipping the broker's cross-shard hop.
//!
//! NOTE: there is no background thread, so a lingering batch leaves only
//! when the caller next calls `send`, `poll` or `flush`.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use super::conn::{decode, Connection};
use super::partitioner::partition_for_key;
use super::ClientError;
use crate::protocol::api::{Acks, MetadataReply, MetadataRequest, ProduceReply, ProduceRequest};
use crate::protocol::batch::BatchBuilder;
use crate::protocol::ApiKey;

/// Producer settings.
#[derive(Clone, Debug)]
pub struct ProducerConfig {
    pub linger_ms: u64,
    pub batch_bytes: usize,
    pub acks: Acks,
    /// Requests sent on one connection before the producer waits for a reply.
    pub max_inflight: usize,
    pub shard_aware: bool,
    pub timeout_ms: u32,
}

impl Default for ProducerConfig {
    fn default() -> Self {
        ProducerConfig {
            linger_ms: 5,
            batch_bytes: 256 * 1024,
            acks: Acks::Leader,
            max_inflight: 16,
            shard_aware: true,
            timeout_ms: 30_000,
        }
    }
}

struct TopicRoute {
    /// Owning shard per partition.
    shards: Vec<u16>,
}

struct OpenBatch {
    builder: BatchBuilder,
    started: Instant,
}

struct Inflight {
    correlation_id: u32,
    topic: String,
    partition: u32,
}

struct ShardConn {
    conn: Connection,
    inflight: VecDeque<Inflight>,
}

/// The offsets acknowledged so far, per (topic, partition).
pub type Acked = HashMap<(String, u32), ProduceReply>;

pub struct Producer {
    bootstrap: String,
    config: ProducerConfig,
    metadata: MetadataReply,
    routes: HashMap<String, TopicRoute>,
    /// Connections keyed by shard; `usize::MAX` is the main port.
    conns: HashMap<usize, ShardConn>,
    batches: HashMap<(String, u32), OpenBatch>,
    round_robin: u32,
    acked: Acked,
    records_sent: u64,
}

const MAIN_PORT: usize = usize::MAX;

impl Producer {
    pub fn connect(bootstrap: &str, config: ProducerConfig) -> Result<Producer, ClientError> {
        let mut conn = Connection::connect(bootstrap, "ringbus-producer")?;
        let metadata: MetadataReply =
            decode(&conn.call(ApiKey::Metadata, &MetadataRequest::default())?)?;
        let mut conns = HashMap::new();
        conns.insert(
            MAIN_PORT,
            ShardConn {
                conn,
                inflight: VecDeque::new(),
            },
        );
        Ok(Producer {
            bootstrap: bootstrap.to_string(),
            config,
            metadata,
            routes: HashMap::new(),
            conns,
            batches: HashMap::new(),
            round_robin: 0,
            acked: HashMap::new(),
            records_sent: 0,
        })
    }

    fn route(&mut self, topic: &str) -> Result<&TopicRoute, ClientError> {
        if !self.routes.contains_key(topic) {
            let main = self.conns.get_mut(&MAIN_PORT).expect("main connection");
            drain(main, &mut self.acked)?;
            let request = MetadataRequest {
                topics: vec![topic.to_string()],
            };
            let reply: MetadataReply = decode(&main.conn.call(ApiKey::Metadata, &request)?)?;
            let meta =
                reply.topics.into_iter().next().ok_or_else(|| {
                    ClientError::Protocol(format!("metadata of '{topic}' is empty"))
                })?;
            self.metadata.shard_ports = reply.shard_ports;
            self.routes.insert(
                topic.to_string(),
                TopicRoute {
                    shards: meta.partition_shards,
                },
            );
        }
        Ok(&self.routes[topic])
    }

    /// Partitions of `topic`.
    pub fn partitions(&mut self, topic: &str) -> Result<u32, ClientError> {
        Ok(self.route(topic)?.shards.len() as u32)
    }

    /// Queues one record, picking the partition by key hash, or round robin
    /// for records without a key.
    pub fn send(
        &mut self,
        topic: &str,
        key: Option<&[u8]>,
        value: &[u8],
        headers: &[(&str, &[u8])],
    ) -> Result<u32, ClientError> {
        let partitions = self.partitions(topic)?;
        let partition = match key {
            Some(key) => partition_for_key(key, partitions),
            None => {
                self.round_robin = self.round_robin.wrapping_add(1);
                self.round_robin % partitions
            }
        };
        self.send_to(topic, partition, key, value, headers)?;
        Ok(partition)
    }

    /// Queues one record for a given partition.
    pub fn send_to(
        &mut self,
        topic: &str,
        partition: u32,
        key: Option<&[u8]>,
        value: &[u8],
        headers: &[(&str, &[u8])],
    ) -> Result<(), ClientError> {
        let partitions = self.partitions(topic)?;
        if partition >= partitions {
            return Err(ClientError::Usage(format!(
                "partition {partition} does not exist in topic '{topic}', which has partitions 0..{partitions}"
            )));
        }
        let now_ms = super::consumer::now_ms();
        let batch_key = (topic.to_string(), partition);
        let open = self
            .batches
            .entry(batch_key.clone())
            .or_insert_with(|| OpenBatch {
                builder: BatchBuilder::new(now_ms),
                started: Instant::now(),
            });
        open.builder.push(now_ms, key, Some(value), headers);
        self.records_sent += 1;
        if open.builder.size_bytes() >= self.config.batch_bytes {
            let open = self.batches.remove(&batch_key).expect("batch just used");
            self.send_batch(topic, partition, open)?;
        }
        self.poll()
    }

    /// Sends every batch older than `linger_ms`.
    pub fn poll(&mut self) -> Result<(), ClientError> {
        let linger = Duration::from_millis(self.config.linger_ms);
        let due: Vec<(String, u32)> = self
            .batches
            .iter()
            .filter(|(_, open)| open.started.elapsed() >= linger)
            .map(|(key, _)| key.clone())
            .collect();
        for key in due {
            let open = self.batches.remove(&key).expect("due batch exists");
            self.send_batch(&key.0, key.1, open)?;
        }
        Ok(())
    }

    fn connection_for(
        &mut self,
        topic: &str,
        partition: u32,
    ) -> Result<&mut ShardConn, ClientError> {
        let shard = if self.config.shard_aware {
            self.route(topic)?.shards[partition as usize] as usize
        } else {
            MAIN_PORT
        };
        if !self.conns.contains_key(&shard) {
            let host = self
                .bootstrap
                .rsplit_once(':')
                .map_or("127.0.0.1", |(host, _)| host);
            let port = self.metadata.shard_ports[shard];
            let conn = Connection::connect(format!("{host}:{port}"), "ringbus-producer")?;
            self.conns.insert(
                shard,
                ShardConn {
                    conn,
                    inflight: VecDeque::new(),
                },
            );
        }
        Ok(self
            .conns
            .get_mut(&shard)
            .expect("connection just inserted"))
    }

    fn send_batch(
        &mut self,
        topic: &str,
        partition: u32,
        open: OpenBatch,
    ) -> Result<(), ClientError> {
        let records = open.builder.finish();
        let request = ProduceRequest {
            topic: topic.to_string(),
            partition,
            acks: self.config.acks,
            timeout_ms: self.config.timeout_ms,
        };
        let max_inflight = self.config.max_inflight;
        let acks = self.config.acks;
        let mut acked = Vec::new();
        let conn = self.connection_for(topic, partition)?;
        while conn.inflight.len() >= max_inflight {
            acked.push(receive_one(conn)?);
        }
        let correlation_id = conn
            .conn
            .send_with(ApiKey::Produce, |buf| request.encode(buf, &records))?;
        if acks != Acks::None {
            conn.inflight.push_back(Inflight {
                correlation_id,
                topic: topic.to_string(),
                partition,
            });
        }
        for one in acked {
            record(&mut self.acked, one);
        }
        Ok(())
    }

    /// Sends every open batch and waits for all replies. Returns the last
    /// acknowledged offsets per partition since the previous flush.
    pub fn flush(&mut self) -> Result<Acked, ClientError> {
        let open: Vec<_> = self.batches.drain().collect();
        for ((topic, partition), batch) in open {
            self.send_batch(&topic, partition, batch)?;
        }
        for conn in self.conns.values_mut() {
            drain(conn, &mut self.acked)?;
        }
        Ok(std::mem::take(&mut self.acked))
    }

    /// Records queued since the producer started.
    pub fn records_sent(&self) -> u64 {
        self.records_sent
    }

    /// Offsets acknowledged since the last successful flush, for reporting
    /// what was stored when a flush fails part way.
    pub fn acked_so_far(&self) -> &Acked {
        &self.acked
    }
}

fn record(acked: &mut Acked, (topic, partition, reply): (String, u32, ProduceReply)) {
    acked.insert((topic, partition), reply);
}

fn drain(conn: &mut ShardConn, acked: &mut Acked) -> Result<(), ClientError> {
    while !conn.inflight.is_empty() {
        let one = receive_one(conn)?;
        record(acked, one);
    }
    Ok(())
}

fn receive_one(conn: &mut ShardConn) -> Result<(String, u32, ProduceReply), ClientError> {
    let reply = conn.conn.recv()?;
    let position = conn
        .inflight
        .iter()
        .position(|i| i.correlation_id == reply.header.correlation_id)
        .ok_or_else(|| {
            ClientError::Protocol(format!(
                "reply with unknown correlation id {}",
                reply.header.correlation_id
            ))
        })?;
    let inflight = conn.inflight.remove(position).expect("position is valid");
    let body = reply.into_result().map_err(|err| match err {
        ClientError::Api(mut api) => {
            api.message = format!(
                "produce to {}/{}: {}",
                inflight.topic, inflight.partition, api.message
            );
            ClientError::Api(api)
        }
        other => other,
    })?;
    let produced: ProduceReply = decode(&body)?;
    Ok((inflight.topic, inflight.partition, produced))
}
