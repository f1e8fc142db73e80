//! Queue routes: `POST` / `GET /queues/{q}/messages` (send, peek) and
//! `GET /queues/{q}/dead-letters`.

use alien_providers::Payload;
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::ControlState;
use super::error::{ApiError, ApiResult};
use super::wire::{json_body, path_params};
use crate::emulate::record::Input;
use crate::engine::SendVia;

/// `POST /queues/{q}/messages` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SendBody {
    json: Option<Value>,
    text: Option<String>,
    #[serde(default)]
    via: SendVia,
}

pub(super) async fn send(
    State(state): State<ControlState>,
    path: Result<Path<String>, PathRejection>,
    body: Bytes,
) -> ApiResult<(StatusCode, axum::Json<Value>)> {
    let queue = path_params(path)?;
    let body: SendBody = json_body(&body)?;
    // `{"json": null}` is a JSON null payload: tell it apart from a missing field.
    let payload = match (body.json, body.text) {
        (Some(value), None) => Payload::Json(value),
        (None, Some(text)) => Payload::Text(text),
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "give only one of \"json\" or \"text\", not both",
            ));
        }
        (None, None) => {
            return Err(ApiError::bad_request(
                "missing message: give {\"json\": <value>} or {\"text\": \"<string>\"}",
            ));
        }
    };
    let recorded = state.recorder().map(|_| payload.clone());
    let (id, at) = state
        .engine()
        .apply(|sim| {
            sim.send(&queue, payload, body.via)
                .map(|id| (id, sim.now()))
        })
        .await??;
    if let (Some(recorder), Some(payload)) = (state.recorder(), recorded) {
        let via = body.via;
        recorder.note(
            at,
            Input::Send {
                queue,
                payload,
                via,
            },
        );
    }
    state.notify_trace();
    Ok((StatusCode::CREATED, axum::Json(json!({ "id": id }))))
}

pub(super) async fn peek(
    State(state): State<ControlState>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Response> {
    let queue = path_params(path)?;
    let peeked = state.sim_lock().peek(&queue)?;
    Ok(axum::Json(peeked).into_response())
}

pub(super) async fn dead_letters(
    State(state): State<ControlState>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Response> {
    let queue = path_params(path)?;
    let sim = state.sim_lock();
    let dead = sim.dead_letters(&queue)?;
    Ok(axum::Json(dead).into_response())
}
