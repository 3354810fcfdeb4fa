//! Handlers under `/config` (compatibility levels) and `/mode`
//! (READWRITE, READONLY, IMPORT), globally and per subject.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};

use super::wire::{parse_body, LevelBody, LevelReply, ModeBody};
use super::{reply, Flags, RestState};
use crate::registry::error::RegistryError;
use crate::registry::model::{level_from_name, level_name, Mode, LEVEL_DEFAULT};

type Params = Query<HashMap<String, String>>;

fn level_reply(level: crate::registry::model::CompatibilityLevel) -> LevelReply {
    LevelReply {
        compatibility_level: level_name(level),
    }
}

fn mode_reply(mode: Mode) -> ModeBody {
    ModeBody {
        mode: mode.name().to_owned(),
    }
}

/// GET /config
pub(super) async fn get_global_level(State(state): State<RestState>) -> Response {
    let result = state
        .query(|r| Ok(level_reply(r.level(None).unwrap_or(LEVEL_DEFAULT))))
        .await;
    reply(result)
}

/// GET /config/{subject}; without a subject level it is 40408 unless
/// `?defaultToGlobal=true`.
pub(super) async fn get_level(
    State(state): State<RestState>,
    Path(subject): Path<String>,
    Query(q): Params,
) -> Response {
    let fallback = Flags(q).is_set("defaultToGlobal");
    let result = state
        .query(move |r| match r.level(Some(&subject)) {
            Some(level) => Ok(level_reply(level)),
            None if fallback => Ok(level_reply(r.effective_level(&subject))),
            None => Err(RegistryError::SubjectLevelNotConfigured(subject)),
        })
        .await;
    reply(result)
}

/// PUT /config
pub(super) async fn put_global_level(State(state): State<RestState>, body: Bytes) -> Response {
    put_level_for(state, None, body).await
}

/// PUT /config/{subject}
pub(super) async fn put_level(
    State(state): State<RestState>,
    Path(subject): Path<String>,
    body: Bytes,
) -> Response {
    put_level_for(state, Some(subject), body).await
}

async fn put_level_for(state: RestState, subject: Option<String>, body: Bytes) -> Response {
    let body: LevelBody = match parse_body(&body) {
        Ok(body) => body,
        Err(e) => return e.into_response(),
    };
    let Some(level) = level_from_name(&body.compatibility) else {
        return RegistryError::InvalidCompatibilityLevel(body.compatibility).into_response();
    };
    let result = state
        .change(move |r| r.set_level(subject.as_deref(), level))
        .await
        .map(|level| LevelBody {
            compatibility: level_name(level).to_owned(),
        });
    reply(result)
}

/// DELETE /config: back to the default; returns the level that was set.
pub(super) async fn delete_global_level(State(state): State<RestState>) -> Response {
    let result = state.change(|r| r.clear_level(None)).await.map(level_reply);
    reply(result)
}

/// DELETE /config/{subject}: the subject follows the global level again.
pub(super) async fn delete_level(
    State(state): State<RestState>,
    Path(subject): Path<String>,
) -> Response {
    let result = state
        .change(move |r| r.clear_level(Some(&subject)))
        .await
        .map(level_reply);
    reply(result)
}

/// GET /mode
pub(super) async fn get_global_mode(State(state): State<RestState>) -> Response {
    let result = state
        .query(|r| Ok(mode_reply(r.mode(None).unwrap_or(Mode::ReadWrite))))
        .await;
    reply(result)
}

/// GET /mode/{subject}; without a subject mode it is 40409 unless
/// `?defaultToGlobal=true`.
pub(super) async fn get_mode(
    State(state): State<RestState>,
    Path(subject): Path<String>,
    Query(q): Params,
) -> Response {
    let fallback = Flags(q).is_set("defaultToGlobal");
    let result = state
        .query(move |r| match r.mode(Some(&subject)) {
            Some(mode) => Ok(mode_reply(mode)),
            None if fallback => Ok(mode_reply(r.effective_mode(&subject))),
            None => Err(RegistryError::SubjectModeNotConfigured(subject)),
        })
        .await;
    reply(result)
}

/// PUT /mode; IMPORT over existing schemas needs `?force=true`.
pub(super) async fn put_global_mode(
    State(state): State<RestState>,
    Query(q): Params,
    body: Bytes,
) -> Response {
    put_mode_for(state, None, Flags(q), body).await
}

/// PUT /mode/{subject}
pub(super) async fn put_mode(
    State(state): State<RestState>,
    Path(subject): Path<String>,
    Query(q): Params,
    body: Bytes,
) -> Response {
    put_mode_for(state, Some(subject), Flags(q), body).await
}

async fn put_mode_for(
    state: RestState,
    subject: Option<String>,
    flags: Flags,
    body: Bytes,
) -> Response {
    let body: ModeBody = match parse_body(&body) {
        Ok(body) => body,
        Err(e) => return e.into_response(),
    };
    let Some(mode) = Mode::from_name(&body.mode) else {
        return RegistryError::InvalidMode(body.mode).into_response();
    };
    let force = flags.is_set("force");
    let result = state
        .change(move |r| r.set_mode(subject.as_deref(), mode, force))
        .await
        .map(mode_reply);
    reply(result)
}

/// DELETE /mode/{subject}: the subject follows the global mode again.
pub(super) async fn delete_mode(
    State(state): State<RestState>,
    Path(subject): Path<String>,
) -> Response {
    let result = state
        .change(move |r| r.clear_mode(Some(&subject)))
        .await
        .map(mode_reply);
    reply(result)
}
