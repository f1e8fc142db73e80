//! `alien emulate`: builds or locates each worker, starts it behind the upstream worker
//! protocol, serves the queues it owns, the public endpoints and the control API on
//! 127.0.0.1, and drives the engine in real time until asked to stop.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, mpsc};

use super::bindings::{binding_env_var, link_env, resource_dir};
use super::chaos_api;
use super::commands_api::{self, CommandsApiConfig};
use super::config::{self, CONFIG_FILE, ConfigError, EmulateConfig};
use super::control::{self, ControlState};
use super::daemons::{CommandsEndpoint, DaemonRunner, DaemonSetup, prepare_daemon};
use super::driver::{AfterStep, Driver};
use super::gateway::{EventSink, Gateway, GatewayLimits, UpstreamPort};
use super::host::{HostConfig, HostEvent, LogSink, TaskOutcome, WorkerHost};
use super::iam::Iam;
use super::queue_owner::tokens::random_token;
use super::queue_owner::{self, QueueOwner, QueueTokens};
use super::storage_watch;
use super::store::Store;
use super::worker_calls;
use crate::clock::{Clock, ScaledClock};
use crate::engine::{Dispatch, Event, HandlerResult, SharedSim, Sim, SimConfig, shared};
use crate::profile::Profile;
use crate::stack::{LoadedStack, Resource};

/// During time travel, how long (real time) an attempt handed to a process may take before
/// the jump goes on without its answer.
const TRAVEL_PATIENCE: Duration = Duration::from_secs(30);

/// Puts every request a gateway answered into the trace.
fn http_trace(sim: SharedSim) -> EventSink {
    EventSink::new(move |e| {
        let mut sim = sim.lock().unwrap_or_else(|p| p.into_inner());
        sim.note_http(
            &e.worker, &e.method, &e.path, e.status, &e.reason, e.duration,
        );
    })
}

/// How often the emulator looks for workers the engine scaled to zero or recycled.
const PARK_POLL: Duration = Duration::from_millis(50);

/// How long start-up waits for daemons to be running before printing the status table.
const DAEMON_SETTLE: Duration = Duration::from_secs(5);

/// The durable state file inside the state directory.
pub const STATE_FILE: &str = "state.sqlite";

/// Saves the engine's state whenever it changed since the last save.
fn persister(store: Store) -> AfterStep {
    let saved = Mutex::new((store, usize::MAX));
    Arc::new(move |sim: &Sim| {
        let mut guard = saved.lock().unwrap_or_else(|p| p.into_inner());
        let (store, version) = &mut *guard;
        if sim.version() == *version {
            return;
        }
        match store.save(&sim.export_state()) {
            Ok(()) => *version = sim.version(),
            Err(err) => eprintln!("alien emulate: saving state failed: {err}"),
        }
    })
}

/// What `alien emulate` was asked to do.
#[derive(Debug, Clone)]
pub struct EmulateOptions {
    pub stack: LoadedStack,
    pub profile: Profile,
    /// Default: `.alien-emulator/` next to the stack.
    pub state_dir: Option<PathBuf>,
    /// Port of the control API and queue owner (0 = any free port).
    pub port: u16,
    /// Default: `alien-emulate.toml` next to the stack.
    pub config: Option<PathBuf>,
    /// Virtual seconds per real second.
    pub time_scale: f64,
    /// Seed of the engine's random stream (cold-start latencies, faults).
    pub seed: u64,
    /// A fixed cold-start latency instead of the profile's range (zero = none).
    pub cold_start: Option<Duration>,
    /// Chaos: recycle each worker process after every invocation.
    pub recycle: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum EmulateError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("starting worker '{worker}': {message}")]
    Worker { worker: String, message: String },
    #[error("starting daemon '{daemon}': {message}")]
    Daemon { daemon: String, message: String },
    #[error("{0}")]
    Io(String),
}

/// One row of the status table.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StatusRow {
    pub resource: String,
    pub kind: String,
    pub state: String,
    pub detail: String,
}

/// A running emulation.
pub struct Emulator {
    pub control_url: String,
    pub state_dir: PathBuf,
    pub rows: Vec<StatusRow>,
    hosts: BTreeMap<String, Arc<WorkerHost>>,
    daemons: DaemonRunner,
    gateways: Vec<Gateway>,
    shutdown: Arc<Notify>,
    pub driver: Driver,
}

fn io(e: impl std::fmt::Display) -> EmulateError {
    EmulateError::Io(e.to_string())
}

impl Emulator {
    /// Starts everything; `progress` receives build output and start-up notes.
    pub async fn start(
        options: EmulateOptions,
        progress: &mut dyn FnMut(&str),
    ) -> Result<Emulator, EmulateError> {
        let EmulateOptions {
            stack: loaded,
            profile,
            state_dir,
            port,
            config: config_path,
            time_scale,
            seed,
            cold_start,
            recycle,
        } = options;
        let stack = loaded.stack;
        let state_dir = state_dir.unwrap_or_else(|| loaded.root.join(".alien-emulator"));
        std::fs::create_dir_all(&state_dir).map_err(io)?;
        let explicit = config_path.is_some();
        let config_path = config_path.unwrap_or_else(|| loaded.root.join(CONFIG_FILE));
        let config = EmulateConfig::load(&config_path, explicit)?;

        // Builds first, so the platform's clock starts when the stack is deployed, not
        // before a cold cargo build.
        let mut built = BTreeMap::new();
        for (id, worker) in stack.workers() {
            progress(&format!("building {id}…"));
            let spec = config::resolve(
                id,
                &worker.code,
                &loaded.root,
                &config,
                &config_path,
                &mut |line| progress(&format!("  [{id} build] {line}")),
            )?;
            built.insert(id.to_string(), spec);
        }

        let start = chrono::Utc::now();
        let clock = Arc::new(ScaledClock::new(start, time_scale).map_err(io)?);
        let mut sim_config = SimConfig::new(seed, start);
        // The processes start warm; after scale to zero (or recycling) the next attempt pays
        // the profile's seeded cold start on top of the real process start.
        sim_config.cold_start_override = cold_start;
        sim_config.recycle = recycle;
        let store = Store::open(&state_dir.join(STATE_FILE)).map_err(io)?;
        let restored = store.load().map_err(io)?;
        if let Some(state) = &restored {
            progress(&format!(
                "resuming from {} (saved {})",
                state_dir.join(STATE_FILE).display(),
                state.saved_at
            ));
        }
        let mut engine = match restored {
            Some(state) => Sim::restore(&stack, profile.clone(), sim_config, state),
            None => Sim::new(&stack, profile.clone(), sim_config),
        };
        // Every worker's attempts go to its process (set before anything is delivered).
        for (id, _) in stack.workers() {
            engine.set_external(id).map_err(io)?;
        }
        let sim = shared(engine);
        let persist = persister(store);
        let (daemon_tx, daemon_rx) = mpsc::unbounded_channel();
        let driver = Driver::new(sim.clone(), clock.clone())
            .with_after_step(persist.clone())
            .with_daemon_actions(daemon_tx);
        let daemons = DaemonRunner::new(&driver, LogSink::stderr());

        // Control API and queue owner share one listener.
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port)))
            .await
            .map_err(io)?;
        let addr = listener.local_addr().map_err(io)?;
        let tokens = QueueTokens::for_stack(addr, &stack).map_err(io)?;
        let iam = Arc::new(Iam::new(&stack, &profile));
        let owner = QueueOwner::new(sim.clone(), tokens.clone())
            .map_err(io)?
            .with_after_change(persist.clone())
            .with_iam(iam.clone());
        let control_state = ControlState::new(sim.clone(), &stack);
        let traveller_driver = driver.clone();
        control_state.set_traveller(Arc::new(move |by| {
            let driver = traveller_driver.clone();
            Box::pin(async move { driver.travel(by, TRAVEL_PATIENCE).await })
        }));
        let control_url = format!("http://{addr}");
        let upstreams: BTreeMap<String, UpstreamPort> = stack
            .workers()
            .map(|(id, _)| (id.to_string(), UpstreamPort::new()))
            .collect();
        let call_targets = stack
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
            .collect();
        let wake_driver = driver.clone();
        let commands_token = random_token().map_err(io)?;
        let commands_wake = driver.clone();
        let commands = commands_api::router(
            sim.clone(),
            CommandsApiConfig {
                deployment_id: stack.id.clone(),
                token: commands_token.clone(),
                payload_dir: state_dir.join("commands"),
                wake: Arc::new(move || commands_wake.wake()),
            },
        );
        let app = control::router(control_state.clone())
            .merge(commands)
            .merge(queue_owner::router(owner))
            .merge(worker_calls::router(
                sim.clone(),
                &stack,
                &profile,
                iam.clone(),
                call_targets,
            ))
            .merge(chaos_api::router(
                sim.clone(),
                Arc::new(move || wake_driver.wake()),
            ));
        let shutdown = Arc::new(Notify::new());
        let server_shutdown = shutdown.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move { server_shutdown.notified().await })
                .await;
        });

        let mut rows = Vec::new();
        for (id, entry) in &stack.resources {
            let (kind, detail) = match &entry.config {
                Resource::Queue(_) => (
                    "queue",
                    format!(
                        "local-queue-http {}",
                        tokens.endpoint(id).unwrap_or_default()
                    ),
                ),
                Resource::Storage(_) => {
                    let dir = resource_dir(&state_dir, "storage", id);
                    std::fs::create_dir_all(&dir).map_err(io)?;
                    ("storage", dir.display().to_string())
                }
                Resource::Kv(_) => {
                    let dir = resource_dir(&state_dir, "kv", id);
                    std::fs::create_dir_all(&dir).map_err(io)?;
                    ("kv", dir.display().to_string())
                }
                Resource::Daemon(_) | Resource::Worker(_) => continue,
                Resource::Other(o) => (o.resource_type.as_str(), "not emulated".into()),
            };
            rows.push(StatusRow {
                resource: id.clone(),
                kind: kind.into(),
                state: "ready".into(),
                detail,
            });
        }

        let mut hosts = BTreeMap::new();
        let mut gateways = Vec::new();
        let (events_tx, mut events_rx) = mpsc::unbounded_channel();
        let workers: Vec<(String, crate::stack::Worker)> = stack
            .workers()
            .map(|(id, w)| (id.to_string(), w.clone()))
            .collect();
        for (id, worker) in workers {
            let Some(mut spec) = built.remove(&id) else {
                continue;
            };
            spec.env.extend(worker.environment.clone());
            spec.env
                .extend(link_env(&stack, &worker.links, &state_dir, &|q| {
                    tokens.binding_json_for(q, &id)
                }));
            for link in worker.links.iter().filter(|l| l.resource_type == "worker") {
                spec.env.insert(
                    binding_env_var(&link.id),
                    worker_calls::worker_binding(&control_url, &id, &link.id).to_string(),
                );
            }
            spec.env.insert(
                "ALIEN_LOCAL_STATE_DIRECTORY".into(),
                state_dir.display().to_string(),
            );
            let mut host_config = HostConfig::new(id.clone(), spec);
            host_config.transport = profile.worker.transport_env.value.to_string();
            host_config.timeout_seconds = worker.timeout_seconds;
            host_config.restart_on_crash = profile.worker.restart_on_crash.value;
            host_config.log_sink = LogSink::stderr();
            host_config.events = Some(events_tx.clone());
            let host = WorkerHost::start(host_config)
                .await
                .map_err(|e| EmulateError::Worker {
                    worker: id.clone(),
                    message: e.to_string(),
                })?;
            let http_port = host.http_port().await;
            let upstream = upstreams[&id].clone();
            if let Some(p) = http_port {
                upstream.set(p);
            }
            let mut state = "running".to_string();
            let mut detail = http_port
                .map(|p| format!("app port {p}"))
                .unwrap_or_else(|| "no HTTP server".into());
            let mut gateway_addr = None;
            if worker.is_public() {
                let limits = GatewayLimits::from_profile(&profile, &worker);
                let gateway = Gateway::bind(
                    id.clone(),
                    SocketAddr::from(([127, 0, 0, 1], 0)),
                    limits,
                    upstream.clone(),
                    http_trace(sim.clone()),
                )
                .await
                .map_err(|e| EmulateError::Worker {
                    worker: id.clone(),
                    message: e.to_string(),
                })?;
                detail = format!("{} · {detail}", gateway.url());
                gateway_addr = Some(gateway.local_addr());
                // The readiness probe, where the platform runs one after deploy (§3.2).
                if let (Some(probe), true) = (
                    &worker.readiness_probe,
                    profile.worker.readiness_probe_runs.value,
                ) {
                    let method = probe.method.parse().unwrap_or(axum::http::Method::GET);
                    let report = gateway.probe(method, &probe.path).await;
                    state = if report.ready {
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
                    };
                }
                gateways.push(gateway);
            }
            control_state.attach_worker(&id, upstream.clone(), gateway_addr);
            rows.push(StatusRow {
                resource: id.clone(),
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
            hosts.insert(id, host);
        }

        // Keep each gateway pointed at the app's current port across restarts.
        let started_upstreams = upstreams.clone();
        let process_sim = sim.clone();
        tokio::spawn(async move {
            while let Some(event) = events_rx.recv().await {
                {
                    let mut sim = process_sim.lock().unwrap_or_else(|p| p.into_inner());
                    match &event.event {
                        HostEvent::Started { pid, .. } => {
                            sim.note_process_started(&event.worker, *pid)
                        }
                        HostEvent::Exited {
                            pid,
                            status,
                            expected,
                        } => sim.note_process_exited(
                            &event.worker,
                            *pid,
                            &status.to_string(),
                            *expected,
                        ),
                        _ => {}
                    }
                }
                if let (
                    HostEvent::Started {
                        http_port: Some(p), ..
                    },
                    Some(upstream),
                ) = (&event.event, started_upstreams.get(&event.worker))
                {
                    upstream.set(*p);
                }
            }
        });

        // Attempts for real processes.
        let (dispatch_tx, mut dispatch_rx) = mpsc::unbounded_channel::<Dispatch>();
        sim.lock()
            .unwrap_or_else(|p| p.into_inner())
            .resume_deliveries();
        let deliver_hosts = Arc::new(hosts.clone());
        let deliver_upstreams = Arc::new(upstreams.clone());
        let deliver_driver = driver.clone();
        let deliver_persist = persist.clone();
        tokio::spawn(async move {
            while let Some(dispatch) = dispatch_rx.recv().await {
                let Some(host) = deliver_hosts.get(&dispatch.worker).cloned() else {
                    continue;
                };
                let (hosts, upstreams) = (deliver_hosts.clone(), deliver_upstreams.clone());
                let driver = deliver_driver.clone();
                let completion_persist = deliver_persist.clone();
                tokio::spawn(async move {
                    // The platform's cold start (seeded), in the clock's time.
                    if !dispatch.cold_start.is_zero() {
                        let ready_at = driver.clock.now()
                            + chrono::Duration::from_std(dispatch.cold_start)
                                .unwrap_or(chrono::TimeDelta::MAX);
                        // In steps, so time travel shortens the wait.
                        loop {
                            let left = driver.clock.sleep_duration_until(ready_at);
                            if left.is_zero() {
                                break;
                            }
                            tokio::time::sleep(left.min(Duration::from_millis(50))).await;
                        }
                    }
                    // The engine's own timer decides the platform's timeout; the host waits a
                    // little longer so the engine's verdict comes first. A `handler_crash`
                    // fault kills the process as the attempt reaches it: the handler never
                    // completes, the supervisor restarts the process.
                    let outcome = if dispatch.crash {
                        // A scaled-to-zero app is started first: the attempt reaches a process.
                        let _ = host.unpark().await;
                        host.kill_process();
                        TaskOutcome::Crashed
                    } else {
                        host.deliver(&dispatch.event, dispatch.timeout + Duration::from_secs(1))
                            .await
                    };
                    let result = match outcome {
                        TaskOutcome::Success { response_data } => {
                            let body_bytes = response_data.len() as u64;
                            // The host submits a command's response for the app
                            // (upstream-runtime-and-bindings.md §5.4).
                            if let Event::Command(command) = &dispatch.event {
                                let mut sim = driver.sim.lock().unwrap_or_else(|p| p.into_inner());
                                let _ = sim
                                    .set_command_response_data(&command.command_id, response_data);
                            }
                            Some(HandlerResult::Ok {
                                status: 200,
                                body_bytes,
                            })
                        }
                        TaskOutcome::Error { code, message } => {
                            Some(HandlerResult::Err(format!("{code}: {message}")))
                        }
                        TaskOutcome::Crashed => Some(HandlerResult::Crash),
                        TaskOutcome::Timeout => None,
                    };
                    let mut recycled = Vec::new();
                    if let Some(result) = result {
                        let mut sim = driver.sim.lock().unwrap_or_else(|p| p.into_inner());
                        sim.complete(dispatch.invocation, result);
                        // Durable before anything else happens: an ack survives `kill -9`.
                        completion_persist(&sim);
                        recycled = sim.take_scaled_to_zero();
                    }
                    // A recycled process is stopped before the next attempt can reach it.
                    for worker in recycled {
                        if let (Some(host), Some(upstream)) =
                            (hosts.get(&worker), upstreams.get(&worker))
                        {
                            upstream.clear();
                            let _ = host.park().await;
                        }
                    }
                    driver.wake();
                });
            }
        });
        // Daemons: supervised processes the engine starts, signals and restarts by the
        // profile's policy (seeds 003-004; upstream-runtime-and-bindings.md §4.2).
        let daemon_ids: Vec<String> = stack.daemons().map(|(id, _)| id.to_string()).collect();
        for id in &daemon_ids {
            let setup = DaemonSetup {
                stack: &stack,
                profile: &profile,
                stack_root: &loaded.root,
                config: &config,
                config_path: &config_path,
                state_dir: &state_dir,
                commands: CommandsEndpoint {
                    url: &control_url,
                    token: &commands_token,
                    deployment_id: &stack.id,
                },
                queue_binding: &|q| tokens.binding_json_for(q, id),
            };
            let spec = prepare_daemon(&setup, id).map_err(|e| EmulateError::Daemon {
                daemon: id.clone(),
                message: e.to_string(),
            })?;
            if let Some(spec) = spec {
                daemons.set_spec(id, spec);
            }
            sim.lock()
                .unwrap_or_else(|p| p.into_inner())
                .set_daemon_external(id)
                .map_err(io)?;
        }
        tokio::spawn(daemons.clone().run(daemon_rx));
        tokio::spawn(driver.clone().run(dispatch_tx, shutdown.clone()));
        // The status table shows each daemon once its first start happened (or why not).
        let settle = tokio::time::Instant::now() + DAEMON_SETTLE;
        while tokio::time::Instant::now() < settle
            && daemons
                .status()
                .iter()
                .any(|d| d.refused.is_none() && d.pid.is_none() && d.last_exit.is_none())
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        for view in daemons.status() {
            rows.push(StatusRow {
                resource: view.daemon_name.clone(),
                kind: "daemon".into(),
                state: view.table_state().into(),
                detail: view.table_detail(),
            });
        }

        // Scale to zero and recycling: the engine names the workers whose instance is gone;
        // their processes stop until the next attempt or request starts them again.
        let park_hosts = hosts.clone();
        let park_sim = sim.clone();
        let park_upstreams = upstreams.clone();
        let park_shutdown = shutdown.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(PARK_POLL) => {}
                    _ = park_shutdown.notified() => return,
                }
                let parked = park_sim
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .take_scaled_to_zero();
                for worker in parked {
                    if let (Some(host), Some(upstream)) =
                        (park_hosts.get(&worker), park_upstreams.get(&worker))
                    {
                        upstream.clear();
                        let _ = host.park().await;
                    }
                }
            }
        });

        // App writes to storage directories become engine puts and deletes.
        let watched: Vec<(String, PathBuf)> = stack
            .resources
            .iter()
            .filter(|(_, e)| matches!(e.config, Resource::Storage(_)))
            .map(|(id, _)| (id.clone(), resource_dir(&state_dir, "storage", id)))
            .collect();
        let watch_driver = driver.clone();
        let watch_shutdown = shutdown.clone();
        tokio::spawn(async move {
            let mut snapshots: BTreeMap<String, storage_watch::Snapshot> = watched
                .iter()
                .map(|(id, dir)| (id.clone(), storage_watch::scan(dir)))
                .collect();
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                    _ = watch_shutdown.notified() => return,
                }
                for (id, dir) in &watched {
                    let after = storage_watch::scan(dir);
                    let changes = storage_watch::diff(&snapshots[id], &after);
                    if changes.is_empty() {
                        continue;
                    }
                    {
                        let mut sim = watch_driver.sim.lock().unwrap_or_else(|p| p.into_inner());
                        for change in changes {
                            let _ = match change {
                                storage_watch::Change::Put { key, size } => {
                                    sim.put_object(id, &key, size, "")
                                }
                                storage_watch::Change::Deleted { key } => {
                                    sim.delete_object(id, &key)
                                }
                            };
                        }
                    }
                    snapshots.insert(id.clone(), after);
                    watch_driver.wake();
                }
            }
        });

        Ok(Emulator {
            control_url: format!("http://{addr}"),
            state_dir,
            rows,
            hosts,
            daemons,
            gateways,
            shutdown,
            driver,
        })
    }

    /// The status table printed on start.
    pub fn render_status(&self, header: &str) -> String {
        let mut out = format!(
            "{header}\ncontrol API: {}   state: {}\n\n",
            self.control_url,
            self.state_dir.display()
        );
        let w0 = self
            .rows
            .iter()
            .map(|r| r.resource.len())
            .max()
            .unwrap_or(8)
            .max(8);
        out.push_str(&format!(
            "{:<w0$}  {:<8}  {:<8}  {}\n",
            "RESOURCE", "TYPE", "STATE", "URL / PORT / PATH"
        ));
        for r in &self.rows {
            out.push_str(&format!(
                "{:<w0$}  {:<8}  {:<8}  {}\n",
                r.resource, r.kind, r.state, r.detail
            ));
        }
        out
    }

    /// The shared simulation (for tests and the CLI).
    pub fn sim(&self) -> SharedSim {
        self.driver.sim.clone()
    }

    /// Stops gracefully: processes get SIGTERM and their grace period, then servers close.
    pub async fn stop(self, grace: Duration) {
        for host in self.hosts.values() {
            let _ = host.stop(grace).await;
        }
        self.daemons.shutdown(grace).await;
        for gateway in self.gateways {
            gateway.shutdown().await;
        }
        self.shutdown.notify_waiters();
    }
}
