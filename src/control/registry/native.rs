//! Serves the native registry requests (API keys 20..=26) that shards
//! forward: decodes each, runs it against the backend and encodes the reply
//! body, or maps the registry error to a protocol error code.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use tokio::sync::oneshot;

use super::BrokerBackend;
use crate::protocol::api::Body;
use crate::protocol::codec::Reader;
use crate::protocol::schema_api::{
    SchemaByIdRequest, SchemaCheckReply, SchemaConfigRequest, SchemaGetRequest, SchemaRequest,
    SchemaVersionReply, StringList,
};
use crate::protocol::{ApiError, ApiKey, ErrorCode};
use crate::registry::error::RegistryError;
use crate::registry::model::{
    level_from_name, level_name, schema_type_from_name, schema_type_name, RegisterRequest,
    Registry, SchemaReference, SchemaType, VersionSpec, LEVEL_DEFAULT,
};
use crate::registry::rest::RegistryBackend;

/// Serves calls until every shard has dropped its sender.
pub async fn serve(backend: Arc<BrokerBackend>) {
    let inbox = backend.shared.registry.call_inbox.clone();
    while let Ok(call) = inbox.recv().await {
        let backend = backend.clone();
        tokio::spawn(async move {
            let result = run(&backend, call.api, &call.body).await;
            // The shard only drops the receiver when its connection closed.
            let _ = call.reply.send(result);
        });
    }
}

async fn run(backend: &BrokerBackend, api: ApiKey, body: &[u8]) -> Result<Bytes, ApiError> {
    let mut reader = Reader::new(body);
    let reply = match api {
        ApiKey::SchemaRegister => register(backend, SchemaRequest::decode(&mut reader)?).await?,
        ApiKey::SchemaLookup => {
            let request = SchemaRequest::decode(&mut reader)?;
            let (schema_type, references) = parts(&request)?;
            query(backend, move |registry| {
                let found = registry.lookup(
                    &request.subject,
                    schema_type,
                    &request.schema,
                    &references,
                    false,
                )?;
                Ok(encode(&version_reply(found)))
            })
            .await?
        }
        ApiKey::SchemaById => {
            let id = SchemaByIdRequest::decode(&mut reader)?.id;
            query(backend, move |registry| {
                let record = registry.schema(id)?;
                Ok(encode(&SchemaVersionReply {
                    id,
                    schema_type: schema_type_name(record.schema_type).to_owned(),
                    schema: record.schema.clone(),
                    ..SchemaVersionReply::default()
                }))
            })
            .await?
        }
        ApiKey::SchemaCheck => check(backend, SchemaRequest::decode(&mut reader)?).await?,
        ApiKey::SchemaGet => {
            let request = SchemaGetRequest::decode(&mut reader)?;
            let spec = version_spec(&request.version)?.unwrap_or(VersionSpec::Latest);
            query(backend, move |registry| {
                Ok(encode(&version_reply(registry.version(
                    &request.subject,
                    spec,
                    false,
                )?)))
            })
            .await?
        }
        ApiKey::SchemaList => {
            reader.finish("schema list request")?;
            query(backend, |registry| {
                Ok(encode(&StringList {
                    items: registry.subjects(false, ""),
                }))
            })
            .await?
        }
        ApiKey::SchemaConfig => config(backend, SchemaConfigRequest::decode(&mut reader)?).await?,
        other => {
            return Err(ApiError::new(
                ErrorCode::InvalidRequest,
                format!("{other:?} is not a registry request"),
            ))
        }
    };
    Ok(reply)
}

async fn register(backend: &BrokerBackend, request: SchemaRequest) -> Result<Bytes, ApiError> {
    let (schema_type, references) = parts(&request)?;
    let register = RegisterRequest {
        subject: request.subject.clone(),
        schema_type,
        schema: request.schema,
        references,
        normalize: false,
        id: None,
        version: None,
    };
    let (sender, receiver) = oneshot::channel();
    backend
        .write(Box::new(move |registry| {
            let planned = registry.register(&register)?;
            let _ = sender.send(planned.reply);
            Ok(planned.events)
        }))
        .await
        .map_err(|err| api_error(&err))?;
    let registered = receiver.await.map_err(|_| dropped())?;
    Ok(encode(&SchemaVersionReply {
        subject: request.subject,
        version: registered.version,
        id: registered.id,
        schema_type: schema_type_name(schema_type).to_owned(),
        schema: String::new(),
    }))
}

async fn check(backend: &BrokerBackend, request: SchemaRequest) -> Result<Bytes, ApiError> {
    let (schema_type, references) = parts(&request)?;
    let against = version_spec(&request.version)?;
    query(backend, move |registry| {
        let messages = registry.test_compatibility(
            &request.subject,
            against,
            schema_type,
            &request.schema,
            &references,
        )?;
        Ok(encode(&SchemaCheckReply {
            compatible: messages.is_empty(),
            messages,
        }))
    })
    .await
}

async fn config(backend: &BrokerBackend, request: SchemaConfigRequest) -> Result<Bytes, ApiError> {
    let subject = (!request.subject.is_empty()).then_some(request.subject);
    if request.level.is_empty() {
        return query(backend, move |registry| {
            let level = match &subject {
                Some(subject) => registry.effective_level(subject),
                None => registry.level(None).unwrap_or(LEVEL_DEFAULT),
            };
            Ok(encode(&StringList {
                items: vec![level_name(level).to_owned()],
            }))
        })
        .await;
    }
    let level = level_from_name(&request.level).ok_or_else(|| {
        api_error(&RegistryError::InvalidCompatibilityLevel(
            request.level.clone(),
        ))
    })?;
    backend
        .write(Box::new(move |registry| {
            Ok(registry.set_level(subject.as_deref(), level)?.events)
        }))
        .await
        .map_err(|err| api_error(&err))?;
    Ok(encode(&StringList {
        items: vec![level_name(level).to_owned()],
    }))
}

/// Runs a read-only job and returns its encoded reply.
async fn query<F>(backend: &BrokerBackend, job: F) -> Result<Bytes, ApiError>
where
    F: FnOnce(&Registry) -> Result<Bytes, RegistryError> + Send + 'static,
{
    let (sender, receiver) = oneshot::channel();
    backend
        .read(Box::new(move |registry| {
            let _ = sender.send(job(registry));
        }))
        .await
        .map_err(|err| api_error(&err))?;
    receiver
        .await
        .map_err(|_| dropped())?
        .map_err(|err| api_error(&err))
}

fn parts(request: &SchemaRequest) -> Result<(SchemaType, Vec<SchemaReference>), ApiError> {
    let schema_type = if request.schema_type.is_empty() {
        SchemaType::Avro
    } else {
        schema_type_from_name(&request.schema_type).ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidSchema,
                format!(
                    "unknown schema type '{}'; use AVRO, PROTOBUF or JSON",
                    request.schema_type
                ),
            )
        })?
    };
    let references = request
        .references
        .iter()
        .map(|r| SchemaReference {
            name: r.name.clone(),
            subject: r.subject.clone(),
            version: r.version,
        })
        .collect();
    Ok((schema_type, references))
}

/// Parses a version: empty for none, `latest`, or a number.
fn version_spec(text: &str) -> Result<Option<VersionSpec>, ApiError> {
    if text.is_empty() {
        return Ok(None);
    }
    VersionSpec::parse(text)
        .map(Some)
        .ok_or_else(|| api_error(&RegistryError::InvalidVersion(text.to_owned())))
}

fn version_reply(found: crate::registry::model::SubjectVersion) -> SchemaVersionReply {
    SchemaVersionReply {
        subject: found.subject,
        version: found.version,
        id: found.id,
        schema_type: schema_type_name(found.schema_type).to_owned(),
        schema: found.schema,
    }
}

fn encode(body: &impl Body) -> Bytes {
    let mut buf = BytesMut::new();
    body.encode(&mut buf);
    buf.freeze()
}

fn dropped() -> ApiError {
    ApiError::new(
        ErrorCode::UnknownServerError,
        "the registry dropped the request",
    )
}

/// Maps a registry error to a protocol error; the message keeps the
/// Confluent error code for clients that know it.
fn api_error(err: &RegistryError) -> ApiError {
    let code = match err {
        RegistryError::SubjectNotFound(_) => ErrorCode::SubjectNotFound,
        RegistryError::VersionNotFound(_)
        | RegistryError::SchemaIdNotFound(_)
        | RegistryError::SchemaNotFound => ErrorCode::SchemaNotFound,
        RegistryError::Incompatible { .. } => ErrorCode::IncompatibleSchema,
        RegistryError::InvalidSchema(_) | RegistryError::SchemaTooLarge { .. } => {
            ErrorCode::InvalidSchema
        }
        RegistryError::Store(_) => ErrorCode::UnknownServerError,
        _ => ErrorCode::InvalidRequest,
    };
    ApiError::new(code, format!("{err} (registry error {})", err.error_code()))
}
