//! Consumer threads: one Fetch in flight per partition, on one connection
//! per owning shard.
//!
//! In `consume` mode the latency is each fetch's round trip and a thread
//! ends once its partitions reach the end offsets seen at the start. In
//! `e2e` mode the latency is from each event's send stamp to its receipt.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ringbus::client::{split_fetch, ClientError, Connection};
use ringbus::protocol::api::FetchRequest;
use ringbus::protocol::batch;
use ringbus::protocol::ApiKey;

use crate::net::{wait_readable, Topology};
use crate::payload::STAMP_HEADER;
use crate::shared::{record_latency, Clock, Counters, ThreadResult};

/// Maximum records blob one fetch requests.
pub const FETCH_BYTES_MAX: u32 = 4 << 20;
/// Time in ms the broker keeps a fetch that finds no new data.
const FETCH_WAIT_MS: u32 = 100;
/// How long e2e consumers wait for the last events once producers finish.
pub const E2E_DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// The partitions a consumer thread reads and when it stops.
pub struct ConsumerPlan {
    pub topic: Arc<str>,
    pub topology: Arc<Topology>,
    /// `(partition, start offset, end offset)`; `consume` mode stops at the
    /// end offset, `e2e` ignores it.
    pub partitions: Vec<(u32, u64, u64)>,
    pub e2e: bool,
    /// Measured events over all consumer threads (`consume --messages`).
    pub quota: Option<u64>,
    /// When measurement stops in a `--duration-s` run.
    pub end: Option<Instant>,
    pub clock: Clock,
    pub counters: Arc<Counters>,
}

struct PartitionState {
    partition: u32,
    position: u64,
    end: u64,
    shard: usize,
    /// Correlation id and send time of the fetch in flight.
    outstanding: Option<(u32, Instant)>,
}

/// Runs one consumer thread until its plan ends.
pub fn run(plan: ConsumerPlan) -> ThreadResult {
    let mut result = ThreadResult::new();
    let partitions: Vec<u32> = plan.partitions.iter().map(|p| p.0).collect();
    let mut conns = match plan.topology.connect(&partitions, "loadgen-consumer") {
        Ok(conns) => conns,
        Err(err) => {
            result.failure = Some(format!("consumer cannot connect: {err}"));
            return result;
        }
    };
    let mut states: Vec<PartitionState> = plan
        .partitions
        .iter()
        .map(|&(partition, position, end)| PartitionState {
            partition,
            position,
            end,
            shard: plan.topology.shard_of(partition),
            outstanding: None,
        })
        .collect();
    if let Err(err) = consume(&plan, &mut conns, &mut states, &mut result) {
        result.failure = Some(format!("consumer failed: {err}"));
        plan.counters.abort.store(true, Ordering::Relaxed);
    }
    result
}

fn consume(
    plan: &ConsumerPlan,
    conns: &mut [Option<Connection>],
    states: &mut [PartitionState],
    result: &mut ThreadResult,
) -> Result<(), ClientError> {
    let mut drain_deadline: Option<Instant> = None;
    loop {
        if finished(plan, states, &mut drain_deadline) {
            return Ok(());
        }
        for state in states.iter_mut() {
            if state.outstanding.is_some() || (!plan.e2e && state.position >= state.end) {
                continue;
            }
            let request = FetchRequest {
                topic: plan.topic.to_string(),
                partition: state.partition,
                offset: state.position,
                max_bytes: FETCH_BYTES_MAX,
                max_wait_ms: FETCH_WAIT_MS,
                min_bytes: 1,
            };
            let conn = conns[state.shard]
                .as_mut()
                .expect("connection per owning shard");
            let correlation_id = conn.send(ApiKey::Fetch, &request)?;
            state.outstanding = Some((correlation_id, Instant::now()));
        }
        let waiting: Vec<(usize, &Connection)> = conns
            .iter()
            .enumerate()
            .filter_map(|(shard, conn)| conn.as_ref().map(|conn| (shard, conn)))
            .collect();
        let ready = wait_readable(
            &waiting,
            Instant::now() + Duration::from_millis(u64::from(FETCH_WAIT_MS) * 2),
        )?;
        for shard in ready {
            let conn = conns[shard].as_mut().expect("readable connection");
            receive(plan, conn, shard, states, result)?;
        }
    }
}

/// Checks whether this thread is done, and starts the e2e drain timer once
/// producers end.
fn finished(
    plan: &ConsumerPlan,
    states: &[PartitionState],
    drain_deadline: &mut Option<Instant>,
) -> bool {
    let counters = &plan.counters;
    if counters.aborted() {
        return true;
    }
    let consumed = counters.messages.load(Ordering::Relaxed);
    if plan.e2e {
        if !counters.producers_done.load(Ordering::Acquire) {
            return false;
        }
        if consumed >= counters.produced.load(Ordering::Relaxed) {
            return true;
        }
        let deadline = *drain_deadline.get_or_insert_with(|| Instant::now() + E2E_DRAIN_TIMEOUT);
        return Instant::now() >= deadline;
    }
    if plan.quota.is_some_and(|quota| consumed >= quota)
        || plan.end.is_some_and(|end| Instant::now() >= end)
    {
        return true;
    }
    states
        .iter()
        .all(|s| s.position >= s.end && s.outstanding.is_none())
}

fn receive(
    plan: &ConsumerPlan,
    conn: &mut Connection,
    shard: usize,
    states: &mut [PartitionState],
    result: &mut ThreadResult,
) -> Result<(), ClientError> {
    let reply = conn.recv()?;
    let received_at = Instant::now();
    let correlation_id = reply.header.correlation_id;
    let state = states
        .iter_mut()
        .find(|s| s.shard == shard && s.outstanding.is_some_and(|(id, _)| id == correlation_id))
        .ok_or_else(|| {
            ClientError::Protocol(format!(
                "fetch reply with unknown correlation id {correlation_id}"
            ))
        })?;
    let (_, sent_at) = state
        .outstanding
        .take()
        .expect("matched an outstanding fetch");
    let fetched = split_fetch(reply.into_result()?)?;
    let (events, bytes) = if plan.e2e {
        read_stamped(plan, &fetched.records, state, received_at, result)?
    } else {
        let counted = count_records(&fetched.records, state)?;
        if sent_at >= plan.clock.measure_from && counted.0 > 0 {
            record_latency(&mut result.latency_us, received_at - sent_at, 1);
        }
        if sent_at >= plan.clock.measure_from {
            counted
        } else {
            (0, 0)
        }
    };
    if events > 0 {
        result.messages += events;
        result.bytes += bytes;
        result.complete_at(received_at);
        plan.counters.add(events, bytes);
    }
    Ok(())
}

/// Validates each batch (CRC included) and moves the position past it;
/// returns the records and value bytes at or after the old position.
fn count_records(records: &Bytes, state: &mut PartitionState) -> Result<(u64, u64), ClientError> {
    let mut rest = &records[..];
    let (mut events, mut bytes) = (0, 0);
    while !rest.is_empty() {
        let info = batch::validate(rest).map_err(|err| corrupt(state.partition, err))?;
        let (one, tail) = rest.split_at(info.size_bytes);
        let base = batch::base_offset(one);
        let last = base + u64::from(info.last_offset_delta);
        if last >= state.position {
            for view in batch::records(one) {
                let view = view.map_err(|err| corrupt(state.partition, err))?;
                if view.offset >= state.position {
                    events += 1;
                    bytes += view.value.map_or(0, |v| v.len() as u64);
                }
            }
            state.position = last + 1;
        }
        rest = tail;
    }
    Ok((events, bytes))
}

/// Records the latency of each stamped event sent after the warmup.
fn read_stamped(
    plan: &ConsumerPlan,
    records: &Bytes,
    state: &mut PartitionState,
    received_at: Instant,
    result: &mut ThreadResult,
) -> Result<(u64, u64), ClientError> {
    let mut rest = &records[..];
    let (mut events, mut bytes) = (0, 0);
    while !rest.is_empty() {
        let info = batch::validate(rest).map_err(|err| corrupt(state.partition, err))?;
        let (one, tail) = rest.split_at(info.size_bytes);
        for view in batch::records(one) {
            let view = view.map_err(|err| corrupt(state.partition, err))?;
            if view.offset < state.position {
                continue;
            }
            state.position = view.offset + 1;
            let stamp = view
                .headers
                .clone()
                .find(|(name, _)| *name == STAMP_HEADER)
                .and_then(|(_, v)| v);
            let Some(sent_at) = stamp
                .and_then(|v| <[u8; 8]>::try_from(v).ok())
                .map(u64::from_be_bytes)
            else {
                continue;
            };
            let sent_at = plan.clock.instant_of(sent_at);
            if sent_at < plan.clock.measure_from {
                continue;
            }
            record_latency(
                &mut result.latency_us,
                received_at.saturating_duration_since(sent_at),
                1,
            );
            events += 1;
            bytes += view.value.map_or(0, |v| v.len() as u64);
        }
        rest = tail;
    }
    Ok((events, bytes))
}

fn corrupt(partition: u32, err: batch::BatchError) -> ClientError {
    ClientError::Protocol(format!("partition {partition}: {err}"))
}
