//! Malformed and invalid requests get error replies (or, for a frame that
//! cannot be parsed, a closed connection) and the broker keeps serving.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use bytes::{BufMut, BytesMut};
use common::Broker;
use ringbus::client::{Client, Connection};
use ringbus::protocol::api::{Acks, ProduceRequest};
use ringbus::protocol::batch::BatchBuilder;
use ringbus::protocol::frame::{begin_request, finish_frame};
use ringbus::protocol::{ApiKey, ErrorCode};

fn broker_with_topic() -> Broker {
    let broker = Broker::start_with(2, "max_frame_bytes = 65536");
    let mut client = Client::connect(&broker.main_addr()).unwrap();
    client.create_topic("t", 2, &[]).unwrap();
    broker
}

fn assert_still_serving(broker: &Broker) {
    let mut client = Client::connect(&broker.main_addr()).unwrap();
    let metadata = client.metadata(&["t"]).unwrap();
    assert_eq!(metadata.topics[0].partition_shards.len(), 2);
}

fn expect_error(conn: &mut Connection, code: ErrorCode) -> String {
    let reply = conn.recv().unwrap();
    assert_eq!(reply.header.code, code, "message: {}", reply.header.message);
    reply.header.message
}

fn batch() -> BytesMut {
    let mut builder = BatchBuilder::new(0);
    builder.push(0, Some(b"k"), Some(b"value"), &[]);
    builder.finish()
}

fn produce(conn: &mut Connection, topic: &str, records: &[u8]) {
    let request = ProduceRequest {
        topic: topic.into(),
        partition: 0,
        acks: Acks::Leader,
        timeout_ms: 1000,
    };
    conn.send_with(ApiKey::Produce, |buf| request.encode(buf, records))
        .unwrap();
}

#[test]
fn oversized_frame_gets_error_and_connection_continues() {
    let broker = broker_with_topic();
    let mut conn = Connection::connect(broker.main_addr(), "test").unwrap();
    let big = vec![7u8; 200_000];
    produce(&mut conn, "t", &big);
    let message = expect_error(&mut conn, ErrorCode::FrameTooLarge);
    assert!(message.contains("max_frame_bytes"), "{message}");
    // The same connection still works after the oversized body was skipped.
    produce(&mut conn, "t", &batch());
    let reply = conn.recv().unwrap();
    assert_eq!(
        reply.header.code,
        ErrorCode::None,
        "{}",
        reply.header.message
    );
    assert_still_serving(&broker);
}

#[test]
fn truncated_body_gets_invalid_request() {
    let broker = broker_with_topic();
    let mut conn = Connection::connect(broker.main_addr(), "test").unwrap();
    conn.send_with(ApiKey::Produce, |buf| {
        buf.put_u16(1);
        buf.put_u8(b't');
    })
    .unwrap();
    let message = expect_error(&mut conn, ErrorCode::InvalidRequest);
    assert!(message.contains("partition"), "{message}");
    assert_still_serving(&broker);
}

#[test]
fn unknown_api_key_gets_error() {
    let broker = broker_with_topic();
    let mut stream = Connection::connect(broker.main_addr(), "test").unwrap();
    let mut buf = BytesMut::new();
    let start = begin_request(&mut buf, 999, 0, 5, "test");
    finish_frame(&mut buf, start, 0);
    stream.send_raw(&buf).unwrap();
    let message = expect_error(&mut stream, ErrorCode::UnknownApi);
    assert!(message.contains("999"), "{message}");
    let mut buf = BytesMut::new();
    let start = begin_request(&mut buf, ApiKey::Metadata as u16, 9, 6, "test");
    finish_frame(&mut buf, start, 0);
    stream.send_raw(&buf).unwrap();
    expect_error(&mut stream, ErrorCode::UnsupportedVersion);
    assert_still_serving(&broker);
}

#[test]
fn unknown_topic_gets_error_naming_it() {
    let broker = broker_with_topic();
    let mut conn = Connection::connect(broker.main_addr(), "test").unwrap();
    produce(&mut conn, "missing-topic", &batch());
    let message = expect_error(&mut conn, ErrorCode::UnknownTopic);
    assert!(message.contains("missing-topic"), "{message}");
    let mut client = Client::connect(&broker.main_addr()).unwrap();
    let err = client.create_topic("bad/name", 1, &[]).unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::InvalidTopicName));
    let err = client.create_topic("t", 1, &[]).unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::TopicAlreadyExists));
    let err = client
        .create_topic("x", 1, &[("durability", "sometimes")])
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::InvalidConfig));
    assert!(err.to_string().contains("sometimes"), "{err}");
    let err = client
        .create_topic("orders.dlq", 1, &[("validation", "payload")])
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::InvalidConfig));
    assert!(err.to_string().contains("'.dlq'"), "{err}");
    let err = client.list_offsets("t", 9, -1).unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::UnknownPartition));
}

#[test]
fn bad_crc_is_rejected_and_nothing_appended() {
    let broker = broker_with_topic();
    let mut conn = Connection::connect(broker.main_addr(), "test").unwrap();
    let mut records = batch();
    let last = records.len() - 1;
    records[last] ^= 0x40;
    produce(&mut conn, "t", &records);
    let message = expect_error(&mut conn, ErrorCode::CorruptBatch);
    assert!(message.to_lowercase().contains("crc"), "{message}");
    let mut client = Client::connect(&broker.main_addr()).unwrap();
    assert_eq!(
        client.list_offsets("t", 0, -1).unwrap(),
        0,
        "nothing was appended"
    );
    produce(&mut conn, "t", &batch());
    assert_eq!(conn.recv().unwrap().header.code, ErrorCode::None);
}

#[test]
fn unparseable_frame_closes_only_its_connection() {
    let broker = broker_with_topic();
    let mut healthy = Client::connect(&broker.main_addr()).unwrap();
    let mut stream = TcpStream::connect(broker.main_addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    // A length too small to hold a request header.
    stream.write_all(&[0, 0, 0, 3, 1, 2, 3]).unwrap();
    let mut byte = [0u8; 1];
    let read = stream.read(&mut byte);
    assert!(
        matches!(read, Ok(0)) || read.is_err(),
        "the broker closed the connection"
    );
    // Invalid UTF-8 in the client id cannot be parsed either.
    let mut stream = TcpStream::connect(broker.main_addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .write_all(&[0, 0, 0, 12, 0, 1, 0, 0, 0, 0, 0, 1, 0, 2, 0xff, 0xfe])
        .unwrap();
    let read = stream.read(&mut byte);
    assert!(
        matches!(read, Ok(0)) || read.is_err(),
        "the broker closed the connection"
    );
    assert_eq!(healthy.metadata(&["t"]).unwrap().topics.len(), 1);
    assert_still_serving(&broker);
}

#[test]
fn inflight_limit_gets_error_reply() {
    let broker = Broker::start_with(1, "max_inflight_requests_per_connection = 2");
    let mut client = Client::connect(&broker.main_addr()).unwrap();
    client.create_topic("t", 1, &[]).unwrap();
    let mut conn = Connection::connect(broker.main_addr(), "test").unwrap();
    // Three long polls on an empty partition: the third is over the limit.
    for _ in 0..3 {
        let fetch = ringbus::protocol::api::FetchRequest {
            topic: "t".into(),
            partition: 0,
            offset: 0,
            max_bytes: 1024,
            max_wait_ms: 2000,
            min_bytes: 1,
        };
        conn.send(ApiKey::Fetch, &fetch).unwrap();
    }
    let first = conn.recv().unwrap();
    assert_eq!(
        first.header.code,
        ErrorCode::TooManyInflightRequests,
        "{}",
        first.header.message
    );
    assert_eq!(first.header.correlation_id, 3);
}

#[test]
fn malformed_record_with_valid_crc_is_rejected() {
    let broker = broker_with_topic();
    let mut conn = Connection::connect(broker.main_addr(), "test").unwrap();
    let mut records = batch();
    // Overwrite the first record's length varint with a huge value, then fix
    // the CRC so only the record walk can catch it.
    records[61] = 0x7e;
    let crc = crc32c::crc32c(&records[21..]);
    records[17..21].copy_from_slice(&crc.to_be_bytes());
    produce(&mut conn, "t", &records);
    let message = expect_error(&mut conn, ErrorCode::CorruptBatch);
    assert!(message.contains("record"), "{message}");
    let mut client = Client::connect(&broker.main_addr()).unwrap();
    assert_eq!(
        client.list_offsets("t", 0, -1).unwrap(),
        0,
        "nothing was appended"
    );
}

#[test]
fn stalled_partial_frame_is_closed() {
    let broker = Broker::start_with(1, "request_read_timeout_ms = 300");
    let mut stream = TcpStream::connect(broker.main_addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    // Announce a 1,000-byte frame and send only 10 bytes of it.
    stream
        .write_all(&[0, 0, 3, 232, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0])
        .unwrap();
    let started = std::time::Instant::now();
    let mut byte = [0u8; 1];
    let read = stream.read(&mut byte);
    assert!(
        matches!(read, Ok(0)) || read.is_err(),
        "the broker closed the stalled connection"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    let mut client = Client::connect(&broker.main_addr()).unwrap();
    assert!(client.metadata(&[]).is_ok(), "other connections are served");
}
