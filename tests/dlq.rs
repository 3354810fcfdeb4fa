//! The retry orchestrator against real brokers on 127.0.0.1: back-off
//! timings, jitter bounds, bad input, the HTTP admin API and the whole
//! fail -> retry -> poison -> alert -> redrive cycle.

mod common;
mod dlq_support;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{http_get, http_request, Broker};
use dlq_support::*;
use ringbus::client::{Client, ConsumerConfig, RetryConsumer, StartFrom};
use ringbus::protocol::dlq::DlqCommand;
use ringbus::protocol::ErrorCode;

fn policy(
    max_attempts: &str,
    initial_ms: &str,
    max_ms: &str,
    jitter: &str,
) -> Vec<(&'static str, String)> {
    vec![
        ("max_attempts", max_attempts.to_owned()),
        ("initial_backoff_ms", initial_ms.to_owned()),
        ("backoff_multiplier", "2.0".to_owned()),
        ("max_backoff_ms", max_ms.to_owned()),
        ("jitter", jitter.to_owned()),
    ]
}

fn create(client: &mut Client, name: &str, partitions: u32, pairs: &[(&'static str, String)]) {
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    client.create_topic(name, partitions, &pairs).unwrap();
}

fn number(value: &serde_json::Value, field: &str) -> i64 {
    value[field]
        .as_i64()
        .unwrap_or_else(|| panic!("{field} missing in {value}"))
}

#[test]
fn backoff_doubles_then_poison() {
    let broker = Broker::start(1);
    let addr = broker.main_addr();
    let mut client = Client::connect(&addr).unwrap();
    create(&mut client, "pay", 1, &policy("5", "100", "1000", "0"));
    produce_round_robin(&addr, "pay", 1, 1);
    let config = ConsumerConfig {
        start: StartFrom::Earliest,
        max_wait_ms: 20,
        ..ConsumerConfig::default()
    };
    let mut consumer = RetryConsumer::connect(&addr, "pay", config).unwrap();
    let mut attempts_seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while list(&mut client, "pay", "poison").is_empty() {
        assert!(
            Instant::now() < deadline,
            "no poison entry; attempts seen {attempts_seen:?}"
        );
        for delivery in consumer.poll(Duration::from_millis(50)).unwrap() {
            attempts_seen.push(delivery.attempt());
            let reply = consumer.fail(&delivery, "downstream timeout").unwrap();
            assert!(reply.changed);
        }
    }
    assert_eq!(attempts_seen, vec![1, 2, 3, 4, 5]);
    // The index turns an entry poison before its poison record is synced and
    // readable, so read the history until that record shows.
    let history = loop {
        let records = client
            .dlq(&DlqCommand::Show {
                topic: "pay".into(),
                partition: 0,
                offset: 0,
            })
            .unwrap();
        let history: Vec<serde_json::Value> = records
            .entries
            .iter()
            .map(|e| serde_json::from_str(e).unwrap())
            .collect();
        if history.last().is_some_and(|r| r["state"] == "poison") || Instant::now() >= deadline {
            break history;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let pending: Vec<&serde_json::Value> =
        history.iter().filter(|r| r["state"] == "pending").collect();
    let delays: Vec<i64> = pending
        .iter()
        .map(|r| number(r, "next_due_ms") - number(r, "last_failure_ms"))
        .collect();
    assert_eq!(
        delays,
        vec![100, 200, 400, 800, 0],
        "nominal delays, then poison at once"
    );
    assert_eq!(history.last().unwrap()["state"], "poison");
    assert_eq!(
        history.last().unwrap()["reason_history"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
    // Each copy in pay.retry is produced no earlier than its entry was due.
    let copies = read_partition(&mut client, "pay.retry", 0);
    assert_eq!(copies.len(), 4);
    for (copy, entry) in copies.iter().zip(&pending) {
        let due_ms = number(entry, "next_due_ms");
        assert!(
            copy.timestamp_ms >= due_ms,
            "copy at {} before due {due_ms}",
            copy.timestamp_ms
        );
        println!(
            "attempt {} published {} ms after due",
            header(copy, "attempt").unwrap(),
            copy.timestamp_ms - due_ms
        );
        assert_eq!(header(copy, "source_topic"), Some("pay"));
        assert_eq!(header(copy, "source_offset"), Some("0"));
        assert!(header(copy, "idempotency_key").is_some());
    }
    assert_eq!(copies[0].value.as_deref(), Some(&b"event-0"[..]));
}

#[test]
fn jitter_stays_within_bounds() {
    let broker = Broker::start(1);
    let addr = broker.main_addr();
    let mut client = Client::connect(&addr).unwrap();
    // Long delays, so the entries are still pending when listed.
    create(
        &mut client,
        "jit",
        2,
        &policy("3", "60000", "600000", "0.2"),
    );
    produce_round_robin(&addr, "jit", 2, 400);
    let requests: Vec<_> = (0..400u64)
        .map(|i| fail_request("jit", (i % 2) as u32, i / 2, "flaky", "timeout"))
        .collect();
    fail_all(&mut client, &requests);
    let entries = list(&mut client, "jit", "pending");
    assert_eq!(entries.len(), 400);
    let mut distinct = std::collections::HashSet::new();
    for entry in &entries {
        let delay_ms = number(entry, "next_due_ms") - number(entry, "last_failure_ms");
        assert!(
            (48_000..=72_000).contains(&delay_ms),
            "delay {delay_ms} outside 60000 ± 20 %"
        );
        distinct.insert(delay_ms);
    }
    assert!(
        distinct.len() > 100,
        "only {} distinct delays",
        distinct.len()
    );
}

#[test]
fn bad_fail_appends_nothing() {
    let broker = Broker::start(2);
    let addr = broker.main_addr();
    let mut client = Client::connect(&addr).unwrap();
    create(&mut client, "ok", 2, &policy("3", "60000", "60000", "0"));
    client.create_topic("plain", 1, &[]).unwrap();
    produce_round_robin(&addr, "ok", 2, 2);
    produce_round_robin(&addr, "plain", 1, 1);
    let cases = [
        (
            fail_request("ok", 0, 5, "r", ""),
            ErrorCode::OffsetOutOfRange,
            "offset 5",
        ),
        (
            fail_request("ok", 9, 0, "r", ""),
            ErrorCode::UnknownPartition,
            "partition 9",
        ),
        (
            fail_request("missing", 0, 0, "r", ""),
            ErrorCode::UnknownTopic,
            "missing",
        ),
        (
            fail_request("plain", 0, 0, "r", ""),
            ErrorCode::NoRetryPolicy,
            "plain",
        ),
        (
            fail_request("ok.dlq", 0, 0, "r", ""),
            ErrorCode::NoRetryPolicy,
            "ok.dlq",
        ),
        (
            fail_request("ok", 0, 0, "r", "bad\tclass"),
            ErrorCode::InvalidRequest,
            "failure class",
        ),
        (
            fail_request("ok", 0, 0, "r", &"c".repeat(65)),
            ErrorCode::InvalidRequest,
            "failure class",
        ),
    ];
    for (request, code, named) in cases {
        let err = client.fail(&request).unwrap_err();
        assert_eq!(err.code(), Some(code), "{request:?}: {err}");
        assert!(
            err.to_string().contains(named),
            "{err} does not name {named}"
        );
    }
    for partition in 0..2 {
        assert_eq!(client.list_offsets("ok.dlq", partition, -1).unwrap(), 0);
    }
    // A repeated report of the same event and attempt changes nothing.
    let first = client.fail(&fail_request("ok", 1, 0, "r", "")).unwrap();
    let again = client.fail(&fail_request("ok", 1, 0, "other", "")).unwrap();
    assert!(first.changed);
    assert!(!again.changed);
    assert_eq!(again.dlq_offset, first.dlq_offset);
    assert_eq!(client.list_offsets("ok.dlq", 1, -1).unwrap(), 1);
    // The CLI reports errors with their message and a non-zero exit code.
    let (code, _, stderr) = cli(
        &addr,
        &[
            "fail",
            "plain",
            "--partition",
            "0",
            "--offset",
            "0",
            "--reason",
            "x",
        ],
    );
    assert_ne!(code, 0);
    assert!(stderr.contains("no retry policy"), "{stderr}");
    let (code, _, stderr) = cli(&addr, &["dlq", "list", "ok", "--state", "stuck"]);
    assert_ne!(code, 0);
    assert!(stderr.contains("stuck"), "{stderr}");
    // The companions go with their topic, and not on their own.
    let err = client.delete_topic("ok.dlq").unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::InvalidRequest), "{err}");
    client.delete_topic("ok").unwrap();
    let names: Vec<String> = client
        .metadata(&[])
        .unwrap()
        .topics
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert!(!names.iter().any(|n| n.starts_with("ok")), "{names:?}");
}

#[test]
fn http_admin_lists_and_fails() {
    let broker = Broker::start(2);
    let addr = broker.main_addr();
    let http = broker.addrs.http.clone();
    let mut client = Client::connect(&addr).unwrap();
    create(&mut client, "web", 2, &policy("3", "60000", "60000", "0"));
    produce_round_robin(&addr, "web", 2, 4);
    let body = r#"{"topic":"web","partition":1,"offset":1,"reason":"bad total","class":"schema"}"#;
    let (status, reply) = http_request(&http, "POST", "/admin/fail", Some(body)).unwrap();
    assert_eq!(status, 200, "{reply}");
    let (status, reply) = http_request(
        &http,
        "POST",
        "/admin/fail",
        Some(&body.replace("web", "nope")),
    )
    .unwrap();
    assert_eq!(status, 404, "{reply}");
    client
        .fail(&fail_request("web", 0, 0, "slow", "timeout"))
        .unwrap();
    wait_for_state(&mut client, "web", "poison", 1, Duration::from_secs(10));
    let (status, reply) = http_get(&http, "/admin/dlq/web?state=pending").unwrap();
    assert_eq!(status, 200, "{reply}");
    let listed: serde_json::Value = serde_json::from_str(&reply).unwrap();
    assert_eq!(listed["matched"], 1);
    assert_eq!(listed["entries"][0]["source_offset"], 0);
    let (status, reply) = http_get(&http, "/admin/dlq/web/1/1").unwrap();
    assert_eq!(status, 200, "{reply}");
    let shown: serde_json::Value = serde_json::from_str(&reply).unwrap();
    let states: Vec<&str> = shown["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, vec!["pending", "poison"]);
    let (status, _) = http_get(&http, "/admin/dlq/web/1/3").unwrap();
    assert_eq!(status, 404);
    let (status, reply) = http_request(
        &http,
        "POST",
        "/admin/dlq/web/purge",
        Some(r#"{"state":"pending"}"#),
    )
    .unwrap();
    assert_eq!(status, 200, "{reply}");
    let purged: serde_json::Value = serde_json::from_str(&reply).unwrap();
    assert_eq!(purged["changed"], 1);
    assert!(list(&mut client, "web", "pending").is_empty());
    assert_eq!(
        list(&mut client, "web", "").len(),
        1,
        "purged entries are hidden"
    );
}

/// Starts a webhook receiver on 127.0.0.1 that replies 200 and keeps each body.
fn webhook_receiver() -> (String, Arc<Mutex<Vec<serde_json::Value>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let kept = bodies.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = value.trim().parse().unwrap();
                }
            }
            let mut body = vec![0u8; length];
            reader.read_exact(&mut body).unwrap();
            kept.lock()
                .unwrap()
                .push(serde_json::from_slice(&body).unwrap());
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    (url, bodies)
}

#[test]
fn thousand_events_retry_poison_redrive() {
    let (url, bodies) = webhook_receiver();
    let extra = format!("\n[alerts]\nwebhook_urls = [\"{url}\"]\naggregate_interval_ms = 500\n");
    let broker = Broker::start_with(2, &extra);
    let addr = broker.main_addr();
    let mut client = Client::connect(&addr).unwrap();
    create(&mut client, "orders", 4, &policy("3", "50", "200", "0"));
    produce_round_robin(&addr, "orders", 4, 1_000);
    let config = ConsumerConfig {
        start: StartFrom::Earliest,
        max_wait_ms: 20,
        ..ConsumerConfig::default()
    };
    let mut consumer = RetryConsumer::connect(&addr, "orders", config).unwrap();
    let mut fails = Client::connect(&addr).unwrap();
    let mut seen: HashMap<(u32, u64), Vec<u32>> = HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut quiet_polls = 0;
    while quiet_polls < 5 {
        assert!(Instant::now() < deadline, "deliveries did not settle");
        let deliveries = consumer.poll(Duration::from_millis(100)).unwrap();
        if deliveries.is_empty() {
            let poison = list(&mut client, "orders", "poison").len();
            quiet_polls = if poison == 1_000 { quiet_polls + 1 } else { 0 };
            continue;
        }
        let mut requests = Vec::new();
        for delivery in &deliveries {
            let source_offset = header(&delivery.record, "source_offset")
                .map_or(delivery.record.offset, |o| o.parse().unwrap());
            seen.entry((delivery.record.partition, source_offset))
                .or_default()
                .push(delivery.attempt());
            requests.push(fail_request(
                &delivery.topic,
                delivery.record.partition,
                delivery.record.offset,
                "always",
                "bug",
            ));
        }
        fail_all(&mut fails, &requests);
    }
    assert_eq!(seen.len(), 1_000, "every event delivered");
    for (event, attempts) in &seen {
        assert_eq!(attempts, &vec![1, 2, 3], "event {event:?}");
    }
    let (code, stdout, stderr) = cli(
        &addr,
        &[
            "dlq", "list", "orders", "--state", "poison", "--output", "json",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1_000);
    for line in &lines {
        let entry: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(entry["state"], "poison");
        assert_eq!(entry["attempt"], 3);
    }
    // Alerts arrive aggregated: far fewer POSTs than poison events.
    let deadline = Instant::now() + Duration::from_secs(15);
    let total = || {
        bodies
            .lock()
            .unwrap()
            .iter()
            .map(|b| b["count"].as_u64().unwrap())
            .sum::<u64>()
    };
    while total() < 1_000 {
        assert!(
            Instant::now() < deadline,
            "webhook got {} of 1000 poison events",
            total()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let received = bodies.lock().unwrap().clone();
    println!("webhook POSTs for 1000 poison events: {}", received.len());
    assert!(received.len() <= 50, "{} POSTs", received.len());
    for body in &received {
        assert_eq!(body["kind"], "poison_message");
        assert_eq!(body["topic"], "orders");
        assert_eq!(body["class"], "bug");
        assert_eq!(body["attempts"], 3);
        assert_eq!(body["last_reason"], "always");
    }
    let alerts = read_partition(&mut client, "__alerts", 0);
    assert_eq!(alerts.len(), 1_000);
    let (code, stdout, stderr) = cli(&addr, &["dlq", "redrive", "orders", "--to", "source"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("redrove 1000 of 1000"), "{stdout}");
    let redriven: Vec<_> = read_topic(&mut client, "orders", 4)
        .into_iter()
        .filter(|r| header(r, "redrive_generation") == Some("1"))
        .collect();
    assert_eq!(redriven.len(), 1_000);
    assert!(redriven.iter().all(|r| header(r, "attempt") == Some("1")));
    assert!(list(&mut client, "orders", "poison").is_empty());
    assert_eq!(list(&mut client, "orders", "redriven").len(), 1_000);
}
