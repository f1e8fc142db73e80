//! `GET /status`: platform, virtual now, queues, crons, workers and daemons.

use std::collections::BTreeMap;

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::error::ApiResult;
use super::{ControlState, lock};
use crate::emulate::gateway::UpstreamPort;
use crate::engine::SimError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueStatus {
    pub name: String,
    pub visible: usize,
    pub in_flight: usize,
    pub dead_lettered: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CronStatus {
    pub worker: String,
    /// Position among the worker's schedule triggers (the `index` of the fire route).
    pub index: usize,
    pub expr: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerStatus {
    pub id: String,
    pub public: bool,
    pub timeout_seconds: u32,
    pub concurrency_limit: Option<u32>,
    /// The port the app registered (None before registration or after a crash).
    pub port: Option<u16>,
    /// The gateway's URL when the worker has one.
    pub gateway: Option<String>,
}

/// A daemon as the seeds' outputs name it (`daemonName`, `running`), plus the supervisor's
/// state and counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DaemonRow {
    pub daemon_name: String,
    pub running: bool,
    pub state: String,
    pub restarts: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    pub platform: String,
    pub as_of: String,
    pub stack: String,
    pub now: DateTime<Utc>,
    pub queues: Vec<QueueStatus>,
    pub crons: Vec<CronStatus>,
    pub workers: Vec<WorkerStatus>,
    #[serde(default)]
    pub daemons: Vec<DaemonRow>,
}

pub(super) async fn status(State(state): State<ControlState>) -> ApiResult<axum::Json<Status>> {
    let (platform, as_of, now, queues, crons, daemons) = {
        let sim = state.sim_lock();
        let queues = sim
            .queue_names()
            .into_iter()
            .map(|name| {
                let stats = sim.queue_stats(&name)?;
                Ok(QueueStatus {
                    name,
                    visible: stats.visible,
                    in_flight: stats.in_flight,
                    dead_lettered: stats.dead_lettered,
                })
            })
            .collect::<Result<Vec<_>, SimError>>()?;
        let mut per_worker: BTreeMap<String, usize> = BTreeMap::new();
        let crons = sim
            .cron_triggers()
            .into_iter()
            .map(|(worker, expr)| {
                let slot = per_worker.entry(worker.clone()).or_default();
                let index = *slot;
                *slot += 1;
                CronStatus {
                    worker,
                    index,
                    expr,
                }
            })
            .collect();
        let profile = sim.profile();
        let daemons = state
            .inner
            .daemons
            .iter()
            .filter_map(|id| sim.daemon_status(id).ok())
            .map(|d| DaemonRow {
                daemon_name: d.daemon_name,
                running: d.running,
                state: serde_json::to_value(d.state)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                restarts: d.restarts,
            })
            .collect();
        (
            profile.platform.to_string(),
            profile.as_of.to_string(),
            sim.now(),
            queues,
            crons,
            daemons,
        )
    };
    let workers = lock(&state.inner.workers)
        .iter()
        .map(|(id, w)| WorkerStatus {
            id: id.clone(),
            public: w.public,
            timeout_seconds: w.timeout_seconds,
            concurrency_limit: w.concurrency_limit,
            port: w.upstream.as_ref().and_then(UpstreamPort::get),
            gateway: w.gateway.map(|a| format!("http://{a}")),
        })
        .collect();
    Ok(axum::Json(Status {
        platform,
        as_of,
        stack: state.inner.stack_id.clone(),
        now,
        queues,
        crons,
        workers,
        daemons,
    }))
}
