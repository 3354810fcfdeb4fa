//! Tests of the generator: every shipped schema's events validate with
//! `apache_avro`, each hint is honoured, and bad schemas are rejected.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use apache_avro::schema::{Name, ResolvedSchema, Schema};
use apache_avro::types::Value as AvroValue;
use serde_json::Value;

use super::Generator;

const EVENTS_PER_SCHEMA: usize = 1_000;

fn schemas_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schemas")
}

/// Returns the path of every `.avsc` file under `schemas/`.
fn shipped_schemas() -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut dirs = vec![schemas_dir()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "avsc") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

fn load(relative: &str) -> String {
    std::fs::read_to_string(schemas_dir().join(relative)).unwrap()
}

/// Generates `count` events and parses each as JSON.
fn events(generator: &mut Generator, count: usize) -> Vec<Value> {
    let mut out = Vec::new();
    (0..count)
        .map(|_| {
            out.clear();
            generator.next_into(&mut out);
            serde_json::from_slice(&out)
                .unwrap_or_else(|e| panic!("invalid JSON ({e}): {}", String::from_utf8_lossy(&out)))
        })
        .collect()
}

/// Converts a plain JSON event to an Avro value by the schema, failing on
/// any mismatch. A union takes the first branch that the value converts to.
fn to_avro(
    json: &Value,
    schema: &Schema,
    names: &HashMap<Name, &Schema>,
) -> Result<AvroValue, String> {
    let mismatch = || format!("{json} does not match {schema:?}");
    let value = match (schema, json) {
        (Schema::Null, Value::Null) => AvroValue::Null,
        (Schema::Boolean, Value::Bool(b)) => AvroValue::Boolean(*b),
        (Schema::Int | Schema::Date, Value::Number(n)) => {
            let int = n
                .as_i64()
                .and_then(|n| i32::try_from(n).ok())
                .ok_or_else(mismatch)?;
            match schema {
                Schema::Date => AvroValue::Date(int),
                _ => AvroValue::Int(int),
            }
        }
        (Schema::Long | Schema::TimestampMillis, Value::Number(n)) => {
            let long = n.as_i64().ok_or_else(mismatch)?;
            match schema {
                Schema::TimestampMillis => AvroValue::TimestampMillis(long),
                _ => AvroValue::Long(long),
            }
        }
        (Schema::Float, Value::Number(n)) => {
            AvroValue::Float(n.as_f64().ok_or_else(mismatch)? as f32)
        }
        (Schema::Double, Value::Number(n)) => AvroValue::Double(n.as_f64().ok_or_else(mismatch)?),
        (Schema::String, Value::String(s)) => AvroValue::String(s.clone()),
        (Schema::Bytes, Value::String(s)) => {
            AvroValue::Bytes(code_points_to_bytes(s).ok_or_else(mismatch)?)
        }
        (Schema::Fixed(_), Value::String(s)) => {
            // `validate` compares the size given here with the schema's.
            let bytes = code_points_to_bytes(s).ok_or_else(mismatch)?;
            AvroValue::Fixed(bytes.len(), bytes)
        }
        (Schema::Enum(e), Value::String(s)) => {
            let index = e
                .symbols
                .iter()
                .position(|symbol| symbol == s)
                .ok_or_else(mismatch)?;
            AvroValue::Enum(index as u32, s.clone())
        }
        (Schema::Array(array), Value::Array(items)) => AvroValue::Array(
            items
                .iter()
                .map(|item| to_avro(item, &array.items, names))
                .collect::<Result<_, _>>()?,
        ),
        (Schema::Map(map), Value::Object(entries)) => AvroValue::Map(
            entries
                .iter()
                .map(|(k, v)| Ok((k.clone(), to_avro(v, &map.types, names)?)))
                .collect::<Result<_, String>>()?,
        ),
        (Schema::Union(union), json) => {
            let variants = union.variants().iter().enumerate();
            let mut converted = variants.filter_map(|(i, variant)| {
                let value = to_avro(json, variant, names).ok()?;
                Some(AvroValue::Union(i as u32, Box::new(value)))
            });
            converted.next().ok_or_else(mismatch)?
        }
        (Schema::Record(record), Value::Object(entries)) => {
            if entries.len() != record.fields.len() {
                return Err(format!("{json} has other fields than {}", record.name));
            }
            let mut fields = Vec::with_capacity(record.fields.len());
            for field in &record.fields {
                let entry = entries.get(&field.name).ok_or_else(mismatch)?;
                fields.push((field.name.clone(), to_avro(entry, &field.schema, names)?));
            }
            AvroValue::Record(fields)
        }
        (Schema::Ref { name }, json) => return to_avro(json, names[name], names),
        _ => return Err(mismatch()),
    };
    Ok(value)
}

fn code_points_to_bytes(text: &str) -> Option<Vec<u8>> {
    text.chars()
        .map(|c| u8::try_from(u32::from(c)).ok())
        .collect()
}

#[test]
fn shipped_schemas_validate() {
    let paths = shipped_schemas();
    assert_eq!(
        paths.len(),
        11,
        "expected the 10 Datagen schemas and interop.avsc"
    );
    for path in paths {
        let text = std::fs::read_to_string(&path).unwrap();
        let schema = Schema::parse_str(&text).unwrap();
        let resolved = ResolvedSchema::try_from(&schema).unwrap();
        let names: HashMap<Name, &Schema> = resolved
            .get_names()
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        let mut generator =
            Generator::from_avsc(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for (i, event) in events(&mut generator, EVENTS_PER_SCHEMA).iter().enumerate() {
            let value = to_avro(event, &schema, &names)
                .unwrap_or_else(|e| panic!("{} event {i}: {e}", path.display()));
            assert!(
                value.validate(&schema),
                "{} event {i}: {event}",
                path.display()
            );
        }
    }
}

#[test]
fn same_seed_same_events() {
    let text = load("orders_schema.avsc");
    let first = events(&mut Generator::from_avsc(&text).unwrap().with_seed(7), 50);
    let again = events(&mut Generator::from_avsc(&text).unwrap().with_seed(7), 50);
    let other = events(&mut Generator::from_avsc(&text).unwrap().with_seed(8), 50);
    assert_eq!(first, again);
    assert_ne!(first, other);
}

#[test]
fn orders_hints_are_honoured() {
    let mut generator = Generator::from_avsc(&load("orders_schema.avsc")).unwrap();
    let item = regex::Regex::new("^Item_[1-9][0-9]{0,2}$").unwrap();
    let city = regex::Regex::new("^City_[1-9]{0,2}$").unwrap();
    for (i, event) in events(&mut generator, 2_000).iter().enumerate() {
        let ordertime = event["ordertime"].as_i64().unwrap();
        assert!((1_487_715_775_521..1_519_273_364_600).contains(&ordertime));
        assert_eq!(
            event["orderid"].as_i64(),
            Some(i as i64),
            "iteration from 0 by 1"
        );
        assert!(item.is_match(event["itemid"].as_str().unwrap()), "{event}");
        let units = event["orderunits"].as_f64().unwrap();
        assert!((0.1..10.0).contains(&units), "{units}");
        assert!(
            city.is_match(event["address"]["city"].as_str().unwrap()),
            "{event}"
        );
        let zipcode = event["address"]["zipcode"].as_i64().unwrap();
        assert!((10_000..99_999).contains(&zipcode));
    }
}

#[test]
fn iteration_step_and_options() {
    let mut generator = Generator::from_avsc(&load("pageviews_schema.avsc")).unwrap();
    let viewtimes: Vec<i64> = events(&mut generator, 4)
        .iter()
        .map(|e| e["viewtime"].as_i64().unwrap())
        .collect();
    assert_eq!(viewtimes, vec![1, 11, 21, 31]);

    let mut generator = Generator::from_avsc(&load("users_array_map_schema.avsc")).unwrap();
    let genders: HashSet<String> = events(&mut generator, 500)
        .iter()
        .map(|e| e["gender"].as_str().unwrap().to_owned())
        .collect();
    let expected: HashSet<String> = ["MALE", "FEMALE", "OTHER"].map(str::to_owned).into();
    assert_eq!(genders, expected, "every option appears, and nothing else");
}

#[test]
fn record_options_and_array_length() {
    let mut generator = Generator::from_avsc(&load("pizza_orders.avsc")).unwrap();
    let mut lengths = HashSet::new();
    for event in events(&mut generator, 500) {
        let lines = event["order_lines"].as_array().unwrap();
        lengths.insert(lines.len());
        assert!(
            lines.iter().all(|line| line["category"].is_string()),
            "{event}"
        );
        assert_eq!(event["status"], "accepted");
    }
    let expected: HashSet<usize> = (1..5).collect();
    assert_eq!(lengths, expected, "length min 1, max 5 exclusive");
}

#[test]
fn iteration_restarts_and_wraps() {
    let schema = r#"{"type": "record", "name": "r", "fields": [
        {"name": "a", "type": {"type": "int", "arg.properties":
            {"iteration": {"start": 3, "restart": 6}}}},
        {"name": "b", "type": {"type": "int", "arg.properties":
            {"iteration": {"start": 2147483646}}}}]}"#;
    let mut generator = Generator::from_avsc(schema).unwrap();
    let events = events(&mut generator, 5);
    let a: Vec<i64> = events.iter().map(|e| e["a"].as_i64().unwrap()).collect();
    let b: Vec<i64> = events.iter().map(|e| e["b"].as_i64().unwrap()).collect();
    assert_eq!(a, vec![3, 4, 5, 3, 4]);
    assert_eq!(
        b,
        vec![
            2_147_483_646,
            2_147_483_647,
            2_147_483_646,
            2_147_483_647,
            2_147_483_646
        ]
    );
}

#[test]
fn recursive_schema_stays_bounded() {
    let schema = r#"{"type": "record", "name": "Tree", "fields": [
        {"name": "children", "type": {"type": "array", "items": "Tree",
            "arg.properties": {"length": {"min": 2, "max": 3}}}},
        {"name": "next", "type": ["Tree", "null"]}]}"#;
    let mut generator = Generator::from_avsc(schema).unwrap();
    let mut out = Vec::new();
    generator.next_into(&mut out);
    let event: Value = serde_json::from_slice(&out).unwrap();
    assert!(event["children"].is_array());
    assert!(out.len() < 64 << 20, "event of {} bytes", out.len());
}

#[test]
fn rejects_bad_schemas() {
    let cases = [
        (
            r#"{"type": "string", "arg.properties": {"keys": {}}}"#,
            "keys",
        ),
        (
            r#"{"type": "int", "arg.properties": {"range": {"min": 5, "max": 5}}}"#,
            "range min",
        ),
        (
            r#"{"type": "int", "arg.properties": {"range": {"max": 1e20}}}"#,
            "not an integer",
        ),
        (
            r#"{"type": "string", "arg.properties": {"regex": "a[b"}}"#,
            "invalid regex",
        ),
        (
            r#"{"type": "int", "arg.properties": {"options": ["x"]}}"#,
            "option 0",
        ),
        (
            r#"{"type": "double", "arg.properties": {"iteration": {"start": 1}}}"#,
            "iteration",
        ),
        (
            r#"{"type": "record", "name": "Loop", "fields": [{"name": "me", "type": "Loop"}]}"#,
            "no finite value",
        ),
        (r#"{"type": "nope"}"#, "invalid Avro schema"),
    ];
    for (schema, expected) in cases {
        match Generator::from_avsc(schema) {
            Ok(_) => panic!("{schema} was accepted"),
            Err(message) => assert!(message.contains(expected), "{message:?} lacks {expected:?}"),
        }
    }
}

#[test]
fn strings_are_escaped() {
    let schema = r#"{"type": "string", "arg.properties": {"options": ["a\"b\\c\n"]}}"#;
    let mut generator = Generator::from_avsc(schema).unwrap();
    assert_eq!(events(&mut generator, 1)[0], "a\"b\\c\n");
    let schema = r#"{"type": "string", "arg.properties": {"regex": "[\\x00-\\x1f\"\\\\]{20}"}}"#;
    let mut generator = Generator::from_avsc(schema).unwrap();
    let text = events(&mut generator, 1)[0].as_str().unwrap().to_owned();
    assert_eq!(text.chars().count(), 20);
}

#[test]
fn uuid_logical_type() {
    let schema = r#"{"type": "string", "logicalType": "uuid"}"#;
    let mut generator = Generator::from_avsc(schema).unwrap();
    let uuid =
        regex::Regex::new("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
            .unwrap();
    for event in events(&mut generator, 100) {
        assert!(uuid.is_match(event.as_str().unwrap()), "{event}");
    }
}
