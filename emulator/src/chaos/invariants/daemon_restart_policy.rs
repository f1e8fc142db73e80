//! Daemon restarts follow the profile's policy: after each exit the delay of the scheduled
//! restart is the policy's back-off for that many consecutive failures, a stopped daemon
//! stays stopped, and nothing restarts a daemon the platform gave up on.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{Finding, Invariant, RunView, Severity, duration_of, seconds, when};
use crate::engine::{Kind, TraceEvent};
use crate::profile::RestartPolicy;

pub(super) const INVARIANT: Invariant = Invariant {
    name: "daemon-restart-policy",
    summary: "daemon restarts follow the profile's back-off, and none comes after giving up",
    source: "upstream-cloud-semantics.md §7 (Local: restart at the controller's next 5 s \
             Ready tick, an exit within 50 ms is a failed start; Kubernetes DaemonSet with \
             restartPolicy Always, kubelet CrashLoopBackOff) and upstream-runtime-and-\
             bindings.md §4.2 (MAX_RETRIES 10, delay 2^attempt s)",
    check,
};

/// What the policy makes of one exit.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Next {
    /// A restart after `delay`, with `failures` consecutive failures counted afterwards.
    Restart { delay: Duration, failures: u32 },
    /// Giving up, reporting `failed_starts`.
    GiveUp { failed_starts: u32 },
    /// Stays stopped: a stop request, or a platform that restarts nothing.
    Stay,
    /// Started again at once: a restart request.
    Now,
}

impl Next {
    fn words(self) -> String {
        match self {
            Next::Restart { delay, .. } => format!("a restart in {}", seconds(delay)),
            Next::GiveUp { failed_starts } => {
                format!("giving up (failed_starts={failed_starts})")
            }
            Next::Stay => "no restart".into(),
            Next::Now => "a start at once (restart request)".into(),
        }
    }
}

/// One daemon's lifecycle as the walk has seen it so far.
#[derive(Default)]
struct Walk<'a> {
    /// Consecutive failures feeding the back-off.
    failures: u32,
    /// Why the running daemon was sent SIGTERM (`stop`, `restart`, `preempted`).
    stopping: Option<&'a str>,
    /// The last exit, whose outcome is still to come, and the outcomes the policy allows.
    awaiting: Option<(&'a TraceEvent, Vec<Next>)>,
    /// When the last scheduled restart is due.
    due_ms: Option<i64>,
    gave_up: Option<&'a TraceEvent>,
}

fn check(view: &RunView<'_>) -> Vec<Finding> {
    let mut walks: BTreeMap<&str, Walk<'_>> = BTreeMap::new();
    let mut findings = Vec::new();
    for e in view.trace.iter().filter(|e| is_lifecycle(e.kind)) {
        let walk = walks.entry(e.resource.as_str()).or_default();
        match e.kind {
            Kind::DaemonSigterm => walk.stopping = e.get("why"),
            Kind::DaemonExited => {
                walk.settle(view, None, &mut findings);
                walk.awaiting = Some((e, walk.policy(view, e)));
            }
            Kind::DaemonStarted => {
                walk.settle(view, Some(e), &mut findings);
                walk.started(e, &mut findings);
            }
            _ => walk.settle(view, Some(e), &mut findings),
        }
    }
    for walk in walks.values_mut() {
        walk.settle(view, None, &mut findings);
    }
    findings
}

/// The events of a daemon's lifecycle the walk follows.
fn is_lifecycle(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::DaemonStarted
            | Kind::DaemonSigterm
            | Kind::DaemonExited
            | Kind::DaemonRestartScheduled
            | Kind::DaemonGaveUp
    )
}

impl<'a> Walk<'a> {
    /// The outcomes the profile's policy allows for `exit`.
    fn policy(&mut self, view: &RunView<'_>, exit: &TraceEvent) -> Vec<Next> {
        match self.stopping.take() {
            Some("stop") => return vec![Next::Stay],
            Some("restart") => return vec![Next::Now],
            _ => {}
        }
        let ran = duration_of(exit, "ran").unwrap_or_default();
        match view.profile.daemon.restart.value {
            RestartPolicy::ExponentialSeconds {
                base,
                max_attempts,
                ready_check_seconds,
                startup_check_ms,
            } => {
                let n = self.failures + 1;
                let failed_start = if n > max_attempts {
                    Next::GiveUp {
                        failed_starts: n - 1,
                    }
                } else {
                    Next::Restart {
                        delay: Duration::from_secs(u64::from(base).saturating_pow(n)),
                        failures: n,
                    }
                };
                let ready_tick = Next::Restart {
                    delay: Duration::from_secs(u64::from(ready_check_seconds)),
                    failures: 0,
                };
                // A real process's runner judged "during startup" on its own clock.
                if exit.get("pid").is_some() {
                    vec![failed_start, ready_tick]
                } else if ran <= Duration::from_millis(u64::from(startup_check_ms)) {
                    vec![failed_start]
                } else {
                    vec![ready_tick]
                }
            }
            RestartPolicy::CrashLoopBackOff {
                initial,
                max,
                reset_after,
            } => {
                let n = if ran >= Duration::from_secs(u64::from(reset_after)) {
                    0
                } else {
                    self.failures
                };
                let delay = u64::from(initial)
                    .saturating_mul(1 << n.min(16))
                    .min(u64::from(max));
                vec![Next::Restart {
                    delay: Duration::from_secs(delay),
                    failures: n + 1,
                }]
            }
            RestartPolicy::None => vec![Next::Stay],
        }
    }

    /// Checks what followed the last exit (`None`: nothing did) against the policy.
    fn settle(
        &mut self,
        view: &RunView<'_>,
        observed: Option<&'a TraceEvent>,
        out: &mut Vec<Finding>,
    ) {
        let Some((exit, allowed)) = self.awaiting.take() else {
            if let Some(e) = observed.filter(|e| e.kind == Kind::DaemonGaveUp) {
                self.gave_up = Some(e);
            }
            return;
        };
        let seen = observed.and_then(|e| match e.kind {
            Kind::DaemonRestartScheduled => duration_of(e, "in").map(|delay| (e, Some(delay))),
            Kind::DaemonGaveUp => Some((e, None)),
            _ => None,
        });
        let matched = allowed.iter().copied().find(|next| match (next, seen) {
            (Next::Restart { delay, .. }, Some((_, Some(d)))) => *delay == d,
            (Next::GiveUp { failed_starts }, Some((e, None))) => {
                e.get("failed_starts") == Some(failed_starts.to_string().as_str())
            }
            // A start right after the exit: a restart request, or a start after a stop.
            (Next::Now | Next::Stay, None) => observed.is_some() || *next == Next::Stay,
            _ => false,
        });
        match matched {
            Some(Next::Restart { delay, failures }) => {
                self.failures = failures;
                self.due_ms = observed.map(|e| e.t_ms + delay.as_millis() as i64);
            }
            Some(Next::GiveUp { .. }) => self.gave_up = observed,
            Some(_) => {}
            None => {
                out.push(self.mismatch(view, exit, &allowed, observed));
                // Go on from what happened, counting failures as the policy does.
                if let Some((e, Some(delay))) = seen {
                    self.due_ms = Some(e.t_ms + delay.as_millis() as i64);
                }
                if let Some(Next::Restart { failures, .. }) = allowed.first() {
                    self.failures = *failures;
                }
            }
        }
    }

    fn mismatch(
        &self,
        view: &RunView<'_>,
        exit: &TraceEvent,
        allowed: &[Next],
        observed: Option<&TraceEvent>,
    ) -> Finding {
        let then = match observed {
            Some(e) if e.kind == Kind::DaemonRestartScheduled => format!(
                "a restart was scheduled in {} at {}",
                e.get("in").unwrap_or("?"),
                when(e)
            ),
            Some(e) if e.kind == Kind::DaemonGaveUp => format!(
                "it gave up at {} (failed_starts={})",
                when(e),
                e.get("failed_starts").unwrap_or("?")
            ),
            Some(e) => format!("it started again at {} with nothing scheduled", when(e)),
            None => "no restart was scheduled".into(),
        };
        let expected: Vec<String> = allowed.iter().map(|n| n.words()).collect();
        let restart = &view.profile.daemon.restart;
        INVARIANT.finding(
            Severity::Violation,
            exit.resource.clone(),
            format!(
                "exited at {} (code={} ran={}) after {} consecutive failure(s); {then}, but \
                 the {} policy gives {} ({})",
                when(exit),
                exit.get("code").unwrap_or("?"),
                exit.get("ran").unwrap_or("?"),
                self.failures,
                view.profile.platform,
                expected.join(" or "),
                restart.source,
            ),
            observed.unwrap_or(exit).t_ms,
        )
    }

    /// A start: the scheduled restart when it is due (the back-off goes on), else a first,
    /// requested or manual start (the back-off starts over). Never after giving up.
    fn started(&mut self, e: &TraceEvent, out: &mut Vec<Finding>) {
        if let Some(gave_up) = self.gave_up.take() {
            out.push(INVARIANT.finding(
                Severity::Violation,
                e.resource.clone(),
                format!(
                    "started again at {} after giving up at {} (failed_starts={}): the \
                     platform restarts nothing once it gave up",
                    when(e),
                    when(gave_up),
                    gave_up.get("failed_starts").unwrap_or("?"),
                ),
                e.t_ms,
            ));
        }
        if self.due_ms.take() != Some(e.t_ms) {
            self.failures = 0;
        }
        self.stopping = None;
    }
}
