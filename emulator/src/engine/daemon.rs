//! Daemons: start, exit, restart with the platform's policy, stop = SIGTERM then kill after
//! the grace period; refused where the platform has no daemon controller
//! (seeds 003-004; upstream-runtime-and-bindings.md §4.2; upstream-cloud-semantics.md §7).
//! A daemon's process is either scripted ([`DaemonBehaviour`], `alien simulate`) or real
//! (`alien emulate`, see [`external`]).

mod external;

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::faults::FaultKind;
use super::handler::Handler;
use super::sim::{Sim, SimError, Timer};
use super::trace::Kind;
use crate::profile::RestartPolicy;

pub use external::{DaemonAction, DaemonProcessExit, DaemonSignal};

/// How a scripted daemon process behaves.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DaemonBehaviour {
    /// The process exits this long after each start (None = runs until stopped).
    #[serde(default, with = "opt_duration")]
    pub exit_after: Option<Duration>,
    /// Exit code of that exit.
    #[serde(default = "one")]
    pub exit_code: i32,
    /// How long the process takes to exit after SIGTERM.
    #[serde(default, with = "super::duration_serde")]
    pub shutdown_takes: Duration,
}

fn one() -> i32 {
    1
}

mod opt_duration {
    use std::time::Duration;

    use serde::Deserializer;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        super::super::duration_serde::deserialize(d).map(Some)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DaemonState {
    Running,
    Stopping,
    BackingOff,
    Stopped,
    GaveUp,
    Refused,
}

pub(crate) struct DaemonRt {
    pub id: String,
    pub handler: Option<Box<dyn Handler>>,
    pub behaviour: DaemonBehaviour,
    pub state: DaemonState,
    pub grace: Duration,
    pub commands_enabled: bool,
    pub started_at: Option<DateTime<Utc>>,
    pub restarts: u32,
    /// Consecutive failures feeding the back-off.
    pub failures: u32,
    /// Bumped on every start and stop so stale timers do nothing.
    pub epoch: u64,
    /// What happens once a stopping daemon has exited.
    pub after_stop: AfterStop,
    /// When and how the last run ended.
    pub last_exit: Option<(DateTime<Utc>, i32)>,
    /// Future runs are real processes driven through the action outbox.
    pub external: bool,
    /// The run whose real process is alive (started, exit not reported yet).
    pub process: Option<u64>,
    /// That process has not passed its startup check yet.
    pub awaiting_startup: bool,
}

/// What a stop leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AfterStop {
    /// Stays stopped (a stop request).
    Stay,
    /// Restarted by the platform's policy, as after a crash (preemption).
    Policy,
    /// Started again at once (a restart request).
    Now,
}

/// The preflight's text for a daemon on a platform without a daemon controller (seed 004).
fn refusal(id: &str, platform: crate::Platform) -> String {
    format!(
        "Daemon '{id}' is not supported on platform '{platform}'. Daemons are currently supported on local and kubernetes."
    )
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum DaemonTimer {
    Exit {
        daemon: usize,
        epoch: u64,
        code: i32,
    },
    Restart {
        daemon: usize,
        epoch: u64,
    },
    Kill {
        daemon: usize,
        epoch: u64,
    },
    Poll {
        daemon: usize,
        epoch: u64,
    },
}

/// What `daemon_status` reports (the seeds' `daemonName` and `running` outputs, plus counts).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DaemonStatus {
    pub daemon_name: String,
    pub running: bool,
    pub state: DaemonState,
    pub restarts: u32,
    /// When and with which code the last run ended.
    pub last_exit: Option<(DateTime<Utc>, i32)>,
}

impl Sim {
    pub(crate) fn provision_daemons(&mut self) {
        let supported = self.profile.daemon.supported.value;
        let daemons: Vec<(String, Option<u32>, bool)> = self
            .stack
            .daemons()
            .map(|(id, d)| {
                (
                    id.to_string(),
                    d.stop_grace_period_seconds,
                    d.commands_enabled,
                )
            })
            .collect();
        for (id, grace, commands_enabled) in daemons {
            let grace = Duration::from_secs(u64::from(
                grace.unwrap_or(self.profile.daemon.default_stop_grace_seconds.value),
            ));
            self.daemons.push(DaemonRt {
                id: id.clone(),
                handler: None,
                behaviour: DaemonBehaviour::default(),
                state: if supported {
                    DaemonState::Stopped
                } else {
                    DaemonState::Refused
                },
                grace,
                commands_enabled,
                started_at: None,
                restarts: 0,
                failures: 0,
                epoch: 0,
                after_stop: AfterStop::Stay,
                last_exit: None,
                external: false,
                process: None,
                awaiting_startup: false,
            });
            if supported {
                let d = self.daemons.len() - 1;
                self.start_daemon(d);
            } else {
                let reason = refusal(&id, self.profile.platform);
                self.record(Kind::DaemonRefused, &id, None, vec![("reason", reason)]);
            }
        }
    }

    pub(super) fn daemon_idx(&self, id: &str) -> Result<usize, SimError> {
        self.daemons
            .iter()
            .position(|d| d.id == id)
            .ok_or_else(|| SimError::UnknownResource {
                kind: "daemon",
                name: id.into(),
            })
    }

    /// Sets how a daemon's process behaves; a running daemon picks it up at its next start.
    pub fn set_daemon_behaviour(
        &mut self,
        id: &str,
        behaviour: DaemonBehaviour,
    ) -> Result<(), SimError> {
        let d = self.daemon_idx(id)?;
        self.daemons[d].behaviour = behaviour;
        if self.daemons[d].state == DaemonState::Running && self.daemons[d].process.is_none() {
            self.daemons[d].epoch += 1;
            self.arm_daemon(d);
        }
        Ok(())
    }

    pub fn daemon_status(&self, id: &str) -> Result<DaemonStatus, SimError> {
        let d = &self.daemons[self.daemon_idx(id)?];
        Ok(DaemonStatus {
            daemon_name: d.id.clone(),
            running: matches!(d.state, DaemonState::Running | DaemonState::Stopping),
            state: d.state,
            restarts: d.restarts,
            last_exit: d.last_exit,
        })
    }

    /// The daemons of the stack, in stack order.
    pub fn daemon_names(&self) -> Vec<String> {
        self.daemons.iter().map(|d| d.id.clone()).collect()
    }

    /// Why the platform refuses a daemon (the preflight's text), if it does.
    pub fn daemon_refusal(&self, id: &str) -> Result<Option<String>, SimError> {
        let d = self.daemon_idx(id)?;
        Ok((self.daemons[d].state == DaemonState::Refused)
            .then(|| refusal(id, self.profile.platform)))
    }

    fn start_daemon(&mut self, d: usize) {
        let now = self.now();
        let daemon = &mut self.daemons[d];
        daemon.state = DaemonState::Running;
        daemon.started_at = Some(now);
        daemon.epoch += 1;
        let id = daemon.id.clone();
        let restarts = daemon.restarts;
        self.record(
            Kind::DaemonStarted,
            &id,
            None,
            vec![("restarts", restarts.to_string())],
        );
        if self.daemons[d].external {
            self.launch_process(d);
        } else {
            self.arm_daemon(d);
        }
    }

    /// Schedules the behaviour's own exit and the command poll loop for this run.
    fn arm_daemon(&mut self, d: usize) {
        let (epoch, exit_after, code, commands) = {
            let daemon = &self.daemons[d];
            (
                daemon.epoch,
                daemon.behaviour.exit_after,
                daemon.behaviour.exit_code,
                daemon.commands_enabled,
            )
        };
        if let Some(after) = exit_after {
            self.schedule_in(
                after,
                Timer::Daemon(DaemonTimer::Exit {
                    daemon: d,
                    epoch,
                    code,
                }),
            );
        }
        if commands {
            self.schedule_in(
                Duration::ZERO,
                Timer::Daemon(DaemonTimer::Poll { daemon: d, epoch }),
            );
        }
    }

    /// Starts a stopped (or given-up) daemon; a running one is left alone.
    pub fn start_daemon_named(&mut self, id: &str) -> Result<(), SimError> {
        let d = self.daemon_idx(id)?;
        match self.daemons[d].state {
            DaemonState::Refused => Err(SimError::Invalid(refusal(id, self.profile.platform))),
            DaemonState::Stopped | DaemonState::GaveUp => {
                self.daemons[d].failures = 0;
                self.start_daemon(d);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Stops a daemon with a given grace period instead of its configured one.
    pub fn stop_daemon_with_grace(&mut self, id: &str, grace: Duration) -> Result<(), SimError> {
        let d = self.daemon_idx(id)?;
        self.daemons[d].grace = grace;
        self.stop_daemon(id)
    }

    /// Crashes a running daemon now with `code`; a real process is SIGKILLed instead and
    /// reports its own exit.
    pub fn crash_daemon(&mut self, id: &str, code: i32) -> Result<(), SimError> {
        let d = self.daemon_idx(id)?;
        if self.daemons[d].state == DaemonState::Running {
            self.crash(d, code);
        }
        Ok(())
    }

    fn crash(&mut self, d: usize, code: i32) {
        if self.daemons[d].process.is_some() {
            self.signal_process(d, DaemonSignal::Kill);
        } else {
            self.daemon_exited(d, code, None);
        }
    }

    /// Stops a daemon: SIGTERM to its process group, then SIGKILL after the grace period. A
    /// daemon waiting for its next restart stays stopped.
    pub fn stop_daemon(&mut self, id: &str) -> Result<(), SimError> {
        let d = self.daemon_idx(id)?;
        match self.daemons[d].state {
            DaemonState::Running => self.sigterm(d, "stop", AfterStop::Stay),
            DaemonState::BackingOff => {
                self.daemons[d].epoch += 1;
                self.daemons[d].state = DaemonState::Stopped;
            }
            _ => {}
        }
        Ok(())
    }

    /// Restarts a daemon on request: a running one is stopped (SIGTERM, grace, SIGKILL) and
    /// started again as soon as it exited; any other starts now.
    pub fn restart_daemon(&mut self, id: &str) -> Result<(), SimError> {
        let d = self.daemon_idx(id)?;
        match self.daemons[d].state {
            DaemonState::Refused => {
                return Err(SimError::Invalid(refusal(id, self.profile.platform)));
            }
            DaemonState::Running => self.sigterm(d, "restart", AfterStop::Now),
            DaemonState::Stopping => self.daemons[d].after_stop = AfterStop::Now,
            DaemonState::BackingOff => {
                self.daemons[d].restarts += 1;
                self.daemons[d].failures = 0;
                self.start_daemon(d);
            }
            DaemonState::Stopped | DaemonState::GaveUp => {
                self.daemons[d].failures = 0;
                self.start_daemon(d);
            }
        }
        Ok(())
    }

    fn sigterm(&mut self, d: usize, why: &str, after: AfterStop) {
        let daemon = &mut self.daemons[d];
        daemon.state = DaemonState::Stopping;
        daemon.after_stop = after;
        daemon.epoch += 1;
        let (epoch, grace, takes, id) = (
            daemon.epoch,
            daemon.grace,
            daemon.behaviour.shutdown_takes,
            daemon.id.clone(),
        );
        let detail = vec![
            ("why", why.to_string()),
            ("grace", super::duration_serde::format_duration(grace)),
        ];
        self.record(Kind::DaemonSigterm, &id, None, detail);
        if self.daemons[d].process.is_some() {
            // A real process exits when it does; only the SIGKILL deadline is the engine's.
            self.signal_process(d, DaemonSignal::Term);
            self.schedule_in(grace, Timer::Daemon(DaemonTimer::Kill { daemon: d, epoch }));
        } else if takes <= grace {
            self.schedule_in(
                takes,
                Timer::Daemon(DaemonTimer::Exit {
                    daemon: d,
                    epoch,
                    code: 143,
                }),
            );
        } else {
            self.schedule_in(grace, Timer::Daemon(DaemonTimer::Kill { daemon: d, epoch }));
        }
    }

    pub(crate) fn on_daemon_timer(&mut self, timer: DaemonTimer) {
        match timer {
            DaemonTimer::Exit {
                daemon,
                epoch,
                code,
            } if self.daemons[daemon].epoch == epoch => self.daemon_exited(daemon, code, None),
            DaemonTimer::Kill { daemon, epoch } if self.daemons[daemon].epoch == epoch => {
                let id = self.daemons[daemon].id.clone();
                self.record(
                    Kind::DaemonKilled,
                    &id,
                    None,
                    vec![("signal", "SIGKILL".into())],
                );
                if self.daemons[daemon].process.is_some() {
                    self.signal_process(daemon, DaemonSignal::Kill);
                } else {
                    self.daemon_exited(daemon, 137, None);
                }
            }
            DaemonTimer::Restart { daemon, epoch } if self.daemons[daemon].epoch == epoch => {
                self.daemons[daemon].restarts += 1;
                self.start_daemon(daemon);
            }
            DaemonTimer::Poll { daemon, epoch } if self.daemons[daemon].epoch == epoch => {
                self.daemon_poll(daemon)
            }
            _ => {}
        }
    }

    /// A run ended with `code`; `real` is the report of a real process.
    pub(super) fn daemon_exited(&mut self, d: usize, code: i32, real: Option<DaemonProcessExit>) {
        self.daemons[d].last_exit = Some((self.now(), code));
        self.daemons[d].process = None;
        self.daemons[d].awaiting_startup = false;
        let now = self.now();
        let stopping = self.daemons[d].state == DaemonState::Stopping;
        let ran = self.daemons[d]
            .started_at
            .map(|t| (now - t).to_std().unwrap_or_default())
            .unwrap_or_default();
        let id = self.daemons[d].id.clone();
        self.daemons[d].epoch += 1;
        let mut detail = vec![
            ("code", code.to_string()),
            ("ran", super::duration_serde::format_duration(ran)),
        ];
        if let Some(real) = real {
            detail.extend(real.pid.map(|pid| ("pid", pid.to_string())));
            detail.extend(real.signal.map(|signal| ("signal", signal.to_string())));
        }
        self.record(Kind::DaemonExited, &id, None, detail);
        if stopping {
            match std::mem::replace(&mut self.daemons[d].after_stop, AfterStop::Stay) {
                AfterStop::Stay => {
                    self.daemons[d].state = DaemonState::Stopped;
                    return;
                }
                AfterStop::Now => {
                    self.daemons[d].restarts += 1;
                    self.daemons[d].failures = 0;
                    self.start_daemon(d);
                    return;
                }
                AfterStop::Policy => {}
            }
        }
        let epoch = self.daemons[d].epoch;
        let delay = match self.profile.daemon.restart.value {
            RestartPolicy::ExponentialSeconds {
                base,
                max_attempts,
                ready_check_seconds,
                startup_check_ms,
            } => {
                // A real process was checked by its runner, in real time after the spawn.
                let failed_start = real.map_or(
                    ran <= Duration::from_millis(u64::from(startup_check_ms)),
                    |real| real.during_startup,
                );
                if failed_start {
                    // "process exited during startup": the executor retries with back-off.
                    self.daemons[d].failures += 1;
                    let n = self.daemons[d].failures;
                    if n > max_attempts {
                        self.daemons[d].state = DaemonState::GaveUp;
                        self.record(
                            Kind::DaemonGaveUp,
                            &id,
                            None,
                            vec![("failed_starts", (n - 1).to_string())],
                        );
                        return;
                    }
                    Duration::from_secs(u64::from(base).saturating_pow(n))
                } else {
                    // The controller's Ready loop sees it stopped at its next tick.
                    self.daemons[d].failures = 0;
                    Duration::from_secs(u64::from(ready_check_seconds))
                }
            }
            RestartPolicy::CrashLoopBackOff {
                initial,
                max,
                reset_after,
            } => {
                if ran >= Duration::from_secs(u64::from(reset_after)) {
                    self.daemons[d].failures = 0;
                }
                let n = self.daemons[d].failures;
                self.daemons[d].failures += 1;
                Duration::from_secs(
                    u64::from(initial)
                        .saturating_mul(1 << n.min(16))
                        .min(u64::from(max)),
                )
            }
            RestartPolicy::None => {
                self.daemons[d].state = DaemonState::Stopped;
                return;
            }
        };
        self.daemons[d].state = DaemonState::BackingOff;
        self.record(
            Kind::DaemonRestartScheduled,
            &id,
            None,
            vec![("in", super::duration_serde::format_duration(delay))],
        );
        self.schedule_in(
            delay,
            Timer::Daemon(DaemonTimer::Restart { daemon: d, epoch }),
        );
    }

    /// Preemption faults: a running daemon receives SIGTERM or crashes.
    pub fn preempt_daemon(&mut self, id: &str, fault: FaultKind) -> Result<(), SimError> {
        let d = self.daemon_idx(id)?;
        if self.daemons[d].state != DaemonState::Running {
            return Ok(());
        }
        self.record(
            Kind::Fault,
            id,
            None,
            vec![("fault", fault.as_str().into())],
        );
        match fault {
            FaultKind::DaemonSigterm => self.sigterm(d, "preempted", AfterStop::Policy),
            _ => self.crash(d, 137),
        }
        Ok(())
    }
}
