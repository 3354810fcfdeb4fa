//! The schema registry inside a real broker on 127.0.0.1: REST API on the
//! control-plane listener, validation on produce, webhooks, native pushes
//! and a restart that keeps ids, versions and levels.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

use bytes::BytesMut;
use common::{http_get, http_request, Broker};
use ringbus::client::{Client, ClientError, SchemaSubscription};
use ringbus::protocol::api::{Acks, ProduceReply, ProduceRequest};
use ringbus::protocol::batch::BatchBuilder;
use ringbus::protocol::ErrorCode;
use serde_json::{json, Value};

const ORDERS: &str = include_str!("data/schemas/orders_schema.avsc");
const TOPIC: &str = "orders";
const ORDER_COUNT: usize = 10_000;
const ORDERS_PER_BATCH: usize = 500;

fn order(i: usize) -> String {
    format!(
        r#"{{"ordertime":{},"orderid":{i},"itemid":"Item_{}","orderunits":{}.5,"address":{{"city":"City_1","state":"State_2","zipcode":{}}}}}"#,
        1_500_000_000_000u64 + i as u64,
        i % 900 + 1,
        i % 9,
        10_000 + i % 80_000
    )
}

/// Sends one batch of JSON values with a `schema_id` header each.
fn produce_json(
    client: &mut Client,
    values: &[String],
    schema_id: u32,
) -> Result<ProduceReply, ClientError> {
    let header = schema_id.to_string();
    let mut builder = BatchBuilder::new(0);
    for value in values {
        builder.push(
            0,
            None,
            Some(value.as_bytes()),
            &[("schema_id", header.as_bytes())],
        );
    }
    produce_batch(client, TOPIC, builder)
}

fn produce_batch(
    client: &mut Client,
    topic: &str,
    builder: BatchBuilder,
) -> Result<ProduceReply, ClientError> {
    let records = builder.finish();
    let request = ProduceRequest {
        topic: topic.into(),
        partition: 0,
        acks: Acks::Leader,
        timeout_ms: 10_000,
    };
    let correlation_id = client
        .connection()
        .send_with(ringbus::protocol::ApiKey::Produce, |buf: &mut BytesMut| {
            request.encode(buf, &records)
        })?;
    let body = client.connection().recv_for(correlation_id)?;
    ringbus::client::conn::decode(&body)
}

fn register(broker: &Broker, subject: &str, schema: &str) -> (u16, Value) {
    let body = json!({ "schema": schema }).to_string();
    let path = format!("/subjects/{subject}/versions");
    let (status, reply) =
        http_request(&broker.addrs.http, "POST", &path, Some(&body)).expect("HTTP reply");
    (status, serde_json::from_str(&reply).unwrap_or(Value::Null))
}

fn with_field(extra: Value) -> String {
    let mut schema: Value = serde_json::from_str(ORDERS).unwrap();
    schema["fields"].as_array_mut().unwrap().push(extra);
    schema.to_string()
}

/// A one-shot HTTP receiver on 127.0.0.1 that returns the first body POSTed.
fn webhook_receiver() -> (String, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut raw = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = stream.read(&mut buf).unwrap_or(0);
            raw.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&raw).to_string();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length: usize = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse().unwrap())
                    })
                    .unwrap_or(0);
                if body.len() >= length || n == 0 {
                    let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
                    let _ = sender.send(body.to_string());
                    return;
                }
            }
            if n == 0 {
                return;
            }
        }
    });
    (url, receiver)
}

#[test]
fn registry_end_to_end_in_broker() {
    let (hook_url, hook_body) = webhook_receiver();
    let mut broker = Broker::start(2);
    let http = broker.addrs.http.clone();

    // v1 over REST, on the same listener as /health.
    assert_eq!(http_get(&http, "/health").map(|r| r.0), Some(200));
    let (status, v1) = register(&broker, "orders-value", ORDERS);
    assert_eq!(status, 200, "{v1}");
    let id1 = v1["id"].as_u64().unwrap() as u32;

    let mut client = Client::connect(&broker.main_addr()).unwrap();
    client
        .create_topic(TOPIC, 1, &[("validation", "payload")])
        .unwrap();

    // 10,000 valid orders are all accepted.
    let mut accepted = 0u64;
    for start in (0..ORDER_COUNT).step_by(ORDERS_PER_BATCH) {
        let values: Vec<String> = (start..start + ORDERS_PER_BATCH).map(order).collect();
        let reply = produce_json(&mut client, &values, id1).unwrap();
        accepted += reply.last_offset - reply.base_offset + 1;
    }
    assert_eq!(accepted, ORDER_COUNT as u64);
    let end = client.list_offsets(TOPIC, 0, -1).unwrap();
    assert_eq!(end, ORDER_COUNT as i64);

    // One order without `orderid` rejects the whole batch.
    let mut values: Vec<String> = (0..10).map(order).collect();
    values[4] = values[4].replace(r#""orderid":4,"#, "");
    let err = produce_json(&mut client, &values, id1).unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::SchemaValidationFailed), "{err}");
    let message = err.to_string();
    assert!(message.contains("record 4"), "{message}");
    assert!(message.contains("orderid"), "{message}");
    assert!(message.contains(&format!("schema id {id1}")), "{message}");

    // A string where an int belongs, in the last record.
    let mut values: Vec<String> = (0..10).map(order).collect();
    values[9] = values[9].replace(r#""orderid":9,"#, r#""orderid":"nine","#);
    let err = produce_json(&mut client, &values, id1).unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::SchemaValidationFailed), "{err}");
    assert!(err.to_string().contains("record 9"), "{err}");
    assert!(err.to_string().contains("orderid"), "{err}");
    assert_eq!(
        client.list_offsets(TOPIC, 0, -1).unwrap(),
        end,
        "a rejected batch appended records"
    );

    // An id that is not a version of the topic's subject.
    let err = produce_json(&mut client, &[order(1)], id1 + 100).unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::SchemaValidationFailed), "{err}");

    // An incompatible v2 (a new field without a default) gets 409.
    let incompatible = with_field(json!({"name": "coupon", "type": "string"}));
    let (status, reply) = register(&broker, "orders-value", &incompatible);
    assert_eq!(status, 409, "{reply}");

    // Subscribers and webhooks learn about a compatible v2.
    let (status, reply) = http_request(
        &http,
        "POST",
        "/webhooks",
        Some(&json!({ "url": hook_url, "subject": "orders-value" }).to_string()),
    )
    .unwrap();
    assert_eq!(status, 200, "{reply}");
    let mut subscription =
        SchemaSubscription::connect(&broker.main_addr(), &["orders-value"]).unwrap();
    let compatible = with_field(json!({"name": "coupon", "type": "string", "default": ""}));
    let (status, v2) = register(&broker, "orders-value", &compatible);
    assert_eq!(status, 200, "{v2}");
    let id2 = v2["id"].as_u64().unwrap() as u32;
    assert_ne!(id1, id2);

    let pushed = subscription
        .next(Duration::from_secs(10))
        .unwrap()
        .expect("a pushed notice");
    assert_eq!(pushed.subject, "orders-value");
    assert_eq!(pushed.version, 2);
    assert_eq!(pushed.id, id2);
    let body = hook_body
        .recv_timeout(Duration::from_secs(20))
        .expect("webhook POST");
    let notice: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(notice["subject"], "orders-value");
    assert_eq!(notice["version"], 2);
    assert_eq!(notice["id"], id2);
    assert_eq!(notice["schema_type"], "AVRO");

    // v2 records validate under the new id.
    let with_coupon = order(3).replace("}}", r#"},"coupon":"X"}"#);
    produce_json(&mut client, &[with_coupon], id2).unwrap();

    // Ids, versions and levels survive a restart.
    let (status, _) = http_request(
        &http,
        "PUT",
        "/config/orders-value",
        Some(r#"{"compatibility":"FULL"}"#),
    )
    .unwrap();
    assert_eq!(status, 200);
    let before = http_get(&http, "/subjects/orders-value/versions")
        .unwrap()
        .1;
    broker.terminate();
    broker.restart();
    let http = broker.addrs.http.clone();
    assert_eq!(
        http_get(&http, "/subjects/orders-value/versions")
            .unwrap()
            .1,
        before
    );
    let latest: Value = serde_json::from_str(
        &http_get(&http, "/subjects/orders-value/versions/latest")
            .unwrap()
            .1,
    )
    .unwrap();
    assert_eq!(latest["id"], id2);
    assert_eq!(latest["version"], 2);
    let level: Value =
        serde_json::from_str(&http_get(&http, "/config/orders-value").unwrap().1).unwrap();
    assert_eq!(level["compatibilityLevel"], "FULL");
    let (status, again) = register(&broker, "orders-value", ORDERS);
    assert_eq!(status, 200);
    assert_eq!(
        again["id"], id1,
        "re-registering v1 after a restart changed its id"
    );

    // Validation works after the restart, from the reloaded snapshot.
    let mut client = Client::connect(&broker.main_addr()).unwrap();
    produce_json(&mut client, &[order(5)], id1).unwrap();
    let missing_item = order(5).replace(r#""itemid":"Item_6","#, "");
    let err = produce_json(&mut client, &[missing_item], id1).unwrap_err();
    assert!(err.to_string().contains("itemid"), "{err}");
}

#[test]
fn native_registry_calls() {
    let broker = Broker::start(2);
    let mut client = Client::connect(&broker.main_addr()).unwrap();
    let registered = client
        .register_schema("orders-value", "AVRO", ORDERS)
        .unwrap();
    assert_eq!(registered.version, 1);
    let again = client.register_schema("orders-value", "", ORDERS).unwrap();
    assert_eq!(again.id, registered.id);

    let found = client
        .lookup_schema("orders-value", "AVRO", ORDERS)
        .unwrap();
    assert_eq!(found.version, 1);
    let by_id = client.schema_by_id(registered.id).unwrap();
    assert_eq!(by_id.schema_type, "AVRO");
    assert!(by_id.schema.contains("orderid"));
    let latest = client.get_schema("orders-value", None).unwrap();
    assert_eq!(latest.id, registered.id);
    assert_eq!(
        client.list_subjects().unwrap(),
        vec!["orders-value".to_string()]
    );

    let bad = with_field(json!({"name": "coupon", "type": "string"}));
    let check = client
        .check_schema("orders-value", "AVRO", &bad, None)
        .unwrap();
    assert!(!check.compatible);
    assert!(!check.messages.is_empty());
    let err = client
        .register_schema("orders-value", "AVRO", &bad)
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::IncompatibleSchema), "{err}");

    assert_eq!(client.schema_level(None, None).unwrap(), "BACKWARD");
    assert_eq!(
        client
            .schema_level(Some("orders-value"), Some("none"))
            .unwrap(),
        "NONE"
    );
    assert_eq!(
        client.schema_level(Some("orders-value"), None).unwrap(),
        "NONE"
    );
    let err = client.get_schema("missing", None).unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::SubjectNotFound), "{err}");
    let err = client.schema_by_id(999).unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::SchemaNotFound), "{err}");
}

fn cli(broker: &Broker, args: &[&str]) -> (bool, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_ringbus"))
        .arg("--broker")
        .arg(broker.main_addr())
        .args(args)
        .output()
        .expect("run the CLI");
    let text = String::from_utf8_lossy(&output.stdout).to_string()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), text)
}

#[test]
fn schema_cli_commands() {
    let broker = Broker::start(1);
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/schemas/orders_schema.avsc"
    );
    let (ok, out) = cli(
        &broker,
        &["schema", "register", "orders-value", "--file", file],
    );
    assert!(ok, "{out}");
    assert!(out.contains("version 1"), "{out}");
    let (ok, out) = cli(
        &broker,
        &["schema", "get", "orders-value", "--version", "1"],
    );
    assert!(ok, "{out}");
    assert!(out.contains("orderid"), "{out}");
    let (ok, out) = cli(&broker, &["schema", "list"]);
    assert!(ok, "{out}");
    assert_eq!(out.trim(), "orders-value");
    let (ok, out) = cli(
        &broker,
        &["schema", "check", "orders-value", "--file", file],
    );
    assert!(ok, "{out}");
    assert!(out.contains("compatible"), "{out}");
    let (ok, out) = cli(
        &broker,
        &["schema", "config", "orders-value", "--level", "FULL"],
    );
    assert!(ok, "{out}");
    assert!(out.contains("FULL"), "{out}");
    let (ok, out) = cli(&broker, &["schema", "config"]);
    assert!(ok, "{out}");
    assert!(out.contains("BACKWARD"), "{out}");

    let (ok, out) = cli(
        &broker,
        &[
            "topic",
            "create",
            "orders",
            "--partitions",
            "1",
            "--validation",
            "payload",
            "--subject",
            "orders-value",
        ],
    );
    assert!(ok, "{out}");
    let (ok, out) = cli(&broker, &["topic", "describe", "orders"]);
    assert!(ok, "{out}");
    assert!(out.contains("payload"), "{out}");
    let (ok, out) = cli(
        &broker,
        &[
            "topic",
            "create",
            "bad",
            "--partitions",
            "1",
            "--validation",
            "always",
        ],
    );
    assert!(!ok, "{out}");
    assert!(out.contains("always"), "{out}");
}

/// An order in the Avro binary encoding, framed with `schema_id`.
fn framed_order(schema_id: u32, orderid: i32) -> Vec<u8> {
    use apache_avro::types::Value as AvroValue;
    let schema = apache_avro::Schema::parse_str(ORDERS).unwrap();
    let address = AvroValue::Record(vec![
        ("city".into(), AvroValue::String("City_1".into())),
        ("state".into(), AvroValue::String("State_2".into())),
        ("zipcode".into(), AvroValue::Long(75001)),
    ]);
    let order = AvroValue::Record(vec![
        ("ordertime".into(), AvroValue::Long(1_500_000_000_000)),
        ("orderid".into(), AvroValue::Int(orderid)),
        ("itemid".into(), AvroValue::String("Item_42".into())),
        ("orderunits".into(), AvroValue::Double(2.5)),
        ("address".into(), address),
    ]);
    let writer = apache_avro::writer::datum::GenericDatumWriter::builder(&schema)
        .build()
        .unwrap();
    let mut framed = vec![0u8];
    framed.extend_from_slice(&schema_id.to_be_bytes());
    framed.extend_from_slice(&writer.write_value_to_vec(order).unwrap());
    framed
}

#[test]
fn framed_values_and_unchecked_topics() {
    // Every new topic defaults to payload validation, so that the `.dlq`
    // topic below would be checked if the suffix did not exempt it.
    let broker = Broker::start_with(2, "\n[topic_defaults]\nvalidation = \"payload\"\n");
    let (status, v1) = register(&broker, "orders-value", ORDERS);
    assert_eq!(status, 200, "{v1}");
    let id = v1["id"].as_u64().unwrap() as u32;
    let mut client = Client::connect(&broker.main_addr()).unwrap();
    client
        .create_topic(
            "framed",
            2,
            &[("validation", "payload"), ("subject", "orders-value")],
        )
        .unwrap();
    client
        .create_topic(
            "ids",
            1,
            &[("validation", "schema_id"), ("subject", "orders-value")],
        )
        .unwrap();
    let explicit = client.create_topic(
        "framed.dlq",
        1,
        &[("validation", "payload"), ("subject", "orders-value")],
    );
    assert_eq!(
        explicit.unwrap_err().code(),
        Some(ringbus::protocol::ErrorCode::InvalidConfig)
    );
    client
        .create_topic("framed.dlq", 1, &[("subject", "orders-value")])
        .unwrap();

    for partition in 0..2 {
        let mut builder = BatchBuilder::new(0);
        builder.push(0, None, Some(&framed_order(id, partition)), &[]);
        let records = builder.finish();
        let request = ProduceRequest {
            topic: "framed".into(),
            partition: partition as u32,
            acks: Acks::Leader,
            timeout_ms: 10_000,
        };
        let correlation_id = client
            .connection()
            .send_with(ringbus::protocol::ApiKey::Produce, |buf: &mut BytesMut| {
                request.encode(buf, &records)
            })
            .unwrap();
        client.connection().recv_for(correlation_id).unwrap();
    }

    // A truncated body fails decoding.
    let mut truncated = framed_order(id, 1);
    truncated.truncate(truncated.len() - 3);
    let mut builder = BatchBuilder::new(0);
    builder.push(0, None, Some(&truncated), &[]);
    let err = produce_batch(&mut client, "framed", builder).unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::SchemaValidationFailed), "{err}");

    // schema_id checks the id only: any body passes, an unknown id does not.
    let mut builder = BatchBuilder::new(0);
    builder.push(
        0,
        None,
        Some(b"not json"),
        &[("schema_id", id.to_string().as_bytes())],
    );
    produce_batch(&mut client, "ids", builder).unwrap();
    let mut builder = BatchBuilder::new(0);
    builder.push(0, None, Some(&framed_order(id + 7, 1)), &[]);
    let err = produce_batch(&mut client, "ids", builder).unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::SchemaValidationFailed), "{err}");
    let mut builder = BatchBuilder::new(0);
    builder.push(0, None, Some(b"{}"), &[("schema_id", b"seven")]);
    let err = produce_batch(&mut client, "ids", builder).unwrap_err();
    assert!(err.to_string().contains("seven"), "{err}");

    // Dead-letter topics keep whatever failed, unchecked.
    let mut builder = BatchBuilder::new(0);
    builder.push(0, None, Some(b"garbage"), &[]);
    produce_batch(&mut client, "framed.dlq", builder).unwrap();
}
