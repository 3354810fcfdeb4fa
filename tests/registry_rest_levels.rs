//! Compatibility-level cases (tests/data/registry/avro_level_cases.json, with
//! each case's origin in its `source` field) driven through the REST API:
//! the history is registered under level NONE, the subject is set to the
//! case's level, then the new schema is tested against the subject.

mod common;
mod registry_support;

use registry_support::{avro_body, Server};
use serde_json::{json, Value};

fn cases() -> Vec<Value> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/registry/avro_level_cases.json"
    );
    let text = std::fs::read_to_string(path).expect("level cases file is readable");
    let file: Value = serde_json::from_str(&text).expect("level cases file is JSON");
    file["cases"].as_array().expect("cases is an array").clone()
}

/// Runs one case on its own subject; returns the verdict the API gave.
fn run_case(server: &Server, index: usize, case: &Value) -> bool {
    let subject = format!("case-{index}");
    let config = format!("/config/{subject}");
    let set_none = server.put(&config, &json!({"compatibility": "NONE"}));
    assert_eq!(set_none.status, 200, "{}", set_none.body);
    for schema in case["previous_schemas_oldest_first"].as_array().unwrap() {
        let reply = server.post(&format!("/subjects/{subject}/versions"), &avro_body(schema));
        assert_eq!(
            reply.status, 200,
            "history of {}: {}",
            case["id"], reply.body
        );
    }
    let level = case["level"].as_str().unwrap();
    let set_level = server.put(&config, &json!({"compatibility": level}));
    assert_eq!(set_level.status, 200, "{}", set_level.body);
    let path = format!("/compatibility/subjects/{subject}/versions?verbose=true");
    let reply = server.post(&path, &avro_body(&case["new_schema"]));
    assert_eq!(reply.status, 200, "test of {}: {}", case["id"], reply.body);
    reply.json()["is_compatible"]
        .as_bool()
        .expect("is_compatible is a boolean")
}

#[test]
fn avro_level_cases_match_through_rest() {
    run_all(&Server::start());
}

#[test]
fn avro_level_cases_match_in_broker() {
    let broker = common::Broker::start(2);
    let addr = broker.addrs.http.parse().expect("HTTP address");
    run_all(&Server::remote(addr));
}

fn run_all(server: &Server) {
    let cases = cases();
    let mut failed = Vec::new();
    for (index, case) in cases.iter().enumerate() {
        let expected = case["expected_compatible"].as_bool().unwrap();
        if run_case(server, index, case) != expected {
            failed.push(case["id"].as_str().unwrap_or("?").to_owned());
        }
    }
    println!(
        "level cases: {} of {} pass",
        cases.len() - failed.len(),
        cases.len()
    );
    assert!(
        failed.is_empty(),
        "cases with a different verdict: {failed:?}"
    );
}
