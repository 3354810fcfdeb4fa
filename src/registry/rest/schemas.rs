//! Handlers under `/schemas` (by global id, and the supported types) and
//! `/compatibility` (testing a schema without registering it).

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};

use super::wire::{
    parse_body, schema_id, version_spec, CompatibilityReply, SchemaBody, SchemaReply,
    SubjectVersionPair,
};
use super::{json, raw_schema, reply, Flags, RestState};
use crate::registry::model::{schema_type_name, SchemaType, VersionSpec};

type Params = Query<HashMap<String, String>>;

/// GET /schemas/types
pub(super) async fn types() -> Response {
    let names: Vec<&str> = [SchemaType::Json, SchemaType::Protobuf, SchemaType::Avro]
        .into_iter()
        .map(schema_type_name)
        .collect();
    json(&names)
}

/// GET /schemas/ids/{id}
pub(super) async fn by_id(State(state): State<RestState>, Path(id): Path<String>) -> Response {
    let result = state
        .query(move |registry| {
            let record = registry.schema(schema_id(&id)?)?;
            Ok(SchemaReply::new(
                record.schema_type,
                record.references.clone(),
                record.schema.clone(),
            ))
        })
        .await;
    reply(result)
}

/// GET /schemas/ids/{id}/schema: the schema text alone.
pub(super) async fn text_by_id(State(state): State<RestState>, Path(id): Path<String>) -> Response {
    let result = state
        .query(move |registry| Ok(registry.schema(schema_id(&id)?)?.schema.clone()))
        .await;
    match result {
        Ok(text) => raw_schema(text),
        Err(e) => e.into_response(),
    }
}

/// GET /schemas/ids/{id}/subjects
pub(super) async fn subjects_by_id(
    State(state): State<RestState>,
    Path(id): Path<String>,
    Query(q): Params,
) -> Response {
    let deleted = Flags(q).is_set("deleted");
    let result = state
        .query(move |registry| {
            let mut subjects: Vec<String> = registry
                .versions_for_id(schema_id(&id)?, deleted)?
                .into_iter()
                .map(|(subject, _)| subject)
                .collect();
            subjects.dedup();
            Ok(subjects)
        })
        .await;
    reply(result)
}

/// GET /schemas/ids/{id}/versions
pub(super) async fn versions_by_id(
    State(state): State<RestState>,
    Path(id): Path<String>,
    Query(q): Params,
) -> Response {
    let deleted = Flags(q).is_set("deleted");
    let result = state
        .query(move |registry| {
            let pairs = registry.versions_for_id(schema_id(&id)?, deleted)?;
            Ok(pairs
                .into_iter()
                .map(|(subject, version)| SubjectVersionPair { subject, version })
                .collect::<Vec<_>>())
        })
        .await;
    reply(result)
}

/// POST /compatibility/subjects/{subject}/versions: tests against the
/// versions the subject's level names.
pub(super) async fn test_against_subject(
    State(state): State<RestState>,
    Path(subject): Path<String>,
    Query(q): Params,
    body: Bytes,
) -> Response {
    test(state, subject, None, Flags(q), body).await
}

/// POST /compatibility/subjects/{subject}/versions/{version}
pub(super) async fn test_against_version(
    State(state): State<RestState>,
    Path((subject, version)): Path<(String, String)>,
    Query(q): Params,
    body: Bytes,
) -> Response {
    match version_spec(&version) {
        Ok(spec) => test(state, subject, Some(spec), Flags(q), body).await,
        Err(e) => e.into_response(),
    }
}

async fn test(
    state: RestState,
    subject: String,
    against: Option<VersionSpec>,
    flags: Flags,
    body: Bytes,
) -> Response {
    let verbose = flags.is_set("verbose");
    let body: SchemaBody = match parse_body(&body) {
        Ok(body) => body,
        Err(e) => return e.into_response(),
    };
    let result = state
        .query(move |registry| {
            let references = body.references(registry)?;
            let t = body.schema_type()?;
            registry.test_compatibility(&subject, against, t, &body.schema, &references)
        })
        .await;
    let messages = match result {
        Ok(messages) => messages,
        Err(e) => return e.into_response(),
    };
    json(&CompatibilityReply {
        is_compatible: messages.is_empty(),
        messages: verbose.then_some(messages),
    })
}
