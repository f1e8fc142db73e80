//! The invariant library `alien chaos` checks over every run's trace: what a user of a
//! serverless platform relies on, whatever faults strike. Each invariant names its source.

mod at_least_once;
mod commands_terminal;
mod copies;
mod cron_slot_once;
mod daemon_restart_policy;
mod dead_letter_threshold;
mod handler_within_lease;
mod no_redelivery_after_ack;
#[cfg(test)]
mod tests;

use std::time::Duration;

use crate::engine::{FaultKind, TraceEvent};
use crate::profile::Profile;
use crate::stack::Stack;

/// What one finished run gives the invariants.
#[derive(Debug, Clone, Copy)]
pub struct RunView<'a> {
    /// The whole trace of the run, in `seq` order.
    pub trace: &'a [TraceEvent],
    pub profile: &'a Profile,
    pub stack: &'a Stack,
    /// The fault plan's rates (a kind absent or at 0 never struck), plus one-shot injections
    /// the scenario made (recorded in the trace as `fault` events).
    pub faults: &'a [(FaultKind, f64)],
    /// Whether the run went on after its steps until every queue was empty (or its cap), so
    /// a message still held at the end is a finding, not a run cut short.
    pub drained: bool,
}

impl RunView<'_> {
    /// Whether fault `kind` could strike in this run.
    pub fn fault_on(&self, kind: FaultKind) -> bool {
        self.faults.iter().any(|(k, p)| *k == kind && *p > 0.0)
            || self.trace.iter().any(|e| {
                e.kind == crate::engine::Kind::Fault && e.get("fault") == Some(kind.as_str())
            })
    }
}

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The platform's promise is broken.
    Violation,
    /// Legal, but a likely bug in the app (e.g. a handler that outlives its lease).
    Warning,
}

/// One finding of an invariant in one run.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    /// The invariant's name ([`Invariant::name`]).
    pub invariant: &'static str,
    pub severity: Severity,
    /// The message, cron slot, command or daemon it concerns (`jobs/m-3`, `ticker@2026-…`).
    pub subject: String,
    /// What happened, in words, with the numbers.
    pub detail: String,
    /// Virtual milliseconds since the start where it shows (the deciding event).
    pub at_ms: i64,
}

impl std::fmt::Display for Finding {
    /// `at-least-once jobs/m-3 (+00:18:00.000): …`
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = self.at_ms.max(0);
        write!(
            f,
            "{} {} (+{:02}:{:02}:{:02}.{:03}): {}",
            self.invariant,
            self.subject,
            ms / 3_600_000,
            ms / 60_000 % 60,
            ms / 1000 % 60,
            ms % 1000,
            self.detail
        )
    }
}

/// A named check over a run.
pub struct Invariant {
    /// Stable kebab-case name (CLI output, regression scenarios' `holds` / `violates`).
    pub name: &'static str,
    /// What it promises, in one line.
    pub summary: &'static str,
    /// Where the promise comes from (a file in shared/reference/ or a cloud doc).
    pub source: &'static str,
    pub check: fn(&RunView<'_>) -> Vec<Finding>,
}

impl Invariant {
    /// A finding of this invariant.
    fn finding(
        &self,
        severity: Severity,
        subject: impl Into<String>,
        detail: impl Into<String>,
        at_ms: i64,
    ) -> Finding {
        Finding {
            invariant: self.name,
            severity,
            subject: subject.into(),
            detail: detail.into(),
            at_ms,
        }
    }
}

/// Every invariant, in the order reports list them.
pub const LIBRARY: &[Invariant] = &[
    at_least_once::INVARIANT,
    no_redelivery_after_ack::INVARIANT,
    dead_letter_threshold::INVARIANT,
    cron_slot_once::INVARIANT,
    commands_terminal::INVARIANT,
    daemon_restart_policy::INVARIANT,
    handler_within_lease::INVARIANT,
];

/// The invariant named `name`.
pub fn by_name(name: &str) -> Option<&'static Invariant> {
    LIBRARY.iter().find(|i| i.name == name)
}

/// Every finding of every invariant over `view`, in library order.
pub fn check_all(view: &RunView<'_>) -> Vec<Finding> {
    LIBRARY.iter().flat_map(|i| (i.check)(view)).collect()
}

/// Detail `key` of `event` read as a duration (`3m`, `1m35s`, `250ms`).
fn duration_of(event: &TraceEvent, key: &str) -> Option<Duration> {
    crate::engine::duration_serde::parse_duration(event.get(key)?).ok()
}

/// A duration in words for a finding: `95 s`, `1.5 s`.
fn seconds(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) {
        format!("{} s", ms / 1000)
    } else {
        format!("{} s", d.as_secs_f64())
    }
}

/// When `event` happened, as the trace prints it (`+00:01:00.000`).
fn when(event: &TraceEvent) -> String {
    crate::engine::offset(event.t_ms)
}
