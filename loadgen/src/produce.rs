//! Producer threads: build record batches with `BatchBuilder` and pipeline
//! Produce requests on one connection per owning shard.
//!
//! Closed loop (no rate): each batch is filled at once and sent. Its latency
//! is the time from sending to its acknowledgement, one sample per batch.
//! Open loop (a rate): event `k` of a thread is due at `start + k / rate`,
//! whether or not the broker keeps up, and its latency counts from that
//! intended time (one sample per event), as wrk2 does, so a stalled broker
//! shows in the percentiles instead of slowing the load down.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ringbus::client::conn::{decode, Connection};
use ringbus::client::ClientError;
use ringbus::protocol::api::{Acks, ProduceReply, ProduceRequest};
use ringbus::protocol::batch::BatchBuilder;
use ringbus::protocol::{ApiKey, ErrorCode};

use crate::net::{wait_readable, Topology};
use crate::payload::{Payloads, SCHEMA_ID_HEADER, STAMP_HEADER};
use crate::shared::{record_latency, Clock, Counters, ThreadResult};

/// Produce requests one connection pipelines before waiting for a reply.
pub const INFLIGHT_PER_CONN_MAX: usize = 16;
/// Broker-side timeout of each Produce request, in ms.
const PRODUCE_TIMEOUT_MS: u32 = 30_000;
/// How long an open-loop producer may run past `--duration-s` to send the
/// events that fell due just before the end.
const END_GRACE: Duration = Duration::from_millis(100);

/// The work of one producer thread.
pub struct ProducerPlan {
    pub topic: Arc<str>,
    pub topology: Arc<Topology>,
    pub payloads: Payloads,
    /// Measured events to send (`--messages`), or `None` to run until `end`.
    pub quota: Option<u64>,
    /// When sending stops in a `--duration-s` run.
    pub end: Option<Instant>,
    /// Open-loop events per second for this thread.
    pub rate: Option<f64>,
    pub batch_bytes: usize,
    pub linger: Duration,
    /// Stamp each event with its send time (e2e).
    pub stamp: bool,
    pub clock: Clock,
    pub counters: Arc<Counters>,
}

/// A batch being filled: events `first_index..first_index + events` of
/// this thread, all for one partition.
struct OpenBatch {
    builder: BatchBuilder,
    partition: u32,
    first_index: u64,
    /// Intended (open loop) or actual (closed loop) time of the first event.
    first_at: Instant,
    /// Timestamp of every record, in ms since the Unix epoch.
    timestamp_ms: i64,
    value_bytes: u64,
}

/// A Produce request awaiting its reply.
struct Pending {
    correlation_id: u32,
    first_index: u64,
    first_at: Instant,
    sent_at: Instant,
    events: u32,
    value_bytes: u64,
    measured: bool,
}

struct ShardConn {
    conn: Connection,
    inflight: VecDeque<Pending>,
}

struct Producer<'a> {
    plan: &'a ProducerPlan,
    conns: Vec<Option<ShardConn>>,
    partitions: Vec<u32>,
    next_partition: usize,
    /// Index of the next event this thread creates.
    next_index: u64,
    measured_sent: u64,
    /// Time between intended sends in an open-loop run.
    interval: Option<Duration>,
    result: ThreadResult,
}

/// Runs one producer thread to the end of its plan.
pub fn run(plan: ProducerPlan) -> ThreadResult {
    let partitions: Vec<u32> = (0..plan.topology.partitions()).collect();
    let conns = match plan.topology.connect(&partitions, "loadgen-producer") {
        Ok(conns) => conns,
        Err(err) => return failed(format!("producer cannot connect: {err}")),
    };
    let interval = plan.rate.map(|rate| Duration::from_secs_f64(1.0 / rate));
    let mut producer = Producer {
        plan: &plan,
        conns: conns
            .into_iter()
            .map(|conn| {
                conn.map(|conn| ShardConn {
                    conn,
                    inflight: VecDeque::new(),
                })
            })
            .collect(),
        partitions,
        next_partition: 0,
        next_index: 0,
        measured_sent: 0,
        interval,
        result: ThreadResult::new(),
    };
    let outcome = match interval {
        Some(_) => producer.open_loop(),
        None => producer.closed_loop(),
    };
    let outcome = outcome.and_then(|()| producer.drain());
    if let Err(err) = outcome {
        producer.result.failure = Some(format!("producer failed: {err}"));
    }
    producer.result
}

fn failed(reason: String) -> ThreadResult {
    let mut result = ThreadResult::new();
    result.failure = Some(reason);
    result
}

impl Producer<'_> {
    fn closed_loop(&mut self) -> Result<(), ClientError> {
        while !self.sending_finished(Instant::now()) {
            let now = Instant::now();
            let mut batch = self.open_batch(now);
            loop {
                self.push(&mut batch, now);
                if batch.builder.size_bytes() >= self.plan.batch_bytes || self.quota_reached() {
                    break;
                }
            }
            self.send(batch)?;
        }
        Ok(())
    }

    fn open_loop(&mut self) -> Result<(), ClientError> {
        let mut open: Option<OpenBatch> = None;
        loop {
            if self.plan.counters.aborted() {
                return Ok(());
            }
            let now = Instant::now();
            if self.past_end(now) {
                // Far behind schedule at the end: events still due are not
                // sent, so the run stops on time and counts them as errors.
                if let Some(batch) = open.take() {
                    self.send(batch)?;
                }
                self.count_unsent();
                return Ok(());
            }
            while !self.sending_finished(self.intended(self.next_index))
                && self.intended(self.next_index) <= now
            {
                let at = self.intended(self.next_index);
                let batch = match open.as_mut() {
                    Some(batch) => batch,
                    None => open.insert(self.open_batch(at)),
                };
                self.push(batch, at);
                if batch.builder.size_bytes() >= self.plan.batch_bytes {
                    let full = open.take().expect("batch just filled");
                    self.send(full)?;
                    // A producer far behind schedule never catches up with
                    // `now`, so the end is checked here too.
                    if self.past_end(Instant::now()) {
                        break;
                    }
                }
            }
            let finished = self.sending_finished(self.intended(self.next_index));
            let linger_over = open
                .as_ref()
                .is_some_and(|b| now >= b.first_at + self.plan.linger);
            if linger_over || (finished && open.is_some()) {
                let batch = open.take().expect("open batch");
                self.send(batch)?;
            }
            if finished && open.is_none() {
                return Ok(());
            }
            let mut wake = self.intended(self.next_index);
            if let Some(batch) = &open {
                wake = wake.min(batch.first_at + self.plan.linger);
            }
            self.receive_until(wake)?;
        }
    }

    /// Checks whether an open-loop run is past its end by more than
    /// [`END_GRACE`], the time a producer on schedule needs to send what
    /// fell due just before the end.
    fn past_end(&self, now: Instant) -> bool {
        self.plan.end.is_some_and(|end| now >= end + END_GRACE)
    }

    /// Counts the events due before the end that were never sent.
    fn count_unsent(&mut self) {
        let (Some(end), Some(interval)) = (self.plan.end, self.interval) else {
            return;
        };
        // Only the measured window counts: events due in the warmup were
        // never going to be measured.
        let due_by = |at: Instant| {
            let span = at.saturating_duration_since(self.plan.clock.start);
            (span.as_secs_f64() / interval.as_secs_f64()).ceil() as u64
        };
        let due = due_by(end).saturating_sub(due_by(self.plan.clock.measure_from));
        let unsent = due.saturating_sub(self.measured_sent);
        if unsent > 0 {
            eprintln!(
                "loadgen: {unsent} events due before the end were not sent: \
                 loadgen and the broker could not sustain --rate"
            );
            self.result.errors += unsent;
            self.plan.counters.add_errors(unsent);
        }
    }

    /// Returns the intended send time of event `index` in an open-loop run.
    fn intended(&self, index: u64) -> Instant {
        let interval = self.interval.expect("open-loop run");
        self.plan.clock.start + interval.mul_f64(index as f64)
    }

    fn quota_reached(&self) -> bool {
        self.plan
            .quota
            .is_some_and(|quota| self.measured_sent >= quota)
    }

    /// Checks whether sending stops before an event due at `at`.
    fn sending_finished(&self, at: Instant) -> bool {
        self.plan.counters.aborted()
            || self.quota_reached()
            || self.plan.end.is_some_and(|end| at >= end)
    }

    fn open_batch(&mut self, first_at: Instant) -> OpenBatch {
        let partition = self.partitions[self.next_partition];
        self.next_partition = (self.next_partition + 1) % self.partitions.len();
        let capacity = self.plan.batch_bytes + self.plan.payloads.mean_bytes() + 64;
        let timestamp_ms = ringbus::client::consumer::now_ms();
        OpenBatch {
            builder: BatchBuilder::with_capacity(timestamp_ms, capacity),
            timestamp_ms,
            partition,
            first_index: self.next_index,
            first_at,
            value_bytes: 0,
        }
    }

    /// Appends event `next_index`, created (or due) at `at`, to `batch`.
    fn push(&mut self, batch: &mut OpenBatch, at: Instant) {
        let index = self.next_index;
        let value = self.plan.payloads.value(index);
        let stamp = self.plan.clock.stamp_ns(at).to_be_bytes();
        let mut headers: [(&str, &[u8]); 2] = [("", &[]), ("", &[])];
        let mut count = 0;
        if self.plan.stamp {
            headers[count] = (STAMP_HEADER, &stamp);
            count += 1;
        }
        if let Some(schema_id) = self.plan.payloads.schema_id() {
            headers[count] = (SCHEMA_ID_HEADER, schema_id.as_bytes());
            count += 1;
        }
        batch
            .builder
            .push(batch.timestamp_ms, None, Some(value), &headers[..count]);
        batch.value_bytes += value.len() as u64;
        self.next_index += 1;
        if at >= self.plan.clock.measure_from {
            self.measured_sent += 1;
        }
    }

    fn send(&mut self, batch: OpenBatch) -> Result<(), ClientError> {
        let events = batch.builder.record_count();
        let shard = self.plan.topology.shard_of(batch.partition);
        let request = ProduceRequest {
            topic: self.plan.topic.to_string(),
            partition: batch.partition,
            acks: Acks::Leader,
            timeout_ms: PRODUCE_TIMEOUT_MS,
        };
        let records = batch.builder.finish();
        loop {
            let conn = self.conns[shard]
                .as_mut()
                .expect("connection per owning shard");
            if conn.inflight.len() < INFLIGHT_PER_CONN_MAX {
                break;
            }
            self.receive_one(shard)?;
        }
        let conn = self.conns[shard]
            .as_mut()
            .expect("connection per owning shard");
        let correlation_id = conn.conn.send_with_payload(
            ApiKey::Produce,
            |buf| request.encode_head(buf, records.len()),
            &records,
        )?;
        conn.inflight.push_back(Pending {
            correlation_id,
            first_index: batch.first_index,
            first_at: batch.first_at,
            sent_at: Instant::now(),
            events,
            value_bytes: batch.value_bytes,
            measured: batch.first_at >= self.plan.clock.measure_from,
        });
        Ok(())
    }

    /// Reads replies that arrive before `deadline`.
    fn receive_until(&mut self, deadline: Instant) -> Result<(), ClientError> {
        loop {
            let waiting: Vec<(usize, &Connection)> = self
                .conns
                .iter()
                .enumerate()
                .filter_map(|(shard, conn)| {
                    conn.as_ref()
                        .filter(|c| !c.inflight.is_empty())
                        .map(|c| (shard, &c.conn))
                })
                .collect();
            let ready = wait_readable(&waiting, deadline)?;
            if ready.is_empty() {
                return Ok(());
            }
            for shard in ready {
                self.receive_one(shard)?;
            }
            if Instant::now() >= deadline {
                return Ok(());
            }
        }
    }

    fn drain(&mut self) -> Result<(), ClientError> {
        for shard in 0..self.conns.len() {
            while self.conns[shard]
                .as_ref()
                .is_some_and(|c| !c.inflight.is_empty())
            {
                self.receive_one(shard)?;
            }
        }
        Ok(())
    }

    fn receive_one(&mut self, shard: usize) -> Result<(), ClientError> {
        let conn = self.conns[shard]
            .as_mut()
            .expect("connection per owning shard");
        let reply = conn.conn.recv()?;
        let acked_at = Instant::now();
        let correlation_id = reply.header.correlation_id;
        let position = conn
            .inflight
            .iter()
            .position(|p| p.correlation_id == correlation_id)
            .ok_or_else(|| {
                ClientError::Protocol(format!(
                    "reply with unknown correlation id {correlation_id}"
                ))
            })?;
        let pending = conn.inflight.remove(position).expect("position is valid");
        if reply.header.code != ErrorCode::None {
            self.count_error(&pending, reply.header.code, &reply.header.message);
            return Ok(());
        }
        let _: ProduceReply = decode(&reply.body)?;
        if pending.measured {
            self.record(&pending, acked_at);
        }
        Ok(())
    }

    fn record(&mut self, pending: &Pending, acked_at: Instant) {
        match self.interval {
            None => record_latency(&mut self.result.latency_us, acked_at - pending.sent_at, 1),
            Some(_) => {
                for index in pending.first_index..pending.first_index + u64::from(pending.events) {
                    let intended = self.intended(index);
                    record_latency(
                        &mut self.result.latency_us,
                        acked_at.saturating_duration_since(intended),
                        1,
                    );
                }
            }
        }
        let events = u64::from(pending.events);
        self.result.messages += events;
        self.result.bytes += pending.value_bytes;
        self.result.complete_at(acked_at);
        // In e2e runs the message counter is the consumers': they stop once
        // it reaches `produced`.
        if !self.plan.stamp {
            self.plan.counters.add(events, pending.value_bytes);
        }
        self.plan
            .counters
            .produced
            .fetch_add(events, Ordering::Relaxed);
        debug_assert!(pending.first_at <= acked_at);
    }

    fn count_error(&mut self, pending: &Pending, code: ErrorCode, message: &str) {
        let events = u64::from(pending.events);
        if self.result.errors == 0 {
            eprintln!("loadgen: produce failed with {code:?}: {message}");
        }
        self.result.errors += events;
        self.plan.counters.add_errors(events);
    }
}
