//! Handlers under `/subjects`: listing, registration, lookup, versions and
//! deletes.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};

use super::wire::{parse_body, version_spec, SchemaBody, VersionReply};
use super::{json, raw_schema, reply, Flags, RestState};
use crate::registry::model::RegisterRequest;

type Params = Query<HashMap<String, String>>;

/// GET /subjects
pub(super) async fn list_subjects(State(state): State<RestState>, Query(q): Params) -> Response {
    let flags = Flags(q);
    let deleted = flags.is_set("deleted");
    let prefix = flags.text("subjectPrefix").unwrap_or("").to_owned();
    reply(state.query(move |r| Ok(r.subjects(deleted, &prefix))).await)
}

/// GET /subjects/{subject}/versions
pub(super) async fn list_versions(
    State(state): State<RestState>,
    Path(subject): Path<String>,
    Query(q): Params,
) -> Response {
    let deleted = Flags(q).is_set("deleted");
    reply(state.query(move |r| r.versions(&subject, deleted)).await)
}

/// POST /subjects/{subject}/versions: registers a schema, returns its id.
pub(super) async fn register(
    State(state): State<RestState>,
    Path(subject): Path<String>,
    Query(q): Params,
    body: Bytes,
) -> Response {
    let normalize = Flags(q).is_set("normalize");
    let body: SchemaBody = match parse_body(&body) {
        Ok(body) => body,
        Err(e) => return e.into_response(),
    };
    let result = state
        .change(move |registry| {
            let request = RegisterRequest {
                subject,
                schema_type: body.schema_type()?,
                schema: body.schema.clone(),
                references: body.references(registry)?,
                normalize,
                id: body.import_id()?,
                version: body.import_version()?,
            };
            registry.register(&request)
        })
        .await;
    match result {
        Ok(registered) => {
            tracing::debug!(target: "registry", id = registered.id, version = registered.version,
                "schema registered");
            json(&serde_json::json!({ "id": registered.id }))
        }
        Err(e) => e.into_response(),
    }
}

/// POST /subjects/{subject}: finds the version holding the given schema.
pub(super) async fn lookup(
    State(state): State<RestState>,
    Path(subject): Path<String>,
    Query(q): Params,
    body: Bytes,
) -> Response {
    let deleted = Flags(q).is_set("deleted");
    let body: SchemaBody = match parse_body(&body) {
        Ok(body) => body,
        Err(e) => return e.into_response(),
    };
    let result = state
        .query(move |registry| {
            let references = body.references(registry)?;
            let t = body.schema_type()?;
            registry
                .lookup(&subject, t, &body.schema, &references, deleted)
                .map(VersionReply::from)
        })
        .await;
    reply(result)
}

/// GET /subjects/{subject}/versions/{version}
pub(super) async fn get_version(
    State(state): State<RestState>,
    Path((subject, version)): Path<(String, String)>,
    Query(q): Params,
) -> Response {
    let deleted = Flags(q).is_set("deleted");
    let result = state
        .query(move |registry| {
            let spec = version_spec(&version)?;
            registry
                .version(&subject, spec, deleted)
                .map(VersionReply::from)
        })
        .await;
    reply(result)
}

/// GET /subjects/{subject}/versions/{version}/schema: the schema text alone.
pub(super) async fn get_version_schema(
    State(state): State<RestState>,
    Path((subject, version)): Path<(String, String)>,
    Query(q): Params,
) -> Response {
    let deleted = Flags(q).is_set("deleted");
    let result = state
        .query(move |registry| {
            let spec = version_spec(&version)?;
            registry.version(&subject, spec, deleted).map(|v| v.schema)
        })
        .await;
    match result {
        Ok(text) => raw_schema(text),
        Err(e) => e.into_response(),
    }
}

/// GET /subjects/{subject}/versions/{version}/referencedby: ids of schemas
/// that reference this version.
pub(super) async fn referenced_by(
    State(state): State<RestState>,
    Path((subject, version)): Path<(String, String)>,
) -> Response {
    let result = state
        .query(move |registry| {
            let spec = version_spec(&version)?;
            let found = registry.version(&subject, spec, true)?;
            Ok(registry.referenced_by(&subject, found.version))
        })
        .await;
    reply(result)
}

/// DELETE /subjects/{subject}: soft, or permanent with `?permanent=true`.
pub(super) async fn delete_subject(
    State(state): State<RestState>,
    Path(subject): Path<String>,
    Query(q): Params,
) -> Response {
    let permanent = Flags(q).is_set("permanent");
    let result = state
        .change(move |registry| registry.delete_subject(&subject, permanent))
        .await;
    reply(result)
}

/// DELETE /subjects/{subject}/versions/{version}
pub(super) async fn delete_version(
    State(state): State<RestState>,
    Path((subject, version)): Path<(String, String)>,
    Query(q): Params,
) -> Response {
    let permanent = Flags(q).is_set("permanent");
    let result = state
        .change(move |registry| {
            let spec = version_spec(&version)?;
            registry.delete_version(&subject, spec, permanent)
        })
        .await;
    reply(result)
}
