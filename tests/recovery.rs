//! Crash safety, recovery of damaged tails, retention and disk-full
//! handling, with real brokers and real files.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{segments, Broker};
use ringbus::client::{Client, Connection, Consumer, ConsumerConfig, StartFrom};
use ringbus::protocol::api::{Acks, ProduceReply, ProduceRequest};
use ringbus::protocol::batch::BatchBuilder;
use ringbus::protocol::{ApiKey, ErrorCode};

/// (partition, offset, value) of one acknowledged produce.
type Acked = (u32, u64, Vec<u8>);

fn produce_value(
    conn: &mut Connection,
    topic: &str,
    partition: u32,
    value: &[u8],
) -> Result<ProduceReply, ringbus::client::ClientError> {
    let mut builder = BatchBuilder::new(ringbus::client::consumer::now_ms());
    builder.push(ringbus::client::consumer::now_ms(), None, Some(value), &[]);
    let records = builder.finish();
    let request = ProduceRequest {
        topic: topic.into(),
        partition,
        acks: Acks::Leader,
        timeout_ms: 5000,
    };
    let id = conn.send_with(ApiKey::Produce, |buf| request.encode(buf, &records))?;
    let body = conn.recv_for(id)?;
    ringbus::client::conn::decode(&body)
}

fn read_all(addr: &str, topic: &str, partition: u32) -> BTreeMap<u64, Vec<u8>> {
    let config = ConsumerConfig {
        start: StartFrom::Earliest,
        ..ConsumerConfig::default()
    };
    let mut consumer = Consumer::connect(addr, topic, Some(vec![partition]), config).unwrap();
    let mut client = Client::connect(addr).unwrap();
    let end = client.list_offsets(topic, partition, -1).unwrap() as u64;
    let mut out = BTreeMap::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while consumer.position(partition).unwrap() < end && std::time::Instant::now() < deadline {
        for record in consumer.poll(Duration::from_millis(100)).unwrap() {
            out.insert(record.offset, record.value.unwrap().to_vec());
        }
    }
    out
}

#[test]
fn kill9_keeps_every_acknowledged_batch() {
    let mut broker = Broker::start(2);
    let addr = broker.main_addr();
    let mut client = Client::connect(&addr).unwrap();
    client
        .create_topic("durable", 2, &[("durability", "always")])
        .unwrap();
    let acked: Arc<Mutex<Vec<Acked>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for writer in 0..4u32 {
        let (addr, acked, stop) = (addr.clone(), acked.clone(), stop.clone());
        writers.push(std::thread::spawn(move || {
            let mut conn = Connection::connect(&addr, "writer").unwrap();
            let partition = writer % 2;
            for i in 0..100_000u32 {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                let value = format!("writer-{writer}-event-{i}").into_bytes();
                match produce_value(&mut conn, "durable", partition, &value) {
                    Ok(reply) => acked
                        .lock()
                        .unwrap()
                        .push((partition, reply.base_offset, value)),
                    Err(_) => return,
                }
            }
        }));
    }
    std::thread::sleep(Duration::from_millis(1500));
    broker.kill9();
    stop.store(true, Ordering::Relaxed);
    for writer in writers {
        writer.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() > 50,
        "writers were acknowledged before the kill ({})",
        acked.len()
    );
    broker.restart();
    let addr = broker.main_addr();
    for partition in 0..2u32 {
        let stored = read_all(&addr, "durable", partition);
        let mine: Vec<_> = acked.iter().filter(|(p, _, _)| *p == partition).collect();
        for (_, offset, value) in &mine {
            assert_eq!(
                stored.get(offset),
                Some(value),
                "acknowledged offset {offset} of partition {partition}"
            );
        }
        let end = Client::connect(&addr)
            .unwrap()
            .list_offsets("durable", partition, -1)
            .unwrap() as u64;
        let max_acked = mine.iter().map(|(_, o, _)| *o).max().unwrap();
        assert!(
            end > max_acked,
            "log end {end} is past the last acknowledged offset {max_acked}"
        );
        let expected: Vec<u64> = (0..end).collect();
        assert_eq!(
            stored.keys().copied().collect::<Vec<_>>(),
            expected,
            "no gap before the end"
        );
        let mut conn = Connection::connect(&addr, "after").unwrap();
        let next = produce_value(&mut conn, "durable", partition, b"after restart").unwrap();
        assert_eq!(
            next.base_offset, end,
            "new offsets continue without a gap or reuse"
        );
    }
}

/// Produces `count` single-record batches to partition 0 and stops the
/// broker cleanly; returns the size of the last batch on disk.
fn fill_and_stop(broker: &mut Broker, count: usize) -> u64 {
    let addr = broker.main_addr();
    Client::connect(&addr)
        .unwrap()
        .create_topic("damaged", 1, &[])
        .unwrap();
    let mut conn = Connection::connect(&addr, "test").unwrap();
    for i in 0..count {
        produce_value(&mut conn, "damaged", 0, format!("value-{i:04}").as_bytes()).unwrap();
    }
    assert!(broker.terminate().success());
    let mut builder = BatchBuilder::new(0);
    builder.push(0, None, Some(b"value-0000"), &[]);
    builder.finish().len() as u64
}

fn assert_recovered_to(broker: &Broker, count: u64) {
    let addr = broker.main_addr();
    let end = Client::connect(&addr)
        .unwrap()
        .list_offsets("damaged", 0, -1)
        .unwrap() as u64;
    assert_eq!(end, count, "log truncated to the last valid batch");
    let stored = read_all(&addr, "damaged", 0);
    assert_eq!(stored.len() as u64, count);
    for (offset, value) in stored {
        assert_eq!(value, format!("value-{offset:04}").into_bytes());
    }
    let log = broker.log().to_lowercase();
    assert!(
        log.contains("truncat"),
        "recovery logged the truncation:\n{}",
        broker.log()
    );
}

#[test]
fn torn_tail_is_truncated() {
    let mut broker = Broker::start(1);
    let batch_bytes = fill_and_stop(&mut broker, 20);
    let segment = segments(&broker.partition_dir("damaged", 0)).pop().unwrap();
    let len = std::fs::metadata(&segment).unwrap().len();
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&segment)
        .unwrap();
    file.set_len(len - batch_bytes / 2).unwrap();
    broker.restart();
    assert_recovered_to(&broker, 19);
}

#[test]
fn flipped_byte_in_last_batch_is_truncated() {
    let mut broker = Broker::start(1);
    fill_and_stop(&mut broker, 20);
    let segment = segments(&broker.partition_dir("damaged", 0)).pop().unwrap();
    let mut bytes = std::fs::read(&segment).unwrap();
    let last = bytes.len() - 3;
    bytes[last] ^= 0xff;
    std::fs::write(&segment, bytes).unwrap();
    broker.restart();
    assert_recovered_to(&broker, 19);
}

#[test]
fn retention_deletes_old_segments() {
    let broker = Broker::start_with(1, "retention_check_interval_ms = 100");
    let addr = broker.main_addr();
    let mut client = Client::connect(&addr).unwrap();
    let settings = [
        ("segment_bytes", "4096"),
        ("retention_bytes", "8192"),
        ("durability", "none"),
    ];
    client.create_topic("rolling", 1, &settings).unwrap();
    let mut conn = Connection::connect(&addr, "test").unwrap();
    let value = vec![b'x'; 500];
    for _ in 0..200 {
        produce_value(&mut conn, "rolling", 0, &value).unwrap();
    }
    let dir = broker.partition_dir("rolling", 0);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let mut earliest = 0;
    while std::time::Instant::now() < deadline {
        earliest = client.list_offsets("rolling", 0, -2).unwrap();
        if earliest > 0 && segments(&dir).len() <= 4 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(earliest > 0, "retention moved the earliest offset");
    let remaining = segments(&dir).len();
    assert!(
        remaining <= 4,
        "old segments were deleted; {remaining} remain"
    );
    assert_eq!(client.list_offsets("rolling", 0, -1).unwrap(), 200);
    let stored = read_all(&addr, "rolling", 0);
    assert_eq!(
        stored.keys().next().copied(),
        Some(earliest as u64),
        "reads start at the new earliest offset"
    );
}

struct Tmpfs(std::path::PathBuf);

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
        let _ = std::fs::remove_dir(&self.0);
    }
}

#[test]
fn disk_full_rejects_produce_until_space_returns() {
    let root = tempfile::Builder::new()
        .prefix("ringbus-diskfull-")
        .tempdir()
        .unwrap()
        .keep();
    let status = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64m", "tmpfs"])
        .arg(&root)
        .status()
        .expect("mount(8) runs");
    assert!(
        status.success(),
        "mounting a 64 MiB tmpfs needs root; this suite runs as root"
    );
    let _mount = Tmpfs(root.clone());
    let broker = Broker::start_in(
        root.clone(),
        1,
        "min_free_bytes = 33554432\ndisk_check_interval_ms = 50",
    );
    let addr = broker.main_addr();
    let mut client = Client::connect(&addr).unwrap();
    client.create_topic("space", 1, &[]).unwrap();
    let mut conn = Connection::connect(&addr, "test").unwrap();
    for i in 0..10 {
        produce_value(&mut conn, "space", 0, format!("kept-{i}").as_bytes()).unwrap();
    }
    // Leave about 16 MiB free, below the 32 MiB minimum.
    let filler = root.join("filler");
    std::fs::write(&filler, vec![0u8; 44 << 20]).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let err = produce_value(&mut conn, "space", 0, b"rejected").unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::DiskFull), "{err}");
    assert!(err.to_string().contains("min_free_bytes"), "{err}");
    let stored = read_all(&addr, "space", 0);
    assert_eq!(stored.len(), 10, "fetches go on and stored data is intact");
    assert_eq!(stored[&9], b"kept-9".to_vec());
    std::fs::remove_file(&filler).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let reply = produce_value(&mut conn, "space", 0, b"accepted again").unwrap();
    assert_eq!(reply.base_offset, 10);
}
