//! The worker host: runs one user Worker app process built with the published `alien-sdk`
//! and drives it over the upstream worker gRPC protocol, as `alien-worker-runtime` does.
//!
//! The app is the gRPC *client*; the host serves ControlService + WaitUntilService with the
//! published `alien-worker-protocol` server (real-clients.md §3; published-3.3.49.md §6,
//! §12). One [`WorkerHost`] per worker process:
//!
//! 1. starts the protocol server on `127.0.0.1:<free port>` **before** the app
//!    (`grpc.rs`), because `AlienContext::from_env` connects eagerly;
//! 2. spawns the app in its own process group with the env contract ([`env`], [`process`]);
//! 3. waits for `RegisterHttpServer` (→ [`WorkerHost::http_port`]) and a `WaitForTasks`
//!    subscriber, 30 s each (upstream-runtime-and-bindings.md §2.2);
//! 4. delivers queue, storage, cron and command events as `Task`s ([`tasks`],
//!    [`WorkerHost::deliver`]); HTTP is proxied by the gateway to the app's port instead;
//! 5. supervises the process (`supervisor.rs`): restart on crash, stop-and-restart after a
//!    task timeout (3.3.49 cancels the app, published-3.3.49.md §6.2), graceful stop.

mod cgroup;
pub mod env;
pub mod error;
mod grpc;
pub mod limits;
mod logs;
pub mod process;
mod scratch;
mod supervisor;
pub mod tasks;

use std::{fmt, net::SocketAddr, sync::Arc, time::Duration};

use tokio::sync::mpsc;

use crate::{emulate::processes::ProcessHook, engine::Event};
pub use error::{HostError, StartupStage};
pub use limits::{Enforcement, InstanceLimits};
pub use process::{LogLine, LogSink, LogStream, ProcessExit, ProcessSpec};
pub use tasks::TaskOutcome;

/// Upstream waits up to 30 s for each start-up step (upstream-runtime-and-bindings.md §2.2).
pub const STARTUP_STEP_TIMEOUT: Duration = Duration::from_secs(30);
/// Worker `timeoutSeconds` default (published-3.3.49.md §8, §11).
pub const DEFAULT_WORKER_TIMEOUT_SECONDS: u32 = 180;

/// How to host one worker.
#[derive(Clone)]
pub struct HostConfig {
    /// Worker id: `ALIEN_CURRENT_WORKER_BINDING_NAME` of every instance.
    pub worker: String,
    /// Which of the worker's instances this process is (1 for the one started at launch);
    /// with the worker id it names the process in logs, errors and events ([`HostConfig::name`]).
    pub instance: u32,
    /// The app's command line; `process.env` carries the caller's env (the
    /// `ALIEN_<NAME>_BINDING` JSON values and the worker's `environment`).
    pub process: ProcessSpec,
    /// `ALIEN_TRANSPORT`: `local` for the Local platform (published-3.3.49.md §9).
    pub transport: String,
    /// `ALIEN_WORKER_TIMEOUT_SECONDS` (the worker's `timeoutSeconds`).
    pub timeout_seconds: u32,
    /// Wait for `RegisterHttpServer`.
    pub http_register_timeout: Duration,
    /// Wait for the `WaitForTasks` subscriber.
    pub subscriber_timeout: Duration,
    /// Grace used by [`WorkerHost::restart`] between SIGTERM and SIGKILL.
    pub stop_grace: Duration,
    /// Restart the app when it exits without being asked to. A task timeout always
    /// restarts it: the host killed it itself because 3.3.49 cancels the app.
    pub restart_on_crash: bool,
    /// Where app stdout/stderr lines go (default: `[worker] line` on stderr).
    pub log_sink: LogSink,
    /// Lifecycle notifications (starts, exits, restarts).
    pub events: Option<mpsc::UnboundedSender<WorkerEvent>>,
    /// Told of every app process spawned (with the worker id) and of its exit, so the
    /// emulator can record its children ([`crate::emulate::processes`]).
    pub process_hook: Option<ProcessHook>,
    /// The platform's per-instance memory, CPU and scratch disk ([`limits`]); `None` runs
    /// the app unconfined (Local, or limits not wanted).
    pub limits: Option<InstanceLimits>,
}

impl HostConfig {
    pub fn new(worker: impl Into<String>, process: ProcessSpec) -> Self {
        Self {
            worker: worker.into(),
            instance: 1,
            process,
            transport: "local".to_string(),
            timeout_seconds: DEFAULT_WORKER_TIMEOUT_SECONDS,
            http_register_timeout: STARTUP_STEP_TIMEOUT,
            subscriber_timeout: STARTUP_STEP_TIMEOUT,
            stop_grace: Duration::from_secs(10),
            restart_on_crash: true,
            log_sink: LogSink::default(),
            events: None,
            process_hook: None,
            limits: None,
        }
    }

    /// The process's name in logs and errors: the worker id for instance 1, `worker#N` for
    /// instance N.
    pub fn name(&self) -> String {
        if self.instance == 1 {
            self.worker.clone()
        } else {
            format!("{}#{}", self.worker, self.instance)
        }
    }

    /// How long a delivery waits for a (re)starting app before giving up.
    fn ready_wait(&self) -> Duration {
        self.http_register_timeout + self.subscriber_timeout + Duration::from_secs(10)
    }
}

impl fmt::Debug for HostConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostConfig")
            .field("worker", &self.worker)
            .field("instance", &self.instance)
            .field("process", &self.process)
            .field("transport", &self.transport)
            .field("timeout_seconds", &self.timeout_seconds)
            .field("http_register_timeout", &self.http_register_timeout)
            .field("subscriber_timeout", &self.subscriber_timeout)
            .field("stop_grace", &self.stop_grace)
            .field("restart_on_crash", &self.restart_on_crash)
            .field("log_sink", &self.log_sink)
            .field("events", &self.events)
            .field(
                "process_hook",
                &self.process_hook.as_ref().map(|_| "ProcessHook"),
            )
            .field("limits", &self.limits)
            .finish()
    }
}

/// Why the host is starting a new process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartReason {
    /// The process exited without being asked to.
    Crashed,
    /// A task timed out (or its delivery was abandoned), which cancels a 3.3.49 app.
    TaskTimeout,
    /// [`WorkerHost::restart`].
    Requested,
}

/// A lifecycle notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostEvent {
    /// An app process is up: registered its HTTP port (if it did) and subscribed to tasks.
    Started {
        pid: u32,
        http_port: Option<u16>,
        grpc_address: SocketAddr,
    },
    /// An app process ended; `expected` when the host stopped or killed it on purpose.
    Exited {
        pid: u32,
        status: ProcessExit,
        expected: bool,
    },
    /// A new process is being started.
    Restarting { reason: RestartReason },
    /// A (re)start attempt failed; the supervisor retries with back-off.
    StartFailed { error: String },
    /// An app process was killed past its memory (sent before its `Exited`), in the
    /// platform's words ([`limits::OutOfMemory`]).
    OutOfMemory {
        pid: u32,
        error_type: String,
        message: String,
    },
}

/// A [`HostEvent`] with the worker it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerEvent {
    pub worker: String,
    /// The instance whose process it is about ([`HostConfig::instance`]).
    pub instance: u32,
    pub event: HostEvent,
}

/// A handler the app registered (`RegisterEventHandler`, published-3.3.49.md §7).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RegisteredHandler {
    /// `storage`, `cron`, `queue`, `queueBatch` or `command`.
    pub handler_type: String,
    /// Resource, schedule or command name, or `*`.
    pub resource_name: String,
}

/// Hosts one worker app process; see the module docs. Dropping it kills the process group.
pub struct WorkerHost {
    inner: Arc<supervisor::Inner>,
}

impl WorkerHost {
    /// Validates the config, starts the protocol server and the app, and waits for the app
    /// to come up. Fails if the app exits during start-up (the error names the worker and
    /// carries its exit status and last output lines).
    pub async fn start(config: HostConfig) -> Result<Self, HostError> {
        env::validate(&config.process.env).map_err(|source| HostError::Env {
            worker: config.worker.clone(),
            source,
        })?;
        let inner = Arc::new(supervisor::Inner::new(config));
        inner.start().await?;
        Ok(Self { inner })
    }

    pub fn worker(&self) -> &str {
        &self.inner.config.worker
    }

    /// The port the running app registered with `RegisterHttpServer` (last one wins), where
    /// the gateway proxies HTTP. `None` while no app runs or if it registered none.
    pub async fn http_port(&self) -> Option<u16> {
        let generation = self.inner.current()?;
        generation.server.control().get_http_port().await
    }

    /// The limits in force for the latest app process (`None` when unconfined): what to
    /// show in a trace or status; its `Display` is one line.
    pub fn enforcement(&self) -> Option<Enforcement> {
        self.inner.enforcement()
    }

    /// The running app's pid (also its process group id on unix).
    pub fn pid(&self) -> Option<u32> {
        self.inner
            .current()
            .map(|generation| generation.process.pid())
    }

    /// `ALIEN_WORKER_GRPC_ADDRESS` of the running app.
    pub fn grpc_address(&self) -> Option<SocketAddr> {
        self.inner
            .current()
            .map(|generation| generation.server.address())
    }

    /// The handlers the running app registered, sorted.
    pub async fn handlers(&self) -> Vec<RegisteredHandler> {
        let Some(generation) = self.inner.current() else {
            return Vec::new();
        };
        let mut handlers: Vec<_> = generation
            .server
            .control()
            .get_handlers()
            .await
            .into_iter()
            .map(|h| RegisteredHandler {
                handler_type: h.handler_type,
                resource_name: h.resource_name,
            })
            .collect();
        handlers.sort();
        handlers
    }

    /// Waits until an app process is up (e.g. after a restart) and returns its HTTP port.
    pub async fn wait_ready(&self, within: Duration) -> Result<Option<u16>, HostError> {
        let generation = self.inner.wait_ready(within).await?;
        Ok(generation.server.control().get_http_port().await)
    }

    /// Delivers one event as a task and waits up to `timeout` for the app's answer.
    ///
    /// Deliveries to one app are serialized (the SDK handles one task at a time), each
    /// with a fresh task id. If no app is running yet (restart in progress), waits for one
    /// for up to the start-up timeouts. A [`TaskOutcome::Timeout`] means the app was
    /// cancelled, killed and is being restarted; a [`TaskOutcome::Crashed`] means it exited
    /// before answering, and a [`TaskOutcome::Error`] with the platform's error type
    /// (`Runtime.ExitError` on aws) that its limits killed it past its memory. `Event::Http` is refused with [`TaskOutcome::NOT_A_TASK`].
    /// `timeout` runs from dispatch: time spent waiting for an earlier delivery or for a
    /// restart does not count against it.
    pub async fn deliver(&self, event: &Event, timeout: Duration) -> TaskOutcome {
        let task = match tasks::task_for_event(event, tasks::next_task_id(event.kind())) {
            Ok(task) => task,
            Err(not_a_task) => return not_a_task.into(),
        };
        let _turn = self.inner.delivery.lock().await;
        if let Err(error) = self.inner.unpark().await {
            return TaskOutcome::host_unavailable(error.to_string());
        }
        let generation = match self.inner.wait_ready(self.inner.config.ready_wait()).await {
            Ok(generation) => generation,
            Err(error) => return TaskOutcome::host_unavailable(error.to_string()),
        };
        let process = &generation.process;
        tokio::select! {
            biased;
            result = tasks::send(generation.server.control(), task, timeout) => match result {
                Ok(outcome) => outcome,
                Err(_) if generation.cancelled() => TaskOutcome::Timeout,
                Err(_) if process.exit_status().is_some() => TaskOutcome::died(process),
                Err(message) => TaskOutcome::host_unavailable(message),
            },
            _ = process.wait() => {
                if generation.cancelled() {
                    TaskOutcome::Timeout
                } else {
                    TaskOutcome::died(process)
                }
            }
        }
    }

    /// Scale to zero: stops the app gracefully; the next [`WorkerHost::deliver`] or
    /// [`WorkerHost::unpark`] starts a fresh process (a cold start). False when there was no
    /// running app to stop.
    pub async fn park(&self) -> Result<bool, HostError> {
        self.inner.park().await
    }

    /// A crash, on purpose (the `handler_crash` fault): SIGKILL to the running app's
    /// process group; the supervisor sees an unexpected exit and restarts it. Returns once the
    /// supervisor has seen the exit, so a stop that follows (the engine stopping the crashed
    /// instance) cannot be taken for its cause.
    pub async fn kill_process(&self) {
        self.inner.crash().await;
    }

    /// Starts the app again if it is parked; the time the start took, if it was.
    pub async fn unpark(&self) -> Result<Option<Duration>, HostError> {
        self.inner.unpark().await
    }

    /// Stops the app: drain signal, SIGTERM to its process group, up to `grace`, then
    /// SIGKILL (upstream-runtime-and-bindings.md §2.3, §4.2). The host stays stopped.
    pub async fn stop(&self, grace: Duration) -> Result<(), HostError> {
        self.inner.stop(grace).await
    }

    /// Stops the app gracefully ([`HostConfig::stop_grace`]) and starts a new process with a
    /// fresh protocol server.
    pub async fn restart(&self) -> Result<(), HostError> {
        self.inner.restart().await
    }
}

impl Drop for WorkerHost {
    fn drop(&mut self) {
        self.inner.kill_now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every instance keeps the worker's own binding name; only its process name differs.
    #[test]
    fn an_instance_is_named_after_its_worker() {
        let mut config = HostConfig::new("api", ProcessSpec::new("app"));
        assert_eq!(config.name(), "api");
        config.instance = 3;
        assert_eq!(
            (config.worker.as_str(), config.name().as_str()),
            ("api", "api#3")
        );
    }
}
