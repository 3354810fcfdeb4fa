//! `loadgen` against real brokers on 127.0.0.1: the summary and its output
//! files, coordinated-omission correction across a paused broker, the schema
//! mode with and without a registry, and `/metrics` against what loadgen sent.
//!
//! The broker binary must be built (`cargo build --bin ringbus`);
//! `cargo test --workspace` builds it.

#[path = "../../tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::Broker;
use serde_json::Value;

fn loadgen(broker: &Broker, args: &[&str]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .arg("--broker")
        .arg(broker.main_addr())
        .arg("--http")
        .arg(&broker.addrs.http)
        .args(args)
        .output()
        .expect("run loadgen");
    assert!(
        output.status.success(),
        "loadgen {args:?} failed with {}:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("JSON file")).expect("valid JSON")
}

/// Returns the rows `(value ms, percentile, total count)` and the footer's
/// `Total count` of an `.hgrm` file, checking its layout.
fn parse_hgrm(text: &str) -> (Vec<(f64, f64, u64)>, u64) {
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split_whitespace().collect();
    assert_eq!(
        header,
        ["Value", "Percentile", "TotalCount", "1/(1-Percentile)"]
    );
    assert_eq!(lines.next(), Some(""));
    let mut rows = Vec::new();
    let mut total = None;
    for line in lines {
        if let Some(footer) = line.strip_prefix("#[") {
            if let Some((_, count)) = footer.split_once("Total count    =") {
                total = Some(
                    count
                        .trim_end_matches(']')
                        .trim()
                        .parse()
                        .expect("total count"),
                );
            }
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        assert!(fields.len() == 3 || fields.len() == 4, "row {line:?}");
        rows.push((
            fields[0].parse().expect("value"),
            fields[1].parse().expect("percentile"),
            fields[2].parse().expect("count"),
        ));
    }
    (rows, total.expect("footer with Total count"))
}

#[test]
fn produce_and_consume_write_outputs() {
    let broker = Broker::start(2);
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("produce.json");
    let hgrm = dir.path().join("produce.hgrm");
    let plot = dir.path().join("produce.svg");
    let output = loadgen(
        &broker,
        &[
            "produce",
            "--topic",
            "bench",
            "--partitions",
            "4",
            "--messages",
            "20000",
            "--message-bytes",
            "100",
            "--batch-bytes",
            "16384",
            "--json",
            json.to_str().unwrap(),
            "--hgrm",
            hgrm.to_str().unwrap(),
            "--plot",
            plot.to_str().unwrap(),
        ],
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        stdout.starts_with("produce: 20000 messages, 2000000 bytes"),
        "summary: {stdout}"
    );
    assert!(stdout.contains("p99.99"), "summary: {stdout}");
    assert!(
        !stdout.contains("msg/s  total"),
        "no progress line off a terminal: {stdout}"
    );

    let summary = read_json(&json);
    assert_eq!(summary["mode"], "produce");
    assert_eq!(summary["messages"], 20000);
    assert_eq!(summary["bytes"], 2_000_000);
    assert_eq!(summary["errors"], 0);
    assert!(summary["msgs_per_s"].as_f64().unwrap() > 0.0);
    let latency = &summary["latency_us"];
    for key in ["p50", "p90", "p99", "p999", "p9999", "max"] {
        assert!(
            latency[key].as_u64().is_some(),
            "latency_us.{key} missing: {summary}"
        );
    }
    assert!(latency["p50"].as_u64() <= latency["max"].as_u64());

    let (rows, total) = parse_hgrm(&std::fs::read_to_string(&hgrm).unwrap());
    assert!(total > 0, "one sample per batch");
    assert_eq!(rows.last().unwrap().2, total);
    assert!(rows
        .windows(2)
        .all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1));
    let svg = std::fs::read_to_string(&plot).unwrap();
    assert!(svg.starts_with("<svg"), "SVG start: {svg}");
    assert!(svg.trim_end().ends_with("</svg>"), "SVG end: {svg}");

    let json = dir.path().join("consume.json");
    loadgen(
        &broker,
        &[
            "consume",
            "--topic",
            "bench",
            "--json",
            json.to_str().unwrap(),
        ],
    );
    let summary = read_json(&json);
    assert_eq!(summary["mode"], "consume");
    assert_eq!(summary["messages"], 20000);
    assert_eq!(summary["bytes"], 2_000_000);
    assert_eq!(summary["errors"], 0);
}

#[test]
fn e2e_receives_every_event() {
    let broker = Broker::start(2);
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("e2e.json");
    loadgen(
        &broker,
        &[
            "e2e",
            "--topic",
            "e2e",
            "--partitions",
            "2",
            "--messages",
            "5000",
            "--rate",
            "10000",
            "--json",
            json.to_str().unwrap(),
        ],
    );
    let summary = read_json(&json);
    assert_eq!(summary["mode"], "e2e");
    assert_eq!(summary["messages"], 5000);
    assert_eq!(summary["errors"], 0);
}

/// A closed-loop e2e run ends with batches still in flight, so the
/// consumers must wait for them rather than count them as lost.
#[test]
fn closed_loop_e2e_drains_the_tail() {
    let broker = Broker::start(2);
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("e2e-closed.json");
    loadgen(
        &broker,
        &[
            "e2e",
            "--topic",
            "e2e-closed",
            "--partitions",
            "2",
            "--duration-s",
            "1",
            "--json",
            json.to_str().unwrap(),
        ],
    );
    let summary = read_json(&json);
    assert!(summary["messages"].as_u64().unwrap() > 0);
    assert_eq!(summary["errors"], 0, "{summary}");
}

#[test]
fn open_loop_shows_broker_stall() {
    let broker = Broker::start(1);
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("stall.json");
    let child = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args([
            "--broker",
            &broker.main_addr(),
            "produce",
            "--topic",
            "stall",
            "--rate",
            "2000",
        ])
        .args(["--duration-s", "2.5", "--json", json.to_str().unwrap()])
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn loadgen");
    std::thread::sleep(Duration::from_millis(1000));
    let pid = broker.pid() as i32;
    // SAFETY: kill(2) on the PID of the broker child this test started.
    unsafe { libc::kill(pid, libc::SIGSTOP) };
    std::thread::sleep(Duration::from_millis(200));
    // SAFETY: as above; resumes the stopped broker.
    unsafe { libc::kill(pid, libc::SIGCONT) };
    let output = child.wait_with_output().expect("wait for loadgen");
    assert!(output.status.success(), "loadgen failed: {}", output.status);
    let summary = read_json(&json);
    let latency = &summary["latency_us"];
    // About 400 of 5000 events fall due during the 200 ms pause. Measured
    // from their intended send times they waited up to 200 ms, so the top
    // 1 % lies close to the pause length.
    assert!(
        latency["max"].as_u64().unwrap() >= 180_000,
        "max hides the stall: {summary}"
    );
    assert!(
        latency["p99"].as_u64().unwrap() >= 100_000,
        "p99 hides the stall: {summary}"
    );
}

#[test]
fn schema_mode_registers_and_validates() {
    let broker = Broker::start(1);
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("orders.json");
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/orders_schema.avsc");
    loadgen(
        &broker,
        &[
            "produce",
            "--topic",
            "orders",
            "--messages",
            "2000",
            "--validation",
            "payload",
        ]
        .into_iter()
        .chain([
            "--schema",
            schema.to_str().unwrap(),
            "--json",
            json.to_str().unwrap(),
        ])
        .collect::<Vec<_>>(),
    );
    let summary = read_json(&json);
    assert_eq!(summary["messages"], 2000);
    assert_eq!(summary["errors"], 0);
    let (status, versions) =
        common::http_get(&broker.addrs.http, "/subjects/orders-value/versions")
            .expect("GET versions");
    assert_eq!(status, 200, "subject registered: {versions}");
    assert_eq!(versions.trim(), "[1]");
    let mut client = ringbus::client::Client::connect(&broker.main_addr()).unwrap();
    let metadata = client.metadata(&["orders"]).unwrap();
    let config = &metadata.topics[0].config;
    assert!(
        config
            .iter()
            .any(|(key, value)| key == "validation" && value.contains("payload")),
        "topic validates payloads: {config:?}"
    );
}

/// Serves one HTTP 404 for every connection, as a control plane without a
/// registry API does, until the test ends.
fn serve_404() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut request = [0u8; 65536];
            let _ = std::io::Read::read(&mut stream, &mut request);
            let reply = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
            let _ = std::io::Write::write_all(&mut stream, reply.as_bytes());
        }
    });
    addr
}

#[test]
fn schema_mode_without_registry_still_produces() {
    let broker = Broker::start(1);
    let http = serve_404();
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/orders_schema.avsc");
    let output = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(["--broker", &broker.main_addr(), "--http", &http])
        .args(["produce", "--topic", "orders", "--messages", "1000"])
        .args([
            "--schema",
            schema.to_str().unwrap(),
            "--validation",
            "payload",
        ])
        .output()
        .expect("run loadgen");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "loadgen failed: {stderr}");
    assert!(
        stdout.starts_with("produce: 1000 messages"),
        "summary: {stdout}"
    );
    assert!(
        stderr.contains("returned 404"),
        "stderr names the 404: {stderr}"
    );
    assert!(
        stderr.contains("without registering"),
        "stderr says what happens: {stderr}"
    );
}

#[test]
fn metrics_match_what_loadgen_sent() {
    let broker = Broker::start(2);
    let dir = tempfile::tempdir().unwrap();
    let hgrm = dir.path().join("produce.hgrm");
    loadgen(
        &broker,
        &[
            "produce",
            "--topic",
            "counted",
            "--partitions",
            "4",
            "--messages",
            "12000",
        ]
        .into_iter()
        .chain(["--batch-bytes", "8192", "--hgrm", hgrm.to_str().unwrap()])
        .collect::<Vec<_>>(),
    );
    loadgen(
        &broker,
        &["consume", "--topic", "counted", "--messages", "12000"],
    );
    let mut client = ringbus::client::Client::connect(&broker.main_addr()).unwrap();
    let high_watermark = client.list_offsets("counted", 1, -1).unwrap() as u64;
    client.commit_offset("audit", "counted", 1, 10).unwrap();

    let (status, text) = common::http_get(&broker.addrs.http, "/metrics").expect("GET /metrics");
    assert_eq!(status, 200);
    let samples = ringbus::metrics::text::parse(&text).expect("valid Prometheus text");
    let value =
        |name: &str, labels: &[(&str, &str)]| ringbus::metrics::text::find(&samples, name, labels);
    let topic = [("topic", "counted")];
    assert_eq!(
        value("ringbus_topic_records_in_total", &topic),
        Some(12000.0)
    );
    assert_eq!(
        value("ringbus_topic_records_out_total", &topic),
        Some(12000.0)
    );
    let bytes_in = value("ringbus_topic_bytes_in_total", &topic).unwrap();
    assert!(
        bytes_in > 1_200_000.0,
        "batch bytes include the 1.2 MB of values: {bytes_in}"
    );
    assert_eq!(
        value("ringbus_topic_bytes_out_total", &topic),
        Some(bytes_in)
    );
    let shard_sum: f64 = ["0", "1"]
        .iter()
        .map(|shard| value("ringbus_shard_records_in_total", &[("shard", shard)]).unwrap())
        .sum();
    assert!(
        shard_sum >= 12000.0,
        "shard totals include the offsets topic: {shard_sum}"
    );
    let requests = value("ringbus_topic_produce_requests_total", &topic).unwrap();
    let latency_count: f64 = ["0", "1"]
        .iter()
        .map(|shard| value("ringbus_produce_latency_us_count", &[("shard", shard)]).unwrap())
        .sum();
    assert!(
        latency_count >= requests,
        "one latency sample per produce request"
    );
    // A closed-loop produce run records one latency sample per batch.
    let (_, batches) = parse_hgrm(&std::fs::read_to_string(&hgrm).unwrap());
    assert_eq!(requests, batches as f64);
    let lag = [("group", "audit"), ("topic", "counted"), ("partition", "1")];
    assert_eq!(
        value("ringbus_consumer_lag", &lag),
        Some((high_watermark - 10) as f64)
    );
    assert_eq!(value("ringbus_shard_up", &[("shard", "1")]), Some(1.0));

    let stats = Command::new(common::ringbus_binary())
        .args(["stats", "--http", &broker.addrs.http])
        .output()
        .expect("run ringbus stats");
    assert!(
        stats.status.success(),
        "ringbus stats failed: {}",
        String::from_utf8_lossy(&stats.stderr)
    );
    let stats = String::from_utf8(stats.stdout).unwrap();
    assert!(stats.contains("counted"), "stats lists the topic: {stats}");
    assert!(stats.contains("audit"), "stats lists the lag: {stats}");
}

#[test]
fn overlarge_flag_values_rejected() {
    let broker = Broker::start(1);
    for flags in [
        ["--duration-s", "1e20"],
        ["--linger-ms", "1e300"],
        ["--warmup-s", "-1"],
        ["--rate", "1e-300"],
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_loadgen"))
            .args(["--broker", &broker.main_addr(), "produce"])
            .args(flags)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{flags:?}: {stderr}");
        assert!(stderr.contains(flags[0]), "{flags:?}: {stderr}");
    }
}

/// An offered rate far beyond what the machine sustains must still end on
/// time, with the events it could not send counted as errors.
#[test]
fn unsustainable_rate_counts_unsent_events() {
    let broker = Broker::start(1);
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("overload.json");
    let output = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args([
            "--broker",
            &broker.main_addr(),
            "produce",
            "--topic",
            "overload",
        ])
        .args([
            "--message-bytes",
            "10",
            "--rate",
            "1e9",
            "--duration-s",
            "0.5",
        ])
        .args(["--json", json.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("were not sent"), "{stderr}");
    let summary = read_json(&json);
    assert!(
        summary["errors"].as_u64().unwrap() > 100_000_000,
        "{summary}"
    );
}

#[test]
fn consume_of_missing_topic_is_an_error() {
    let broker = Broker::start(1);
    let output = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args([
            "--broker",
            &broker.main_addr(),
            "consume",
            "--topic",
            "nosuch",
        ])
        .args(["--duration-s", "1"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("'nosuch' does not exist"), "{stderr}");
}
