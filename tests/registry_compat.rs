//! Compatibility suites driven by the reference cases in
//! `tests/data/registry/` (each case names its upstream source), plus checks
//! of parsing, canonical text and level semantics.

use std::path::PathBuf;

use ringbus::registry::compat::{can_read, check, CompatibilityLevel};
use ringbus::registry::schema::{
    canonical, parse, ParsedSchema, ResolvedReference, SchemaError, SchemaType,
};
use serde_json::Value;

fn load_cases(file: &str) -> Vec<Value> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/registry")
        .join(file);
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let data: Value = serde_json::from_str(&text).expect("case file is JSON");
    data["cases"]
        .as_array()
        .expect("case file has a cases array")
        .clone()
}

/// Returns the schema text of a case field: Avro and JSON schemas are
/// embedded as JSON values, `.proto` files as strings.
fn schema_text(t: SchemaType, value: &Value) -> String {
    match (t, value) {
        (SchemaType::Protobuf, Value::String(text)) => text.clone(),
        (_, other) => other.to_string(),
    }
}

fn parse_case(t: SchemaType, value: &Value, refs: &[ResolvedReference]) -> ParsedSchema {
    let text = schema_text(t, value);
    parse(t, &text, refs).unwrap_or_else(|e| panic!("schema does not parse: {e}\n{text}"))
}

/// Tallies a suite and fails with every mismatching case, so one run shows
/// all of them with expected and actual results.
#[derive(Default)]
struct Tally {
    passed: usize,
    failures: Vec<String>,
}

impl Tally {
    fn record(&mut self, case: &Value, expected: bool, messages: &[String]) {
        let got = messages.is_empty();
        if got == expected {
            self.passed += 1;
            return;
        }
        self.failures.push(format!(
            "{}: expected compatible={expected}, got {got} {messages:?}\n    note: {}",
            case["id"].as_str().unwrap_or("?"),
            case["note"].as_str().unwrap_or("")
        ));
    }

    /// Checks that each reported incompatibility (type and path) is one of
    /// the differences Confluent lists for the case, where the case has them.
    fn check_listed(&mut self, case: &Value, messages: &[String]) {
        let Some(listed) = case["confluent_differences"].as_array() else {
            return;
        };
        let listed: Vec<&str> = listed.iter().filter_map(Value::as_str).collect();
        for message in messages {
            let head = message
                .split(": ")
                .next()
                .unwrap_or(message)
                .replacen(" at ", " ", 1);
            if !listed.contains(&head.as_str()) {
                let id = case["id"].as_str().unwrap_or("?");
                self.failures.push(format!(
                    "{id}: reported {head}, which Confluent does not list in {listed:?}"
                ));
            }
        }
    }

    fn finish(self, file: &str) {
        let total = self.passed + self.failures.len();
        println!("{file}: {}/{total} cases pass", self.passed);
        assert!(
            self.failures.is_empty(),
            "{file}: {} of {total} cases fail:\n  {}",
            self.failures.len(),
            self.failures.join("\n  ")
        );
    }
}

#[test]
fn avro_pairs_match_java_checker() {
    let mut tally = Tally::default();
    for case in load_cases("avro_compat_cases.json") {
        let reader = parse_case(SchemaType::Avro, &case["reader"], &[]);
        let writer = parse_case(SchemaType::Avro, &case["writer"], &[]);
        let expected = case["expected_reader_can_read_writer"]
            .as_bool()
            .expect("expectation");
        tally.record(&case, expected, &can_read(&reader, &writer));
    }
    tally.finish("avro_compat_cases.json");
}

#[test]
fn avro_levels_match_confluent() {
    let mut tally = Tally::default();
    for case in load_cases("avro_level_cases.json") {
        let level: CompatibilityLevel = case["level"]
            .as_str()
            .expect("level")
            .parse()
            .expect("known level");
        let new = parse_case(SchemaType::Avro, &case["new_schema"], &[]);
        let history: Vec<ParsedSchema> = case["previous_schemas_oldest_first"]
            .as_array()
            .expect("history")
            .iter()
            .map(|s| parse_case(SchemaType::Avro, s, &[]))
            .collect();
        let expected = case["expected_compatible"].as_bool().expect("expectation");
        tally.record(&case, expected, &check(level, &new, &history));
    }
    tally.finish("avro_level_cases.json");
}

fn proto_references(case: &Value, side: &str) -> Vec<ResolvedReference> {
    let Some(dependencies) = case[format!("{side}_dependencies")].as_array() else {
        return Vec::new();
    };
    dependencies
        .iter()
        .map(|d| ResolvedReference {
            name: d["name"].as_str().expect("dependency name").to_string(),
            schema: d["dependency"]
                .as_str()
                .expect("dependency text")
                .to_string(),
        })
        .collect()
}

#[test]
fn protobuf_pairs_match_confluent() {
    let mut tally = Tally::default();
    for case in load_cases("protobuf_compat_cases.json") {
        let reader_refs = proto_references(&case, "reader");
        let writer_refs = proto_references(&case, "writer");
        if case["both_sides_compile_with_protox_0_10"] == Value::Bool(false) {
            // Cases marked invalid .proto must be rejected at registration,
            // so they never reach the compatibility check.
            let reader = parse(
                SchemaType::Protobuf,
                &schema_text(SchemaType::Protobuf, &case["reader"]),
                &reader_refs,
            );
            let writer = parse(
                SchemaType::Protobuf,
                &schema_text(SchemaType::Protobuf, &case["writer"]),
                &writer_refs,
            );
            assert!(reader.is_err(), "{}: invalid reader parsed", case["id"]);
            assert!(writer.is_err(), "{}: invalid writer parsed", case["id"]);
            tally.passed += 1;
            continue;
        }
        let reader = parse_case(SchemaType::Protobuf, &case["reader"], &reader_refs);
        let writer = parse_case(SchemaType::Protobuf, &case["writer"], &writer_refs);
        let expected = case["expected_reader_can_read_writer"]
            .as_bool()
            .expect("expectation");
        let messages = can_read(&reader, &writer);
        tally.check_listed(&case, &messages);
        tally.record(&case, expected, &messages);
    }
    tally.finish("protobuf_compat_cases.json");
}

#[test]
fn json_schema_pairs_match_confluent() {
    let mut tally = Tally::default();
    for case in load_cases("jsonschema_compat_cases.json") {
        let reader = parse_case(SchemaType::Json, &case["reader"], &[]);
        let writer = parse_case(SchemaType::Json, &case["writer"], &[]);
        let expected = case["expected_reader_can_read_writer"]
            .as_bool()
            .expect("expectation");
        let messages = can_read(&reader, &writer);
        tally.check_listed(&case, &messages);
        tally.record(&case, expected, &messages);
    }
    tally.finish("jsonschema_compat_cases.json");
}

fn avro(text: &str) -> ParsedSchema {
    parse(SchemaType::Avro, text, &[]).expect("valid Avro schema")
}

const RECORD_V1: &str = r#"{"type":"record","name":"r","fields":[{"name":"a","type":"int"}]}"#;
const RECORD_V2_DEFAULT: &str = r#"{"type":"record","name":"r","fields":[{"name":"a","type":"int"},{"name":"b","type":"string","default":""}]}"#;
const RECORD_V3_NO_DEFAULT: &str = r#"{"type":"record","name":"r","fields":[{"name":"a","type":"int"},{"name":"b","type":"string"}]}"#;

#[test]
fn check_none_accepts_anything() {
    let history = [avro(r#""string""#)];
    assert!(check(CompatibilityLevel::None, &avro(r#""int""#), &history).is_empty());
}

#[test]
fn check_empty_history_is_compatible() {
    assert!(check(CompatibilityLevel::FullTransitive, &avro(RECORD_V1), &[]).is_empty());
}

#[test]
fn check_backward_uses_latest_only() {
    // v3 cannot read v1 data (b has no default) but reads v2 data.
    let history = [avro(RECORD_V1), avro(RECORD_V2_DEFAULT)];
    let new = avro(RECORD_V3_NO_DEFAULT);
    assert!(check(CompatibilityLevel::Backward, &new, &history).is_empty());
    let messages = check(CompatibilityLevel::BackwardTransitive, &new, &history);
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert!(
        messages[0].starts_with("READER_FIELD_MISSING_DEFAULT_VALUE at /fields/1"),
        "{messages:?}"
    );
}

#[test]
fn check_forward_reads_new_with_old() {
    // The old schema reads new data when the new one drops a field that
    // the old one declares with a default.
    let history = [avro(RECORD_V2_DEFAULT)];
    assert!(check(CompatibilityLevel::Forward, &avro(RECORD_V1), &history).is_empty());
    let history = [avro(RECORD_V3_NO_DEFAULT)];
    assert!(!check(CompatibilityLevel::Forward, &avro(RECORD_V1), &history).is_empty());
    assert!(check(CompatibilityLevel::Backward, &avro(RECORD_V1), &history).is_empty());
    assert!(!check(CompatibilityLevel::Full, &avro(RECORD_V1), &history).is_empty());
}

#[test]
fn check_rejects_schema_type_change() {
    let json = parse(SchemaType::Json, r#"{"type":"string"}"#, &[]).expect("valid JSON Schema");
    let messages = check(CompatibilityLevel::Backward, &json, &[avro(r#""string""#)]);
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert!(messages[0].contains("AVRO to JSON"), "{messages:?}");
}

#[test]
fn avro_message_names_type_and_location() {
    let reader = avro(r#"{"type":"record","name":"r","fields":[{"name":"a","type":"int"}]}"#);
    let writer = avro(r#"{"type":"record","name":"r","fields":[{"name":"a","type":"string"}]}"#);
    let messages = can_read(&reader, &writer);
    assert_eq!(
        messages,
        vec!["TYPE_MISMATCH at /fields/0/type: reader type int is not compatible with writer type string"]
    );
}

#[test]
fn avro_reference_types_resolve() {
    let address = ResolvedReference {
        name: "com.example.Address".into(),
        schema: r#"{"type":"record","name":"Address","namespace":"com.example","fields":[{"name":"city","type":"string"}]}"#.into(),
    };
    let text = r#"{"type":"record","name":"User","namespace":"com.example","fields":[{"name":"home","type":"Address"}]}"#;
    let user =
        parse(SchemaType::Avro, text, std::slice::from_ref(&address)).expect("reference resolves");
    assert!(can_read(&user, &user).is_empty());
    assert!(
        canonical(&user).contains(r#""name":"com.example.Address""#),
        "{}",
        canonical(&user)
    );
    let missing = parse(SchemaType::Avro, text, &[]);
    assert!(
        matches!(missing, Err(SchemaError::Invalid { .. })),
        "{missing:?}"
    );
}

#[test]
fn avro_syntax_error_has_position() {
    let error =
        parse(SchemaType::Avro, "{\"type\":\n  \"record\",,}", &[]).expect_err("invalid JSON");
    let SchemaError::Syntax {
        line,
        column,
        ref message,
        ..
    } = error
    else {
        panic!("expected a syntax error, got {error:?}");
    };
    assert_eq!(line, 2);
    assert_eq!(column, 12);
    assert!(
        !message.contains("line"),
        "position repeated in {message:?}"
    );
}

#[test]
fn avro_bad_default_is_invalid() {
    let text = r#"{"type":"record","name":"r","fields":[{"name":"a","type":"int","default":"x"}]}"#;
    let error = parse(SchemaType::Avro, text, &[]).expect_err("default does not match type");
    assert!(
        matches!(
            error,
            SchemaError::Invalid {
                schema_type: SchemaType::Avro,
                ..
            }
        ),
        "{error:?}"
    );
}

#[test]
fn avro_canonical_ignores_doc_and_custom_attributes() {
    let plain = r#"{"type":"record","name":"r","namespace":"n","fields":[{"name":"a","type":"int","default":1}]}"#;
    let annotated = r#"{"namespace":"n","name":"r","type":"record","doc":"d","fields":
        [{"name":"a","doc":"x","type":{"type":"int","arg.properties":{"range":{"min":1}}},"default":1}]}"#;
    assert_eq!(canonical(&avro(plain)), canonical(&avro(annotated)));
    assert_eq!(
        canonical(&avro(plain)),
        r#"{"name":"n.r","type":"record","fields":[{"name":"a","type":"int","default":1}]}"#
    );
}

#[test]
fn avro_canonical_keeps_defaults_and_logical_types() {
    let with_default =
        r#"{"type":"record","name":"r","fields":[{"name":"a","type":"int","default":1}]}"#;
    let other_default =
        r#"{"type":"record","name":"r","fields":[{"name":"a","type":"int","default":2}]}"#;
    assert_ne!(
        canonical(&avro(with_default)),
        canonical(&avro(other_default))
    );
    let decimal = r#"{"type":"bytes","logicalType":"decimal","precision":4,"scale":2}"#;
    assert_ne!(canonical(&avro(decimal)), canonical(&avro(r#""bytes""#)));
}

#[test]
fn json_canonical_sorts_keys() {
    let a = parse(
        SchemaType::Json,
        r#"{"type":"object","properties":{"b":{},"a":{}}}"#,
        &[],
    )
    .unwrap();
    let b = parse(
        SchemaType::Json,
        "{ \"properties\": {\"a\": {}, \"b\": {}},\n \"type\": \"object\" }",
        &[],
    )
    .unwrap();
    assert_eq!(canonical(&a), canonical(&b));
    assert_eq!(
        canonical(&a),
        r#"{"properties":{"a":{},"b":{}},"type":"object"}"#
    );
}

#[test]
fn json_invalid_keyword_value_is_rejected() {
    let error = parse(SchemaType::Json, r#"{"type":"strnig"}"#, &[]).expect_err("unknown type");
    assert!(
        matches!(
            error,
            SchemaError::Invalid {
                schema_type: SchemaType::Json,
                ..
            }
        ),
        "{error:?}"
    );
}

#[test]
fn json_unresolved_ref_is_rejected() {
    let text = r##"{"properties":{"a":{"$ref":"#/definitions/missing"}}}"##;
    let error = parse(SchemaType::Json, text, &[]).expect_err("dangling $ref");
    assert!(error.to_string().contains("/properties/a"), "{error}");
}

#[test]
fn json_reference_document_is_compared() {
    let old_ref = ResolvedReference {
        name: "address.json".into(),
        schema: r#"{"type":"object","properties":{"zip":{"type":"string"}}}"#.into(),
    };
    let new_ref = ResolvedReference {
        name: "address.json".into(),
        schema: r#"{"type":"object","properties":{"zip":{"type":"integer"}}}"#.into(),
    };
    let text = r#"{"type":"object","properties":{"home":{"$ref":"address.json"}}}"#;
    let old =
        parse(SchemaType::Json, text, std::slice::from_ref(&old_ref)).expect("reference resolves");
    let new = parse(SchemaType::Json, text, &[new_ref]).expect("reference resolves");
    let messages = can_read(&new, &old);
    assert_eq!(
        messages,
        vec!["TYPE_CHANGED at #/properties/home/properties/zip"]
    );
    assert!(can_read(&old, &old).is_empty());
}

#[test]
fn json_recursive_schema_terminates() {
    let text =
        r##"{"type":"object","properties":{"child":{"$ref":"#"},"name":{"type":"string"}}}"##;
    let schema = parse(SchemaType::Json, text, &[]).expect("recursive schema parses");
    assert!(can_read(&schema, &schema).is_empty());
}

const PROTO_V1: &str = "syntax = \"proto3\";\npackage p;\nmessage M {\n  string a = 1;\n}\n";

#[test]
fn protobuf_syntax_error_has_line() {
    let error = parse(
        SchemaType::Protobuf,
        "syntax = \"proto3\";\nmessage M {\n  int32 = 1;\n}\n",
        &[],
    )
    .expect_err("missing field name");
    let SchemaError::Syntax { line, .. } = error else {
        panic!("expected a syntax error, got {error:?}");
    };
    assert_eq!(line, 3);
}

#[test]
fn protobuf_unknown_type_is_invalid() {
    let error = parse(
        SchemaType::Protobuf,
        "syntax = \"proto3\";\nmessage M { Missing m = 1; }\n",
        &[],
    )
    .expect_err("undefined type");
    assert!(matches!(error, SchemaError::Invalid { .. }), "{error:?}");
}

#[test]
fn protobuf_well_known_imports_resolve() {
    let text = "syntax = \"proto3\";\nimport \"google/protobuf/timestamp.proto\";\n\
                message M { google.protobuf.Timestamp at = 1; }\n";
    assert!(parse(SchemaType::Protobuf, text, &[]).is_ok());
}

#[test]
fn protobuf_canonical_ignores_layout() {
    let dense = "syntax=\"proto3\";package p;message M{string a=1;}// trailing";
    let a = parse(SchemaType::Protobuf, PROTO_V1, &[]).unwrap();
    let b = parse(SchemaType::Protobuf, dense, &[]).unwrap();
    assert_eq!(canonical(&a), canonical(&b));
}

#[test]
fn protobuf_message_names_difference() {
    let old = parse(SchemaType::Protobuf, PROTO_V1, &[]).unwrap();
    let new = parse(
        SchemaType::Protobuf,
        &PROTO_V1.replace("string a", "int64 a"),
        &[],
    )
    .unwrap();
    let messages = can_read(&new, &old);
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert!(
        messages[0].starts_with("FIELD_SCALAR_KIND_CHANGED at #/M/1"),
        "{messages:?}"
    );
}

#[test]
fn protobuf_recursive_message_terminates() {
    let text = "syntax = \"proto3\";\nmessage Node { repeated Node children = 1; string v = 2; }\n";
    let schema = parse(SchemaType::Protobuf, text, &[]).unwrap();
    assert!(can_read(&schema, &schema).is_empty());
}

#[test]
fn level_and_type_names_parse() {
    assert_eq!(
        "backward_transitive".parse::<CompatibilityLevel>().unwrap(),
        CompatibilityLevel::BackwardTransitive
    );
    assert!("SIDEWAYS".parse::<CompatibilityLevel>().is_err());
    assert_eq!(
        "protobuf".parse::<SchemaType>().unwrap(),
        SchemaType::Protobuf
    );
    assert!("xml".parse::<SchemaType>().is_err());
    let level: CompatibilityLevel = serde_json::from_str("\"FULL_TRANSITIVE\"").unwrap();
    assert_eq!(level, CompatibilityLevel::FullTransitive);
    assert_eq!(
        serde_json::to_string(&SchemaType::Json).unwrap(),
        "\"JSON\""
    );
}

/// Builds a `.proto` file where each message has two fields of the next
/// message type, so the last message is reached along 2^depth field paths.
fn proto_chain(depth: usize, leaf_type: &str) -> String {
    let mut text = String::from("syntax = \"proto3\";\n");
    for level in 0..depth {
        let next = level + 1;
        text.push_str(&format!(
            "message M{level} {{ M{next} left = 1; M{next} right = 2; }}\n"
        ));
    }
    text.push_str(&format!("message M{depth} {{ {leaf_type} value = 1; }}\n"));
    text
}

#[test]
fn protobuf_shared_types_compared_once() {
    let old = parse(SchemaType::Protobuf, &proto_chain(40, "int32"), &[]).unwrap();
    let new = parse(SchemaType::Protobuf, &proto_chain(40, "string"), &[]).unwrap();
    let messages = can_read(&new, &old);
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("FIELD_SCALAR_KIND_CHANGED at #/M40/1")),
        "{messages:?}"
    );
    assert!(messages.len() < 200, "{} messages", messages.len());
    assert!(can_read(&old, &old).is_empty());
}

/// Builds a JSON Schema where each definition has two properties that
/// refer to the next one, so the last is reached along 2^depth paths.
fn json_chain(depth: usize, leaf_type: &str) -> String {
    let mut definitions = serde_json::Map::new();
    for level in 0..depth {
        let next = format!("#/definitions/d{}", level + 1);
        definitions.insert(
            format!("d{level}"),
            serde_json::json!({"type": "object", "properties": {"left": {"$ref": next}, "right": {"$ref": next}}}),
        );
    }
    definitions.insert(format!("d{depth}"), serde_json::json!({"type": leaf_type}));
    serde_json::json!({"$ref": "#/definitions/d0", "definitions": definitions}).to_string()
}

#[test]
fn json_shared_definitions_stay_bounded() {
    let old = parse(SchemaType::Json, &json_chain(40, "string"), &[]).unwrap();
    let new = parse(SchemaType::Json, &json_chain(40, "number"), &[]).unwrap();
    let messages = can_read(&new, &old);
    assert!(!messages.is_empty());
    assert!(
        messages
            .iter()
            .all(|m| m.starts_with("TYPE_CHANGED at #/properties/")),
        "{:?}",
        &messages[..1]
    );
    assert!(messages.len() <= 10_001, "{} messages", messages.len());
    assert!(can_read(&old, &old).is_empty());
}

#[test]
fn wide_record_union_reads_itself() {
    let branches: Vec<String> = (0..3000)
        .map(|i| {
            format!(r#"{{"type":"record","name":"R{i}","fields":[{{"name":"a","type":"int"}}]}}"#)
        })
        .collect();
    let text = format!("[{}]", branches.join(","));
    let schema = parse(SchemaType::Avro, &text, &[]).unwrap();
    assert!(can_read(&schema, &schema).is_empty());
    let narrower = format!("[{}]", branches[..2999].join(","));
    let narrower = parse(SchemaType::Avro, &narrower, &[]).unwrap();
    let problems = can_read(&narrower, &schema);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("MISSING_UNION_BRANCH"), "{problems:?}");
}
