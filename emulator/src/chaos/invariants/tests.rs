//! Tests of the invariant library: each invariant over real scenario runs (no finding) and
//! over a violating trace (hand-built where the engine cannot be made to break the rule).

mod at_least_once;
mod commands_terminal;
mod cron_slot_once;
mod daemon_restart_policy;
mod dead_letter_threshold;
mod handler_within_lease;
mod library;
mod no_redelivery_after_ack;

use std::path::PathBuf;

use super::{Finding, RunView, Severity, by_name};
use crate::engine::duration_serde::parse_duration;
use crate::engine::{FaultKind, Kind, Trace, TraceEvent};
use crate::platform::Platform;
use crate::profile::Profile;
use crate::scenario::{Scenario, load_scenario, run_scenario};

/// A finished run: what a [`RunView`] borrows.
pub(super) struct Run {
    pub scenario: Scenario,
    pub profile: Profile,
    pub faults: Vec<(FaultKind, f64)>,
    pub trace: Vec<TraceEvent>,
}

/// `scenarios/{name}.toml`.
pub(super) fn scenario(name: &str) -> Scenario {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios")
        .join(format!("{name}.toml"));
    load_scenario(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Runs `scenarios/{name}.toml` on `platform` with `seed`.
pub(super) fn run(name: &str, platform: Platform, seed: u64) -> Run {
    run_loaded(scenario(name), platform, seed)
}

pub(super) fn run_loaded(scenario: Scenario, platform: Platform, seed: u64) -> Run {
    let outcome = run_scenario(&scenario, platform, seed)
        .unwrap_or_else(|e| panic!("{} on {platform}: {e}", scenario.name()));
    let profile = Profile::new(platform, scenario.profile_date).expect("a profile");
    Run {
        faults: scenario.spec.faults.iter().map(|(k, p)| (*k, *p)).collect(),
        trace: outcome.trace.events().to_vec(),
        profile,
        scenario,
    }
}

impl Run {
    pub fn view(&self, drained: bool) -> RunView<'_> {
        RunView {
            trace: &self.trace,
            profile: &self.profile,
            stack: &self.scenario.stack,
            faults: &self.faults,
            drained,
        }
    }

    /// The findings of invariant `name` over this run.
    pub fn findings(&self, name: &str, drained: bool) -> Vec<Finding> {
        let invariant = by_name(name).unwrap_or_else(|| panic!("no invariant '{name}'"));
        (invariant.check)(&self.view(drained))
    }

    /// The same stack and profile with a hand-built trace instead.
    pub fn with_trace(mut self, trace: Vec<TraceEvent>) -> Run {
        self.trace = trace;
        self
    }

    /// How many events of `kind` the trace has (to show a clean run really exercised a rule).
    pub fn count(&self, kind: Kind) -> usize {
        self.trace.iter().filter(|e| e.kind == kind).count()
    }
}

/// One hand-built event: offset (`90s`), kind, resource, subject, details.
pub(super) type Line<'a> = (
    &'a str,
    Kind,
    &'a str,
    Option<&'a str>,
    &'a [(&'a str, &'a str)],
);

/// A trace from `lines`, in order, starting at the scenarios' default start.
pub(super) fn trace(lines: &[Line<'_>]) -> Vec<TraceEvent> {
    let start = crate::scenario::DEFAULT_START
        .parse()
        .expect("the default start parses");
    let mut trace = Trace::new(start);
    for (offset, kind, resource, subject, detail) in lines {
        let offset = parse_duration(offset).expect("a duration");
        let at = start + chrono::Duration::from_std(offset).expect("in range");
        let detail = detail.iter().map(|(k, v)| (*k, v.to_string())).collect();
        trace.push(at, *kind, resource, *subject, detail);
    }
    trace.events().to_vec()
}

/// Only the violations among `findings`.
pub(super) fn violations(findings: &[Finding]) -> Vec<&Finding> {
    findings
        .iter()
        .filter(|f| f.severity == Severity::Violation)
        .collect()
}

/// Panics with every finding when there is one.
#[track_caller]
pub(super) fn assert_none(findings: &[Finding], context: &str) {
    assert!(findings.is_empty(), "{context}: {findings:#?}");
}
