//! Avro JSON datum cases (tests/data/registry/avro_datum_cases.json, with the
//! source of each case in its `source` field) run through the Avro validator
//! under each union encoding.

use ringbus::registry::validate::{AvroValidator, UnionEncoding};
use serde_json::Value;

fn cases() -> Vec<Value> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/registry/avro_datum_cases.json"
    );
    let text = std::fs::read_to_string(path).expect("datum cases file is readable");
    let file: Value = serde_json::from_str(&text).expect("datum cases file is JSON");
    file["cases"].as_array().expect("cases is an array").clone()
}

fn accepts(case: &Value, unions: UnionEncoding) -> bool {
    let schema = apache_avro::Schema::parse(&case["schema"]).expect("case schema parses");
    let validator = AvroValidator::new(&schema, &[]).expect("case schema compiles");
    let mut datum = serde_json::to_vec(&case["datum"]).unwrap();
    validator.validate_json(&mut datum, unions).is_ok()
}

/// Runs the cases that `expected` gives a verdict for under `unions`;
/// returns the ids whose verdict differs, and the number of cases run.
fn mismatches(
    unions: UnionEncoding,
    expected: impl Fn(&Value) -> Option<bool>,
) -> (Vec<String>, usize) {
    let cases: Vec<(Value, bool)> = cases()
        .into_iter()
        .filter_map(|case| expected(&case).map(|verdict| (case, verdict)))
        .collect();
    let failed = cases
        .iter()
        .filter(|(case, verdict)| accepts(case, unions) != *verdict)
        .map(|(case, _)| case["id"].as_str().unwrap_or("?").to_owned())
        .collect();
    (failed, cases.len())
}

fn valid(case: &Value) -> bool {
    case["valid"].as_bool().expect("valid is a boolean")
}

/// Returns the plain-JSON verdict, which a case gives only where it differs
/// from `valid`.
fn valid_plain(case: &Value) -> Option<bool> {
    case.get("valid_if_plain_json_untagged_unions")
        .and_then(Value::as_bool)
}

#[test]
fn avro_json_encoding_verdicts_match() {
    let (failed, total) = mismatches(UnionEncoding::Tagged, |c| Some(valid(c)));
    println!("avro-json: {} of {total} cases pass", total - failed.len());
    assert!(
        failed.is_empty(),
        "cases with a different verdict: {failed:?}"
    );
}

#[test]
fn plain_json_verdicts_match() {
    let (failed, total) = mismatches(UnionEncoding::Plain, valid_plain);
    println!("plain JSON: {} of {total} cases pass", total - failed.len());
    assert!(total >= 8, "only {total} cases give a plain-JSON verdict");
    assert!(
        failed.is_empty(),
        "cases with a different verdict: {failed:?}"
    );
}

#[test]
fn either_encoding_accepts_union_of_verdicts() {
    let (failed, total) = mismatches(UnionEncoding::Either, |c| {
        Some(valid(c) || valid_plain(c).unwrap_or(false))
    });
    println!(
        "either encoding: {} of {total} cases pass",
        total - failed.len()
    );
    assert!(
        failed.is_empty(),
        "cases with a different verdict: {failed:?}"
    );
}
