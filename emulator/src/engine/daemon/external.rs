//! External daemons (`alien emulate`): the engine keeps the lifecycle, the restart policy and
//! the grace period in its own (scaled or virtual) time, and a real process does the running.
//! The engine puts [`DaemonAction`]s in an outbox; the runner executes them and reports each
//! exit back with [`Sim::daemon_process_exited`] (upstream-runtime-and-bindings.md §4.2).

use std::time::Duration;

use super::DaemonState;
use crate::engine::sim::{Sim, SimError};
use crate::profile::RestartPolicy;

/// A signal for a daemon's whole process group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DaemonSignal {
    /// Stop or preemption (upstream-runtime-and-bindings.md §4.2).
    Term,
    /// The grace period ran out, or a crash fault.
    Kill,
}

/// What the engine asks of the real side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DaemonAction {
    /// Launch the daemon's process for run `epoch`. An exit within `startup_check` of the
    /// spawn is a failed start (Local: 50 ms, upstream-cloud-semantics.md §7; zero elsewhere).
    Start {
        daemon: String,
        epoch: u64,
        startup_check: Duration,
    },
    /// Signal the process group of run `epoch` (nothing if that run already ended).
    Signal {
        daemon: String,
        epoch: u64,
        signal: DaemonSignal,
    },
}

/// How a real daemon process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DaemonProcessExit {
    /// None when the spawn itself failed.
    pub pid: Option<u32>,
    /// The exit code, or 128 + the signal that ended it.
    pub code: i32,
    pub signal: Option<i32>,
    /// It ended before its startup check ("process exited during startup").
    pub during_startup: bool,
}

impl Sim {
    /// From now on `id` runs as a real process: no scripted exits or command polls (a real
    /// daemon polls the commands API itself); starts and signals go to
    /// [`Sim::take_daemon_actions`]. A daemon already running as a script (daemons start in
    /// [`Sim::new`]) is handed over: its timers go stale and a `Start` is emitted for it.
    pub fn set_daemon_external(&mut self, id: &str) -> Result<(), SimError> {
        let d = self.daemon_idx(id)?;
        let daemon = &mut self.daemons[d];
        daemon.external = true;
        if daemon.state == DaemonState::Running && daemon.process.is_none() {
            daemon.epoch += 1;
            self.launch_process(d);
        }
        Ok(())
    }

    pub(super) fn launch_process(&mut self, d: usize) {
        let startup_check = match self.profile.daemon.restart.value {
            RestartPolicy::ExponentialSeconds {
                startup_check_ms, ..
            } => Duration::from_millis(u64::from(startup_check_ms)),
            _ => Duration::ZERO,
        };
        let daemon = &mut self.daemons[d];
        daemon.process = Some(daemon.epoch);
        daemon.awaiting_startup = true;
        let action = DaemonAction::Start {
            daemon: daemon.id.clone(),
            epoch: daemon.epoch,
            startup_check,
        };
        self.daemon_outbox.push(action);
    }

    pub(super) fn signal_process(&mut self, d: usize, signal: DaemonSignal) {
        let daemon = &self.daemons[d];
        if let Some(epoch) = daemon.process {
            let action = DaemonAction::Signal {
                daemon: daemon.id.clone(),
                epoch,
                signal,
            };
            self.daemon_outbox.push(action);
        }
    }

    /// Starts and signals for real processes, in the order the engine decided them.
    pub fn take_daemon_actions(&mut self) -> Vec<DaemonAction> {
        std::mem::take(&mut self.daemon_outbox)
    }

    /// The process of run `epoch` passed its startup check.
    pub fn daemon_process_started(&mut self, id: &str, epoch: u64) -> Result<(), SimError> {
        let d = self.daemon_idx(id)?;
        if self.daemons[d].process == Some(epoch) {
            self.daemons[d].awaiting_startup = false;
        }
        Ok(())
    }

    /// The process of run `epoch` ended: the profile's restart policy applies as for a
    /// scripted daemon. Returns false for a run the engine no longer waits for (stale).
    pub fn daemon_process_exited(
        &mut self,
        id: &str,
        epoch: u64,
        exit: DaemonProcessExit,
    ) -> Result<bool, SimError> {
        let d = self.daemon_idx(id)?;
        if self.daemons[d].process != Some(epoch) {
            return Ok(false);
        }
        self.daemon_exited(d, exit.code, Some(exit));
        Ok(true)
    }

    /// Real processes the engine is waiting on: starting (startup check pending) or stopping
    /// (SIGTERM sent, not exited yet). Time travel waits for them.
    pub fn daemons_in_transition(&self) -> usize {
        self.daemons
            .iter()
            .filter(|d| {
                d.process.is_some() && (d.awaiting_startup || d.state == DaemonState::Stopping)
            })
            .count()
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use chrono::{NaiveDate, TimeZone, Utc};

    use super::*;
    use crate::Platform;
    use crate::engine::{DaemonBehaviour, Kind, SimConfig};
    use crate::profile::Profile;

    fn sim(platform: Platform) -> Sim {
        let stack = crate::stack::parse_stack_json(
            r#"{"id":"s","resources":{"agent":{"config":{"type":"daemon","id":"agent","links":[],"permissions":"p",
              "code":{"type":"image","image":"x"},"commandsEnabled":true,"stopGracePeriodSeconds":1,"environment":{}},
              "lifecycle":"live","dependencies":[]}}}"#,
            Path::new("s.json"),
        )
        .unwrap();
        let profile = Profile::new(platform, NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()).unwrap();
        let start = Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0).unwrap();
        Sim::new(&stack, profile, SimConfig::new(1, start))
    }

    fn exit(code: i32, during_startup: bool) -> DaemonProcessExit {
        DaemonProcessExit {
            pid: Some(42),
            code,
            signal: None,
            during_startup,
        }
    }

    fn start_epoch(actions: &[DaemonAction]) -> u64 {
        match actions {
            [DaemonAction::Start { epoch, .. }] => *epoch,
            other => panic!("expected one Start, got {other:?}"),
        }
    }

    /// Daemons start in `Sim::new` (seed 004: "should start once and keep running"); handing
    /// one to a real process drops its scripted exit and command polls and emits a Start.
    #[test]
    fn handing_over_a_running_daemon_starts_its_process() {
        let mut sim = sim(Platform::Local);
        sim.set_daemon_behaviour(
            "agent",
            DaemonBehaviour {
                exit_after: Some(Duration::from_secs(1)),
                ..DaemonBehaviour::default()
            },
        )
        .unwrap();
        sim.set_daemon_external("agent").unwrap();
        let actions = sim.take_daemon_actions();
        assert!(matches!(
            &actions[..],
            [DaemonAction::Start { daemon, startup_check, .. }]
                if daemon == "agent" && *startup_check == Duration::from_millis(50)
        ));
        sim.advance(Duration::from_secs(60)).unwrap();
        assert_eq!(sim.trace().count(Kind::DaemonExited, Some("agent")), 0);
        assert!(sim.take_daemon_actions().is_empty(), "no scripted polls");
        assert_eq!(sim.daemons_in_transition(), 1, "startup check pending");
    }

    /// upstream-runtime-and-bindings.md §4.2: the Local controller's Ready loop relaunches a
    /// daemon that stopped after starting at its next 5 s tick; a stale report is ignored.
    #[test]
    fn an_exit_after_startup_is_relaunched_at_the_ready_check() {
        let mut sim = sim(Platform::Local);
        sim.set_daemon_external("agent").unwrap();
        let first = start_epoch(&sim.take_daemon_actions());
        sim.daemon_process_started("agent", first).unwrap();
        assert_eq!(sim.daemons_in_transition(), 0);
        sim.advance(Duration::from_secs(30)).unwrap();
        assert!(
            sim.daemon_process_exited("agent", first, exit(3, false))
                .unwrap()
        );
        assert!(
            !sim.daemon_process_exited("agent", first, exit(3, false))
                .unwrap(),
            "stale"
        );
        let status = sim.daemon_status("agent").unwrap();
        assert_eq!(status.state, DaemonState::BackingOff);
        sim.advance(Duration::from_millis(4_999)).unwrap();
        assert!(sim.take_daemon_actions().is_empty());
        sim.advance(Duration::from_millis(1)).unwrap();
        let second = start_epoch(&sim.take_daemon_actions());
        assert!(second > first);
        let text = sim.trace().render_text();
        assert!(
            text.contains(
                "+00:00:30.000 daemon_exited            agent          code=3 ran=30s pid=42"
            ),
            "{text}"
        );
        assert!(text.contains("+00:00:35.000 daemon_started"), "{text}");
    }

    /// upstream-cloud-semantics.md §7 Stop row: SIGTERM to the group, SIGKILL once
    /// stopGracePeriodSeconds ran out; the real exit (128 + 9) ends the run.
    #[test]
    fn stop_signals_term_then_kill_after_the_grace() {
        let mut sim = sim(Platform::Local);
        sim.set_daemon_external("agent").unwrap();
        let epoch = start_epoch(&sim.take_daemon_actions());
        sim.stop_daemon("agent").unwrap();
        assert_eq!(
            sim.take_daemon_actions(),
            vec![DaemonAction::Signal {
                daemon: "agent".into(),
                epoch,
                signal: DaemonSignal::Term
            }]
        );
        assert_eq!(sim.daemons_in_transition(), 1, "stopping");
        sim.advance(Duration::from_secs(1)).unwrap();
        assert_eq!(
            sim.take_daemon_actions(),
            vec![DaemonAction::Signal {
                daemon: "agent".into(),
                epoch,
                signal: DaemonSignal::Kill
            }]
        );
        assert_eq!(sim.trace().count(Kind::DaemonKilled, Some("agent")), 1);
        let killed = DaemonProcessExit {
            signal: Some(9),
            ..exit(137, false)
        };
        assert!(sim.daemon_process_exited("agent", epoch, killed).unwrap());
        assert_eq!(
            sim.daemon_status("agent").unwrap().state,
            DaemonState::Stopped
        );
        sim.advance(Duration::from_secs(600)).unwrap();
        assert!(sim.take_daemon_actions().is_empty(), "stays stopped");
    }

    /// A restart request stops the process and starts a new one as soon as it exited.
    #[test]
    fn restart_request_starts_again_after_the_exit() {
        let mut sim = sim(Platform::Kubernetes);
        sim.set_daemon_external("agent").unwrap();
        let epoch = start_epoch(&sim.take_daemon_actions());
        sim.restart_daemon("agent").unwrap();
        assert!(matches!(
            &sim.take_daemon_actions()[..],
            [DaemonAction::Signal {
                signal: DaemonSignal::Term,
                ..
            }]
        ));
        sim.daemon_process_exited("agent", epoch, exit(143, false))
            .unwrap();
        let next = start_epoch(&sim.take_daemon_actions());
        assert!(next > epoch);
        assert_eq!(sim.daemon_status("agent").unwrap().restarts, 1);
    }

    /// Seed 004: AWS, GCP and Azure have no daemon controller: nothing is started and the
    /// refusal carries the preflight's text.
    #[test]
    fn refused_daemons_start_nothing() {
        let mut sim = sim(Platform::Aws);
        sim.set_daemon_external("agent").unwrap();
        assert!(sim.take_daemon_actions().is_empty());
        assert_eq!(
            sim.daemon_refusal("agent").unwrap().as_deref(),
            Some(
                "Daemon 'agent' is not supported on platform 'aws'. Daemons are currently supported on local and kubernetes."
            )
        );
        assert!(sim.restart_daemon("agent").is_err());
    }
}
