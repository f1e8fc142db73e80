//! `alien chaos <SCENARIO|DIR|STACK>... [--platform P|all] [--seeds A..B] [--faults LIST|all]
//! [--shard i/n] [--threads N] [--drain D] [--shrink] [--regressions DIR] [--record-violation]
//! [--json]`: seeded fault plans swept over scenarios in virtual time on every core, each run
//! checked by the invariant library; failing runs shrunk into regression scenarios.
//! `alien chaos --idempotency <STACK> --platform P [--inputs SCENARIO]`: the idempotency
//! detector on the real app ([`super::chaos_idempotency`]).

use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use alien_emulator::chaos::report::{json_report, render_text};
use alien_emulator::chaos::run::{Drain, RunResult};
use alien_emulator::chaos::shrink::{Failure, shrink, write_regression};
use alien_emulator::chaos::sweep::{Shard, SweepConfig, jobs, sweep};
use alien_emulator::chaos::{invariants, plan::parse_fault_list, workload};
use alien_emulator::engine::duration_serde::parse_duration;
use alien_emulator::scenario::{Scenario, run_scenario};
use alien_emulator::table::Look;
use clap::Args;

use super::chaos_idempotency::IdempotencyArgs;
use super::simulate::{load_scenarios, parse_platforms};
use super::{EXIT_FAILED, emit, unusable};

#[derive(Debug, Args)]
pub struct ChaosArgs {
    /// Scenario files (.toml), directories of them, or stack files (.json: a default
    /// workload — 10 messages to each queue, then a day — is generated).
    #[arg(required_unless_present = "idempotency")]
    inputs: Vec<PathBuf>,
    /// Instead of a sweep: run STACK's real workers under `alien emulate` clean, with every
    /// delivery duplicated and with every ack lost, and report what differs (one platform).
    #[arg(long, value_name = "STACK", conflicts_with_all = ["inputs", "shrink"])]
    idempotency: Option<PathBuf>,
    /// With --idempotency: a scenario whose send, put and advance steps are the inputs.
    #[arg(
        long = "inputs",
        value_name = "SCENARIO.toml",
        requires = "idempotency"
    )]
    idempotency_inputs: Option<PathBuf>,
    /// Platforms to run on (intersected with each scenario's), comma-separated, or `all`.
    #[arg(long, short, value_delimiter = ',', default_value = "all")]
    platform: Vec<String>,
    /// Seeds to sweep: `A..B` (inclusive) or one seed.
    #[arg(long, default_value = "1..100")]
    seeds: String,
    /// Faults the seeded plans draw from: `all`, `none`, or a comma-separated list.
    #[arg(long, default_value = "all")]
    faults: String,
    /// Run only shard `i` of `n` (`0/4`): job `j` when `j % n == i`.
    #[arg(long)]
    shard: Option<String>,
    /// Threads (default: the available cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Most virtual time a run goes on after its steps until its queues are empty.
    #[arg(long, default_value = "1d")]
    drain: String,
    /// Skip the determinism self-check (each seed run twice, traces compared).
    #[arg(long)]
    no_determinism: bool,
    /// Shrink the first failing run of each broken invariant and write it as a regression
    /// scenario.
    #[arg(long)]
    shrink: bool,
    /// Where regression scenarios go (default: `regressions/` beside each scenario file).
    #[arg(long)]
    regressions: Option<PathBuf>,
    /// Write regressions with `violates` (today's behaviour, passing) instead of `holds`.
    #[arg(long)]
    record_violation: bool,
    /// Print a machine-readable JSON report.
    #[arg(long)]
    json: bool,
}

pub fn run(args: ChaosArgs) -> anyhow::Result<ExitCode> {
    if let Some(stack) = args.idempotency {
        return super::chaos_idempotency::run(IdempotencyArgs {
            stack,
            platform: args.platform.join(","),
            inputs: args.idempotency_inputs,
            json: args.json,
        });
    }
    let config = match sweep_config(&args) {
        Ok(config) => config,
        Err(message) => return Ok(unusable(message)),
    };
    let scenarios = match load_inputs(&args.inputs) {
        Ok(scenarios) => scenarios,
        Err(message) => return Ok(unusable(message)),
    };
    let todo = jobs(&scenarios, &config);
    let bar = super::progress::runs(
        todo.len(),
        !args.json && super::progress::stderr_is_terminal(),
    );
    let results = match sweep(&todo, &config, &|_| bar.inc(1)) {
        Ok(results) => results,
        Err(err) => return Ok(unusable(err.to_string())),
    };
    bar.finish_and_clear();
    let failing = results.iter().any(|r| r.violations() > 0);
    if args.json {
        emit(&format!(
            "{}\n",
            serde_json::to_string_pretty(&json_report(&results))?
        ));
    } else {
        emit(&render_text(Look::for_stdout(false), &results));
    }
    if args.shrink {
        for line in shrink_failures(&scenarios, &results, &config, &args) {
            eprintln!("{line}");
        }
    }
    Ok(if failing {
        ExitCode::from(EXIT_FAILED)
    } else {
        ExitCode::SUCCESS
    })
}

fn sweep_config(args: &ChaosArgs) -> Result<SweepConfig, String> {
    let threads = match args.threads {
        Some(0) => return Err("--threads 0: expected at least 1".into()),
        Some(n) => n,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    Ok(SweepConfig {
        seeds: parse_seeds(&args.seeds)?,
        faults: parse_fault_list(&args.faults)?,
        platforms: parse_platforms(&args.platform)?,
        shard: match &args.shard {
            Some(text) => Shard::parse(text)?,
            None => Shard::ALL,
        },
        threads,
        drain: Drain {
            cap: parse_duration(&args.drain).map_err(|e| format!("--drain {}: {e}", args.drain))?,
        },
        determinism: !args.no_determinism,
    })
}

/// `A..B` (inclusive, `A <= B`), `A..=B`, or one seed `A`.
fn parse_seeds(text: &str) -> Result<RangeInclusive<u64>, String> {
    let bad = || format!("--seeds {text}: expected A..B (inclusive) or one seed, e.g. 1..1000");
    let (a, b) = match text.split_once("..") {
        Some((a, b)) => (a, b.trim_start_matches('=')),
        None => (text, text),
    };
    let a: u64 = a.trim().parse().map_err(|_| bad())?;
    let b: u64 = b.trim().parse().map_err(|_| bad())?;
    if a > b {
        return Err(bad());
    }
    Ok(a..=b)
}

/// Scenarios from files and directories; a `.json` stack becomes its default workload.
fn load_inputs(inputs: &[PathBuf]) -> Result<Vec<Scenario>, String> {
    let mut scenarios = Vec::new();
    for input in inputs {
        if input.extension().is_some_and(|e| e == "json") {
            scenarios.push(workload::for_stack(input).map_err(|e| e.to_string())?);
        } else {
            scenarios.extend(load_scenarios(std::slice::from_ref(input))?);
        }
    }
    Ok(scenarios)
}

/// Shrinks the first failing run (lowest seed) of each broken library invariant per
/// scenario and platform, writes it, and replays it with `alien simulate`'s runner.
fn shrink_failures(
    scenarios: &[Scenario],
    results: &[RunResult],
    config: &SweepConfig,
    args: &ChaosArgs,
) -> Vec<String> {
    let mut done: Vec<(String, String, &str)> = Vec::new();
    let mut lines = Vec::new();
    for r in results {
        for f in r
            .findings
            .iter()
            .filter(|f| invariants::by_name(f.invariant).is_some())
            .filter(|f| f.severity == invariants::Severity::Violation)
        {
            let key = (r.scenario.clone(), r.platform.to_string(), f.invariant);
            if done.contains(&key) {
                continue;
            }
            done.push(key);
            let Some(scenario) = scenarios.iter().find(|s| s.name() == r.scenario) else {
                continue;
            };
            let failure = Failure {
                scenario,
                platform: r.platform,
                seed: r.seed,
                plan: &r.plan,
                invariant: f.invariant,
            };
            lines.push(shrink_one(&failure, config.drain, args));
        }
    }
    lines
}

fn shrink_one(failure: &Failure<'_>, drain: Drain, args: &ChaosArgs) -> String {
    let dir = args.regressions.clone().unwrap_or_else(|| {
        failure
            .scenario
            .file
            .parent()
            .unwrap_or(Path::new("."))
            .join("regressions")
    });
    let shrunk = match shrink(failure, drain) {
        Ok(shrunk) => shrunk,
        Err(err) => return format!("shrink {}: {err}", failure.invariant),
    };
    let path = match write_regression(&shrunk, failure, drain, &dir, args.record_violation) {
        Ok(path) => path,
        Err(err) => return format!("shrink {}: {err}", failure.invariant),
    };
    let replay = alien_emulator::scenario::load_scenario(&path)
        .map_err(|e| e.to_string())
        .and_then(|s| run_scenario(&s, failure.platform, failure.seed).map_err(|e| e.to_string()));
    let verdict = match replay {
        Ok(outcome) if outcome.passed => "alien simulate passes it".to_string(),
        Ok(_) => "alien simulate fails it until the cause is fixed".to_string(),
        Err(err) => format!("replay error: {err}"),
    };
    format!(
        "shrunk {} on {} seed {}: {} → {} steps, {} → {} faults in {} runs; wrote {} ({verdict})",
        failure.invariant,
        failure.platform,
        failure.seed,
        shrunk.steps_before,
        shrunk.steps_after,
        shrunk.faults_before,
        shrunk.faults_after,
        shrunk.tries,
        path.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds() {
        assert_eq!(parse_seeds("1..1000").unwrap(), 1..=1000);
        assert_eq!(parse_seeds("3..=5").unwrap(), 3..=5);
        assert_eq!(parse_seeds("7").unwrap(), 7..=7);
        for bad in ["5..1", "a..b", ""] {
            assert!(parse_seeds(bad).is_err(), "{bad}");
        }
    }
}
