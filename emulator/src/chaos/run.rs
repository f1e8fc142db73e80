//! One chaos run: a scenario on one platform under one seed's fault plan, drained, then
//! judged by the invariant library and the scenario's own `[invariants]`.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::Duration;

use super::invariants::{Finding, RunView, check_all};
use super::plan::FaultPlan;
use crate::engine::{Sim, TraceEvent};
use crate::platform::Platform;
use crate::scenario::{
    Check, RunOptions, Scenario, ScenarioError, evaluate_invariants, play_steps, prepare_sim,
};

/// How far past its last step a run goes to let every queue empty, an hour at a time.
#[derive(Debug, Clone, Copy)]
pub struct Drain {
    /// Most virtual time added after the steps.
    pub cap: Duration,
}

impl Default for Drain {
    fn default() -> Self {
        Drain {
            cap: Duration::from_secs(24 * 3600),
        }
    }
}

const DRAIN_STEP: Duration = Duration::from_secs(3600);

/// What one run found.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunResult {
    pub scenario: String,
    pub platform: Platform,
    pub seed: u64,
    pub plan: FaultPlan,
    /// Virtual time added after the steps, and whether every queue was empty by then.
    pub drained_for_ms: i64,
    pub drained: bool,
    pub findings: Vec<Finding>,
    /// The scenario's `[invariants]` that failed.
    pub failed_invariants: Vec<Check>,
    /// Trace events of the run.
    pub events: usize,
    /// A digest of the whole trace (the determinism self-check compares two runs' digests).
    #[serde(skip)]
    pub digest: u64,
}

impl RunResult {
    /// Violations (not warnings) plus failed scenario invariants.
    pub fn violations(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == super::invariants::Severity::Violation)
            .count()
            + self.failed_invariants.len()
    }
}

/// Runs `scenario` on `platform` with `seed` under `plan`, drains it, and checks it.
pub fn run_chaos(
    scenario: &Scenario,
    platform: Platform,
    seed: u64,
    plan: &FaultPlan,
    drain: Drain,
) -> Result<RunResult, ScenarioError> {
    let options = RunOptions {
        faults: Some(plan.rates.clone()),
        ..RunOptions::default()
    };
    let mut sim = prepare_sim(scenario, platform, seed, &options)?;
    let steps = play_steps(&mut sim, scenario, platform)?;
    let before = sim.now();
    let drained = drain_queues(&mut sim, drain).map_err(|message| ScenarioError::Step {
        file: scenario.file.clone(),
        platform,
        step: scenario.spec.steps.len(),
        message: format!("draining: {message}"),
    })?;
    let drained_for_ms = (sim.now() - before).num_milliseconds();
    let failed_invariants = evaluate_invariants(scenario, &mut sim, &steps)
        .into_iter()
        .filter(|c| !c.passed)
        .collect();
    let view = RunView {
        trace: sim.trace().events(),
        profile: sim.profile(),
        stack: &scenario.stack,
        faults: &plan.rates,
        drained,
    };
    let findings = check_all(&view);
    Ok(RunResult {
        scenario: scenario.name().to_string(),
        platform,
        seed,
        plan: plan.clone(),
        drained_for_ms,
        drained,
        findings,
        failed_invariants,
        events: sim.trace().events().len(),
        digest: digest(sim.trace().events()),
    })
}

/// Advances an hour at a time until every queue is empty or `drain.cap` has passed; true
/// when the queues emptied.
fn drain_queues(sim: &mut Sim, drain: Drain) -> Result<bool, String> {
    let mut waited = Duration::ZERO;
    loop {
        if queues_empty(sim) {
            return Ok(true);
        }
        if waited >= drain.cap {
            return Ok(false);
        }
        let step = DRAIN_STEP.min(drain.cap - waited);
        sim.advance(step).map_err(|e| e.to_string())?;
        waited += step;
    }
}

fn queues_empty(sim: &Sim) -> bool {
    sim.queue_names().iter().all(|q| {
        sim.queue_stats(q)
            .is_ok_and(|s| s.visible == 0 && s.in_flight == 0)
    })
}

/// A digest of every event (sequence, time, kind, resource, subject, details).
fn digest(events: &[TraceEvent]) -> u64 {
    let mut hasher = DefaultHasher::new();
    for e in events {
        (
            e.seq,
            e.t_ms,
            e.kind.as_str(),
            &e.resource,
            &e.subject,
            &e.detail,
        )
            .hash(&mut hasher);
    }
    hasher.finish()
}
