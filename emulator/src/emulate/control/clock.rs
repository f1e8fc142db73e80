//! `POST /clock/advance`: moves virtual time forward.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::{ApiError, ApiResult};
use super::wire::json_body;
use super::{ControlState, lock};
use crate::emulate::record::Input;
use crate::engine::duration_serde::parse_duration;

/// `POST /clock/advance` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AdvanceBody {
    by: String,
}

pub(super) async fn advance(
    State(state): State<ControlState>,
    body: Bytes,
) -> ApiResult<axum::Json<Value>> {
    let body: AdvanceBody = json_body(&body)?;
    let by = parse_duration(&body.by)
        .map_err(|e| ApiError::bad_request(format!("invalid \"by\": {e}")))?;
    // Recorded at the instant the advance begins: a replay runs the clock there, then on.
    let began = state
        .recorder()
        .map(|r| (r.clone(), state.sim_lock().now()));
    let record = move || {
        if let Some((recorder, at)) = began {
            recorder.note(at, Input::Advance(by));
        }
    };
    let traveller = lock(&state.inner.traveller).clone();
    if let Some(travel) = traveller {
        let now = travel(by).await?;
        record();
        state.notify_trace();
        return Ok(axum::Json(json!({ "now": now })));
    }
    let engine = state.engine().clone();
    // Advancing runs every timer due: off the async workers; the new instant is written even
    // when nothing else changed.
    let now = tokio::task::spawn_blocking(move || {
        let (now, ticket) = engine.apply_deferred(|sim| sim.advance(by).map(|()| sim.now()), true);
        ticket.wait_blocking()?;
        Ok::<_, ApiError>(now?)
    })
    .await
    .map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("advance failed: {e}"),
        )
    })??;
    record();
    state.notify_trace();
    Ok(axum::Json(json!({ "now": now })))
}
