//! Phase 5 of a start: each worker's process behind the upstream worker protocol, with its
//! bindings in the environment, and its public endpoint's gateway (with the readiness probe
//! where the platform runs one after deploy).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::pool::WorkerPool;
use super::prepare::Plan;
use super::{EmulateError, StatusRow};
use crate::emulate::bindings::{binding_env_var, link_env};
use crate::emulate::control::ControlState;
use crate::emulate::gateway::{EventSink, Gateway, GatewayLimits, UpstreamPort};
use crate::emulate::host::{
    HostConfig, InstanceLimits, LogSink, ProcessSpec, WorkerEvent, WorkerHost,
};
use crate::emulate::processes::ProcessHook;
use crate::emulate::queue_owner::QueueTokens;
use crate::emulate::state::EngineHandle;
use crate::emulate::worker_calls;

/// The running workers.
pub(super) struct Workers {
    pub pools: BTreeMap<String, Arc<WorkerPool>>,
    pub gateways: Vec<Gateway>,
    pub rows: Vec<StatusRow>,
}

/// What starting the workers needs from the earlier phases.
pub(super) struct WorkerSetup<'a> {
    pub plan: &'a Plan,
    pub engine: &'a EngineHandle,
    pub tokens: &'a QueueTokens,
    pub control_url: &'a str,
    pub control: &'a ControlState,
    pub upstreams: &'a BTreeMap<String, UpstreamPort>,
    pub events: mpsc::UnboundedSender<WorkerEvent>,
    pub process_hook: ProcessHook,
}

/// Puts every request a gateway answered into the trace.
fn http_trace(engine: EngineHandle) -> EventSink {
    EventSink::new(move |e| {
        engine.record(|sim| {
            sim.note_http(
                &e.worker, &e.method, &e.path, e.status, &e.reason, e.duration,
            )
        });
    })
}

/// Starts every built worker.
pub(super) async fn start_workers(
    setup: &WorkerSetup<'_>,
    mut built: BTreeMap<String, ProcessSpec>,
) -> Result<Workers, EmulateError> {
    let mut workers = Workers {
        pools: BTreeMap::new(),
        gateways: Vec::new(),
        rows: Vec::new(),
    };
    let ids: Vec<String> = setup
        .plan
        .stack
        .workers()
        .map(|(id, _)| id.to_string())
        .collect();
    for id in ids {
        if let Some(spec) = built.remove(&id) {
            start_worker(setup, &id, spec, &mut workers).await?;
        }
    }
    Ok(workers)
}

/// The app's environment: the worker's own, its links' bindings, worker-to-worker bindings
/// and the local state directory.
fn worker_env(setup: &WorkerSetup<'_>, id: &str, spec: &mut ProcessSpec) {
    let plan = setup.plan;
    let Some((_, worker)) = plan.stack.workers().find(|(w, _)| *w == id) else {
        return;
    };
    spec.env.extend(worker.environment.clone());
    spec.env.extend(link_env(
        &plan.stack,
        &worker.links,
        &plan.state_dir,
        &|q| setup.tokens.binding_json_for(q, id),
    ));
    for link in worker.links.iter().filter(|l| l.resource_type == "worker") {
        spec.env.insert(
            binding_env_var(&link.id),
            worker_calls::worker_binding(setup.control_url, id, &link.id).to_string(),
        );
    }
    spec.env.insert(
        "ALIEN_LOCAL_STATE_DIRECTORY".into(),
        plan.state_dir.display().to_string(),
    );
}

async fn start_worker(
    setup: &WorkerSetup<'_>,
    id: &str,
    mut spec: ProcessSpec,
    workers: &mut Workers,
) -> Result<(), EmulateError> {
    let plan = setup.plan;
    let worker = plan
        .stack
        .workers()
        .find(|(w, _)| *w == id)
        .map(|(_, w)| w.clone())
        .ok_or_else(|| super::io(format!("no worker '{id}'")))?;
    let failed = |e: &dyn std::fmt::Display| EmulateError::Worker {
        worker: id.to_string(),
        message: e.to_string(),
    };
    worker_env(setup, id, &mut spec);
    let mut host_config = HostConfig::new(id.to_string(), spec);
    host_config.transport = plan.profile.worker.transport_env.value.to_string();
    host_config.timeout_seconds = worker.timeout_seconds;
    host_config.restart_on_crash = plan.profile.worker.restart_on_crash.value;
    host_config.limits = instance_limits(plan, &worker);
    host_config.log_sink = LogSink::stderr();
    host_config.events = Some(setup.events.clone());
    host_config.process_hook = Some(setup.process_hook.clone());
    let host = WorkerHost::start(host_config.clone())
        .await
        .map_err(|e| failed(&e))?;
    let http_port = host.http_port().await;
    let upstream = setup.upstreams[id].clone();
    if let Some(p) = http_port {
        upstream.set(p);
    }
    let mut state = "running".to_string();
    let mut detail = http_port
        .map(|p| format!("app port {p}"))
        .unwrap_or_else(|| "no HTTP server".into());
    if let Some(limits) = host.enforcement() {
        detail = format!("{detail} · {limits}");
    }
    let mut gateway_addr = None;
    if worker.is_public() {
        let limits = GatewayLimits::from_profile(&plan.profile, &worker);
        let gateway = Gateway::bind(
            id.to_string(),
            SocketAddr::from(([127, 0, 0, 1], 0)),
            limits,
            upstream.clone(),
            http_trace(setup.engine.clone()),
        )
        .await
        .map_err(|e| failed(&e))?;
        detail = format!("{} · {detail}", gateway.url());
        gateway_addr = Some(gateway.local_addr());
        if let Some(probed) = probe(plan, &worker, &gateway).await {
            state = probed;
        }
        workers.gateways.push(gateway);
    }
    setup
        .control
        .attach_worker(id, upstream.clone(), gateway_addr);
    workers.rows.push(StatusRow {
        resource: id.to_string(),
        kind: "worker".into(),
        state,
        detail,
    });
    let host = Arc::new(host);
    // A request that finds the app scaled to zero starts it (a cold start).
    let waking = host.clone();
    upstream.set_waker(Arc::new(move || {
        let host = waking.clone();
        tokio::spawn(async move {
            let _ = host.unpark().await;
        });
    }));
    workers
        .pools
        .insert(id.to_string(), Arc::new(WorkerPool::new(host_config, host)));
    Ok(())
}

/// The platform's memory, CPU and scratch-disk limits for each of the worker's instances
/// (`profile.worker.limits`); the CPU share only with `--cpu-limits`, since it slows every
/// test of a small function in real time.
fn instance_limits(plan: &Plan, worker: &crate::stack::Worker) -> Option<InstanceLimits> {
    let mut limits = InstanceLimits::for_worker(&plan.profile.worker.limits, worker.memory_mb)?;
    limits.enforce_cpu = plan.options.cpu_limits;
    Some(limits)
}

/// The readiness probe, where the platform runs one after deploy (upstream-cloud-semantics.md
/// §3.2): the state the status table shows.
async fn probe(plan: &Plan, worker: &crate::stack::Worker, gateway: &Gateway) -> Option<String> {
    let probe = worker.readiness_probe.as_ref()?;
    if !plan.profile.worker.readiness_probe_runs.value {
        return None;
    }
    let method = probe.method.parse().unwrap_or(axum::http::Method::GET);
    let report = gateway.probe(method, &probe.path).await;
    Some(if report.ready {
        format!(
            "ready ({} {} → {})",
            probe.method,
            probe.path,
            report.last_status.unwrap_or(200)
        )
    } else {
        format!(
            "probe failed ({} {}: {})",
            probe.method,
            probe.path,
            report
                .last_error
                .unwrap_or_else(|| format!("status {:?}", report.last_status))
        )
    })
}

/// How long a worker's calls to another worker may take: the target's timeout.
pub(super) fn call_targets(
    plan: &Plan,
    upstreams: &BTreeMap<String, UpstreamPort>,
) -> BTreeMap<String, worker_calls::Target> {
    plan.stack
        .workers()
        .map(|(id, w)| {
            (
                id.to_string(),
                worker_calls::Target {
                    upstream: upstreams[id].clone(),
                    timeout: Duration::from_secs(u64::from(w.timeout_seconds)),
                },
            )
        })
        .collect()
}
