//! The schema registry REST API, compatible with Confluent Schema Registry
//! clients (serializers, the CLI and REST tools).
//!
//! Served by axum on the control-plane thread's HTTP listener (default
//! `127.0.0.1:8081`). Handlers reach the registry only through a
//! [`RegistryBackend`], so the broker decides where state lives and how
//! changes become durable. Replies use the content type
//! `application/vnd.schemaregistry.v1+json`, and errors the body
//! `{"error_code": N, "message": "..."}` with Confluent's codes.

mod backend;
mod config;
mod schemas;
mod subjects;
mod wire;

use std::collections::HashMap;
use std::sync::Arc;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Serialize;
use tokio::sync::oneshot;

pub use backend::{BackendFuture, MemoryBackend, ReadJob, RegistryBackend, WriteJob};

use crate::registry::error::RegistryError;
use crate::registry::model::{Planned, Registry};

/// Bytes of a plain-text rejection kept in the JSON error message.
const REJECTION_TEXT_BYTES_MAX: usize = 4096;

/// Content type of every reply, as Confluent's server sends it.
pub const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

/// Shared state of the router: the backend that contains the registry.
#[derive(Clone)]
pub struct RestState {
    backend: Arc<dyn RegistryBackend>,
}

impl RestState {
    /// Wraps the backend the handlers read from and write through.
    pub fn new(backend: Arc<dyn RegistryBackend>) -> RestState {
        RestState { backend }
    }

    /// Runs a read-only query against the registry.
    async fn query<R, F>(&self, f: F) -> Result<R, RegistryError>
    where
        R: Send + 'static,
        F: FnOnce(&Registry) -> Result<R, RegistryError> + Send + 'static,
    {
        let (sender, receiver) = oneshot::channel();
        self.backend
            .read(Box::new(move |registry| {
                // The receiver only goes away if the request was dropped.
                let _ = sender.send(f(registry));
            }))
            .await?;
        receiver.await.map_err(|_| dropped_job())?
    }

    /// Plans a change, has the backend persist and apply it, and returns the
    /// planned reply.
    async fn change<R, F>(&self, plan: F) -> Result<R, RegistryError>
    where
        R: Send + 'static,
        F: FnOnce(&Registry) -> Result<Planned<R>, RegistryError> + Send + 'static,
    {
        let (sender, receiver) = oneshot::channel();
        self.backend
            .write(Box::new(move |registry| {
                let planned = plan(registry)?;
                let _ = sender.send(planned.reply);
                Ok(planned.events)
            }))
            .await?;
        receiver.await.map_err(|_| dropped_job())
    }
}

fn dropped_job() -> RegistryError {
    RegistryError::Store("the registry backend dropped the request".to_owned())
}

/// Builds the router with every registry route.
pub fn router(state: RestState) -> Router {
    Router::new()
        .route("/", get(root))
        .route("/subjects", get(subjects::list_subjects))
        .route(
            "/subjects/{subject}",
            post(subjects::lookup).delete(subjects::delete_subject),
        )
        .route(
            "/subjects/{subject}/versions",
            get(subjects::list_versions).post(subjects::register),
        )
        .route(
            "/subjects/{subject}/versions/{version}",
            get(subjects::get_version).delete(subjects::delete_version),
        )
        .route(
            "/subjects/{subject}/versions/{version}/schema",
            get(subjects::get_version_schema),
        )
        .route(
            "/subjects/{subject}/versions/{version}/referencedby",
            get(subjects::referenced_by),
        )
        .route("/schemas/types", get(schemas::types))
        .route("/schemas/ids/{id}", get(schemas::by_id))
        .route("/schemas/ids/{id}/schema", get(schemas::text_by_id))
        .route("/schemas/ids/{id}/subjects", get(schemas::subjects_by_id))
        .route("/schemas/ids/{id}/versions", get(schemas::versions_by_id))
        .route(
            "/compatibility/subjects/{subject}/versions",
            post(schemas::test_against_subject),
        )
        .route(
            "/compatibility/subjects/{subject}/versions/{version}",
            post(schemas::test_against_version),
        )
        .route(
            "/config",
            get(config::get_global_level)
                .put(config::put_global_level)
                .delete(config::delete_global_level),
        )
        .route(
            "/config/{subject}",
            get(config::get_level)
                .put(config::put_level)
                .delete(config::delete_level),
        )
        .route(
            "/mode",
            get(config::get_global_mode).put(config::put_global_mode),
        )
        .route(
            "/mode/{subject}",
            get(config::get_mode)
                .put(config::put_mode)
                .delete(config::delete_mode),
        )
        .fallback(not_found)
        .with_state(state)
        .layer(axum::middleware::map_response(json_errors))
}

/// Rewrites axum's plain-text rejections (a body over the size limit, an
/// unparseable path value, a wrong method) into the JSON error body that
/// Confluent clients parse, keeping the status and the text.
pub async fn json_errors(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().ends_with(b"json"));
    if is_json || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let text = axum::body::to_bytes(response.into_body(), REJECTION_TEXT_BYTES_MAX)
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let message = match text.trim() {
        "" => status.canonical_reason().unwrap_or("request failed"),
        text => text,
    };
    let body = serde_json::json!({ "error_code": status.as_u16(), "message": message });
    with_content_type(status, body.to_string().into_bytes())
}

async fn root() -> Response {
    json(&serde_json::json!({}))
}

async fn not_found() -> Response {
    RegistryError::RouteNotFound.into_response()
}

/// Renders `value` as a 200 reply with the registry content type.
fn json<T: Serialize>(value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => with_content_type(StatusCode::OK, body),
        Err(e) => RegistryError::Store(format!("cannot encode the reply: {e}")).into_response(),
    }
}

fn with_content_type(status: StatusCode, body: Vec<u8>) -> Response {
    let mut response = (status, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    response
}

/// Renders a schema text as the body itself, as the `/schema` routes do.
fn raw_schema(text: String) -> Response {
    with_content_type(StatusCode::OK, text.into_bytes())
}

/// Turns a handler result into a reply.
fn reply<T: Serialize>(result: Result<T, RegistryError>) -> Response {
    match result {
        Ok(value) => json(&value),
        Err(e) => e.into_response(),
    }
}

impl IntoResponse for RegistryError {
    fn into_response(self) -> Response {
        if self.error_code() >= 50000 {
            tracing::warn!(target: "registry", error = %self, "registry request failed");
        } else {
            tracing::debug!(target: "registry", error = %self, "registry request rejected");
        }
        let status =
            StatusCode::from_u16(self.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::json!({
            "error_code": self.error_code(),
            "message": self.to_string(),
        });
        with_content_type(status, body.to_string().into_bytes())
    }
}

/// Query parameters; flags are true when their value is `true`, any case.
#[derive(Debug, Default)]
struct Flags(HashMap<String, String>);

impl Flags {
    fn is_set(&self, name: &str) -> bool {
        self.0
            .get(name)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    fn text(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}
