//! `POST /crons/{worker}/{index}/fire`: fires one schedule trigger now.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use serde_json::{Value, json};

use super::error::{ApiError, ApiResult};
use super::wire::path_params;
use super::{ControlState, lock};
use crate::emulate::record::Input;

pub(super) async fn fire_cron(
    State(state): State<ControlState>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult<axum::Json<Value>> {
    let (worker, index) = path_params(path)?;
    let index: usize = index.parse().map_err(|_| {
        ApiError::bad_request(format!("cron index '{index}' is not a non-negative number"))
    })?;
    let known = lock(&state.inner.workers).contains_key(&worker);
    let at = state
        .engine()
        .apply(|sim| {
            let count = sim
                .cron_triggers()
                .iter()
                .filter(|(w, _)| *w == worker)
                .count();
            if index >= count {
                return Err(ApiError::not_found(if known {
                    format!("worker '{worker}' has no schedule trigger #{index} (it has {count})")
                } else {
                    format!("no worker named '{worker}' in the stack")
                }));
            }
            sim.fire_cron_now(&worker, index)?;
            Ok::<_, ApiError>(sim.now())
        })
        .await??;
    if let Some(recorder) = state.recorder() {
        let worker = worker.clone();
        recorder.note(at, Input::FireCron { worker, index });
    }
    state.notify_trace();
    Ok(axum::Json(json!({ "worker": worker, "index": index })))
}
