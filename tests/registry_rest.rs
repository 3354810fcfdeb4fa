//! The registry REST API over a real loopback listener, checked against
//! Confluent Schema Registry's routes, JSON shapes and error codes.

mod registry_support;

use registry_support::{avro_body, Server};
use serde_json::{json, Value};

const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

fn user_v1() -> Value {
    json!({"type": "record", "name": "User", "fields": [{"name": "id", "type": "long"}]})
}

fn user_v2() -> Value {
    json!({"type": "record", "name": "User", "fields": [
        {"name": "id", "type": "long"},
        {"name": "email", "type": ["null", "string"], "default": null}]})
}

fn user_bad() -> Value {
    json!({"type": "record", "name": "User", "fields": [
        {"name": "id", "type": "long"}, {"name": "age", "type": "int"}]})
}

fn register(server: &Server, subject: &str, schema: &Value) -> Value {
    let reply = server.post(&format!("/subjects/{subject}/versions"), &avro_body(schema));
    assert_eq!(reply.status, 200, "register failed: {}", reply.body);
    reply.json()
}

#[test]
fn register_then_read_back() {
    let server = Server::start();
    let registered = register(&server, "users-value", &user_v1());
    assert_eq!(registered, json!({"id": 1}));

    let subjects = server.get("/subjects");
    assert_eq!(subjects.content_type, CONTENT_TYPE);
    assert_eq!(subjects.json(), json!(["users-value"]));
    assert_eq!(
        server.get("/subjects/users-value/versions").json(),
        json!([1])
    );

    let version = server.get("/subjects/users-value/versions/1").json();
    assert_eq!(version["subject"], "users-value");
    assert_eq!(version["version"], 1);
    assert_eq!(version["id"], 1);
    assert!(version.get("schemaType").is_none(), "AVRO omits schemaType");
    let text: Value = serde_json::from_str(version["schema"].as_str().unwrap()).unwrap();
    assert_eq!(text, user_v1());

    let latest = server.get("/subjects/users-value/versions/latest/schema");
    assert_eq!(
        serde_json::from_str::<Value>(&latest.body).unwrap(),
        user_v1()
    );

    let by_id = server.get("/schemas/ids/1").json();
    assert_eq!(by_id["schema"], version["schema"]);
    let raw = server.get("/schemas/ids/1/schema");
    assert_eq!(serde_json::from_str::<Value>(&raw.body).unwrap(), user_v1());
    assert_eq!(
        server.get("/schemas/ids/1/subjects").json(),
        json!(["users-value"])
    );
    assert_eq!(
        server.get("/schemas/ids/1/versions").json(),
        json!([{"subject": "users-value", "version": 1}])
    );
}

#[test]
fn same_schema_two_subjects_one_id() {
    let server = Server::start();
    assert_eq!(register(&server, "a-value", &user_v1()), json!({"id": 1}));
    assert_eq!(register(&server, "b-value", &user_v1()), json!({"id": 1}));
    // Registering again under the same subject returns the same id.
    assert_eq!(register(&server, "a-value", &user_v1()), json!({"id": 1}));
    assert_eq!(server.get("/subjects/a-value/versions").json(), json!([1]));
    assert_eq!(
        server.get("/schemas/ids/1/subjects").json(),
        json!(["a-value", "b-value"])
    );
}

#[test]
fn lookup_schema_under_subject() {
    let server = Server::start();
    register(&server, "s", &user_v1());
    register(&server, "s", &user_v2());
    let found = server.post("/subjects/s", &avro_body(&user_v1()));
    assert_eq!(found.status, 200);
    assert_eq!(found.json()["version"], 1);
    assert_eq!(found.json()["id"], 1);
    let missing = server.post("/subjects/s", &avro_body(&user_bad()));
    assert_eq!(missing.status, 404);
    assert_eq!(missing.error_code(), 40403);
    let no_subject = server.post("/subjects/t", &avro_body(&user_v1()));
    assert_eq!(no_subject.error_code(), 40401);
}

#[test]
fn not_found_errors_use_confluent_codes() {
    let server = Server::start();
    register(&server, "s", &user_v1());
    let cases = [
        ("/subjects/nope/versions", 404, 40401),
        ("/subjects/nope/versions/1", 404, 40401),
        ("/subjects/s/versions/9", 404, 40402),
        ("/schemas/ids/77", 404, 40403),
        ("/subjects/s/versions/abc", 422, 42202),
        ("/subjects/s/versions/0", 422, 42202),
        ("/config/s", 404, 40408),
        ("/mode/s", 404, 40409),
        ("/no/such/route", 404, 404),
    ];
    for (path, status, code) in cases {
        let reply = server.get(path);
        assert_eq!(reply.status, status, "status of {path}: {}", reply.body);
        assert_eq!(reply.error_code(), code, "code of {path}");
        assert_eq!(reply.content_type, CONTENT_TYPE, "content type of {path}");
        assert!(reply.json()["message"].is_string(), "message of {path}");
    }
}

#[test]
fn invalid_requests_are_422_or_400() {
    let server = Server::start();
    let invalid_schema = server.post(
        "/subjects/s/versions",
        &json!({"schema": "{\"type\": \"recrd\"}"}),
    );
    assert_eq!(invalid_schema.status, 422);
    assert_eq!(invalid_schema.error_code(), 42201);
    let unknown_type = server.post(
        "/subjects/s/versions",
        &json!({"schema": "{}", "schemaType": "XML"}),
    );
    assert_eq!(unknown_type.error_code(), 42201);
    let malformed = server.call("POST", "/subjects/s/versions", Some("{not json"));
    assert_eq!(malformed.status, 400);
    let missing_schema = server.post("/subjects/s/versions", &json!({"schemaType": "AVRO"}));
    assert_eq!(missing_schema.status, 422);
    let level = server.put("/config", &json!({"compatibility": "SIDEWAYS"}));
    assert_eq!(level.error_code(), 42203);
    let mode = server.put("/mode", &json!({"mode": "WRITEONLY"}));
    assert_eq!(mode.error_code(), 42204);
}

#[test]
fn framework_rejections_are_json() {
    let server = Server::start();
    let oversized = format!("{{\"schema\": \"{}\"}}", "x".repeat(3 << 20));
    let too_large = server.call("POST", "/subjects/s/versions", Some(&oversized));
    assert_eq!(too_large.status, 413);
    assert_eq!(too_large.content_type, CONTENT_TYPE);
    assert_eq!(too_large.error_code(), 413);
    let wrong_method = server.call("PATCH", "/subjects", None);
    assert_eq!(wrong_method.status, 405);
    assert_eq!(wrong_method.error_code(), 405);
}

#[test]
fn incompatible_schema_gets_409() {
    let server = Server::start();
    register(&server, "s", &user_v1());
    let reply = server.post("/subjects/s/versions", &avro_body(&user_bad()));
    assert_eq!(reply.status, 409);
    assert_eq!(reply.error_code(), 409);
    // A compatible change still registers.
    assert_eq!(register(&server, "s", &user_v2()), json!({"id": 2}));
}

#[test]
fn compatibility_endpoints_report_messages() {
    let server = Server::start();
    register(&server, "s", &user_v1());
    let path = "/compatibility/subjects/s/versions/latest";
    let quiet = server.post(path, &avro_body(&user_bad())).json();
    assert_eq!(quiet["is_compatible"], false);
    assert!(quiet.get("messages").is_none());
    let verbose = server
        .post(&format!("{path}?verbose=true"), &avro_body(&user_bad()))
        .json();
    assert_eq!(verbose["is_compatible"], false);
    assert!(!verbose["messages"].as_array().unwrap().is_empty());
    let ok = server.post(
        "/compatibility/subjects/s/versions?verbose=true",
        &avro_body(&user_v2()),
    );
    assert_eq!(ok.json(), json!({"is_compatible": true, "messages": []}));
    let empty = server.post(
        "/compatibility/subjects/new/versions/latest",
        &avro_body(&user_bad()),
    );
    assert_eq!(empty.json()["is_compatible"], true);
    let missing = server.post(
        "/compatibility/subjects/s/versions/5",
        &avro_body(&user_v2()),
    );
    assert_eq!(missing.error_code(), 40402);
}

#[test]
fn soft_and_hard_delete_of_versions() {
    let server = Server::start();
    register(&server, "s", &user_v1());
    register(&server, "s", &user_v2());
    let hard_first = server.delete("/subjects/s/versions/1?permanent=true");
    assert_eq!(hard_first.error_code(), 40407);
    assert_eq!(server.delete("/subjects/s/versions/1").json(), json!(1));
    assert_eq!(server.delete("/subjects/s/versions/1").error_code(), 40406);
    assert_eq!(server.get("/subjects/s/versions").json(), json!([2]));
    assert_eq!(
        server.get("/subjects/s/versions?deleted=true").json(),
        json!([1, 2])
    );
    assert_eq!(server.get("/subjects/s/versions/1").error_code(), 40402);
    assert_eq!(
        server.get("/subjects/s/versions/1?deleted=true").json()["id"],
        1
    );
    assert_eq!(
        server
            .delete("/subjects/s/versions/1?permanent=true")
            .json(),
        json!(1)
    );
    assert_eq!(
        server.get("/subjects/s/versions?deleted=true").json(),
        json!([2])
    );
}

#[test]
fn soft_and_hard_delete_of_subjects() {
    let server = Server::start();
    register(&server, "s", &user_v1());
    register(&server, "s", &user_v2());
    assert_eq!(
        server.delete("/subjects/s?permanent=true").error_code(),
        40405
    );
    assert_eq!(server.delete("/subjects/s").json(), json!([1, 2]));
    assert_eq!(server.delete("/subjects/s").error_code(), 40404);
    assert_eq!(server.get("/subjects").json(), json!([]));
    assert_eq!(server.get("/subjects?deleted=true").json(), json!(["s"]));
    assert_eq!(server.get("/subjects/s/versions").error_code(), 40401);
    assert_eq!(
        server.delete("/subjects/s?permanent=true").json(),
        json!([1, 2])
    );
    assert_eq!(server.get("/subjects?deleted=true").json(), json!([]));
    assert_eq!(server.delete("/subjects/s").error_code(), 40401);
}

#[test]
fn config_global_and_per_subject() {
    let server = Server::start();
    assert_eq!(
        server.get("/config").json(),
        json!({"compatibilityLevel": "BACKWARD"})
    );
    let put = server.put("/config", &json!({"compatibility": "FULL"}));
    assert_eq!(put.json(), json!({"compatibility": "FULL"}));
    assert_eq!(
        server.get("/config").json(),
        json!({"compatibilityLevel": "FULL"})
    );
    assert_eq!(
        server.get("/config/s?defaultToGlobal=true").json(),
        json!({"compatibilityLevel": "FULL"})
    );
    let subject = server.put("/config/s", &json!({"compatibility": "none"}));
    assert_eq!(subject.json(), json!({"compatibility": "NONE"}));
    assert_eq!(
        server.get("/config/s").json(),
        json!({"compatibilityLevel": "NONE"})
    );

    // NONE lets an incompatible schema in.
    register(&server, "s", &user_v1());
    register(&server, "s", &user_bad());
    assert_eq!(
        server.delete("/config/s").json(),
        json!({"compatibilityLevel": "NONE"})
    );
    assert_eq!(server.get("/config/s").error_code(), 40408);
    assert_eq!(
        server.delete("/config").json(),
        json!({"compatibilityLevel": "FULL"})
    );
    assert_eq!(
        server.get("/config").json(),
        json!({"compatibilityLevel": "BACKWARD"})
    );
}

#[test]
fn modes_gate_writes() {
    let server = Server::start();
    assert_eq!(server.get("/mode").json(), json!({"mode": "READWRITE"}));
    assert_eq!(
        server.put("/mode", &json!({"mode": "READONLY"})).json(),
        json!({"mode": "READONLY"})
    );
    let rejected = server.post("/subjects/s/versions", &avro_body(&user_v1()));
    assert_eq!(rejected.status, 422);
    assert_eq!(rejected.error_code(), 42205);
    server.put("/mode/s", &json!({"mode": "READWRITE"}));
    assert_eq!(server.get("/mode/s").json(), json!({"mode": "READWRITE"}));
    register(&server, "s", &user_v1());
    assert_eq!(
        server.delete("/mode/s").json(),
        json!({"mode": "READWRITE"})
    );
    assert_eq!(
        server.get("/mode/s?defaultToGlobal=true").json(),
        json!({"mode": "READONLY"})
    );
    assert_eq!(server.delete("/subjects/s").error_code(), 42205);
}

#[test]
fn import_mode_registers_given_id() {
    let server = Server::start();
    register(&server, "s", &user_v1());
    let rejected = server.put("/mode", &json!({"mode": "IMPORT"}));
    assert_eq!(rejected.error_code(), 42205);
    server.put("/mode?force=true", &json!({"mode": "IMPORT"}));
    let body = json!({"schema": user_v2().to_string(), "id": 42, "version": 5});
    assert_eq!(
        server.post("/subjects/t/versions", &body).json(),
        json!({"id": 42})
    );
    assert_eq!(server.get("/subjects/t/versions/5").json()["id"], 42);
    let clash = json!({"schema": user_bad().to_string(), "id": 42});
    assert_eq!(
        server.post("/subjects/u/versions", &clash).error_code(),
        42207
    );
}

#[test]
fn protobuf_and_json_schemas_carry_type() {
    let server = Server::start();
    let proto = "syntax = \"proto3\"; message Ping { int32 n = 1; }";
    let reply = server.post(
        "/subjects/ping-value/versions",
        &json!({"schema": proto, "schemaType": "PROTOBUF"}),
    );
    assert_eq!(reply.json(), json!({"id": 1}));
    let version = server.get("/subjects/ping-value/versions/1").json();
    assert_eq!(version["schemaType"], "PROTOBUF");
    assert_eq!(version["schema"], proto);
    let json_schema = json!({"schema": "{\"type\": \"object\"}", "schemaType": "JSON"});
    assert_eq!(
        server
            .post("/subjects/doc-value/versions", &json_schema)
            .json(),
        json!({"id": 2})
    );
    assert_eq!(server.get("/schemas/ids/2").json()["schemaType"], "JSON");
    assert_eq!(
        server.get("/schemas/types").json(),
        json!(["JSON", "PROTOBUF", "AVRO"])
    );
}

#[test]
fn references_shown_and_protected() {
    let server = Server::start();
    let address = json!({"type": "record", "name": "Address", "namespace": "x",
        "fields": [{"name": "city", "type": "string"}]});
    register(&server, "address", &address);
    let order = json!({"type": "record", "name": "Order", "namespace": "x",
        "fields": [{"name": "to", "type": "x.Address"}]});
    let body = json!({"schema": order.to_string(), "references": [
        {"name": "x.Address", "subject": "address", "version": -1}]});
    assert_eq!(
        server.post("/subjects/order/versions", &body).json(),
        json!({"id": 2})
    );
    let version = server.get("/subjects/order/versions/1").json();
    assert_eq!(
        version["references"],
        json!([{"name": "x.Address", "subject": "address", "version": 1}])
    );
    assert_eq!(
        server
            .get("/subjects/address/versions/1/referencedby")
            .json(),
        json!([2])
    );
    assert_eq!(
        server.delete("/subjects/address/versions/1").error_code(),
        42206
    );
}

#[test]
fn new_versions_are_notified_and_logged() {
    let server = Server::start();
    register(&server, "s", &user_v1());
    register(&server, "s", &user_v1());
    register(&server, "s", &user_v2());
    let changes = server.backend.changes();
    assert_eq!(changes.len(), 2);
    assert_eq!((changes[1].version, changes[1].id), (2, 2));
    let events = server.backend.events();
    assert_eq!(events.len(), 2);
    let replayed = ringbus::registry::model::Registry::replay(&events).unwrap();
    assert_eq!(replayed.versions("s", false).unwrap(), vec![1, 2]);
}

#[test]
fn subject_names_are_percent_decoded() {
    let server = Server::start();
    let reply = server.post(
        "/subjects/my%20topic-value/versions",
        &avro_body(&user_v1()),
    );
    assert_eq!(reply.json(), json!({"id": 1}));
    assert_eq!(server.get("/subjects").json(), json!(["my topic-value"]));
}
