//! A sweep's report: a summary table (one row per scenario and platform: seeds run, runs with
//! a violation, warnings, the invariants broken and the first failing seed), then one line
//! per invariant broken with its first finding, and the JSON form.

use std::collections::BTreeMap;

use serde::Serialize;

use super::invariants::Severity;
use super::run::RunResult;
use crate::table::{self, Look};

/// Per scenario and platform.
#[derive(Debug, Default, Serialize)]
pub struct Row {
    pub scenario: String,
    pub platform: String,
    pub seeds: usize,
    /// Runs with at least one violation.
    pub failing_runs: usize,
    pub violations: usize,
    pub warnings: usize,
    /// Invariant → runs it failed in.
    pub broken: BTreeMap<String, usize>,
    pub first_failing_seed: Option<u64>,
}

/// The rows of `results`, in the order runs were listed.
pub fn summarize(results: &[RunResult]) -> Vec<Row> {
    let mut rows: Vec<Row> = Vec::new();
    for r in results {
        let platform = r.platform.to_string();
        let i = match rows
            .iter()
            .position(|row| row.scenario == r.scenario && row.platform == platform)
        {
            Some(i) => i,
            None => {
                rows.push(Row {
                    scenario: r.scenario.clone(),
                    platform,
                    ..Row::default()
                });
                rows.len() - 1
            }
        };
        let row = &mut rows[i];
        row.seeds += 1;
        let violations = r.violations();
        row.violations += violations;
        row.warnings += r
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Warning)
            .count();
        if violations > 0 {
            row.failing_runs += 1;
            row.first_failing_seed = Some(row.first_failing_seed.map_or(r.seed, |s| s.min(r.seed)));
        }
        let mut names: Vec<String> = r
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Violation)
            .map(|f| f.invariant.to_string())
            .chain(r.failed_invariants.iter().map(|c| c.expectation.clone()))
            .collect();
        names.sort();
        names.dedup();
        for name in names {
            *row.broken.entry(name).or_default() += 1;
        }
    }
    rows
}

/// The summary table, then the first finding of each broken invariant per scenario and
/// platform, then a totals line.
pub fn render_text(look: Look, results: &[RunResult]) -> String {
    let rows = summarize(results);
    let mut out = table::render(
        look,
        &[
            "SCENARIO",
            "PLATFORM",
            "SEEDS",
            "FAILING",
            "VIOLATIONS",
            "WARNINGS",
            "BROKEN",
            "FIRST SEED",
        ],
        rows.iter().map(|r| {
            vec![
                r.scenario.clone(),
                r.platform.clone(),
                r.seeds.to_string(),
                r.failing_runs.to_string(),
                r.violations.to_string(),
                r.warnings.to_string(),
                broken_text(r),
                r.first_failing_seed
                    .map_or_else(|| "-".into(), |s| s.to_string()),
            ]
        }),
    );
    let first = first_findings(results);
    if !first.is_empty() {
        out.push('\n');
        for line in first {
            out.push_str(&line);
            out.push('\n');
        }
    }
    let runs = results.len();
    let failing = results.iter().filter(|r| r.violations() > 0).count();
    out.push_str(&format!(
        "\n{runs} runs, {failing} with a violation, {} warnings\n",
        results
            .iter()
            .flat_map(|r| &r.findings)
            .filter(|f| f.severity == Severity::Warning)
            .count()
    ));
    out
}

fn broken_text(row: &Row) -> String {
    if row.broken.is_empty() {
        return "-".into();
    }
    row.broken
        .iter()
        .map(|(name, runs)| format!("{name} ×{runs}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `scenario on platform, seed N (plan): finding`, once per broken invariant (lowest seed),
/// with the command that reproduces it.
fn first_findings(results: &[RunResult]) -> Vec<String> {
    let mut seen: BTreeMap<(String, String, String), (u64, String)> = BTreeMap::new();
    for r in results {
        let texts = r
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Violation)
            .map(|f| (f.invariant.to_string(), f.to_string()))
            .chain(r.failed_invariants.iter().map(|c| {
                (
                    c.expectation.clone(),
                    format!("{}: {}", c.expectation, c.detail),
                )
            }));
        for (name, text) in texts {
            let key = (r.scenario.clone(), r.platform.to_string(), name);
            let line = format!(
                "{} on {}, seed {} (faults {}): {text}",
                r.scenario,
                r.platform,
                r.seed,
                r.plan.describe()
            );
            match seen.get(&key) {
                Some((seed, _)) if *seed <= r.seed => {}
                _ => {
                    seen.insert(key, (r.seed, line));
                }
            }
        }
    }
    seen.into_values().map(|(_, line)| line).collect()
}

/// The JSON report: the summary rows and every run that found something.
#[derive(Serialize)]
pub struct JsonReport<'a> {
    pub runs: usize,
    pub failing_runs: usize,
    pub summary: Vec<Row>,
    pub findings: Vec<&'a RunResult>,
}

pub fn json_report(results: &[RunResult]) -> JsonReport<'_> {
    JsonReport {
        runs: results.len(),
        failing_runs: results.iter().filter(|r| r.violations() > 0).count(),
        summary: summarize(results),
        findings: results
            .iter()
            .filter(|r| !r.findings.is_empty() || !r.failed_invariants.is_empty())
            .collect(),
    }
}
