//! Running a scenario on one platform: build the simulation from the stack and the platform's
//! profile, install the scripted handlers, play the timeline, then check the expectations.

use alien_providers::{Payload, PutCondition};
use serde::Serialize;

use super::error::ScenarioError;
use super::expect::{Check, evaluate};
use super::format::Step;
use super::metrics::{Metrics, collect_metrics};
use super::parse::{Scenario, step_action};
use crate::engine::{
    FaultKind, Faults, Scripted, Sim, SimConfig, SimError, Trace, duration_serde::format_duration,
};
use crate::platform::Platform;
use crate::profile::Profile;

/// What one step did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepRecord {
    pub index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    pub action: &'static str,
    /// Offset from the start when the step ran, in milliseconds.
    pub t_ms: i64,
    /// `ok`, `sent`, `rejected`, `written`, `condition_failed`, `deleted`, `absent`, or the
    /// text a `kv_get` read.
    pub outcome: String,
    /// Message, request or command ids the step created.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ids: Vec<String>,
    /// Why the engine rejected it, when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The result of one scenario on one platform.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub scenario: String,
    pub platform: Platform,
    pub seed: u64,
    pub passed: bool,
    pub checks: Vec<Check>,
    pub steps: Vec<StepRecord>,
    pub metrics: Metrics,
    /// Virtual milliseconds from the start to the end of the last step.
    pub end_ms: i64,
    #[serde(skip)]
    pub trace: Trace,
}

impl Outcome {
    pub fn failed_checks(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| !c.passed)
    }
}

/// How a scenario runs and records its trace.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// `sent` events carry the payload (`alien simulate --html` shows it on click).
    pub trace_payloads: bool,
    /// Fault rates instead of the scenario's own (`alien chaos`'s fault plan).
    pub faults: Option<Vec<(FaultKind, f64)>>,
}

/// Runs `scenario` on `platform` with `seed`.
pub fn run_scenario(
    scenario: &Scenario,
    platform: Platform,
    seed: u64,
) -> Result<Outcome, ScenarioError> {
    run_scenario_with(scenario, platform, seed, RunOptions::default())
}

/// Runs `scenario` on `platform` with `seed`, recording the trace as `options` say.
pub fn run_scenario_with(
    scenario: &Scenario,
    platform: Platform,
    seed: u64,
    options: RunOptions,
) -> Result<Outcome, ScenarioError> {
    let mut sim = prepare_sim(scenario, platform, seed, &options)?;
    let records = play_steps(&mut sim, scenario, platform)?;
    let checks = evaluate(scenario, platform, &mut sim, &records);
    let metrics = collect_metrics(&sim, &records);
    let end_ms = (sim.now() - scenario.start).num_milliseconds();
    Ok(Outcome {
        scenario: scenario.name().to_string(),
        platform,
        seed,
        passed: checks.iter().all(|c| c.passed),
        checks,
        steps: records,
        metrics,
        end_ms,
        trace: sim.trace().clone(),
    })
}

/// The simulation of `scenario` on `platform` before its first step: the profile, the
/// seed, the fault rates (the scenario's or `options`'), scripted handlers and daemons.
pub fn prepare_sim(
    scenario: &Scenario,
    platform: Platform,
    seed: u64,
    options: &RunOptions,
) -> Result<Sim, ScenarioError> {
    let step_error = |step: usize, message: String| ScenarioError::Step {
        file: scenario.file.clone(),
        platform,
        step,
        message,
    };
    let profile =
        Profile::new(platform, scenario.profile_date).ok_or_else(|| ScenarioError::Invalid {
            file: scenario.file.clone(),
            field: "platforms".into(),
            message: format!("platform '{platform}' has no emulation profile"),
        })?;
    let mut config = SimConfig::new(seed, scenario.start);
    config.trace_payloads = options.trace_payloads;
    config.faults = match &options.faults {
        Some(rates) => Faults::with_rates(rates.iter().copied()),
        None => Faults::with_rates(scenario.spec.faults.iter().map(|(k, p)| (*k, *p))),
    };
    if let Some(cold) = scenario.spec.cold_starts {
        config.cold_starts = cold;
    }
    if let Some(idle) = scenario.spec.idle_timeout {
        config.idle_timeout = idle;
    }
    let mut sim = Sim::new(&scenario.stack, profile, config);
    for (resource, behaviour) in &scenario.spec.handlers {
        sim.set_handler(resource, Box::new(Scripted::new(behaviour.clone())))
            .map_err(|e| step_error(0, e.to_string()))?;
    }
    for (daemon, behaviour) in &scenario.spec.daemons {
        sim.set_daemon_behaviour(daemon, behaviour.clone())
            .map_err(|e| step_error(0, e.to_string()))?;
    }
    Ok(sim)
}

/// Plays every step of `scenario` on `sim`, in order.
pub fn play_steps(
    sim: &mut Sim,
    scenario: &Scenario,
    platform: Platform,
) -> Result<Vec<StepRecord>, ScenarioError> {
    let mut records = Vec::new();
    for (index, step) in scenario.spec.steps.iter().enumerate() {
        let record = play(sim, scenario, index, step).map_err(|message| ScenarioError::Step {
            file: scenario.file.clone(),
            platform,
            step: index,
            message,
        })?;
        records.push(record);
    }
    Ok(records)
}

/// Plays one step. Platform rejections (size limits, refused commands) are outcomes;
/// unknown resources and runaway simulations are errors.
fn play(
    sim: &mut Sim,
    scenario: &Scenario,
    index: usize,
    step: &Step,
) -> Result<StepRecord, String> {
    let action = step_action(step)?;
    if let Some(at) = step.at {
        let until = scenario.start + chrono::Duration::from_std(at).map_err(|e| e.to_string())?;
        if until < sim.now() {
            return Err(format!(
                "at = {} is before the current time",
                format_duration(at)
            ));
        }
        sim.run_until(until).map_err(|e| e.to_string())?;
    }
    let t_ms = (sim.now() - scenario.start).num_milliseconds();
    let mut record = StepRecord {
        index,
        label: step.label.clone(),
        action,
        t_ms,
        outcome: "ok".into(),
        ids: Vec::new(),
        error: None,
    };
    let result = perform(sim, step, &mut record);
    match result {
        Ok(()) => {}
        Err(SimError::Provider(err)) => reject(&mut record, err.message),
        Err(SimError::Invalid(message)) => reject(&mut record, message),
        Err(other) => return Err(other.to_string()),
    }
    Ok(record)
}

fn reject(record: &mut StepRecord, message: String) {
    record.outcome = "rejected".into();
    record.error = Some(message);
}

fn perform(sim: &mut Sim, step: &Step, record: &mut StepRecord) -> Result<(), SimError> {
    if let Some(send) = &step.send {
        let payload = if let Some(json) = &send.json {
            Payload::Json(serde_json::to_value(json).map_err(|e| SimError::Invalid(e.to_string()))?)
        } else if let Some(text) = &send.text {
            Payload::Text(text.clone())
        } else {
            Payload::Text("x".repeat(send.bytes.unwrap_or(0) as usize))
        };
        for _ in 0..send.repeat.unwrap_or(1) {
            record
                .ids
                .push(sim.send(&send.queue, payload.clone(), send.via)?);
        }
        record.outcome = "sent".into();
    } else if let Some(put) = &step.put {
        sim.put_object(&put.bucket, &put.key, put.size, &put.content_type)?;
    } else if let Some(delete) = &step.delete {
        sim.delete_object(&delete.bucket, &delete.key)?;
    } else if let Some(http) = &step.http {
        record
            .ids
            .push(sim.invoke_http(&http.worker, &http.method, &http.path, http.bytes)?);
        record.outcome = "sent".into();
    } else if let Some(command) = &step.command {
        let params = match &command.params {
            Some(p) => serde_json::to_value(p).map_err(|e| SimError::Invalid(e.to_string()))?,
            None => serde_json::Value::Object(serde_json::Map::new()),
        };
        record.ids.push(sim.create_command(
            &command.target,
            &command.name,
            params,
            command.deadline,
        )?);
        record.outcome = "created".into();
    } else if let Some(d) = step.advance {
        sim.advance(d)?;
    } else if let Some(daemon) = &step.crash_daemon {
        sim.crash_daemon(daemon.daemon(), daemon.code().unwrap_or(137))?;
    } else if let Some(daemon) = &step.stop_daemon {
        sim.stop_daemon(daemon.daemon())?;
    } else if let Some(preempt) = &step.preempt {
        sim.preempt_daemon(&preempt.daemon, preempt.fault)?;
    } else if let Some(d) = step.downtime {
        sim.downtime(d);
    } else if let Some(fault) = step.inject {
        sim.inject(fault);
    } else if let Some(kv) = &step.kv_put {
        let value = match (&kv.value, kv.bytes) {
            (Some(text), _) => text.clone().into_bytes(),
            (None, n) => vec![b'x'; n.unwrap_or(0)],
        };
        let condition = match (&kv.if_version, kv.if_absent) {
            (Some(v), _) => PutCondition::Version(v.clone()),
            (None, true) => PutCondition::Absent,
            (None, false) => PutCondition::None,
        };
        let written = sim.kv_put(&kv.store, &kv.key, value, kv.ttl, condition)?;
        record.outcome = if written {
            "written"
        } else {
            "condition_failed"
        }
        .into();
    } else if let Some(kv) = &step.kv_get {
        record.outcome = match sim.kv_get(&kv.store, &kv.key)? {
            Some(entry) => String::from_utf8_lossy(&entry.value).into_owned(),
            None => "absent".into(),
        };
    } else if let Some(kv) = &step.kv_delete {
        record.outcome = if sim.kv_delete(&kv.store, &kv.key, None)? {
            "deleted"
        } else {
            "absent"
        }
        .into();
    }
    Ok(())
}
