//! Broker metrics: counters and latency histograms kept per shard thread,
//! rendered as Prometheus text on scrape.
//!
//! Each shard thread owns one [`ShardMetrics`] in a thread-local, so the
//! request path updates it with plain adds: no lock and no atomic, once per
//! request (never per record). A scrape requests a
//! [`ShardSnapshot`] over its query channel (`server::query`) and the
//! control plane merges and renders them (`prometheus`).

pub mod prometheus;
pub mod text;

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::protocol::batch;

/// Highest latency a histogram records, in µs (one hour); larger samples
/// are clamped to it.
pub const LATENCY_US_MAX: u64 = 3_600_000_000;
/// Significant digits of each latency histogram: 2 keeps one histogram
/// near 10 KiB while quantiles stay within 1 %.
const LATENCY_SIGFIG: u8 = 2;

/// Counters of one topic on one shard. Bytes are record-batch bytes as
/// stored, headers included.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TopicCounters {
    pub bytes_in: u64,
    pub records_in: u64,
    pub bytes_out: u64,
    pub records_out: u64,
    pub produce_requests: u64,
    pub fetch_requests: u64,
    /// Records rejected by schema validation on produce.
    pub schema_rejections: u64,
}

/// Everything one shard thread counts.
pub struct ShardMetrics {
    /// Keyed by topic id, with the topic name kept for rendering.
    topics: HashMap<u32, (String, TopicCounters)>,
    /// From the start of a produce on the owning shard to its acknowledgement.
    produce_latency_us: Histogram<u64>,
    /// From the start of a fetch on the owning shard to its reply, long-poll
    /// waits included.
    fetch_latency_us: Histogram<u64>,
    /// One fdatasync of a segment file.
    fsync_latency_us: Histogram<u64>,
}

/// Returns an empty µs latency histogram.
pub fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, LATENCY_US_MAX, LATENCY_SIGFIG).expect("valid histogram bounds")
}

fn record(histogram: &mut Histogram<u64>, latency: Duration) {
    let us = (latency.as_micros() as u64).clamp(1, LATENCY_US_MAX);
    histogram.record(us).expect("value clamped into range");
}

impl ShardMetrics {
    fn new() -> ShardMetrics {
        ShardMetrics {
            topics: HashMap::new(),
            produce_latency_us: latency_histogram(),
            fetch_latency_us: latency_histogram(),
            fsync_latency_us: latency_histogram(),
        }
    }

    fn topic(&mut self, topic_id: u32, topic: &str) -> &mut TopicCounters {
        // The name is copied once per topic, on its first request.
        &mut self
            .topics
            .entry(topic_id)
            .or_insert_with(|| (topic.to_string(), TopicCounters::default()))
            .1
    }
}

thread_local! {
    static SHARD: RefCell<ShardMetrics> = RefCell::new(ShardMetrics::new());
}

/// Counts one acknowledged produce of `records` in `bytes` to `topic`.
pub fn record_produce(topic_id: u32, topic: &str, records: u64, bytes: u64, latency: Duration) {
    SHARD.with_borrow_mut(|shard| {
        let counters = shard.topic(topic_id, topic);
        counters.produce_requests += 1;
        counters.records_in += records;
        counters.bytes_in += bytes;
        record(&mut shard.produce_latency_us, latency);
    });
}

/// Counts one fetch reply carrying `records` in `bytes` from `topic`.
pub fn record_fetch(topic_id: u32, topic: &str, records: u64, bytes: u64, latency: Duration) {
    SHARD.with_borrow_mut(|shard| {
        let counters = shard.topic(topic_id, topic);
        counters.fetch_requests += 1;
        counters.records_out += records;
        counters.bytes_out += bytes;
        record(&mut shard.fetch_latency_us, latency);
    });
}

/// Counts `records` rejected by schema validation in a produce to `topic`.
pub fn record_schema_rejections(topic_id: u32, topic: &str, records: u64) {
    SHARD.with_borrow_mut(|shard| shard.topic(topic_id, topic).schema_rejections += records);
}

/// Records the duration of one fdatasync.
pub fn record_fsync(latency: Duration) {
    SHARD.with_borrow_mut(|shard| record(&mut shard.fsync_latency_us, latency));
}

/// Counts the records in `batches`, whole batches back to back, by reading
/// each batch header; records are not decoded. Counting stops at the first
/// header that does not parse.
pub fn count_records(batches: &[u8]) -> u64 {
    let mut records = 0;
    let mut rest = batches;
    while let Ok(info) = batch::inspect(rest) {
        records += u64::from(info.record_count);
        rest = &rest[info.size_bytes.min(rest.len())..];
    }
    records
}

/// Offsets of one partition at scrape time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionOffsets {
    pub topic_id: u32,
    pub topic: String,
    pub partition: u32,
    pub log_start_offset: u64,
    pub high_watermark: u64,
}

/// A consumer group's committed position in one partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommittedOffset {
    pub group: String,
    /// The topic's id; its name comes from the partition that has the id.
    pub topic_id: u32,
    pub partition: u32,
    /// Next offset the group reads.
    pub offset: u64,
}

/// A copy of one shard's metrics, sent to the control plane on scrape.
#[derive(Clone, Debug)]
pub struct ShardSnapshot {
    pub shard: usize,
    /// Counters per topic name.
    pub topics: Vec<(String, TopicCounters)>,
    pub produce_latency_us: Histogram<u64>,
    pub fetch_latency_us: Histogram<u64>,
    pub fsync_latency_us: Histogram<u64>,
    /// Partitions this shard owns.
    pub partitions: Vec<PartitionOffsets>,
    /// Committed offsets, from the shard that owns the offsets topic.
    pub committed: Vec<CommittedOffset>,
    pub connections: usize,
}

impl ShardSnapshot {
    /// Copies the calling shard thread's counters; the caller fills in
    /// partitions, committed offsets and connections.
    pub fn take(shard: usize) -> ShardSnapshot {
        SHARD.with_borrow(|metrics| {
            let mut topics: Vec<(String, TopicCounters)> = metrics
                .topics
                .values()
                .map(|(name, counters)| (name.clone(), counters.clone()))
                .collect();
            topics.sort_by(|a, b| a.0.cmp(&b.0));
            ShardSnapshot {
                shard,
                topics,
                produce_latency_us: metrics.produce_latency_us.clone(),
                fetch_latency_us: metrics.fetch_latency_us.clone(),
                fsync_latency_us: metrics.fsync_latency_us.clone(),
                partitions: Vec::new(),
                committed: Vec::new(),
                connections: 0,
            }
        })
    }

    /// Sums the counters of every topic on this shard.
    pub fn totals(&self) -> TopicCounters {
        let mut total = TopicCounters::default();
        for (_, counters) in &self.topics {
            total.bytes_in += counters.bytes_in;
            total.records_in += counters.records_in;
            total.bytes_out += counters.bytes_out;
            total.records_out += counters.records_out;
            total.produce_requests += counters.produce_requests;
            total.fetch_requests += counters.fetch_requests;
            total.schema_rejections += counters.schema_rejections;
        }
        total
    }
}

#[cfg(test)]
mod tests;
