//! Fault toggles and daemon controls of the control API (anchors.md §14 item 4; seeds
//! 003-004 for daemon start/stop). Every decision still comes from the engine's seeded RNG,
//! so a seed replays the same faults against the same inputs.
//!
//! - `GET /faults` → `{seed, recycle, rates, kinds}` (`kinds`: every fault kind's name);
//! - `POST /faults` `{seed?, recycle?, rates?: {kind: probability}}` replaces what is given;
//! - `POST /faults/inject` `{fault, target?}` arms a one-shot fault (daemon faults need the
//!   daemon as `target` and strike at once);
//! - `POST /daemons/{id}/{start|stop}`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::emulate::record::{Input, Recorder};
use crate::engine::{FaultKind, SharedSim, SimError};

/// Called after each change so the driver runs what became due.
pub type Wake = Arc<dyn Fn() + Send + Sync>;

#[derive(Clone)]
struct ChaosState {
    sim: SharedSim,
    wake: Wake,
    /// Where accepted changes go under `alien emulate --record`.
    recorder: Option<Recorder>,
}

impl ChaosState {
    fn record(&self, at: DateTime<Utc>, input: Input) {
        if let Some(recorder) = &self.recorder {
            recorder.note(at, input);
        }
    }
}

pub fn router(sim: SharedSim, wake: Wake, recorder: Option<Recorder>) -> Router {
    Router::new()
        .route("/faults", get(show).post(set))
        .route("/faults/inject", post(inject))
        .route("/daemons/{id}/{action}", post(daemon))
        .with_state(ChaosState {
            sim,
            wake,
            recorder,
        })
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

fn sim_error(err: SimError) -> Response {
    let status = match err {
        SimError::UnknownResource { .. } => StatusCode::NOT_FOUND,
        _ => StatusCode::BAD_REQUEST,
    };
    error(status, err.to_string())
}

/// Parses a JSON body; the error names where it is wrong.
fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    let mut de = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut de)
        .map_err(|e| format!("invalid request body at \"{}\": {}", e.path(), e.inner()))
}

fn current(state: &ChaosState) -> Value {
    let sim = state.sim.lock().unwrap_or_else(|p| p.into_inner());
    let rates: BTreeMap<&str, f64> = sim
        .fault_rates()
        .iter()
        .map(|(k, p)| (k.as_str(), *p))
        .collect();
    let kinds: Vec<&str> = FaultKind::ALL.iter().map(|k| k.as_str()).collect();
    json!({"seed": sim.seed(), "recycle": sim.recycling(), "rates": rates, "kinds": kinds})
}

async fn show(State(state): State<ChaosState>) -> Json<Value> {
    Json(current(&state))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetFaults {
    seed: Option<u64>,
    recycle: Option<bool>,
    rates: Option<BTreeMap<FaultKind, f64>>,
}

async fn set(State(state): State<ChaosState>, body: axum::body::Bytes) -> Response {
    let request: SetFaults = match parse(&body) {
        Ok(r) => r,
        Err(message) => return error(StatusCode::BAD_REQUEST, message),
    };
    if let Some((kind, p)) = request
        .rates
        .iter()
        .flatten()
        .find(|(_, p)| !(0.0..=1.0).contains(*p))
    {
        return error(
            StatusCode::BAD_REQUEST,
            format!("rates.{}: {p} is not a probability (0 to 1)", kind.as_str()),
        );
    }
    let (at, set_rates) = {
        let mut sim = state.sim.lock().unwrap_or_else(|p| p.into_inner());
        let changes_rates = request.rates.is_some() || request.seed.is_some();
        let set_rates = request.rates.is_some();
        let rates: Vec<(FaultKind, f64)> = match request.rates {
            Some(rates) => rates.into_iter().collect(),
            None => sim.fault_rates().to_vec(),
        };
        if changes_rates {
            sim.set_fault_rates(rates, request.seed);
        }
        if let Some(on) = request.recycle {
            sim.set_recycle(on);
        }
        (sim.now(), set_rates.then(|| sim.fault_rates().to_vec()))
    };
    state.record(
        at,
        Input::Faults {
            rates: set_rates,
            seed: request.seed,
            recycle: request.recycle,
        },
    );
    (state.wake)();
    Json(current(&state)).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Inject {
    fault: FaultKind,
    target: Option<String>,
}

async fn inject(State(state): State<ChaosState>, body: axum::body::Bytes) -> Response {
    let request: Inject = match parse(&body) {
        Ok(r) => r,
        Err(message) => return error(StatusCode::BAD_REQUEST, message),
    };
    let (result, at, daemon) = {
        let mut sim = state.sim.lock().unwrap_or_else(|p| p.into_inner());
        let at = sim.now();
        match (request.fault, request.target) {
            (FaultKind::DaemonSigterm | FaultKind::DaemonCrash, Some(daemon)) => {
                (sim.preempt_daemon(&daemon, request.fault), at, Some(daemon))
            }
            (FaultKind::DaemonSigterm | FaultKind::DaemonCrash, None) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("{} needs a daemon as \"target\"", request.fault.as_str()),
                );
            }
            (fault, _) => {
                sim.inject(fault);
                (Ok(()), at, None)
            }
        }
    };
    match result {
        Ok(()) => {
            let fault = request.fault;
            state.record(at, Input::Inject { fault, daemon });
            (state.wake)();
            (
                StatusCode::ACCEPTED,
                Json(json!({"armed": request.fault.as_str()})),
            )
                .into_response()
        }
        Err(err) => sim_error(err),
    }
}

async fn daemon(
    State(state): State<ChaosState>,
    Path((id, action)): Path<(String, String)>,
) -> Response {
    let (result, at) = {
        let mut sim = state.sim.lock().unwrap_or_else(|p| p.into_inner());
        let at = sim.now();
        let result = match action.as_str() {
            "start" => sim
                .start_daemon_named(&id)
                .map(|()| Input::StartDaemon(id.clone())),
            "stop" => sim.stop_daemon(&id).map(|()| Input::StopDaemon(id.clone())),
            other => {
                return error(
                    StatusCode::NOT_FOUND,
                    format!("unknown daemon action '{other}' (start or stop)"),
                );
            }
        };
        (result, at)
    };
    match result {
        Ok(input) => {
            state.record(at, input);
            (state.wake)();
            let sim = state.sim.lock().unwrap_or_else(|p| p.into_inner());
            match sim.daemon_status(&id) {
                Ok(status) => Json(json!({
                    "daemonName": status.daemon_name,
                    "running": status.running,
                    "state": status.state,
                }))
                .into_response(),
                Err(err) => sim_error(err),
            }
        }
        Err(err) => sim_error(err),
    }
}
