//! HTTP admin routes for dead-letter entries, on the control-plane listener:
//!
//! - `GET  /admin/dlq/{topic}?state=S&limit=N`: entries as a JSON array;
//! - `GET  /admin/dlq/{topic}/{partition}/{offset}`: every record of one entry;
//! - `POST /admin/dlq/{topic}/redrive` with `{"state", "to", "rate_per_s", "dry_run"}`;
//! - `POST /admin/dlq/{topic}/purge` with `{"state", "before_ms"}`;
//! - `POST /admin/fail` with `{"topic", "partition", "offset", "reason", "class"}`.
//!
//! Each request runs on shard 0 through its control channel, which fans out
//! to the owning shards as native requests do.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::protocol::dlq::{DlqCommand, FailRequest};
use crate::protocol::{ApiError, ErrorCode};
use crate::server::route::submit_from_outside;
use crate::server::state::{BrokerShared, ReplyBody, ShardRequest};

/// Shard that receives control-plane dead-letter requests.
const ENTRY_SHARD: usize = 0;

type Reply = (StatusCode, Json<Value>);

pub fn routes() -> Router<Arc<BrokerShared>> {
    Router::new()
        .route("/admin/dlq/{topic}", get(list))
        .route("/admin/dlq/{topic}/{partition}/{offset}", get(show))
        .route("/admin/dlq/{topic}/redrive", post(redrive))
        .route("/admin/dlq/{topic}/purge", post(purge))
        .route("/admin/fail", post(fail))
}

#[derive(Deserialize)]
struct ListQuery {
    #[serde(default)]
    state: String,
    #[serde(default)]
    limit: u32,
}

#[derive(Deserialize)]
struct RedriveBody {
    #[serde(default = "poison")]
    state: String,
    #[serde(default = "source")]
    to: String,
    #[serde(default)]
    rate_per_s: u32,
    #[serde(default)]
    dry_run: bool,
}

#[derive(Deserialize)]
struct PurgeBody {
    #[serde(default)]
    state: String,
    #[serde(default)]
    before_ms: i64,
}

#[derive(Deserialize)]
struct FailBody {
    topic: String,
    partition: u32,
    offset: u64,
    reason: String,
    #[serde(default)]
    class: String,
}

fn poison() -> String {
    "poison".into()
}

fn source() -> String {
    "source".into()
}

async fn list(
    State(shared): State<Arc<BrokerShared>>,
    Path(topic): Path<String>,
    Query(query): Query<ListQuery>,
) -> Reply {
    let command = DlqCommand::List {
        topic,
        state: query.state,
        limit: query.limit,
    };
    run(&shared, ShardRequest::DlqCommand(command)).await
}

async fn show(
    State(shared): State<Arc<BrokerShared>>,
    Path((topic, partition, offset)): Path<(String, u32, u64)>,
) -> Reply {
    let command = DlqCommand::Show {
        topic,
        partition,
        offset,
    };
    run(&shared, ShardRequest::DlqCommand(command)).await
}

async fn redrive(
    State(shared): State<Arc<BrokerShared>>,
    Path(topic): Path<String>,
    Json(body): Json<RedriveBody>,
) -> Reply {
    let command = DlqCommand::Redrive {
        topic,
        state: body.state,
        to: body.to,
        rate_per_s: body.rate_per_s,
        dry_run: body.dry_run,
    };
    run(&shared, ShardRequest::DlqCommand(command)).await
}

async fn purge(
    State(shared): State<Arc<BrokerShared>>,
    Path(topic): Path<String>,
    Json(body): Json<PurgeBody>,
) -> Reply {
    let command = DlqCommand::Purge {
        topic,
        state: body.state,
        before_ms: body.before_ms,
    };
    run(&shared, ShardRequest::DlqCommand(command)).await
}

async fn fail(State(shared): State<Arc<BrokerShared>>, Json(body): Json<FailBody>) -> Reply {
    let request = FailRequest {
        topic: body.topic,
        partition: body.partition,
        offset: body.offset,
        reason: body.reason,
        class: body.class,
    };
    let resolved = crate::retry::topics::resolve_failed(&shared.catalog(), &request.topic)
        .and_then(|(source, failed)| Ok((failed.owner(request.partition)?, source, failed)));
    let (owner, source, failed) = match resolved {
        Ok(resolved) => resolved,
        Err(err) => return error_reply(&err),
    };
    let request = ShardRequest::Fail {
        source,
        failed,
        request,
    };
    run_on(&shared, owner, request).await
}

async fn run(shared: &BrokerShared, request: ShardRequest) -> Reply {
    run_on(shared, ENTRY_SHARD, request).await
}

async fn run_on(shared: &BrokerShared, shard: usize, request: ShardRequest) -> Reply {
    match submit_from_outside(shared, shard, request).await {
        Ok(ReplyBody::Dlq(reply)) => {
            let entries: Vec<Value> = reply
                .entries
                .iter()
                .map(|entry| serde_json::from_str(entry).unwrap_or(Value::Null))
                .collect();
            let body =
                json!({"matched": reply.matched, "changed": reply.changed, "entries": entries});
            (StatusCode::OK, Json(body))
        }
        Ok(ReplyBody::Fail(reply)) => {
            let body = json!({
                "changed": reply.changed,
                "dlq_offset": reply.dlq_offset,
                "attempt": reply.attempt,
                "state": reply.state,
                "next_due_ms": reply.next_due_ms,
            });
            (StatusCode::OK, Json(body))
        }
        Ok(_) => error_reply(&ApiError::new(
            ErrorCode::UnknownServerError,
            "unexpected reply kind",
        )),
        Err(err) => error_reply(&err),
    }
}

fn error_reply(err: &ApiError) -> Reply {
    let status = match err.code {
        ErrorCode::UnknownTopic | ErrorCode::UnknownPartition | ErrorCode::DlqEntryNotFound => {
            StatusCode::NOT_FOUND
        }
        ErrorCode::InvalidRequest | ErrorCode::NoRetryPolicy | ErrorCode::OffsetOutOfRange => {
            StatusCode::BAD_REQUEST
        }
        ErrorCode::ShuttingDown | ErrorCode::DiskFull => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    (
        status,
        Json(json!({"error_code": err.code.name(), "message": err.message})),
    )
}
