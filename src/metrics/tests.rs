//! Tests of the shard counters, the Prometheus rendering and its parser.

use std::time::Duration;

use super::prometheus::render;
use super::text::{find, parse};
use super::*;

fn snapshot_after_traffic() -> ShardSnapshot {
    record_produce(7, "orders", 1000, 100_000, Duration::from_micros(250));
    record_produce(7, "orders", 500, 50_000, Duration::from_micros(750));
    record_fetch(7, "orders", 1500, 150_000, Duration::from_millis(2));
    record_schema_rejections(7, "orders", 3);
    record_fsync(Duration::from_millis(4));
    let mut snapshot = ShardSnapshot::take(1);
    snapshot.partitions.push(PartitionOffsets {
        topic_id: 7,
        topic: "orders".into(),
        partition: 0,
        log_start_offset: 0,
        high_watermark: 1500,
    });
    snapshot.committed.push(CommittedOffset {
        group: "billing \"eu\"".into(),
        topic_id: 7,
        partition: 0,
        offset: 1200,
    });
    snapshot
}

#[test]
fn counters_add_per_request() {
    let snapshot = snapshot_after_traffic();
    let totals = snapshot.totals();
    assert_eq!(totals.records_in, 1500);
    assert_eq!(totals.bytes_in, 150_000);
    assert_eq!(totals.records_out, 1500);
    assert_eq!(totals.bytes_out, 150_000);
    assert_eq!(totals.produce_requests, 2);
    assert_eq!(totals.fetch_requests, 1);
    assert_eq!(totals.schema_rejections, 3);
    assert_eq!(snapshot.produce_latency_us.len(), 2);
    assert_eq!(snapshot.fsync_latency_us.len(), 1);
}

#[test]
fn rendered_text_parses_back() {
    let snapshot = snapshot_after_traffic();
    let text = render(&[snapshot], &[0]);
    let samples = parse(&text).expect("valid exposition");
    let value = |name: &str, labels: &[(&str, &str)]| find(&samples, name, labels);
    assert_eq!(value("ringbus_shard_up", &[("shard", "0")]), Some(0.0));
    assert_eq!(value("ringbus_shard_up", &[("shard", "1")]), Some(1.0));
    assert_eq!(
        value("ringbus_topic_records_in_total", &[("topic", "orders")]),
        Some(1500.0)
    );
    assert_eq!(
        value("ringbus_shard_bytes_out_total", &[("shard", "1")]),
        Some(150_000.0)
    );
    assert_eq!(
        value("ringbus_schema_rejections_total", &[("topic", "orders")]),
        Some(3.0)
    );
    assert_eq!(
        value("ringbus_produce_latency_us_count", &[("shard", "1")]),
        Some(2.0)
    );
    let p99 = value(
        "ringbus_produce_latency_us",
        &[("shard", "1"), ("quantile", "0.99")],
    )
    .unwrap();
    assert!((740.0..=760.0).contains(&p99), "p99 {p99}");
    let lag = [
        ("group", "billing \"eu\""),
        ("topic", "orders"),
        ("partition", "0"),
    ];
    assert_eq!(value("ringbus_consumer_lag", &lag), Some(300.0));
}

#[test]
fn parser_rejects_bad_lines() {
    let cases = [
        "9bad 1",
        "name{label=\"unterminated} 1",
        "name{label=\"x\"}",
        "name 1 2 3",
        "name one",
        "# TYPE name table",
        "name{label=\"\\q\"} 1",
    ];
    for case in cases {
        assert!(parse(case).is_err(), "accepted {case:?}");
    }
    let good = parse(
        "# HELP a_b help text\n# TYPE a_b counter\na_b{x=\"1\",y=\"a\\\"b\"} +Inf 1700000000\n",
    )
    .unwrap();
    assert_eq!(good.len(), 1);
    assert_eq!(good[0].label("y"), Some("a\"b"));
    assert!(good[0].value.is_infinite());
}
