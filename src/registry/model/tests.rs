//! Unit tests of the registry model: planning, applying and replaying.

use super::*;
use crate::registry::error::RegistryError;

const USER_V1: &str = r#"{"type":"record","name":"User","fields":[{"name":"id","type":"long"}]}"#;
const USER_V2: &str = r#"{"type":"record","name":"User","fields":[{"name":"id","type":"long"},
    {"name":"email","type":["null","string"],"default":null}]}"#;
const USER_BAD: &str = r#"{"type":"record","name":"User","fields":[{"name":"id","type":"long"},
    {"name":"age","type":"int"}]}"#;

fn request(subject: &str, schema: &str) -> RegisterRequest {
    RegisterRequest {
        subject: subject.to_owned(),
        schema_type: SchemaType::Avro,
        schema: schema.to_owned(),
        references: Vec::new(),
        normalize: false,
        id: None,
        version: None,
    }
}

/// Plans, then applies, like a backend whose persistence always succeeds.
fn run<T>(
    registry: &mut Registry,
    plan: impl FnOnce(&Registry) -> Result<Planned<T>, RegistryError>,
) -> Result<T, RegistryError> {
    let planned = plan(registry)?;
    for event in &planned.events {
        registry.apply(event)?;
    }
    Ok(planned.reply)
}

fn register(
    registry: &mut Registry,
    subject: &str,
    schema: &str,
) -> Result<Registered, RegistryError> {
    let req = request(subject, schema);
    run(registry, |r| r.register(&req))
}

#[test]
fn register_assigns_versions_from_one() {
    let mut registry = Registry::new();
    let first = register(&mut registry, "users-value", USER_V1).unwrap();
    let second = register(&mut registry, "users-value", USER_V2).unwrap();
    assert_eq!(first, Registered { id: 1, version: 1 });
    assert_eq!(second, Registered { id: 2, version: 2 });
    assert_eq!(registry.versions("users-value", false).unwrap(), vec![1, 2]);
}

#[test]
fn register_same_schema_twice_is_idempotent() {
    let mut registry = Registry::new();
    register(&mut registry, "s", USER_V1).unwrap();
    let planned = registry.register(&request("s", USER_V1)).unwrap();
    assert!(planned.events.is_empty());
    assert_eq!(planned.reply, Registered { id: 1, version: 1 });
}

#[test]
fn same_schema_under_two_subjects_shares_id() {
    let mut registry = Registry::new();
    let a = register(&mut registry, "a-value", USER_V1).unwrap();
    // Whitespace differs; the canonical text does not.
    let spaced = USER_V1.replace(',', " , ");
    let b = register(&mut registry, "b-value", &spaced).unwrap();
    assert_eq!(a.id, b.id);
    assert_eq!(b.version, 1);
    let subjects = registry.versions_for_id(a.id, false).unwrap();
    assert_eq!(subjects.len(), 2);
}

#[test]
fn incompatible_schema_is_rejected_with_409() {
    let mut registry = Registry::new();
    register(&mut registry, "s", USER_V1).unwrap();
    let err = register(&mut registry, "s", USER_BAD).unwrap_err();
    assert_eq!(err.error_code(), 409);
    assert_eq!(registry.versions("s", false).unwrap(), vec![1]);
}

#[test]
fn level_none_allows_any_change() {
    let mut registry = Registry::new();
    register(&mut registry, "s", USER_V1).unwrap();
    run(&mut registry, |r| {
        r.set_level(Some("s"), CompatibilityLevel::None)
    })
    .unwrap();
    assert_eq!(registry.effective_level("s"), CompatibilityLevel::None);
    assert_eq!(
        registry.effective_level("other"),
        CompatibilityLevel::Backward
    );
    register(&mut registry, "s", USER_BAD).unwrap();
}

#[test]
fn invalid_schema_is_42201() {
    let mut registry = Registry::new();
    let err = register(&mut registry, "s", r#"{"type":"record"}"#).unwrap_err();
    assert_eq!(err.error_code(), 42201);
}

#[test]
fn soft_delete_hides_then_hard_delete_removes() {
    let mut registry = Registry::new();
    register(&mut registry, "s", USER_V1).unwrap();
    register(&mut registry, "s", USER_V2).unwrap();

    let hard_first = registry.delete_version("s", VersionSpec::Number(1), true);
    assert_eq!(hard_first.unwrap_err().error_code(), 40407);

    run(&mut registry, |r| {
        r.delete_version("s", VersionSpec::Number(1), false)
    })
    .unwrap();
    assert_eq!(registry.versions("s", false).unwrap(), vec![2]);
    assert_eq!(registry.versions("s", true).unwrap(), vec![1, 2]);
    let again = registry.delete_version("s", VersionSpec::Number(1), false);
    assert_eq!(again.unwrap_err().error_code(), 40406);
    let hidden = registry.version("s", VersionSpec::Number(1), false);
    assert_eq!(hidden.unwrap_err().error_code(), 40402);
    assert!(
        registry
            .version("s", VersionSpec::Number(1), true)
            .unwrap()
            .deleted
    );

    run(&mut registry, |r| {
        r.delete_version("s", VersionSpec::Number(1), true)
    })
    .unwrap();
    assert_eq!(registry.versions("s", true).unwrap(), vec![2]);
    // Schema 1 has no version left.
    assert_eq!(registry.schema(1).unwrap_err().error_code(), 40403);
}

#[test]
fn subject_delete_follows_confluent_rules() {
    let mut registry = Registry::new();
    register(&mut registry, "s", USER_V1).unwrap();
    assert_eq!(
        registry.delete_subject("s", true).unwrap_err().error_code(),
        40405
    );
    let deleted = run(&mut registry, |r| r.delete_subject("s", false)).unwrap();
    assert_eq!(deleted, vec![1]);
    assert!(registry.subjects(false, "").is_empty());
    assert_eq!(registry.subjects(true, ""), vec!["s".to_owned()]);
    assert_eq!(
        registry
            .delete_subject("s", false)
            .unwrap_err()
            .error_code(),
        40404
    );
    run(&mut registry, |r| r.delete_subject("s", true)).unwrap();
    assert!(registry.subjects(true, "").is_empty());
    assert_eq!(
        registry.delete_subject("s", true).unwrap_err().error_code(),
        40401
    );
}

#[test]
fn reregister_after_soft_delete_keeps_id() {
    let mut registry = Registry::new();
    register(&mut registry, "s", USER_V1).unwrap();
    run(&mut registry, |r| r.delete_subject("s", false)).unwrap();
    let again = register(&mut registry, "s", USER_V1).unwrap();
    assert_eq!(again, Registered { id: 1, version: 2 });
}

#[test]
fn hard_deleted_id_is_not_reused() {
    let mut registry = Registry::new();
    register(&mut registry, "s", USER_V1).unwrap();
    run(&mut registry, |r| r.delete_subject("s", false)).unwrap();
    run(&mut registry, |r| r.delete_subject("s", true)).unwrap();
    let other = register(&mut registry, "t", USER_V2).unwrap();
    assert_eq!(other.id, 2);
    let same = register(&mut registry, "u", USER_V1).unwrap();
    assert_eq!(same, Registered { id: 1, version: 1 });
}

#[test]
fn read_only_mode_rejects_writes() {
    let mut registry = Registry::new();
    run(&mut registry, |r| r.set_mode(None, Mode::ReadOnly, false)).unwrap();
    assert_eq!(
        register(&mut registry, "s", USER_V1)
            .unwrap_err()
            .error_code(),
        42205
    );
    run(&mut registry, |r| {
        r.set_mode(Some("s"), Mode::ReadWrite, false)
    })
    .unwrap();
    register(&mut registry, "s", USER_V1).unwrap();
}

#[test]
fn import_mode_keeps_given_id_and_version() {
    let mut registry = Registry::new();
    let mut req = request("s", USER_V1);
    req.id = Some(100);
    req.version = Some(7);
    let not_importing = registry.register(&req).unwrap_err();
    assert_eq!(not_importing.error_code(), 42205);

    run(&mut registry, |r| r.set_mode(None, Mode::Import, false)).unwrap();
    let imported = run(&mut registry, |r| r.register(&req)).unwrap();
    assert_eq!(
        imported,
        Registered {
            id: 100,
            version: 7
        }
    );
    // Import skips compatibility checks.
    let mut bad = request("s", USER_BAD);
    bad.id = Some(101);
    run(&mut registry, |r| r.register(&bad)).unwrap();
    // An id bound to another schema cannot be reused.
    let mut clash = request("t", USER_V2);
    clash.id = Some(100);
    assert_eq!(registry.register(&clash).unwrap_err().error_code(), 42207);
}

#[test]
fn import_mode_needs_force_when_not_empty() {
    let mut registry = Registry::new();
    register(&mut registry, "s", USER_V1).unwrap();
    let err = registry.set_mode(None, Mode::Import, false).unwrap_err();
    assert_eq!(err.error_code(), 42205);
    assert!(registry.set_mode(None, Mode::Import, true).is_ok());
}

#[test]
fn references_resolve_and_block_deletion() {
    let mut registry = Registry::new();
    let address = r#"{"type":"record","name":"Address","namespace":"x","fields":[{"name":"city","type":"string"}]}"#;
    register(&mut registry, "address", address).unwrap();
    let mut req = request(
        "order",
        r#"{"type":"record","name":"Order","namespace":"x","fields":[{"name":"to","type":"x.Address"}]}"#,
    );
    req.references = vec![SchemaReference {
        name: "x.Address".to_owned(),
        subject: "address".to_owned(),
        version: 1,
    }];
    let order = run(&mut registry, |r| r.register(&req)).unwrap();
    assert_eq!(order.id, 2);
    let err = registry.delete_version("address", VersionSpec::Number(1), false);
    assert_eq!(err.unwrap_err().error_code(), 42206);

    req.references[0].version = 9;
    req.subject = "order2".to_owned();
    assert_eq!(registry.register(&req).unwrap_err().error_code(), 42201);
}

#[test]
fn replay_rebuilds_same_state() {
    let mut registry = Registry::new();
    let mut log = Vec::new();
    let mut persist = |registry: &mut Registry, events: Vec<RegistryEvent>| {
        for event in events {
            registry.apply(&event).unwrap();
            log.push(serde_json::to_string(&event).unwrap());
        }
    };
    let planned = registry.register(&request("s", USER_V1)).unwrap();
    persist(&mut registry, planned.events);
    let planned = registry.register(&request("s", USER_V2)).unwrap();
    persist(&mut registry, planned.events);
    let planned = registry
        .set_level(Some("s"), CompatibilityLevel::Full)
        .unwrap();
    persist(&mut registry, planned.events);
    let planned = registry
        .delete_version("s", VersionSpec::Number(1), false)
        .unwrap();
    persist(&mut registry, planned.events);

    let events: Vec<RegistryEvent> = log
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let replayed = Registry::replay(&events).unwrap();
    assert_eq!(replayed.versions("s", true).unwrap(), vec![1, 2]);
    assert_eq!(replayed.versions("s", false).unwrap(), vec![2]);
    assert_eq!(replayed.effective_level("s"), CompatibilityLevel::Full);
    assert_eq!(replayed.schema(2).unwrap().schema, USER_V2);
}

#[test]
fn apply_rejects_contradicting_event() {
    let mut registry = Registry::new();
    let planned = registry.register(&request("s", USER_V1)).unwrap();
    let change = registry.apply(&planned.events[0]).unwrap().unwrap();
    assert_eq!(change.version, 1);
    assert_eq!(change.schema_type, SchemaType::Avro);
    let err = registry.apply(&planned.events[0]).unwrap_err();
    assert_eq!(err.error_code(), 50001);
}

#[test]
fn lookup_finds_version_or_40403() {
    let mut registry = Registry::new();
    register(&mut registry, "s", USER_V1).unwrap();
    let found = registry
        .lookup("s", SchemaType::Avro, USER_V1, &[], false)
        .unwrap();
    assert_eq!((found.id, found.version), (1, 1));
    let missing = registry.lookup("s", SchemaType::Avro, USER_V2, &[], false);
    assert_eq!(missing.unwrap_err().error_code(), 40403);
    let no_subject = registry.lookup("t", SchemaType::Avro, USER_V1, &[], false);
    assert_eq!(no_subject.unwrap_err().error_code(), 40401);
}

#[test]
fn version_spec_parses_confluent_forms() {
    assert_eq!(VersionSpec::parse("latest"), Some(VersionSpec::Latest));
    assert_eq!(VersionSpec::parse("-1"), Some(VersionSpec::Latest));
    assert_eq!(VersionSpec::parse("3"), Some(VersionSpec::Number(3)));
    assert_eq!(VersionSpec::parse("0"), None);
    assert_eq!(VersionSpec::parse("2147483648"), None);
    assert_eq!(VersionSpec::parse("x"), None);
}
