//! Validation throughput for orders events (the Datagen `orders` Avro
//! schema in tests/data/schemas/orders_schema.avsc), as JSON and as
//! schema-framed Avro binary. Criterion reports events/s (elements) and
//! bytes/s for each.
//!
//! Run: `cargo bench --bench validate`.

use apache_avro::types::Value as AvroValue;
use apache_avro::writer::datum::GenericDatumWriter;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ringbus::registry::model::{RegisterRequest, Registry, SchemaType};
use ringbus::registry::validate::Validators;

const ORDERS: &str = include_str!("../tests/data/schemas/orders_schema.avsc");
/// Events per benchmark iteration.
const BATCH_EVENTS: usize = 1000;

fn validators() -> (Validators, u32) {
    let mut registry = Registry::new();
    let request = RegisterRequest {
        subject: "orders-value".to_owned(),
        schema_type: SchemaType::Avro,
        schema: ORDERS.to_owned(),
        references: Vec::new(),
        normalize: false,
        id: None,
        version: None,
    };
    let planned = registry
        .register(&request)
        .expect("orders schema registers");
    for event in &planned.events {
        registry.apply(event).expect("event applies");
    }
    let (validators, failed) = Validators::from_registry(&registry);
    assert!(failed.is_empty(), "compile failures: {failed:?}");
    (validators, planned.reply.id)
}

/// Builds a varied but deterministic order, as JSON text and as Avro.
fn order(i: usize) -> (String, AvroValue) {
    let ordertime = 1_487_715_775_521 + i as i64 * 7919;
    let itemid = format!("Item_{}", i % 999 + 1);
    let units = 0.1 + (i % 97) as f64 / 10.0;
    let city = format!("City_{}", i % 89 + 1);
    let state = format!("State_{}", i % 53 + 1);
    let zipcode = 10_000 + (i as i64 * 31) % 89_999;
    let json = format!(
        r#"{{"ordertime":{ordertime},"orderid":{i},"itemid":"{itemid}","orderunits":{units},"address":{{"city":"{city}","state":"{state}","zipcode":{zipcode}}}}}"#
    );
    let address = AvroValue::Record(vec![
        ("city".into(), AvroValue::String(city)),
        ("state".into(), AvroValue::String(state)),
        ("zipcode".into(), AvroValue::Long(zipcode)),
    ]);
    let avro = AvroValue::Record(vec![
        ("ordertime".into(), AvroValue::Long(ordertime)),
        ("orderid".into(), AvroValue::Int(i as i32)),
        ("itemid".into(), AvroValue::String(itemid)),
        ("orderunits".into(), AvroValue::Double(units)),
        ("address".into(), address),
    ]);
    (json, avro)
}

fn bench_validate(c: &mut Criterion) {
    let (validators, id) = validators();
    let schema = apache_avro::Schema::parse_str(ORDERS).unwrap();
    let writer = GenericDatumWriter::builder(&schema).build().unwrap();
    let mut json_events = Vec::with_capacity(BATCH_EVENTS);
    let mut framed_events = Vec::with_capacity(BATCH_EVENTS);
    for i in 0..BATCH_EVENTS {
        let (json, avro) = order(i);
        json_events.push(json.into_bytes());
        let mut framed = vec![0u8];
        framed.extend_from_slice(&id.to_be_bytes());
        framed.extend(writer.write_value_to_vec(avro).unwrap());
        framed_events.push(framed);
    }

    let mut group = c.benchmark_group("validate_orders");
    group.throughput(Throughput::Elements(BATCH_EVENTS as u64));
    // simd-json parses in place, so each event is copied into a reused
    // buffer first; the copy is part of the measured time.
    let mut buffer = Vec::new();
    group.bench_function("json_events", |b| {
        b.iter(|| {
            for event in &json_events {
                buffer.clear();
                buffer.extend_from_slice(event);
                validators.validate_json(id, &mut buffer).unwrap();
            }
        })
    });
    group.bench_function("framed_avro_events", |b| {
        b.iter(|| {
            for event in &framed_events {
                validators.validate_framed(event).unwrap();
            }
        })
    });
    group.finish();

    let json_bytes: usize = json_events.iter().map(Vec::len).sum();
    let framed_bytes: usize = framed_events.iter().map(Vec::len).sum();
    let mut bytes = c.benchmark_group("validate_orders_bytes");
    bytes.throughput(Throughput::Bytes(json_bytes as u64));
    bytes.bench_function("json_events", |b| {
        b.iter(|| {
            for event in &json_events {
                buffer.clear();
                buffer.extend_from_slice(event);
                validators.validate_json(id, &mut buffer).unwrap();
            }
        })
    });
    bytes.throughput(Throughput::Bytes(framed_bytes as u64));
    bytes.bench_function("framed_avro_events", |b| {
        b.iter(|| {
            for event in &framed_events {
                validators.validate_framed(event).unwrap();
            }
        })
    });
    bytes.finish();
}

criterion_group!(benches, bench_validate);
criterion_main!(benches);
