//! Lifecycle of the app processes behind one [`super::WorkerHost`]: start a generation
//! (server + process), watch it, stop it, and replace it after a crash or a task timeout.
//!
//! - Start (upstream-runtime-and-bindings.md §2.2): server first, then the app; wait up to
//!   30 s for `RegisterHttpServer`, then up to 30 s for a `WaitForTasks` subscriber. As
//!   upstream, running out of either wait is a warning, not a failure (HTTP then has no port
//!   and deliveries find no subscriber); the process exiting first is an error.
//! - Stop (§2.3): `trigger_drain_all`, wait for registered `waitUntil` tasks (polled every
//!   100 ms), SIGTERM to the process group, wait out the grace, SIGKILL the group.
//! - Crash: the Local worker manager restarts finished workers automatically
//!   (upstream-runtime-and-bindings.md §4.1; seed 001 "Automatic restart on crash via
//!   background monitor"). Here the monitor reacts to the exit at once; consecutive quick
//!   crashes back off exponentially up to 5 s (upstream's monitor period) so a crash loop does
//!   not spin.
//! - Task timeout: the 3.3.49 server cancels the application for good
//!   (published-3.3.49.md §6.2). With `supervise_task_cancellation` on, `send_task` waits
//!   until the host reports `application_stopped`, so the monitor kills the process first,
//!   then reports it, then starts a fresh generation.

mod recovery;

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU32, Ordering},
    },
    time::{Duration, Instant},
};

use tokio::sync::{Mutex, watch};

use super::{
    HostConfig, HostEvent, RestartReason, WorkerEvent,
    env::{self, Contract},
    error::{HostError, StartupStage},
    grpc::ProtocolServer,
    limits::{Confinement, Enforcement},
    process::{AppProcess, GroupSignal, ProcessExit, display_command},
};

/// How long a SIGKILLed process may take to be reaped.
const KILL_WAIT: Duration = Duration::from_secs(5);
/// Poll period for draining `waitUntil` tasks (upstream-runtime-and-bindings.md §2.3).
const DRAIN_POLL: Duration = Duration::from_millis(100);
/// A generation that lived this long before crashing resets the crash back-off.
const STABLE_AFTER: Duration = Duration::from_secs(5);
/// Back-off ceiling between crash restarts (upstream's Local monitor period, §4.1).
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// One app process and the server it talks to.
pub(crate) struct Generation {
    pub server: ProtocolServer,
    pub process: AppProcess,
    started: Instant,
    /// The port registered when start-up finished (for the `Started` event).
    http_port_at_start: Option<u16>,
    /// The host is ending this generation on purpose (stop, restart, drop).
    ending: AtomicBool,
    /// A task timed out (or its delivery was abandoned) and the app was cancelled.
    cancelled: AtomicBool,
}

impl Generation {
    pub fn cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
    }

    fn usable(&self) -> bool {
        !self.cancelled() && self.process.exit_status().is_none()
    }
}

#[derive(Clone)]
pub(crate) enum State {
    Ready(Arc<Generation>),
    Restarting,
    /// Scaled to zero: no process until the next delivery starts one.
    Parked,
    Stopped,
}

pub(crate) struct Inner {
    pub config: HostConfig,
    pub state: watch::Sender<State>,
    pub shutdown: watch::Sender<bool>,
    /// One task at a time per app: the SDK handles tasks strictly sequentially
    /// (published-3.3.49.md §7, §12 item 5), so queued tasks would otherwise burn their
    /// timeouts waiting behind a slow one.
    pub delivery: Mutex<()>,
    /// Serializes start, stop and restart.
    lifecycle: Mutex<()>,
    crash_streak: AtomicU32,
    /// The limits in force for the latest process.
    enforcement: std::sync::Mutex<Option<Enforcement>>,
}

impl Inner {
    pub fn new(config: HostConfig) -> Self {
        Self {
            config,
            state: watch::channel(State::Restarting).0,
            shutdown: watch::channel(false).0,
            delivery: Mutex::new(()),
            lifecycle: Mutex::new(()),
            crash_streak: AtomicU32::new(0),
            enforcement: std::sync::Mutex::new(None),
        }
    }

    /// The process's name in errors, logs and cgroups ([`HostConfig::name`]).
    fn worker(&self) -> String {
        self.config.name()
    }

    fn emit(&self, event: HostEvent) {
        if let Some(events) = &self.config.events {
            let _ = events.send(WorkerEvent {
                worker: self.config.worker.clone(),
                instance: self.config.instance,
                event,
            });
        }
    }

    pub fn enforcement(&self) -> Option<Enforcement> {
        self.enforcement.lock().ok().and_then(|e| e.clone())
    }

    /// Makes the next process's cgroups and scratch directory (off the runtime) and logs
    /// what is in force.
    async fn confine(&self) -> Option<Arc<Confinement>> {
        let limits = self.config.limits.clone()?;
        let worker = self.worker();
        let confinement =
            tokio::task::spawn_blocking(move || Confinement::prepare(&limits, &worker))
                .await
                .ok()?;
        let enforcement = confinement.enforcement().clone();
        tracing::info!(worker = %self.worker(), "instance limits: {enforcement}");
        if let Ok(mut slot) = self.enforcement.lock() {
            *slot = Some(enforcement);
        }
        Some(Arc::new(confinement))
    }

    /// The current generation, if one is running.
    pub fn current(&self) -> Option<Arc<Generation>> {
        match &*self.state.borrow() {
            State::Ready(generation) => Some(Arc::clone(generation)),
            State::Restarting | State::Parked | State::Stopped => None,
        }
    }

    /// Waits until a usable generation is installed.
    pub async fn wait_ready(&self, within: Duration) -> Result<Arc<Generation>, HostError> {
        let mut state = self.state.subscribe();
        let wait = async {
            loop {
                let decision = match &*state.borrow_and_update() {
                    State::Ready(generation) if generation.usable() => {
                        Some(Ok(Arc::clone(generation)))
                    }
                    State::Stopped => Some(Err(HostError::Stopped {
                        worker: self.worker(),
                    })),
                    State::Ready(_) | State::Restarting | State::Parked => None,
                };
                if let Some(decision) = decision {
                    return decision;
                }
                if state.changed().await.is_err() {
                    return Err(HostError::Stopped {
                        worker: self.worker(),
                    });
                }
            }
        };
        tokio::time::timeout(within, wait)
            .await
            .unwrap_or_else(|_| {
                Err(HostError::NotReady {
                    worker: self.worker(),
                    waited: within,
                })
            })
    }

    /// First start: launch and install, or fail.
    pub async fn start(self: &Arc<Self>) -> Result<(), HostError> {
        let _lifecycle = self.lifecycle.lock().await;
        let generation = self.launch().await?;
        self.install(generation);
        Ok(())
    }

    /// Graceful stop of the current generation; the host stays stopped.
    pub async fn stop(&self, grace: Duration) -> Result<(), HostError> {
        self.shutdown.send_replace(true);
        let _lifecycle = self.lifecycle.lock().await;
        if let State::Ready(generation) = self.state.send_replace(State::Stopped) {
            self.terminate(&generation, grace).await?;
        }
        Ok(())
    }

    /// Stops the current generation gracefully and starts a new one. If the new one fails
    /// to start, the supervisor keeps retrying in the background and the error is returned.
    pub async fn restart(self: &Arc<Self>) -> Result<(), HostError> {
        let lifecycle = self.lifecycle.lock().await;
        if *self.shutdown.borrow() {
            return Err(HostError::Stopped {
                worker: self.worker(),
            });
        }
        let previous = self.state.send_replace(State::Restarting);
        self.emit(HostEvent::Restarting {
            reason: RestartReason::Requested,
        });
        if let State::Ready(generation) = previous
            && let Err(error) = self.terminate(&generation, self.config.stop_grace).await
        {
            tracing::warn!(%error, "restarting anyway");
        }
        match self.launch().await {
            Ok(generation) => {
                self.install(generation);
                Ok(())
            }
            Err(error @ HostError::StartAborted { .. }) => Err(error),
            Err(error) => {
                self.emit(HostEvent::StartFailed {
                    error: error.to_string(),
                });
                drop(lifecycle);
                let inner = Arc::clone(self);
                tokio::spawn(async move { inner.recover().await });
                Err(error)
            }
        }
    }

    /// Scale to zero: ends the current generation gracefully and leaves no process until
    /// [`Inner::unpark`]. A stopped or already parked host is left alone.
    pub async fn park(&self) -> Result<bool, HostError> {
        let _lifecycle = self.lifecycle.lock().await;
        if *self.shutdown.borrow() || !matches!(*self.state.borrow(), State::Ready(_)) {
            return Ok(false);
        }
        if let State::Ready(generation) = self.state.send_replace(State::Parked) {
            self.terminate(&generation, self.config.stop_grace).await?;
        }
        Ok(true)
    }

    /// A cold start: launches a generation if the host is parked and returns how long the
    /// start took (`None` when it was not parked).
    pub async fn unpark(self: &Arc<Self>) -> Result<Option<Duration>, HostError> {
        let _lifecycle = self.lifecycle.lock().await;
        if *self.shutdown.borrow() || !matches!(*self.state.borrow(), State::Parked) {
            return Ok(None);
        }
        let started = Instant::now();
        self.state.send_replace(State::Restarting);
        match self.launch().await {
            Ok(generation) => {
                self.install(generation);
                Ok(Some(started.elapsed()))
            }
            Err(error) => {
                self.state.send_replace(State::Parked);
                Err(error)
            }
        }
    }

    /// Synchronous last resort for `Drop`: SIGKILL the current group, stop supervising.
    pub fn kill_now(&self) {
        self.shutdown.send_replace(true);
        if let State::Ready(generation) = self.state.send_replace(State::Stopped) {
            generation.ending.store(true, Ordering::SeqCst);
            generation.process.signal(GroupSignal::Kill);
        }
    }

    /// Starts a server and an app process and waits for the app to come up.
    async fn launch(&self) -> Result<Arc<Generation>, HostError> {
        let config = &self.config;
        let server = ProtocolServer::start()
            .await
            .map_err(|reason| HostError::Server {
                worker: self.worker(),
                reason,
            })?;
        server.control().supervise_task_cancellation();
        let contract = Contract {
            worker: &config.worker,
            grpc_address: server.address(),
            transport: &config.transport,
            timeout_seconds: config.timeout_seconds,
        };
        let mut child_env = env::child_env(&contract, &config.process.env);
        let confinement = self.confine().await;
        if let Some(tmpdir) = confinement.as_ref().and_then(|c| c.tmpdir()) {
            child_env.insert("TMPDIR".to_string(), tmpdir);
        }
        let process = AppProcess::spawn_confined(
            &self.worker(),
            &config.process,
            &child_env,
            &env::inherited_to_remove(),
            config.log_sink.clone(),
            config.process_hook.as_ref(),
            confinement,
        )
        .map_err(|source| HostError::Spawn {
            worker: self.worker(),
            command: display_command(&config.process),
            source,
        })?;

        let control = Arc::clone(server.control());
        let waited = async {
            self.startup_wait(
                StartupStage::HttpServer,
                config.http_register_timeout,
                &process,
                control.wait_for_http_server(),
            )
            .await?;
            self.startup_wait(
                StartupStage::TaskSubscriber,
                config.subscriber_timeout,
                &process,
                control.wait_for_task_subscriber(),
            )
            .await
        }
        .await;
        match waited {
            Ok(()) => Ok(Arc::new(Generation {
                http_port_at_start: control.get_http_port().await,
                server,
                process,
                started: Instant::now(),
                ending: AtomicBool::new(false),
                cancelled: AtomicBool::new(false),
            })),
            Err(error) => {
                process.signal(GroupSignal::Kill);
                let _ = tokio::time::timeout(KILL_WAIT, process.wait()).await;
                Err(error)
            }
        }
    }

    /// Waits for one start-up step; `Ok` also when the step timed out (warned, as upstream).
    async fn startup_wait<T>(
        &self,
        stage: StartupStage,
        limit: Duration,
        process: &AppProcess,
        step: impl Future<Output = T>,
    ) -> Result<(), HostError> {
        let mut shutdown = self.shutdown.subscribe();
        tokio::select! {
            biased;
            _ = shutdown.wait_for(|stopping| *stopping) => Err(HostError::StartAborted {
                worker: self.worker(),
            }),
            status = process.wait() => Err(HostError::ExitedDuringStartup {
                worker: self.worker(),
                pid: process.pid(),
                stage,
                status,
                last_lines: process.recent_lines(),
            }),
            done = tokio::time::timeout(limit, step) => {
                if done.is_err() {
                    tracing::warn!(
                        worker = %self.config.worker,
                        "app did not finish {stage} within {limit:?}; continuing as upstream does"
                    );
                }
                Ok(())
            }
        }
    }

    /// Makes `generation` current and starts watching it.
    fn install(self: &Arc<Self>, generation: Arc<Generation>) {
        self.state
            .send_replace(State::Ready(Arc::clone(&generation)));
        self.emit(HostEvent::Started {
            pid: generation.process.pid(),
            http_port: generation.http_port_at_start,
            grpc_address: generation.server.address(),
        });
        if *self.shutdown.borrow() {
            // Dropped or stopped while this generation was starting.
            self.kill_now();
        }
        let inner = Arc::clone(self);
        tokio::spawn(async move { inner.monitor(generation).await });
    }

    /// Drain, SIGTERM the group, wait out `grace`, SIGKILL the group.
    async fn terminate(&self, generation: &Generation, grace: Duration) -> Result<(), HostError> {
        generation.ending.store(true, Ordering::SeqCst);
        let process = &generation.process;
        let deadline = tokio::time::Instant::now() + grace;
        if process.exit_status().is_none() {
            let wait_until = generation.server.wait_until();
            let _ = wait_until
                .trigger_drain_all("shutdown", grace.as_secs().max(1))
                .await;
            while process.exit_status().is_none()
                && tokio::time::Instant::now() < deadline
                && wait_until.get_total_task_count().await > 0
            {
                tokio::time::sleep(DRAIN_POLL).await;
            }
            process.signal(GroupSignal::Terminate);
            if tokio::time::timeout_at(deadline, process.wait())
                .await
                .is_err()
            {
                process.signal(GroupSignal::Kill);
                if tokio::time::timeout(KILL_WAIT, process.wait())
                    .await
                    .is_err()
                {
                    return Err(HostError::StillRunning {
                        worker: self.worker(),
                        pid: process.pid(),
                        waited: KILL_WAIT,
                    });
                }
            }
        }
        generation.server.control().application_stopped();
        Ok(())
    }

    /// SIGKILL to the current generation's process group; waits (up to [`KILL_WAIT`]) until
    /// the monitor has moved off that generation, having seen an exit it did not ask for.
    pub async fn crash(&self) {
        let Some(generation) = self.current() else {
            return;
        };
        let mut state = self.state.subscribe();
        generation.process.signal(GroupSignal::Kill);
        let moved_off = state
            .wait_for(|s| !matches!(s, State::Ready(current) if Arc::ptr_eq(current, &generation)));
        let _ = tokio::time::timeout(KILL_WAIT, moved_off).await;
    }

    /// Moves the state off `generation` (to `next`) if it is still the current one.
    fn leave(&self, generation: &Arc<Generation>, next: State) {
        self.state.send_if_modified(|state| match state {
            State::Ready(current) if Arc::ptr_eq(current, generation) => {
                *state = next;
                true
            }
            _ => false,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The host tells its process hook of every app process: the first start with the
    /// worker id, the exit of a crashed process, the restart, and the exit on stop.
    #[cfg(unix)]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_process_hook_sees_starts_restarts_and_exits() {
        use crate::emulate::host::{ProcessSpec, WorkerHost};
        use crate::emulate::processes::ProcessNote;

        const BOUND: Duration = Duration::from_secs(20);
        let (tx, mut notes) = tokio::sync::mpsc::unbounded_channel();
        // Never connects: each start-up wait runs out (a warning) and the app counts as up.
        let mut config = HostConfig::new("w", ProcessSpec::new("sleep").arg("1000"));
        config.http_register_timeout = Duration::from_millis(50);
        config.subscriber_timeout = Duration::from_millis(50);
        config.log_sink = super::super::LogSink::from_fn(|_| {});
        config.process_hook = Some(Arc::new(move |note| {
            let _ = tx.send(note);
        }));
        let host = WorkerHost::start(config).await.expect("start");
        let first = host.pid().expect("running");
        assert_eq!(
            next_note(&mut notes).await,
            ProcessNote::Started {
                pid: first,
                resource: "w".to_string()
            }
        );

        host.kill_process().await;
        assert_eq!(
            next_note(&mut notes).await,
            ProcessNote::Exited { pid: first }
        );
        let ProcessNote::Started { pid: second, .. } = next_note(&mut notes).await else {
            panic!("a restart follows the crash");
        };
        assert_ne!(second, first);
        host.wait_ready(BOUND).await.expect("restarted");
        assert_eq!(host.pid(), Some(second));

        host.stop(Duration::from_secs(5)).await.expect("stop");
        assert_eq!(
            next_note(&mut notes).await,
            ProcessNote::Exited { pid: second }
        );
    }

    #[cfg(unix)]
    async fn next_note(
        notes: &mut tokio::sync::mpsc::UnboundedReceiver<crate::emulate::processes::ProcessNote>,
    ) -> crate::emulate::processes::ProcessNote {
        tokio::time::timeout(Duration::from_secs(20), notes.recv())
            .await
            .expect("a process note in time")
            .expect("hook channel open")
    }
}
