//! End-to-end produce and consume against real brokers on 127.0.0.1.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::Broker;
use ringbus::client::{
    Client, Connection, Consumer, ConsumerConfig, Producer, ProducerConfig, StartFrom,
};
use ringbus::protocol::api::{Acks, FetchRequest, ProduceReply, ProduceRequest};
use ringbus::protocol::batch::BatchBuilder;
use ringbus::protocol::ApiKey;

fn consume_all(addr: &str, topic: &str, expected: usize) -> Vec<ringbus::client::Record> {
    let config = ConsumerConfig {
        start: StartFrom::Earliest,
        ..ConsumerConfig::default()
    };
    let mut consumer = Consumer::connect(addr, topic, None, config).unwrap();
    let mut records = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while records.len() < expected && std::time::Instant::now() < deadline {
        records.extend(consumer.poll(Duration::from_millis(200)).unwrap());
    }
    // One more poll proves nothing beyond the expected records arrives.
    records.extend(consumer.poll(Duration::from_millis(300)).unwrap());
    records
}

#[test]
fn hundred_thousand_events_in_order() {
    let broker = Broker::start(2);
    let addr = broker.main_addr();
    let mut client = Client::connect(&addr).unwrap();
    client
        .create_topic("events", 8, &[("durability", "none")])
        .unwrap();
    let mut producer = Producer::connect(&addr, ProducerConfig::default()).unwrap();
    let mut sent_per_partition: HashMap<u32, Vec<u64>> = HashMap::new();
    for i in 0..100_000u64 {
        let key = format!("key-{}", i % 977);
        let value = format!("event-{i}");
        let partition = producer
            .send("events", Some(key.as_bytes()), value.as_bytes(), &[])
            .unwrap();
        sent_per_partition.entry(partition).or_default().push(i);
    }
    let acked = producer.flush().unwrap();
    assert_eq!(acked.len(), 8, "every partition got events");
    let records = consume_all(&addr, "events", 100_000);
    assert_eq!(
        records.len(),
        100_000,
        "every event comes back exactly once"
    );
    let mut seen_per_partition: HashMap<u32, Vec<u64>> = HashMap::new();
    for record in &records {
        let value = std::str::from_utf8(record.value.as_ref().unwrap()).unwrap();
        let i: u64 = value.strip_prefix("event-").unwrap().parse().unwrap();
        seen_per_partition
            .entry(record.partition)
            .or_default()
            .push(i);
    }
    for (partition, sent) in &sent_per_partition {
        assert_eq!(
            seen_per_partition.get(partition),
            Some(sent),
            "partition {partition} order"
        );
    }
    for partition in 0..8u32 {
        let offsets: Vec<u64> = records
            .iter()
            .filter(|r| r.partition == partition)
            .map(|r| r.offset)
            .collect();
        let expected: Vec<u64> = (0..offsets.len() as u64).collect();
        assert_eq!(
            offsets, expected,
            "partition {partition} offsets are dense from 0"
        );
    }
}

fn produce_one(conn: &mut Connection, topic: &str, partition: u32, value: &[u8]) -> ProduceReply {
    let mut builder = BatchBuilder::new(1_700_000_000_000);
    builder.push(1_700_000_000_000, None, Some(value), &[]);
    let records = builder.finish();
    let request = ProduceRequest {
        topic: topic.into(),
        partition,
        acks: Acks::Leader,
        timeout_ms: 5000,
    };
    let id = conn
        .send_with(ApiKey::Produce, |buf| request.encode(buf, &records))
        .unwrap();
    let body = conn.recv_for(id).unwrap();
    ringbus::client::conn::decode(&body).unwrap()
}

#[test]
fn forwarded_request_matches_shard_aware() {
    let broker = Broker::start(2);
    let addr = broker.main_addr();
    let mut client = Client::connect(&addr).unwrap();
    client.create_topic("routed", 2, &[]).unwrap();
    let metadata = client.metadata(&["routed"]).unwrap();
    let owners = &metadata.topics[0].partition_shards;
    assert_eq!(metadata.shard_ports.len(), 2);
    assert_ne!(owners[0], owners[1], "two partitions on two shards");
    for partition in 0..2u32 {
        let owner = owners[partition as usize] as usize;
        let other = 1 - owner;
        let owner_addr = format!("127.0.0.1:{}", metadata.shard_ports[owner]);
        let other_addr = format!("127.0.0.1:{}", metadata.shard_ports[other]);
        let mut via_other = Connection::connect(&other_addr, "test").unwrap();
        let mut via_owner = Connection::connect(&owner_addr, "test").unwrap();
        let first = produce_one(&mut via_other, "routed", partition, b"forwarded");
        let second = produce_one(&mut via_owner, "routed", partition, b"direct");
        assert_eq!(first.base_offset, 0);
        assert_eq!(second.base_offset, 1, "both paths append to the same log");
        let fetch = FetchRequest {
            topic: "routed".into(),
            partition,
            offset: 0,
            max_bytes: 1 << 20,
            max_wait_ms: 0,
            min_bytes: 0,
        };
        let a = via_other.call(ApiKey::Fetch, &fetch).unwrap();
        let b = via_owner.call(ApiKey::Fetch, &fetch).unwrap();
        assert_eq!(a, b, "forwarded and direct fetch return the same bytes");
    }
}

#[test]
fn long_poll_returns_when_data_arrives() {
    let broker = Broker::start(2);
    let addr = broker.main_addr();
    let mut client = Client::connect(&addr).unwrap();
    client.create_topic("poll", 1, &[]).unwrap();
    let waiter_addr = addr.clone();
    let waiter = std::thread::spawn(move || {
        let mut client = Client::connect(&waiter_addr).unwrap();
        let started = std::time::Instant::now();
        let result = client
            .fetch(&FetchRequest {
                topic: "poll".into(),
                partition: 0,
                offset: 0,
                max_bytes: 1 << 20,
                max_wait_ms: 10_000,
                min_bytes: 1,
            })
            .unwrap();
        (started.elapsed(), result.records.len())
    });
    std::thread::sleep(Duration::from_millis(300));
    let mut conn = Connection::connect(&addr, "test").unwrap();
    produce_one(&mut conn, "poll", 0, b"wake up");
    let (elapsed, bytes) = waiter.join().unwrap();
    assert!(bytes > 0, "the long poll returned the new batch");
    assert!(
        elapsed < Duration::from_secs(10),
        "the long poll ended before max_wait_ms"
    );
}

#[test]
fn committed_offsets_survive_restart() {
    let mut broker = Broker::start(2);
    let addr = broker.main_addr();
    let mut client = Client::connect(&addr).unwrap();
    client.create_topic("tracked", 3, &[]).unwrap();
    client.commit_offset("billing", "tracked", 2, 41).unwrap();
    client.commit_offset("billing", "tracked", 2, 42).unwrap();
    client.commit_offset("audit", "tracked", 0, 7).unwrap();
    assert_eq!(client.fetch_offset("billing", "tracked", 2).unwrap(), 42);
    assert_eq!(client.fetch_offset("billing", "tracked", 1).unwrap(), -1);
    drop(client);
    assert!(broker.terminate().success());
    broker.restart();
    let mut client = Client::connect(&broker.main_addr()).unwrap();
    assert_eq!(client.fetch_offset("billing", "tracked", 2).unwrap(), 42);
    assert_eq!(client.fetch_offset("audit", "tracked", 0).unwrap(), 7);
    assert_eq!(client.fetch_offset("audit", "tracked", 1).unwrap(), -1);
}

#[test]
fn list_offsets_by_time() {
    let broker = Broker::start(1);
    let addr = broker.main_addr();
    let mut client = Client::connect(&addr).unwrap();
    client.create_topic("timed", 1, &[]).unwrap();
    let mut conn = Connection::connect(&addr, "test").unwrap();
    for (i, ts) in [1000i64, 2000, 3000].iter().enumerate() {
        let mut builder = BatchBuilder::new(*ts);
        builder.push(*ts, None, Some(format!("v{i}").as_bytes()), &[]);
        let records = builder.finish();
        let request = ProduceRequest {
            topic: "timed".into(),
            partition: 0,
            acks: Acks::Leader,
            timeout_ms: 5000,
        };
        let id = conn
            .send_with(ApiKey::Produce, |buf| request.encode(buf, &records))
            .unwrap();
        conn.recv_for(id).unwrap();
    }
    assert_eq!(client.list_offsets("timed", 0, -2).unwrap(), 0);
    assert_eq!(client.list_offsets("timed", 0, -1).unwrap(), 3);
    assert_eq!(client.list_offsets("timed", 0, 1500).unwrap(), 1);
    assert_eq!(client.list_offsets("timed", 0, 3000).unwrap(), 2);
    assert_eq!(client.list_offsets("timed", 0, 9000).unwrap(), -1);
}

#[test]
fn sigterm_exits_cleanly() {
    let mut broker = Broker::start(2);
    let mut client = Client::connect(&broker.main_addr()).unwrap();
    client.create_topic("bye", 2, &[]).unwrap();
    let status = broker.terminate();
    assert!(status.success(), "exit status {status}");
    assert!(broker.log().contains("ringbus stopped"), "{}", broker.log());
}

#[test]
fn recreated_topic_starts_without_old_offsets() {
    let broker = Broker::start(2);
    let addr = broker.main_addr();
    let mut client = Client::connect(&addr).unwrap();
    let first = client.create_topic("reborn", 2, &[]).unwrap();
    client.commit_offset("g", "reborn", 0, 5).unwrap();
    client.delete_topic("reborn").unwrap();
    let second = client.create_topic("reborn", 2, &[]).unwrap();
    assert_ne!(first, second, "a deleted topic's id is not given out again");
    assert_eq!(client.fetch_offset("g", "reborn", 0).unwrap(), -1);
}

#[test]
fn explicit_offset_past_end_is_an_error() {
    let broker = Broker::start(1);
    let addr = broker.main_addr();
    let mut client = Client::connect(&addr).unwrap();
    client.create_topic("short", 1, &[]).unwrap();
    let config = ConsumerConfig {
        start: StartFrom::Offset(999),
        ..ConsumerConfig::default()
    };
    let mut consumer = Consumer::connect(&addr, "short", None, config).unwrap();
    let err = consumer.poll(Duration::from_secs(5)).unwrap_err();
    assert_eq!(
        err.code(),
        Some(ringbus::protocol::ErrorCode::OffsetOutOfRange),
        "{err}"
    );
}
