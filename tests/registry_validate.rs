//! Payload validation through `Validators` built from a registry: framed
//! Avro and Protobuf, JSON against Avro, JSON Schema and Protobuf's JSON
//! mapping, and hostile inputs that must cost an error, not the process.

use apache_avro::types::Value as AvroValue;
use prost::Message;
use prost_reflect::{DynamicMessage, Value as ProtoValue};
use ringbus::registry::model::{Planned, RegisterRequest, Registry, SchemaReference, SchemaType};
use ringbus::registry::validate::{ValidationError, Validators};

const ORDERS: &str = include_str!("data/schemas/orders_schema.avsc");

const ORDER_PROTO: &str = r#"
syntax = "proto3";
package shop;
message Order {
  int32 id = 1;
  string item = 2;
  repeated double prices = 3;
  Address to = 4;
  message Address { string city = 1; }
}
message Other { bool flag = 1; }
"#;

const ITEMS_JSON_SCHEMA: &str = r#"{
  "type": "object",
  "properties": {
    "items": {"type": "array", "items": {"type": "object",
      "properties": {"price": {"type": "number"}}, "required": ["price"]}}
  },
  "required": ["items"]
}"#;

fn register(registry: &mut Registry, subject: &str, t: SchemaType, schema: &str) -> u32 {
    register_with_refs(registry, subject, t, schema, Vec::new())
}

fn register_with_refs(
    registry: &mut Registry,
    subject: &str,
    t: SchemaType,
    schema: &str,
    references: Vec<SchemaReference>,
) -> u32 {
    let request = RegisterRequest {
        subject: subject.to_owned(),
        schema_type: t,
        schema: schema.to_owned(),
        references,
        normalize: false,
        id: None,
        version: None,
    };
    let Planned { events, reply } = registry.register(&request).expect("schema registers");
    for event in &events {
        registry.apply(event).expect("event applies");
    }
    reply.id
}

fn validators(registry: &Registry) -> Validators {
    let (validators, failed) = Validators::from_registry(registry);
    assert!(failed.is_empty(), "schemas failed to compile: {failed:?}");
    validators
}

fn framed(id: u32, body: &[u8]) -> Vec<u8> {
    let mut value = vec![0u8];
    value.extend_from_slice(&id.to_be_bytes());
    value.extend_from_slice(body);
    value
}

fn order_datum() -> Vec<u8> {
    let schema = apache_avro::Schema::parse_str(ORDERS).unwrap();
    let address = AvroValue::Record(vec![
        ("city".into(), AvroValue::String("City_1".into())),
        ("state".into(), AvroValue::String("State_2".into())),
        ("zipcode".into(), AvroValue::Long(75001)),
    ]);
    let order = AvroValue::Record(vec![
        ("ordertime".into(), AvroValue::Long(1_500_000_000_000)),
        ("orderid".into(), AvroValue::Int(7)),
        ("itemid".into(), AvroValue::String("Item_42".into())),
        ("orderunits".into(), AvroValue::Double(2.5)),
        ("address".into(), address),
    ]);
    let writer = apache_avro::writer::datum::GenericDatumWriter::builder(&schema)
        .build()
        .unwrap();
    writer.write_value_to_vec(order).unwrap()
}

fn setup_avro() -> (Validators, u32) {
    let mut registry = Registry::new();
    let id = register(&mut registry, "orders-value", SchemaType::Avro, ORDERS);
    (validators(&registry), id)
}

#[test]
fn framed_avro_order_is_accepted() {
    let (validators, id) = setup_avro();
    assert_eq!(
        validators.validate_framed(&framed(id, &order_datum())),
        Ok(id)
    );
}

#[test]
fn framed_avro_truncated_names_field() {
    let (validators, id) = setup_avro();
    let datum = order_datum();
    let err = validators
        .validate_framed(&framed(id, &datum[..datum.len() - 4]))
        .unwrap_err();
    assert_eq!(err.schema_id, id);
    assert!(err.path.starts_with("$.address."), "path {}", err.path);
}

#[test]
fn framed_avro_trailing_bytes_rejected() {
    let (validators, id) = setup_avro();
    let mut datum = order_datum();
    datum.push(0);
    let err = validators.validate_framed(&framed(id, &datum)).unwrap_err();
    assert!(err.reason.contains("trailing"), "reason {}", err.reason);
}

#[test]
fn framed_value_header_checked() {
    let (validators, id) = setup_avro();
    let short = validators.validate_framed(&[0, 0, 0]).unwrap_err();
    assert!(short.reason.contains("shorter"), "reason {}", short.reason);
    let mut bad_magic = framed(id, &order_datum());
    bad_magic[0] = 1;
    let magic = validators.validate_framed(&bad_magic).unwrap_err();
    assert!(magic.reason.contains("magic"), "reason {}", magic.reason);
    let unknown = validators
        .validate_framed(&framed(99, &order_datum()))
        .unwrap_err();
    assert_eq!(unknown.schema_id, 99);
    assert!(
        unknown.reason.contains("not registered"),
        "reason {}",
        unknown.reason
    );
}

#[test]
fn avro_json_order_checked_with_path() {
    let (validators, id) = setup_avro();
    let good = r#"{"ordertime":1,"orderid":2,"itemid":"Item_1","orderunits":1.5,
        "address":{"city":"City_1","state":"State_1","zipcode":10000}}"#;
    assert_eq!(
        validators.validate_json(id, &mut good.as_bytes().to_vec()),
        Ok(())
    );
    let bad = good.replace("10000", "\"10000\"");
    let err = validators
        .validate_json(id, &mut bad.into_bytes())
        .unwrap_err();
    assert_eq!(err.path, "$.address.zipcode");
    assert_eq!(err.schema_id, id);
}

#[test]
fn subject_membership_tracks_live_ids() {
    let mut registry = Registry::new();
    let id = register(&mut registry, "orders-value", SchemaType::Avro, ORDERS);
    let validators = validators(&registry);
    assert!(validators.is_registered_under("orders-value", id));
    assert!(!validators.is_registered_under("users-value", id));
    assert!(!validators.is_registered_under("orders-value", id + 1));
}

fn setup_protobuf() -> (Validators, u32, prost_reflect::MessageDescriptor) {
    let mut registry = Registry::new();
    let id = register(
        &mut registry,
        "shop-value",
        SchemaType::Protobuf,
        ORDER_PROTO,
    );
    let record = registry.schema(id).unwrap().clone();
    let parsed = registry.parse_record(&record).unwrap();
    let ringbus::registry::model::schema::ParsedSchema::Protobuf(file) = parsed else {
        panic!("parsed as Protobuf");
    };
    let order = file.file().messages().next().unwrap();
    (validators(&registry), id, order)
}

fn order_message(order: &prost_reflect::MessageDescriptor) -> Vec<u8> {
    let mut message = DynamicMessage::new(order.clone());
    message.set_field_by_name("id", ProtoValue::I32(5));
    message.set_field_by_name("item", ProtoValue::String("pen".into()));
    message.set_field_by_name(
        "prices",
        ProtoValue::List(vec![ProtoValue::F64(1.5), ProtoValue::F64(2.0)]),
    );
    let address = order.child_messages().next().unwrap();
    let mut to = DynamicMessage::new(address);
    to.set_field_by_name("city", ProtoValue::String("Paris".into()));
    message.set_field_by_name("to", ProtoValue::Message(to));
    message.encode_to_vec()
}

#[test]
fn framed_protobuf_message_is_accepted() {
    let (validators, id, order) = setup_protobuf();
    // A single 0 stands for message indexes [0]: the first message.
    let mut body = vec![0u8];
    body.extend(order_message(&order));
    assert_eq!(validators.validate_framed(&framed(id, &body)), Ok(id));
}

#[test]
fn framed_protobuf_nested_message_index() {
    let (validators, id, order) = setup_protobuf();
    let address = order.child_messages().next().unwrap();
    let mut to = DynamicMessage::new(address);
    to.set_field_by_name("city", ProtoValue::String("Paris".into()));
    // Count 2, then indexes 0 and 0 (zigzag varints): Order.Address.
    let mut body = vec![4u8, 0, 0];
    body.extend(to.encode_to_vec());
    assert_eq!(validators.validate_framed(&framed(id, &body)), Ok(id));
    let out_of_range = validators
        .validate_framed(&framed(id, &[4u8, 0, 6]))
        .unwrap_err();
    assert!(
        out_of_range.reason.contains("index"),
        "reason {}",
        out_of_range.reason
    );
}

#[test]
fn framed_protobuf_errors_name_field() {
    let (validators, id, _) = setup_protobuf();
    // Field 1 (int32 id) sent with the length-delimited wire type.
    let wrong_wire = [0u8, 0x0A, 0x01, 0x00];
    let err = validators
        .validate_framed(&framed(id, &wrong_wire))
        .unwrap_err();
    assert_eq!(err.path, "$.id");
    // Field 4 (Address) whose field 1 (city) is not UTF-8.
    let bad_city = [0u8, 0x22, 0x03, 0x0A, 0x01, 0xFF];
    let err = validators
        .validate_framed(&framed(id, &bad_city))
        .unwrap_err();
    assert_eq!(err.path, "$.to.city");
    assert!(err.reason.contains("UTF-8"), "reason {}", err.reason);
}

#[test]
fn protobuf_json_mapping_checked() {
    let (validators, id, _) = setup_protobuf();
    let good = r#"{"id": 5, "item": "pen", "prices": [1.5, 2], "to": {"city": "Paris"}}"#;
    assert_eq!(
        validators.validate_json(id, &mut good.as_bytes().to_vec()),
        Ok(())
    );
    let bad = r#"{"id": 5, "to": {"city": 12}}"#;
    let err = validators
        .validate_json(id, &mut bad.as_bytes().to_vec())
        .unwrap_err();
    assert_eq!(err.path, "$.to.city");
    let unknown = r#"{"id": 5, "colour": "red"}"#;
    assert!(validators
        .validate_json(id, &mut unknown.as_bytes().to_vec())
        .is_err());
}

fn setup_json_schema() -> (Validators, u32) {
    let mut registry = Registry::new();
    let id = register(
        &mut registry,
        "cart-value",
        SchemaType::Json,
        ITEMS_JSON_SCHEMA,
    );
    (validators(&registry), id)
}

#[test]
fn json_schema_error_has_path() {
    let (validators, id) = setup_json_schema();
    let good = r#"{"items": [{"price": 1}, {"price": 2.5}]}"#;
    assert_eq!(
        validators.validate_json(id, &mut good.as_bytes().to_vec()),
        Ok(())
    );
    let bad = r#"{"items": [{"price": 1}, {"price": 2}, {"price": "3"}]}"#;
    let err: ValidationError = validators
        .validate_json(id, &mut bad.as_bytes().to_vec())
        .unwrap_err();
    assert_eq!(err.path, "$.items[2].price");
    assert_eq!(err.schema_id, id);
}

#[test]
fn json_schema_reference_resolves() {
    let mut registry = Registry::new();
    let price = r#"{"type": "number", "minimum": 0}"#;
    register(&mut registry, "price", SchemaType::Json, price);
    let line = r#"{"type": "object", "properties": {"price": {"$ref": "price.json"}}}"#;
    let reference = SchemaReference {
        name: "price.json".to_owned(),
        subject: "price".to_owned(),
        version: 1,
    };
    let id = register_with_refs(
        &mut registry,
        "line",
        SchemaType::Json,
        line,
        vec![reference],
    );
    let validators = validators(&registry);
    assert_eq!(
        validators.validate_json(id, &mut br#"{"price": 3}"#.to_vec()),
        Ok(())
    );
    let err = validators
        .validate_json(id, &mut br#"{"price": -3}"#.to_vec())
        .unwrap_err();
    assert_eq!(err.path, "$.price");
}

#[test]
fn invalid_json_is_an_error() {
    let (validators, id) = setup_json_schema();
    let err = validators
        .validate_json(id, &mut b"{\"items\": [".to_vec())
        .unwrap_err();
    assert!(err.reason.contains("invalid JSON"), "reason {}", err.reason);
}

// Hostile inputs.

fn nested_json(depth: usize) -> Vec<u8> {
    let mut text = "[".repeat(depth);
    text.push_str(&"]".repeat(depth));
    text.into_bytes()
}

#[test]
fn deep_json_rejected_by_every_format() {
    let mut registry = Registry::new();
    let json_id = register(&mut registry, "any-json", SchemaType::Json, "{}");
    let avro_id = register(
        &mut registry,
        "tree",
        SchemaType::Avro,
        r#"{"type":"record","name":"Tree","fields":[{"name":"kids","type":{"type":"array","items":"Tree"}}]}"#,
    );
    let proto_id = register(
        &mut registry,
        "shop-value",
        SchemaType::Protobuf,
        ORDER_PROTO,
    );
    let validators = validators(&registry);
    for id in [json_id, avro_id, proto_id] {
        let err = validators
            .validate_json(id, &mut nested_json(100_000))
            .unwrap_err();
        assert_eq!(err.schema_id, id);
    }
    let err = validators
        .validate_json(json_id, &mut nested_json(100))
        .unwrap_err();
    assert!(err.reason.contains("nests deeper"), "reason {}", err.reason);
}

#[test]
fn deep_recursive_avro_datum_rejected() {
    let mut registry = Registry::new();
    let list =
        r#"{"type":"record","name":"Node","fields":[{"name":"next","type":["null","Node"]}]}"#;
    let id = register(&mut registry, "list", SchemaType::Avro, list);
    let validators = validators(&registry);
    // Union index 1 (zigzag 2) a million times: a chain deeper than any limit.
    let mut body = vec![2u8; 1_000_000];
    body.push(0);
    let err = validators.validate_framed(&framed(id, &body)).unwrap_err();
    assert!(err.reason.contains("nests deeper"), "reason {}", err.reason);
    // A short chain is fine.
    assert_eq!(validators.validate_framed(&framed(id, &[2, 2, 0])), Ok(id));
}

/// Zigzag-encodes `value` as an Avro long.
fn avro_long(value: i64) -> Vec<u8> {
    let mut raw = ((value << 1) ^ (value >> 63)) as u64;
    let mut out = Vec::new();
    loop {
        let byte = (raw & 0x7F) as u8;
        raw >>= 7;
        if raw == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

#[test]
fn huge_declared_lengths_rejected() {
    let mut registry = Registry::new();
    let bytes_id = register(&mut registry, "blob", SchemaType::Avro, r#""bytes""#);
    let longs_id = register(
        &mut registry,
        "longs",
        SchemaType::Avro,
        r#"{"type":"array","items":"long"}"#,
    );
    let nulls_id = register(
        &mut registry,
        "nulls",
        SchemaType::Avro,
        r#"{"type":"array","items":"null"}"#,
    );
    let validators = validators(&registry);

    let huge_bytes = framed(bytes_id, &avro_long(1 << 60));
    let err = validators.validate_framed(&huge_bytes).unwrap_err();
    assert!(err.reason.contains("exceeds"), "reason {}", err.reason);

    // 1,000 longs need at least 1,000 bytes; 3 remain.
    let mut huge_array = avro_long(1000);
    huge_array.extend([2, 4, 6]);
    let err = validators
        .validate_framed(&framed(longs_id, &huge_array))
        .unwrap_err();
    assert!(err.reason.contains("cannot fit"), "reason {}", err.reason);

    // Nulls take no bytes, so only the item limit stops this count.
    let mut many_nulls = avro_long(1 << 40);
    many_nulls.push(0);
    let err = validators
        .validate_framed(&framed(nulls_id, &many_nulls))
        .unwrap_err();
    assert!(
        err.reason.contains("collection items"),
        "reason {}",
        err.reason
    );

    let negative = framed(bytes_id, &avro_long(-5));
    assert!(validators.validate_framed(&negative).is_err());

    let overlong_varint = framed(bytes_id, &[0xFF; 11]);
    assert!(validators.validate_framed(&overlong_varint).is_err());
}

#[test]
fn hostile_protobuf_rejected() {
    let (validators, id, _) = setup_protobuf();
    // Field 2 (item) declaring a 2^62-byte string.
    let mut huge = vec![0u8, 0x12];
    huge.extend([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F]);
    let err = validators.validate_framed(&framed(id, &huge)).unwrap_err();
    assert!(err.reason.contains("exceeds"), "reason {}", err.reason);
    // A message-index count far beyond any nesting.
    let err = validators
        .validate_framed(&framed(id, &avro_long(1 << 40)))
        .unwrap_err();
    assert!(err.reason.contains("count"), "reason {}", err.reason);
    // Unknown field 15 as a group nested 100,000 times.
    let mut groups = vec![0u8];
    groups.extend(std::iter::repeat_n(0x7B, 100_000));
    let err = validators
        .validate_framed(&framed(id, &groups))
        .unwrap_err();
    assert_eq!(err.schema_id, id);
}

#[test]
fn deep_recursive_protobuf_rejected() {
    let mut registry = Registry::new();
    let node = "syntax = \"proto3\"; message Node { Node child = 1; int32 value = 2; }";
    let id = register(&mut registry, "node", SchemaType::Protobuf, node);
    let validators = validators(&registry);
    let nest = |levels: usize| {
        let mut inner: Vec<u8> = Vec::new();
        for _ in 0..levels {
            let mut wrapped = vec![0x0A];
            wrapped.extend(avro_varint(inner.len() as u64));
            wrapped.extend(&inner);
            inner = wrapped;
        }
        let mut body = vec![0u8];
        body.extend(inner);
        framed(id, &body)
    };
    assert_eq!(validators.validate_framed(&nest(10)), Ok(id));
    let err = validators.validate_framed(&nest(200)).unwrap_err();
    assert!(err.reason.contains("nests deeper"), "reason {}", err.reason);
}

fn avro_varint(mut raw: u64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (raw & 0x7F) as u8;
        raw >>= 7;
        if raw == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

/// Runs the produce-path check on one record with the given headers.
fn check_one(
    validators: &Validators,
    value: &[u8],
    headers: &[(&str, &[u8])],
) -> Result<(), ringbus::protocol::ApiError> {
    use ringbus::protocol::batch::{records, BatchBuilder};
    use ringbus::registry::produce::{RecordChecker, Validation};
    let mut builder = BatchBuilder::new(1_000);
    builder.push(1_000, None, Some(value), headers);
    let batch = builder.finish();
    let mut checker = RecordChecker::new(validators, "cart", "cart-value", Validation::Payload);
    let record = records(&batch).next().unwrap().unwrap();
    checker.check(&record)
}

#[test]
fn unframed_value_without_header_explained() {
    let (validators, _) = setup_json_schema();
    let err = check_one(&validators, br#"{"items": []}"#, &[]).unwrap_err();
    assert!(
        err.message.contains("no 'schema_id' header"),
        "{}",
        err.message
    );
    assert!(err.message.contains("magic byte 0"), "{}", err.message);
    assert!(!err.message.contains("schema id 0"), "{}", err.message);
}

#[test]
fn json_syntax_error_in_words() {
    let (validators, id) = setup_json_schema();
    let id_text = id.to_string();
    let headers: [(&str, &[u8]); 1] = [("schema_id", id_text.as_bytes())];
    let err = check_one(&validators, b"hello", &headers).unwrap_err();
    assert!(err.message.contains("invalid JSON"), "{}", err.message);
    assert!(!err.message.contains("TapeError"), "{}", err.message);
    let err = check_one(&validators, br#"{"a" 1}"#, &headers).unwrap_err();
    assert!(
        err.message
            .contains("invalid JSON at byte 5 (expected object colon)"),
        "{}",
        err.message
    );
}
