//! `alien emulate`: builds or locates each worker, starts it behind the upstream worker
//! protocol, serves the queues it owns, the public endpoints and the control API on
//! 127.0.0.1, and drives the engine in real time until asked to stop.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, mpsc};

use super::bindings::{link_env, resource_dir};
use super::config::{self, CONFIG_FILE, ConfigError, EmulateConfig};
use super::control::{self, ControlState};
use super::driver::{AfterStep, Driver};
use super::gateway::{EventSink, Gateway, GatewayLimits, UpstreamPort};
use super::host::{HostConfig, HostEvent, LogSink, TaskOutcome, WorkerHost};
use super::queue_owner::{self, QueueOwner, QueueTokens};
use super::storage_watch;
use super::store::Store;
use crate::clock::ScaledClock;
use crate::engine::{Dispatch, HandlerResult, SharedSim, Sim, SimConfig, shared};
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
}

#[derive(Debug, thiserror::Error)]
pub enum EmulateError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("starting worker '{worker}': {message}")]
    Worker { worker: String, message: String },
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
        } = options;
        let stack = loaded.stack;
        let state_dir = state_dir.unwrap_or_else(|| loaded.root.join(".alien-emulator"));
        std::fs::create_dir_all(&state_dir).map_err(io)?;
        let explicit = config_path.is_some();
        let config_path = config_path.unwrap_or_else(|| loaded.root.join(CONFIG_FILE));
        let config = EmulateConfig::load(&config_path, explicit)?;

        let start = chrono::Utc::now();
        let clock = Arc::new(ScaledClock::new(start, time_scale).map_err(io)?);
        let mut sim_config = SimConfig::new(1, start);
        // Real processes pay their own cold starts.
        sim_config.cold_starts = false;
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
        let driver = Driver::new(sim.clone(), clock.clone()).with_after_step(persist.clone());

        // Control API and queue owner share one listener.
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port)))
            .await
            .map_err(io)?;
        let addr = listener.local_addr().map_err(io)?;
        let tokens = QueueTokens::for_stack(addr, &stack).map_err(io)?;
        let owner = QueueOwner::new(sim.clone(), tokens.clone())
            .map_err(io)?
            .with_after_change(persist.clone());
        let control_state = ControlState::new(sim.clone(), &stack);
        let traveller_driver = driver.clone();
        control_state.set_traveller(Arc::new(move |by| {
            let driver = traveller_driver.clone();
            Box::pin(async move { driver.travel(by, TRAVEL_PATIENCE).await })
        }));
        let app = control::router(control_state.clone()).merge(queue_owner::router(owner));
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
                Resource::Daemon(_) => (
                    "daemon",
                    "not started: daemons come with `alien emulate` part two".into(),
                ),
                Resource::Worker(_) => continue,
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
        let mut upstreams: BTreeMap<String, UpstreamPort> = BTreeMap::new();
        let workers: Vec<(String, crate::stack::Worker)> = stack
            .workers()
            .map(|(id, w)| (id.to_string(), w.clone()))
            .collect();
        for (id, worker) in workers {
            progress(&format!("building {id}…"));
            let mut spec = config::resolve(
                &id,
                &worker.code,
                &loaded.root,
                &config,
                &config_path,
                &mut |line| progress(&format!("  [{id} build] {line}")),
            )?;
            spec.env.extend(worker.environment.clone());
            spec.env
                .extend(link_env(&stack, &worker.links, &state_dir, &|q| {
                    tokens.binding_json(q)
                }));
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
            let upstream = UpstreamPort::new();
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
            upstreams.insert(id.clone(), upstream);
            rows.push(StatusRow {
                resource: id.clone(),
                kind: "worker".into(),
                state,
                detail,
            });
            hosts.insert(id, Arc::new(host));
        }

        // Keep each gateway pointed at the app's current port across restarts.
        tokio::spawn(async move {
            while let Some(event) = events_rx.recv().await {
                if let (
                    HostEvent::Started {
                        http_port: Some(p), ..
                    },
                    Some(upstream),
                ) = (&event.event, upstreams.get(&event.worker))
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
        let deliver_hosts = hosts.clone();
        let deliver_driver = driver.clone();
        let deliver_persist = persist.clone();
        tokio::spawn(async move {
            while let Some(dispatch) = dispatch_rx.recv().await {
                let Some(host) = deliver_hosts.get(&dispatch.worker).cloned() else {
                    continue;
                };
                let driver = deliver_driver.clone();
                let completion_persist = deliver_persist.clone();
                tokio::spawn(async move {
                    // The engine's own timer decides the platform's timeout; the host waits a
                    // little longer so the engine's verdict comes first.
                    let outcome = host
                        .deliver(&dispatch.event, dispatch.timeout + Duration::from_secs(1))
                        .await;
                    let result = match outcome {
                        TaskOutcome::Success { response_data } => Some(HandlerResult::Ok {
                            status: 200,
                            body_bytes: response_data.len() as u64,
                        }),
                        TaskOutcome::Error { code, message } => {
                            Some(HandlerResult::Err(format!("{code}: {message}")))
                        }
                        TaskOutcome::Crashed => Some(HandlerResult::Crash),
                        TaskOutcome::Timeout => None,
                    };
                    if let Some(result) = result {
                        let mut sim = driver.sim.lock().unwrap_or_else(|p| p.into_inner());
                        sim.complete(dispatch.invocation, result);
                        // Durable before anything else happens: an ack survives `kill -9`.
                        completion_persist(&sim);
                    }
                    driver.wake();
                });
            }
        });
        tokio::spawn(driver.clone().run(dispatch_tx, shutdown.clone()));

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
        for gateway in self.gateways {
            gateway.shutdown().await;
        }
        self.shutdown.notify_waiters();
    }
}
