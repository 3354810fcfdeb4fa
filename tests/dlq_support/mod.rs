//! Helpers shared by the dead-letter tests: topic setup, producing to
//! known offsets, Fail reports, listings and reading a whole topic.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use ringbus::client::{Client, Producer, ProducerConfig, Record};
use ringbus::protocol::api::FetchRequest;
use ringbus::protocol::dlq::{DlqCommand, FailReply, FailRequest};

/// Produces `count` events round-robin over `partitions`; event `i` lands
/// in partition `i % partitions` at offset `i / partitions` of a new topic.
pub fn produce_round_robin(addr: &str, topic: &str, partitions: u32, count: u64) {
    let mut producer = Producer::connect(addr, ProducerConfig::default()).unwrap();
    for i in 0..count {
        let partition = (i % u64::from(partitions)) as u32;
        let key = format!("key-{i}");
        let value = format!("event-{i}");
        producer
            .send_to(
                topic,
                partition,
                Some(key.as_bytes()),
                value.as_bytes(),
                &[],
            )
            .unwrap();
    }
    producer.flush().unwrap();
}

pub fn fail_request(
    topic: &str,
    partition: u32,
    offset: u64,
    reason: &str,
    class: &str,
) -> FailRequest {
    FailRequest {
        topic: topic.into(),
        partition,
        offset,
        reason: reason.into(),
        class: class.into(),
    }
}

/// Sends Fail reports in pipelined chunks that stay under the broker's
/// in-flight limit.
pub fn fail_all(client: &mut Client, requests: &[FailRequest]) -> Vec<FailReply> {
    requests
        .chunks(500)
        .flat_map(|chunk| client.fail_many(chunk).unwrap())
        .collect()
}

/// Entries of `topic` in `state`, parsed.
pub fn list(client: &mut Client, topic: &str, state: &str) -> Vec<serde_json::Value> {
    let reply = client
        .dlq(&DlqCommand::List {
            topic: topic.into(),
            state: state.into(),
            limit: 0,
        })
        .unwrap();
    reply
        .entries
        .iter()
        .map(|entry| serde_json::from_str(entry).unwrap())
        .collect()
}

/// Waits until `topic` has `count` entries in `state`, or panics after `timeout`.
pub fn wait_for_state(
    client: &mut Client,
    topic: &str,
    state: &str,
    count: usize,
    timeout: Duration,
) {
    let deadline = Instant::now() + timeout;
    loop {
        let found = list(client, topic, state).len();
        if found == count {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{found} of {count} entries of {topic} in state {state}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Reads every record of one partition, from the earliest offset to the end.
pub fn read_partition(client: &mut Client, topic: &str, partition: u32) -> Vec<Record> {
    let end = client.list_offsets(topic, partition, -1).unwrap() as u64;
    let mut offset = client.list_offsets(topic, partition, -2).unwrap() as u64;
    let mut records = VecDeque::new();
    while offset < end {
        let request = FetchRequest {
            topic: topic.into(),
            partition,
            offset,
            max_bytes: 1 << 20,
            max_wait_ms: 0,
            min_bytes: 0,
        };
        let fetched = client.fetch(&request).unwrap();
        offset =
            ringbus::client::consumer::unpack(&fetched.records, partition, offset, &mut records)
                .unwrap();
    }
    records.into()
}

/// Records of every partition of `topic`.
pub fn read_topic(client: &mut Client, topic: &str, partitions: u32) -> Vec<Record> {
    (0..partitions)
        .flat_map(|p| read_partition(client, topic, p))
        .collect()
}

pub fn header<'a>(record: &'a Record, name: &str) -> Option<&'a str> {
    record
        .headers
        .iter()
        .find(|(key, _)| key == name)
        .and_then(|(_, value)| value.as_deref())
        .map(|value| std::str::from_utf8(value).unwrap())
}

/// Runs the `ringbus` binary against `addr`; returns exit code and stdout.
pub fn cli(addr: &str, args: &[&str]) -> (i32, String, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_ringbus"))
        .arg("--broker")
        .arg(addr)
        .args(args)
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}
