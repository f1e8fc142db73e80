//! Executes the engine's [`DaemonAction`]s with real processes, as the Local daemon
//! supervisor does (upstream-runtime-and-bindings.md §4.2): each daemon is spawned directly
//! in its own process group, its output goes through a [`LogSink`] prefixed with the daemon
//! id, SIGTERM and SIGKILL go to the whole group, and every exit (by itself or by signal) is
//! reported to the engine, which applies the platform's restart policy in its own time.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{Notify, mpsc};

use crate::emulate::driver::Driver;
use crate::emulate::host::env::inherited_to_remove;
use crate::emulate::host::process::{AppProcess, GroupSignal};
use crate::emulate::host::{LogSink, ProcessExit, ProcessSpec};
use crate::emulate::processes::ProcessHook;
use crate::engine::{
    DaemonAction, DaemonProcessExit, DaemonSignal, DaemonState, DaemonStatus, SharedSim,
};

/// Reported for a daemon whose process could not be spawned (as a shell's "not found").
const SPAWN_FAILED_CODE: i32 = 127;
/// How long a SIGKILLed group may take to be reaped on shutdown.
const KILL_WAIT: Duration = Duration::from_secs(5);

/// One daemon's row for the status table and the control API: the seeds' outputs
/// `daemonName` and `running` (seed 003 Outputs), plus what the supervisor knows.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DaemonView {
    pub daemon_name: String,
    pub running: bool,
    pub state: DaemonState,
    /// The live process (also its process group id).
    pub pid: Option<u32>,
    pub restarts: u32,
    pub last_exit: Option<LastExit>,
    /// The platform refuses daemons: the preflight's text (seed 004).
    pub refused: Option<String>,
}

/// How the last run ended.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LastExit {
    /// Engine time.
    pub at: DateTime<Utc>,
    /// Exit code, or 128 + signal.
    pub code: i32,
    /// `exit code 1`, `killed by signal 9`, or why the spawn failed.
    pub detail: Option<String>,
}

impl DaemonView {
    /// The STATE column.
    pub fn table_state(&self) -> &'static str {
        match self.state {
            DaemonState::Running => "running",
            DaemonState::Stopping => "stopping",
            DaemonState::BackingOff => "backing-off",
            DaemonState::Stopped => "stopped",
            DaemonState::GaveUp => "gave-up",
            DaemonState::Refused => "refused",
        }
    }

    /// The detail column: the refusal, or pid, restarts and the last exit.
    pub fn table_detail(&self) -> String {
        if let Some(refused) = &self.refused {
            return refused.clone();
        }
        let mut parts = Vec::new();
        if let Some(pid) = self.pid {
            parts.push(format!("pid {pid}"));
        }
        parts.push(format!("restarts {}", self.restarts));
        if let Some(exit) = &self.last_exit {
            let how = exit
                .detail
                .clone()
                .unwrap_or_else(|| format!("code {}", exit.code));
            parts.push(format!("last exit: {how}"));
        }
        parts.join(" · ")
    }
}

/// A live process and the run it belongs to.
struct Live {
    epoch: u64,
    process: Arc<AppProcess>,
}

/// What the runner knows of one daemon.
#[derive(Default)]
struct Slot {
    spec: Option<ProcessSpec>,
    live: Option<Live>,
    /// How the last process ended (or why it could not start).
    last: Option<String>,
}

struct Inner {
    sim: SharedSim,
    wake: Arc<Notify>,
    sink: LogSink,
    slots: Mutex<BTreeMap<String, Slot>>,
    /// Told of every daemon process start and exit.
    hook: Mutex<Option<ProcessHook>>,
    /// Shutting down: exits are no longer reported and no new process starts.
    closing: AtomicBool,
}

/// Runs daemon processes for the engine; cheap to clone.
#[derive(Clone)]
pub struct DaemonRunner {
    inner: Arc<Inner>,
}

impl DaemonRunner {
    /// A runner reporting to `driver`'s engine and waking it after every exit.
    pub fn new(driver: &Driver, sink: LogSink) -> DaemonRunner {
        DaemonRunner {
            inner: Arc::new(Inner {
                sim: driver.sim.clone(),
                wake: driver.waker(),
                sink,
                slots: Mutex::new(BTreeMap::new()),
                hook: Mutex::new(None),
                closing: AtomicBool::new(false),
            }),
        }
    }

    /// How `daemon` runs (from [`super::prepare_daemon`]); used from its next start.
    pub fn set_spec(&self, daemon: &str, spec: ProcessSpec) {
        self.inner
            .slots()
            .entry(daemon.to_string())
            .or_default()
            .spec = Some(spec);
    }

    /// Tells `hook` of every daemon process spawned from now on (with the daemon id) and of
    /// its exit, so the emulator can record its children ([`crate::emulate::processes`]).
    pub fn set_process_hook(&self, hook: ProcessHook) {
        *self.inner.hook.lock().unwrap_or_else(|p| p.into_inner()) = Some(hook);
    }

    /// Executes actions until the sender is dropped.
    pub async fn run(self, mut actions: mpsc::UnboundedReceiver<DaemonAction>) {
        while let Some(action) = actions.recv().await {
            self.apply(action);
        }
    }

    /// Executes one action (inside a tokio runtime). Signals for a run that already ended
    /// are ignored.
    pub fn apply(&self, action: DaemonAction) {
        if self.inner.closing.load(Ordering::SeqCst) {
            return;
        }
        match action {
            DaemonAction::Start {
                daemon,
                epoch,
                startup_check,
            } => self.start(daemon, epoch, startup_check),
            DaemonAction::Signal {
                daemon,
                epoch,
                signal,
            } => {
                let slots = self.inner.slots();
                if let Some(live) = slots
                    .get(&daemon)
                    .and_then(|slot| slot.live.as_ref())
                    .filter(|live| live.epoch == epoch)
                {
                    tracing::info!(%daemon, pid = live.process.pid(), ?signal, "signalling daemon");
                    live.process.signal(match signal {
                        DaemonSignal::Term => GroupSignal::Terminate,
                        DaemonSignal::Kill => GroupSignal::Kill,
                    });
                }
            }
        }
    }

    fn start(&self, daemon: String, epoch: u64, startup_check: Duration) {
        let hook = self.inner.hook();
        let spawned = {
            let mut slots = self.inner.slots();
            let slot = slots.entry(daemon.clone()).or_default();
            if let Some(old) = slot.live.take() {
                // The engine starts a run only after the previous one exited; be safe.
                old.process.signal(GroupSignal::Kill);
            }
            let result = match &slot.spec {
                Some(spec) => AppProcess::spawn(
                    &daemon,
                    spec,
                    &spec.env,
                    &inherited_to_remove(),
                    self.inner.sink.clone(),
                    hook.as_ref(),
                )
                .map_err(|e| format!("spawn failed: {e}")),
                None => Err("spawn failed: no command prepared for this daemon".to_string()),
            };
            match result {
                Ok(process) => {
                    let process = Arc::new(process);
                    slot.live = Some(Live {
                        epoch,
                        process: process.clone(),
                    });
                    Ok(process)
                }
                Err(error) => {
                    slot.last = Some(error.clone());
                    Err(error)
                }
            }
        };
        match spawned {
            Ok(process) => {
                tracing::info!(%daemon, pid = process.pid(), epoch, "daemon process started");
                let deadline = tokio::time::Instant::now() + startup_check;
                let inner = self.inner.clone();
                tokio::spawn(async move {
                    let during_startup = tokio::time::timeout_at(deadline, process.wait())
                        .await
                        .is_ok();
                    if !during_startup {
                        let _ = inner.lock_sim().daemon_process_started(&daemon, epoch);
                    }
                    let status = process.wait().await;
                    inner.ended(&daemon, epoch, Some(process.pid()), status, during_startup);
                });
            }
            Err(error) => {
                tracing::warn!(%daemon, "{error}");
                self.inner.report(
                    &daemon,
                    epoch,
                    DaemonProcessExit {
                        pid: None,
                        code: SPAWN_FAILED_CODE,
                        signal: None,
                        during_startup: true,
                    },
                );
            }
        }
    }

    /// Every daemon of the stack, in stack order.
    pub fn status(&self) -> Vec<DaemonView> {
        let engine: Vec<(DaemonStatus, Option<String>)> = {
            let sim = self.inner.lock_sim();
            sim.daemon_names()
                .iter()
                .filter_map(|name| {
                    Some((
                        sim.daemon_status(name).ok()?,
                        sim.daemon_refusal(name).ok()?,
                    ))
                })
                .collect()
        };
        let slots = self.inner.slots();
        engine
            .into_iter()
            .map(|(status, refused)| {
                let slot = slots.get(&status.daemon_name);
                let pid = slot
                    .and_then(|slot| slot.live.as_ref())
                    .map(|live| live.process.pid());
                let detail = slot.and_then(|slot| slot.last.clone());
                DaemonView {
                    running: status.running,
                    state: status.state,
                    pid,
                    restarts: status.restarts,
                    last_exit: status
                        .last_exit
                        .map(|(at, code)| LastExit { at, code, detail }),
                    refused,
                    daemon_name: status.daemon_name,
                }
            })
            .collect()
    }

    /// Stops every daemon process for good (emulator shutdown): SIGTERM to each group, up to
    /// `grace`, then SIGKILL. These exits are not reported to the engine.
    pub async fn shutdown(&self, grace: Duration) {
        self.inner.closing.store(true, Ordering::SeqCst);
        let live: Vec<Arc<AppProcess>> = self
            .inner
            .slots()
            .values_mut()
            .filter_map(|slot| slot.live.take())
            .map(|live| live.process)
            .collect();
        for process in &live {
            process.signal(GroupSignal::Terminate);
        }
        let deadline = tokio::time::Instant::now() + grace;
        for process in &live {
            if tokio::time::timeout_at(deadline, process.wait())
                .await
                .is_err()
            {
                process.signal(GroupSignal::Kill);
                let _ = tokio::time::timeout(KILL_WAIT, process.wait()).await;
            }
        }
    }
}

impl Inner {
    fn slots(&self) -> MutexGuard<'_, BTreeMap<String, Slot>> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn hook(&self) -> Option<ProcessHook> {
        self.hook.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn lock_sim(&self) -> MutexGuard<'_, crate::engine::Sim> {
        self.sim.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A process ended: forget it and tell the engine (exit code, or 128 + signal).
    fn ended(
        &self,
        daemon: &str,
        epoch: u64,
        pid: Option<u32>,
        status: ProcessExit,
        during_startup: bool,
    ) {
        {
            let mut slots = self.slots();
            let slot = slots.entry(daemon.to_string()).or_default();
            if slot.live.as_ref().is_some_and(|live| live.epoch == epoch) {
                slot.live = None;
                slot.last = Some(status.to_string());
            }
        }
        tracing::info!(%daemon, ?pid, %status, during_startup, "daemon process exited");
        if self.closing.load(Ordering::SeqCst) {
            return;
        }
        let code = status
            .code
            .or(status.signal.map(|signal| 128 + signal))
            .unwrap_or(-1);
        self.report(
            daemon,
            epoch,
            DaemonProcessExit {
                pid,
                code,
                signal: status.signal,
                during_startup,
            },
        );
    }

    fn report(&self, daemon: &str, epoch: u64, exit: DaemonProcessExit) {
        let applied = self.lock_sim().daemon_process_exited(daemon, epoch, exit);
        if !matches!(applied, Ok(true)) {
            tracing::debug!(%daemon, epoch, "stale daemon exit ignored");
        }
        self.wake.notify_one();
    }
}
