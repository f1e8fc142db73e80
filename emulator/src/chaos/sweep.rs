//! Seed sweeps: every scenario × platform × seed (or one shard of them) run under its seed's
//! fault plan on every core, each run checked, and each re-run once to check that the same
//! seed gives the identical trace (the determinism self-check, as madsim does).

use std::ops::RangeInclusive;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::invariants::{Finding, Severity};
use super::plan::FaultPlan;
use super::run::{Drain, RunResult, run_chaos};
use crate::engine::FaultKind;
use crate::platform::Platform;
use crate::scenario::{Scenario, ScenarioError};

/// The determinism self-check's name in reports.
pub const DETERMINISTIC: &str = "deterministic";

/// Shard `index` of `count` (`--shard i/n`): job `j` is this shard's when `j % count == index`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// Parses `i/n` (0-based `i < n`).
    pub fn parse(text: &str) -> Result<Shard, String> {
        let parsed = text
            .split_once('/')
            .and_then(|(i, n)| Some((i.trim().parse().ok()?, n.trim().parse().ok()?)));
        match parsed {
            Some((index, count)) if count > 0 && index < count => Ok(Shard { index, count }),
            _ => Err(format!(
                "--shard {text}: expected i/n with 0 <= i < n, e.g. 0/4"
            )),
        }
    }
}

/// What to sweep.
#[derive(Debug, Clone)]
pub struct SweepConfig {
    pub seeds: RangeInclusive<u64>,
    /// Faults the plans draw from.
    pub faults: Vec<FaultKind>,
    /// Platforms to run on (intersected with each scenario's).
    pub platforms: Vec<Platform>,
    pub shard: Shard,
    /// Threads (at least 1).
    pub threads: usize,
    pub drain: Drain,
    /// Run each seed twice and compare the traces.
    pub determinism: bool,
}

/// One run to do.
#[derive(Debug, Clone, Copy)]
pub struct Job<'a> {
    pub scenario: &'a Scenario,
    pub platform: Platform,
    pub seed: u64,
}

/// This shard's runs, scenario by scenario, platform by platform, seed by seed.
pub fn jobs<'a>(scenarios: &'a [Scenario], config: &SweepConfig) -> Vec<Job<'a>> {
    let mut all = Vec::new();
    for scenario in scenarios {
        for &platform in scenario
            .platforms
            .iter()
            .filter(|p| config.platforms.contains(p))
        {
            for seed in config.seeds.clone() {
                all.push(Job {
                    scenario,
                    platform,
                    seed,
                });
            }
        }
    }
    all.into_iter()
        .enumerate()
        .filter(|(j, _)| j % config.shard.count == config.shard.index)
        .map(|(_, job)| job)
        .collect()
}

/// Runs `jobs` on `config.threads` threads; `done` is called after each run (for progress).
/// Results come back in job order; the first scenario error stops the sweep.
pub fn sweep(
    jobs: &[Job<'_>],
    config: &SweepConfig,
    done: &(dyn Fn(&RunResult) + Sync),
) -> Result<Vec<RunResult>, ScenarioError> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<RunResult>>> = Mutex::new(vec![None; jobs.len()]);
    let failure: Mutex<Option<ScenarioError>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..config.threads.max(1) {
            scope.spawn(|| {
                loop {
                    let j = next.fetch_add(1, Ordering::Relaxed);
                    if j >= jobs.len() || lock(&failure).is_some() {
                        return;
                    }
                    match run_job(&jobs[j], config) {
                        Ok(result) => {
                            done(&result);
                            lock(&results)[j] = Some(result);
                        }
                        Err(err) => {
                            lock(&failure).get_or_insert(err);
                            return;
                        }
                    }
                }
            });
        }
    });
    if let Some(err) = failure.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(err);
    }
    Ok(results
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .flatten()
        .collect())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// One job: its plan, the run, and (when asked) the same run again to compare traces.
pub fn run_job(job: &Job<'_>, config: &SweepConfig) -> Result<RunResult, ScenarioError> {
    let own: Vec<(FaultKind, f64)> = job
        .scenario
        .spec
        .faults
        .iter()
        .map(|(k, p)| (*k, *p))
        .collect();
    let plan = FaultPlan::draw(job.seed, &config.faults, &own);
    let mut result = run_chaos(job.scenario, job.platform, job.seed, &plan, config.drain)?;
    if config.determinism {
        let again = run_chaos(job.scenario, job.platform, job.seed, &plan, config.drain)?;
        if again.digest != result.digest || again.events != result.events {
            result.findings.push(Finding {
                invariant: DETERMINISTIC,
                severity: Severity::Violation,
                subject: format!("seed {}", job.seed),
                detail: format!(
                    "the same seed and plan gave different traces: {} events (digest {:016x}) \
                     then {} events (digest {:016x})",
                    result.events, result.digest, again.events, again.digest
                ),
                at_ms: 0,
            });
        }
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_and_partition() {
        assert_eq!(Shard::parse("1/4").unwrap(), Shard { index: 1, count: 4 });
        for bad in ["4/4", "1", "a/b", "0/0"] {
            assert!(Shard::parse(bad).unwrap_err().contains(bad), "{bad}");
        }
    }
}
