//! `alien emulate`: wires the parts together, phase by phase:
//!
//! 1. [`prepare::plan`]: the state directory, `alien-emulate.toml`, and the platform
//!    preflight (a stack the platform refuses stops here, before anything is built);
//! 2. [`prepare::build_workers`]: each worker built or located;
//! 3. [`resume::resume`]: the state file opened or migrated, leftovers of a crashed run reaped,
//!    the engine resumed where the clock was, the store's writer started;
//! 4. [`Emulator::serve`]: the control API, the queue owner, the SQS endpoint, the commands API
//!    and worker-to-worker calls on one loopback listener;
//! 5. [`workers::start_workers`]: the processes behind the worker protocol, and gateways;
//! 6. daemons, the driver, the dispatch loop and the background tasks ([`background`]), and
//!    the watcher of the bucket directories.

mod background;
mod dispatch;
mod pool;
mod prepare;
mod resume;
mod workers;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, mpsc};

use super::chaos_api;
use super::commands_api::{self, CommandsApiConfig};
use super::config::ConfigError;
use super::control::{self, ControlState};
use super::daemons::{CommandsEndpoint, DaemonRunner, DaemonSetup, prepare_daemon};
use super::driver::Driver;
use super::gateway::{Gateway, UpstreamPort};
use super::host::LogSink;
use super::iam::Iam;
use super::queue_owner::tokens::random_token;
use super::queue_owner::{self, QueueOwner, QueueTokens};
use super::record::{RecordError, Recorder, Session};
use super::state::buckets::BucketDirs;
use super::state::objects::Objects;
use super::state::store::{DEFAULT_TRACE_RETENTION, StoreError};
use super::state::watch::{self, StorageWatch};
use super::worker_calls;
use crate::profile::Profile;
use crate::stack::{LoadedStack, Resource};
use pool::WorkerPool;
use prepare::Plan;
use resume::Resumed;

pub use resume::TRACE_WINDOW;

/// During time travel, how long (real time) an attempt handed to a process may take before
/// the jump goes on without its answer.
const TRAVEL_PATIENCE: Duration = Duration::from_secs(30);

/// How long start-up waits for daemons to be running before printing the status table.
const DAEMON_SETTLE: Duration = Duration::from_secs(5);

/// The durable state file inside the state directory.
pub const STATE_FILE: &str = "state.sqlite";

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
    /// Trace events the state file keeps (the newest ones).
    pub trace_retention: u64,
    /// `--record FILE` (absolute): the session's inputs are written there as a scenario by
    /// [`Emulator::finish`].
    pub record: Option<PathBuf>,
    /// The most instances (app processes) of one worker at once on this machine
    /// (`--max-instances`); the platform's own limit, which throttles, may be lower.
    pub max_instances: u32,
    /// Hold each instance to the platform's CPU share (`--cpu-limits`); memory and scratch
    /// limits always apply where the platform has them.
    pub cpu_limits: bool,
}

/// `--max-instances` by default: enough processes to show scale-out and per-instance state
/// without loading a laptop.
pub const DEFAULT_MAX_INSTANCES: u32 = 4;

impl EmulateOptions {
    /// Options with every knob at its default.
    pub fn new(stack: LoadedStack, profile: Profile) -> EmulateOptions {
        EmulateOptions {
            stack,
            profile,
            state_dir: None,
            port: 0,
            config: None,
            time_scale: 1.0,
            seed: 1,
            cold_start: None,
            recycle: false,
            trace_retention: DEFAULT_TRACE_RETENTION,
            record: None,
            max_instances: DEFAULT_MAX_INSTANCES,
            cpu_limits: false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EmulateError {
    /// The platform refuses the stack (the preflight's report): exit 1, like `alien check`.
    #[error("{0}")]
    Preflight(String),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    State(#[from] StoreError),
    #[error("starting worker '{worker}': {message}")]
    Worker { worker: String, message: String },
    #[error("starting daemon '{daemon}': {message}")]
    Daemon { daemon: String, message: String },
    #[error("{0}")]
    Io(String),
    #[error(transparent)]
    Record(#[from] RecordError),
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
    /// Notes for the user from start-up (preflight warnings, reaped processes, migration).
    pub notes: Vec<String>,
    pools: BTreeMap<String, Arc<WorkerPool>>,
    daemons: DaemonRunner,
    gateways: Vec<Gateway>,
    storage_watch: Option<StorageWatch>,
    shutdown: Arc<Notify>,
    pub driver: Driver,
    recorder: Option<Recorder>,
}

fn io(e: impl std::fmt::Display) -> EmulateError {
    EmulateError::Io(e.to_string())
}

/// The listener and what serves on it.
struct Served {
    control_url: String,
    tokens: QueueTokens,
    control: ControlState,
    commands_token: String,
}

impl Emulator {
    /// Starts everything; `progress` receives build output and start-up notes.
    pub async fn start(
        options: EmulateOptions,
        progress: &mut dyn FnMut(&str),
    ) -> Result<Emulator, EmulateError> {
        let plan = prepare::plan(options).await?;
        if let Some(warnings) = &plan.warnings {
            progress(warnings.trim_end());
        }
        let built = prepare::build_workers(&plan, progress).await?;
        let state_file = plan.state_dir.join(STATE_FILE);
        let had_state = plan.options.record.is_some()
            && tokio::fs::try_exists(&state_file).await.unwrap_or(false);
        let resumed = resume::resume(&plan, progress).await?;
        let recorder = plan.options.record.clone().map(|file| {
            let sim = resumed.engine.lock();
            let session = Session::of(&plan.options, &sim, had_state.then_some(state_file));
            Recorder::new(file, session)
        });
        let buckets = Arc::new(
            prepare::run_blocking({
                let (dir, storage, kv) = (
                    plan.state_dir.clone(),
                    resource_ids(&plan, "storage"),
                    resource_ids(&plan, "kv"),
                );
                move || {
                    for id in &kv {
                        std::fs::create_dir_all(super::bindings::resource_dir(&dir, "kv", id))
                            .map_err(io)?;
                    }
                    BucketDirs::create(&dir, storage).map_err(io)
                }
            })
            .await?,
        );
        let (daemon_tx, daemon_rx) = mpsc::unbounded_channel();
        let driver = Driver::new(resumed.engine.clone(), resumed.clock.clone())
            .with_daemon_actions(daemon_tx);
        let record_children = background::record_children(resumed.engine.store().cloned());
        let daemons = DaemonRunner::new(&driver, LogSink::stderr());
        daemons.set_process_hook(record_children.clone());
        let upstreams: BTreeMap<String, UpstreamPort> = plan
            .stack
            .workers()
            .map(|(id, _)| (id.to_string(), UpstreamPort::new()))
            .collect();
        let shutdown = Arc::new(Notify::new());
        let served = Self::serve(
            &plan,
            recorder.as_ref(),
            &resumed,
            &driver,
            &buckets,
            &upstreams,
            &shutdown,
        )
        .await?;
        let mut rows = resource_rows(&plan, &served.tokens);
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let started = workers::start_workers(
            &workers::WorkerSetup {
                plan: &plan,
                engine: &driver.engine,
                tokens: &served.tokens,
                control_url: &served.control_url,
                control: &served.control,
                upstreams: &upstreams,
                events: events_tx,
                process_hook: record_children,
            },
            built,
        )
        .await?;
        rows.extend(started.rows);
        if let Some(recorder) = &recorder {
            // From here on: the readiness probes at start-up are not the user's requests.
            for gateway in &started.gateways {
                gateway.observe_arrivals(recorder.gateway_observer(driver.sim.clone()));
            }
        }
        tokio::spawn(background::follow_processes(
            driver.engine.clone(),
            upstreams.clone(),
            events_rx,
        ));
        let targets = dispatch::Targets {
            pools: Arc::new(started.pools.clone()),
            upstreams: Arc::new(upstreams),
            driver: driver.clone(),
        };
        let (dispatch_tx, dispatch_rx) = mpsc::unbounded_channel();
        tokio::spawn(dispatch::deliver_all(targets.clone(), dispatch_rx));
        // Cron catch-ups and commands a restore found, and visible messages, go to the
        // processes now that they are attached.
        driver.engine.apply(|sim| sim.resume_deliveries()).await?;
        Self::prepare_daemons(&plan, &served, &daemons, &driver)?;
        tokio::spawn(daemons.clone().run(daemon_rx));
        tokio::spawn(driver.clone().run(dispatch_tx, shutdown.clone()));
        rows.extend(settled_daemon_rows(&daemons).await);
        tokio::spawn(background::stop_idle_instances(targets, shutdown.clone()));
        let wake_driver = driver.clone();
        let storage_watch = watch::start(
            driver.engine.clone(),
            buckets,
            Arc::new(move || wake_driver.wake()),
        )
        .map_err(io)?;
        let mut notes = Vec::new();
        if !storage_watch.native {
            notes
                .push("storage directories are watched by polling (no native file watcher)".into());
        }
        Ok(Emulator {
            control_url: served.control_url,
            state_dir: plan.state_dir,
            rows,
            notes,
            pools: started.pools,
            daemons,
            gateways: started.gateways,
            storage_watch: Some(storage_watch),
            shutdown,
            driver,
            recorder,
        })
    }

    /// Phase 4: one loopback listener for the control API, the queue owner, the SQS endpoint,
    /// the commands API, worker-to-worker calls and the chaos toggles.
    async fn serve(
        plan: &Plan,
        recorder: Option<&Recorder>,
        resumed: &Resumed,
        driver: &Driver,
        buckets: &Arc<BucketDirs>,
        upstreams: &BTreeMap<String, UpstreamPort>,
        shutdown: &Arc<Notify>,
    ) -> Result<Served, EmulateError> {
        let port = plan.options.port;
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port)))
            .await
            .map_err(io)?;
        let addr = listener.local_addr().map_err(io)?;
        let control_url = format!("http://{addr}");
        let tokens = QueueTokens::for_stack(addr, &plan.stack).map_err(io)?;
        let iam = Arc::new(Iam::new(&plan.stack, &plan.profile));
        let engine = resumed.engine.clone();
        let owner = QueueOwner::new(engine.clone(), tokens.clone())
            .map_err(io)?
            .with_iam(iam.clone());
        let mut control = ControlState::new(engine.clone(), &plan.stack).with_storage(
            Objects::Dirs(buckets.clone()),
            Some(resumed.trace_pages.clone()),
        );
        if let Some(recorder) = recorder {
            control = control.with_recorder(recorder.clone());
        }
        let traveller = driver.clone();
        control.set_traveller(Arc::new(move |by| {
            let driver = traveller.clone();
            Box::pin(async move { driver.travel(by, TRAVEL_PATIENCE).await })
        }));
        let commands_token = random_token().map_err(io)?;
        let commands_wake = driver.clone();
        let commands = commands_api::router(
            engine.clone(),
            CommandsApiConfig {
                deployment_id: plan.stack.id.clone(),
                token: commands_token.clone(),
                payload_dir: plan.state_dir.join("commands"),
                wake: Arc::new(move || commands_wake.wake()),
            },
        );
        let chaos_wake = driver.clone();
        let app = control::router(control.clone())
            .merge(commands)
            .merge(queue_owner::router(owner))
            .merge(worker_calls::router(
                driver.sim.clone(),
                &plan.stack,
                &plan.profile,
                iam,
                workers::call_targets(plan, upstreams),
            ))
            .merge(chaos_api::router(
                driver.sim.clone(),
                Arc::new(move || chaos_wake.wake()),
                recorder.cloned(),
            ));
        let server_shutdown = shutdown.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move { server_shutdown.notified().await })
                .await;
        });
        Ok(Served {
            control_url,
            tokens,
            control,
            commands_token,
        })
    }

    /// Daemons: supervised processes the engine starts, signals and restarts by the profile's
    /// policy (seeds 003-004; upstream-runtime-and-bindings.md §4.2).
    fn prepare_daemons(
        plan: &Plan,
        served: &Served,
        daemons: &DaemonRunner,
        driver: &Driver,
    ) -> Result<(), EmulateError> {
        for (id, _) in plan.stack.daemons() {
            let setup = DaemonSetup {
                stack: &plan.stack,
                profile: &plan.profile,
                stack_root: &plan.root,
                config: &plan.config,
                config_path: &plan.config_path,
                state_dir: &plan.state_dir,
                commands: CommandsEndpoint {
                    url: &served.control_url,
                    token: &served.commands_token,
                    deployment_id: &plan.stack.id,
                },
                queue_binding: &|q| served.tokens.binding_json_for(q, id),
            };
            let spec = prepare_daemon(&setup, id).map_err(|e| EmulateError::Daemon {
                daemon: id.to_string(),
                message: e.to_string(),
            })?;
            if let Some(spec) = spec {
                daemons.set_spec(id, spec);
            }
            driver.engine.lock().set_daemon_external(id).map_err(io)?;
        }
        Ok(())
    }

    /// What start-up prints: `header`, where the control API, the web console (`/ui`) and
    /// the state are, then the status table drawn in `look`.
    pub fn render_status(&self, header: &str, look: crate::table::Look) -> String {
        let table = crate::table::render(
            look,
            &["RESOURCE", "TYPE", "STATE", "URL / PORT / PATH"],
            self.rows.iter().map(|r| {
                [
                    r.resource.as_str(),
                    r.kind.as_str(),
                    r.state.as_str(),
                    r.detail.as_str(),
                ]
            }),
        );
        format!(
            "{header}\ncontrol API: {url}   state: {state}\nconsole: {url}/ui\n\n{table}",
            url = self.control_url,
            state = self.state_dir.display()
        )
    }

    /// The shared simulation (for tests and the CLI).
    pub fn sim(&self) -> crate::engine::SharedSim {
        self.driver.sim.clone()
    }

    /// [`Emulator::stop`], then, under `--record`, writes the session's inputs as a scenario
    /// (ending at the engine's instant once everything stopped); returns its path.
    pub async fn finish(self, grace: Duration) -> Result<Option<PathBuf>, EmulateError> {
        let (recorder, sim) = (self.recorder.clone(), self.driver.sim.clone());
        self.stop(grace).await;
        let Some(recorder) = recorder else {
            return Ok(None);
        };
        let end = sim.lock().unwrap_or_else(|p| p.into_inner()).now();
        Ok(Some(recorder.save(end).await?))
    }

    /// Stops gracefully: processes get SIGTERM and their grace period, then servers close;
    /// everything handed to the store is on disk when this returns (a `--record` scenario is
    /// written by [`Emulator::finish`]).
    pub async fn stop(mut self, grace: Duration) {
        for pool in self.pools.values() {
            pool.stop_all(grace).await;
        }
        // Cgroups and scratch directories of processes that were dropped rather than stopped.
        let _ = tokio::task::spawn_blocking(crate::emulate::host::limits::cleanup_at_exit).await;
        self.daemons.shutdown(grace).await;
        for gateway in self.gateways {
            gateway.shutdown().await;
        }
        self.shutdown.notify_waiters();
        if let Some(watch) = self.storage_watch.take() {
            let _ = tokio::task::spawn_blocking(move || drop(watch)).await;
        }
        if let Some(store) = self.driver.engine.store() {
            let _ = store.flush().wait().await;
        }
    }
}

/// The ids of the stack's `storage` or `kv` resources (they get a directory each).
fn resource_ids(plan: &Plan, kind: &str) -> Vec<String> {
    plan.stack
        .resources
        .iter()
        .filter(|(_, e)| match kind {
            "storage" => matches!(e.config, Resource::Storage(_)),
            _ => matches!(e.config, Resource::Kv(_)),
        })
        .map(|(id, _)| id.clone())
        .collect()
}

/// Status rows of the queues, storage, KV and resources that are not emulated.
fn resource_rows(plan: &Plan, tokens: &QueueTokens) -> Vec<StatusRow> {
    let mut rows = Vec::new();
    for (id, entry) in &plan.stack.resources {
        let (kind, detail) = match &entry.config {
            Resource::Queue(_) => (
                "queue",
                format!(
                    "local-queue-http {}",
                    tokens.endpoint(id).unwrap_or_default()
                ),
            ),
            Resource::Storage(_) => (
                "storage",
                super::bindings::resource_dir(&plan.state_dir, "storage", id)
                    .display()
                    .to_string(),
            ),
            Resource::Kv(_) => (
                "kv",
                super::bindings::resource_dir(&plan.state_dir, "kv", id)
                    .display()
                    .to_string(),
            ),
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
    rows
}

/// Each daemon's row once its first start happened (or why not), waiting up to
/// [`DAEMON_SETTLE`].
async fn settled_daemon_rows(daemons: &DaemonRunner) -> Vec<StatusRow> {
    let settle = tokio::time::Instant::now() + DAEMON_SETTLE;
    while tokio::time::Instant::now() < settle
        && daemons
            .status()
            .iter()
            .any(|d| d.refused.is_none() && d.pid.is_none() && d.last_exit.is_none())
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    daemons
        .status()
        .into_iter()
        .map(|view| StatusRow {
            resource: view.daemon_name.clone(),
            kind: "daemon".into(),
            state: view.table_state().into(),
            detail: view.table_detail(),
        })
        .collect()
}
