//! Renders shard snapshots as Prometheus text exposition format 0.0.4:
//! per-shard and per-topic counters, latency summaries per shard, partition
//! offsets and consumer lag.

use std::collections::BTreeMap;
use std::fmt::Write;

use hdrhistogram::Histogram;

use super::{ShardSnapshot, TopicCounters};

/// Quantiles written for each latency summary; 1.0 is the maximum.
const QUANTILES: [f64; 6] = [0.5, 0.9, 0.99, 0.999, 0.9999, 1.0];

/// Content type of the text this module writes.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// One counter field of [`TopicCounters`], its metric suffix and help.
type Field = (&'static str, &'static str, fn(&TopicCounters) -> u64);

const FIELDS: [Field; 6] = [
    (
        "bytes_in_total",
        "Record-batch bytes appended by produce requests.",
        |c| c.bytes_in,
    ),
    (
        "records_in_total",
        "Records appended by produce requests.",
        |c| c.records_in,
    ),
    (
        "bytes_out_total",
        "Record-batch bytes returned by fetch requests.",
        |c| c.bytes_out,
    ),
    (
        "records_out_total",
        "Records returned by fetch requests.",
        |c| c.records_out,
    ),
    (
        "produce_requests_total",
        "Produce requests acknowledged.",
        |c| c.produce_requests,
    ),
    ("fetch_requests_total", "Fetch requests answered.", |c| {
        c.fetch_requests
    }),
];

/// Renders the snapshots of every shard that replied. `missing` lists the
/// shards that did not, reported as `ringbus_shard_up 0`.
pub fn render(shards: &[ShardSnapshot], missing: &[usize]) -> String {
    let mut out = String::new();
    render_up(&mut out, shards, missing);
    render_shard_counters(&mut out, shards);
    render_topic_counters(&mut out, shards);
    render_latency(
        &mut out,
        shards,
        "produce",
        "Produce time on the owning shard, to the acknowledgement.",
        |s| &s.produce_latency_us,
    );
    render_latency(
        &mut out,
        shards,
        "fetch",
        "Fetch time on the owning shard, long-poll waits included.",
        |s| &s.fetch_latency_us,
    );
    render_latency(
        &mut out,
        shards,
        "fsync",
        "Duration of one fdatasync of a segment file.",
        |s| &s.fsync_latency_us,
    );
    render_offsets(&mut out, shards);
    render_lag(&mut out, shards);
    out
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// Escapes a label value: backslash, double quote and line feed.
pub fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn render_up(out: &mut String, shards: &[ShardSnapshot], missing: &[usize]) {
    family(
        out,
        "ringbus_shard_up",
        "gauge",
        "1 when the shard answered this scrape, else 0.",
    );
    let mut states: Vec<(usize, u8)> = shards.iter().map(|s| (s.shard, 1)).collect();
    states.extend(missing.iter().map(|&shard| (shard, 0)));
    states.sort_unstable();
    for (shard, up) in states {
        let _ = writeln!(out, "ringbus_shard_up{{shard=\"{shard}\"}} {up}");
    }
    family(
        out,
        "ringbus_shard_connections",
        "gauge",
        "Open client connections on the shard.",
    );
    for snapshot in shards {
        let _ = writeln!(
            out,
            "ringbus_shard_connections{{shard=\"{}\"}} {}",
            snapshot.shard, snapshot.connections
        );
    }
}

fn render_shard_counters(out: &mut String, shards: &[ShardSnapshot]) {
    for (suffix, help, get) in FIELDS {
        let name = format!("ringbus_shard_{suffix}");
        family(out, &name, "counter", help);
        for snapshot in shards {
            let _ = writeln!(
                out,
                "{name}{{shard=\"{}\"}} {}",
                snapshot.shard,
                get(&snapshot.totals())
            );
        }
    }
}

fn render_topic_counters(out: &mut String, shards: &[ShardSnapshot]) {
    let mut topics: BTreeMap<&str, TopicCounters> = BTreeMap::new();
    for snapshot in shards {
        for (topic, counters) in &snapshot.topics {
            let total = topics.entry(topic).or_default();
            total.bytes_in += counters.bytes_in;
            total.records_in += counters.records_in;
            total.bytes_out += counters.bytes_out;
            total.records_out += counters.records_out;
            total.produce_requests += counters.produce_requests;
            total.fetch_requests += counters.fetch_requests;
            total.schema_rejections += counters.schema_rejections;
        }
    }
    for (suffix, help, get) in FIELDS {
        let name = format!("ringbus_topic_{suffix}");
        family(out, &name, "counter", help);
        for (topic, counters) in &topics {
            let _ = writeln!(
                out,
                "{name}{{topic=\"{}\"}} {}",
                escape(topic),
                get(counters)
            );
        }
    }
    let name = "ringbus_schema_rejections_total";
    family(
        out,
        name,
        "counter",
        "Produced records rejected by schema validation.",
    );
    for (topic, counters) in &topics {
        let _ = writeln!(
            out,
            "{name}{{topic=\"{}\"}} {}",
            escape(topic),
            counters.schema_rejections
        );
    }
}

fn render_latency(
    out: &mut String,
    shards: &[ShardSnapshot],
    what: &str,
    help: &str,
    histogram_of: fn(&ShardSnapshot) -> &Histogram<u64>,
) {
    let name = format!("ringbus_{what}_latency_us");
    family(
        out,
        &name,
        "summary",
        &format!("{help} In µs; _sum is estimated from the histogram's mean."),
    );
    for snapshot in shards {
        let histogram = histogram_of(snapshot);
        let shard = snapshot.shard;
        for quantile in QUANTILES {
            let value = if histogram.is_empty() {
                0
            } else {
                histogram.value_at_quantile(quantile)
            };
            let _ = writeln!(
                out,
                "{name}{{shard=\"{shard}\",quantile=\"{quantile}\"}} {value}"
            );
        }
        let sum = (histogram.mean() * histogram.len() as f64).round() as u64;
        let _ = writeln!(out, "{name}_sum{{shard=\"{shard}\"}} {sum}");
        let _ = writeln!(out, "{name}_count{{shard=\"{shard}\"}} {}", histogram.len());
    }
}

fn render_offsets(out: &mut String, shards: &[ShardSnapshot]) {
    let mut partitions: Vec<_> = shards.iter().flat_map(|s| &s.partitions).collect();
    partitions.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
    let name = "ringbus_partition_high_watermark";
    family(
        out,
        name,
        "gauge",
        "Offset after the last record readers can see.",
    );
    for p in &partitions {
        let _ = writeln!(
            out,
            "{name}{{topic=\"{}\",partition=\"{}\"}} {}",
            escape(&p.topic),
            p.partition,
            p.high_watermark
        );
    }
    let name = "ringbus_partition_log_start_offset";
    family(out, name, "gauge", "First offset still stored.");
    for p in &partitions {
        let _ = writeln!(
            out,
            "{name}{{topic=\"{}\",partition=\"{}\"}} {}",
            escape(&p.topic),
            p.partition,
            p.log_start_offset
        );
    }
}

/// Lag is the high watermark minus the group's committed offset, 0 when
/// the group is ahead (after a truncation) or the partition is gone.
fn render_lag(out: &mut String, shards: &[ShardSnapshot]) {
    // Topic name and high watermark per (topic id, partition).
    let partitions: BTreeMap<(u32, u32), (&str, u64)> = shards
        .iter()
        .flat_map(|s| &s.partitions)
        .map(|p| {
            (
                (p.topic_id, p.partition),
                (p.topic.as_str(), p.high_watermark),
            )
        })
        .collect();
    let mut committed: Vec<_> = shards.iter().flat_map(|s| &s.committed).collect();
    committed.sort_by(|a, b| {
        (&a.group, a.topic_id, a.partition).cmp(&(&b.group, b.topic_id, b.partition))
    });
    let name = "ringbus_consumer_lag";
    family(
        out,
        name,
        "gauge",
        "Records between a group's committed offset and the high watermark.",
    );
    for c in committed {
        let Some(&(topic, high_watermark)) = partitions.get(&(c.topic_id, c.partition)) else {
            continue;
        };
        let lag = high_watermark.saturating_sub(c.offset);
        let _ = writeln!(
            out,
            "{name}{{group=\"{}\",topic=\"{}\",partition=\"{}\"}} {lag}",
            escape(&c.group),
            escape(topic),
            c.partition
        );
    }
}
