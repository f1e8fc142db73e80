//! `GET /status`: platform, virtual now, queues, crons, workers and daemons.

use std::collections::BTreeMap;

use axum::extract::State;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use super::error::ApiResult;
use super::{ControlState, lock};
use crate::emulate::gateway::UpstreamPort;
use crate::engine::SimError;
use crate::table::{self, Look};

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
    /// Its instances now: running (idle or busy) and busy.
    #[serde(default)]
    pub instances: InstanceCount,
}

/// A worker's instances as the engine counts them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct InstanceCount {
    pub running: u32,
    pub busy: u32,
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
    let (platform, as_of, now, queues, crons, daemons, instances) = {
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
        let instances: BTreeMap<String, InstanceCount> = sim
            .instance_counts()
            .into_iter()
            .map(|(id, (running, busy))| (id, InstanceCount { running, busy }))
            .collect();
        (
            profile.platform.to_string(),
            profile.as_of.to_string(),
            sim.now(),
            queues,
            crons,
            daemons,
            instances,
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
            instances: instances.get(id).copied().unwrap_or_default(),
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

impl Status {
    /// `alien ctl status`: the stack, platform and virtual now, then one table per kind the
    /// stack has (workers, queues, schedule triggers, daemons), drawn in `look`.
    pub fn render_text(&self, look: Look) -> String {
        let mut out = format!(
            "stack '{}' · platform {} (limits as of {}) · virtual now {}\n",
            self.stack,
            self.platform,
            self.as_of,
            self.now.to_rfc3339_opts(SecondsFormat::Millis, true)
        );
        let dash = || "-".to_string();
        let mut section = |header: &[&str], rows: Vec<Vec<String>>| {
            if !rows.is_empty() {
                out.push('\n');
                out.push_str(&table::render(look, header, rows));
            }
        };
        section(
            &[
                "WORKER",
                "PUBLIC",
                "TIMEOUT",
                "CONCURRENCY",
                "INSTANCES",
                "PORT",
                "GATEWAY",
            ],
            self.workers
                .iter()
                .map(|w| {
                    vec![
                        w.id.clone(),
                        if w.public { "yes" } else { "no" }.to_string(),
                        format!("{}s", w.timeout_seconds),
                        w.concurrency_limit.map_or_else(dash, |c| c.to_string()),
                        format!("{} ({} busy)", w.instances.running, w.instances.busy),
                        w.port.map_or_else(dash, |p| p.to_string()),
                        w.gateway.clone().unwrap_or_else(dash),
                    ]
                })
                .collect(),
        );
        section(
            &["QUEUE", "VISIBLE", "IN FLIGHT", "DEAD-LETTERED"],
            self.queues
                .iter()
                .map(|q| {
                    vec![
                        q.name.clone(),
                        q.visible.to_string(),
                        q.in_flight.to_string(),
                        q.dead_lettered.to_string(),
                    ]
                })
                .collect(),
        );
        section(
            &["CRON WORKER", "INDEX", "SCHEDULE"],
            self.crons
                .iter()
                .map(|c| vec![c.worker.clone(), c.index.to_string(), c.expr.clone()])
                .collect(),
        );
        section(
            &["DAEMON", "STATE", "RUNNING", "RESTARTS"],
            self.daemons
                .iter()
                .map(|d| {
                    vec![
                        d.daemon_name.clone(),
                        d.state.clone(),
                        if d.running { "yes" } else { "no" }.to_string(),
                        d.restarts.to_string(),
                    ]
                })
                .collect(),
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status() -> Status {
        Status {
            platform: "aws".into(),
            as_of: "2026-11-01".into(),
            stack: "hello-worker".into(),
            now: "2026-12-06T10:00:00Z".parse().unwrap(),
            queues: vec![QueueStatus {
                name: "jobs".into(),
                visible: 2,
                in_flight: 1,
                dead_lettered: 0,
            }],
            crons: vec![CronStatus {
                worker: "app".into(),
                index: 0,
                expr: "15 * * * *".into(),
            }],
            workers: vec![
                WorkerStatus {
                    id: "app".into(),
                    public: true,
                    timeout_seconds: 30,
                    concurrency_limit: None,
                    port: Some(42791),
                    gateway: Some("http://127.0.0.1:37395".into()),
                    instances: InstanceCount {
                        running: 2,
                        busy: 1,
                    },
                },
                WorkerStatus {
                    id: "backend".into(),
                    public: false,
                    timeout_seconds: 900,
                    concurrency_limit: Some(5),
                    port: None,
                    gateway: None,
                    instances: InstanceCount::default(),
                },
            ],
            daemons: Vec::new(),
        }
    }

    #[test]
    fn plain_status_has_a_table_per_kind_and_leaves_out_absent_kinds() {
        assert_eq!(
            status().render_text(Look::Plain),
            "stack 'hello-worker' · platform aws (limits as of 2026-11-01) · virtual now 2026-12-06T10:00:00.000Z\n\
             \n\
             WORKER   PUBLIC  TIMEOUT  CONCURRENCY  INSTANCES   PORT   GATEWAY\n\
             app      yes     30s      -            2 (1 busy)  42791  http://127.0.0.1:37395\n\
             backend  no      900s     5            0 (0 busy)  -      -\n\
             \n\
             QUEUE  VISIBLE  IN FLIGHT  DEAD-LETTERED\n\
             jobs   2        1          0\n\
             \n\
             CRON WORKER  INDEX  SCHEDULE\n\
             app          0      15 * * * *\n"
        );
    }

    #[test]
    fn boxed_status_draws_the_same_rows_in_borders() {
        let text = status().render_text(Look::Boxed);
        assert!(
            text.contains("│ jobs  ┆ 2       ┆ 1         ┆ 0             │"),
            "{text}"
        );
        assert_eq!(text.matches('╭').count(), 3, "{text}");
    }
}
