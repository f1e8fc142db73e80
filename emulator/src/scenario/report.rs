//! Rendering outcomes: one line per scenario × platform, failure details with the trace
//! around the failed expectation, the per-platform diff table, and the JSON report.

use std::fmt::Write as _;

use serde::Serialize;

use super::run::Outcome;
use crate::engine::render_line;
use crate::table::{self, Look};

/// Trace events shown on each side of a failed expectation.
pub const EXCERPT_RADIUS: usize = 10;

/// `PASS  handler-fails-twice  aws  seed=1  (7 expectations)`.
pub fn summary_line(outcome: &Outcome) -> String {
    let verdict = if outcome.passed { "PASS" } else { "FAIL" };
    let failed = outcome.failed_checks().count();
    let total = outcome.checks.len();
    let tail = if outcome.passed {
        format!("{total} expectations")
    } else {
        format!("{failed} of {total} expectations failed")
    };
    format!(
        "{verdict}  {:<40} {:<10} seed={}  {tail}",
        outcome.scenario,
        outcome.platform.as_str(),
        outcome.seed
    )
}

/// Every failed expectation with the trace lines around it.
pub fn failure_details(outcome: &Outcome) -> String {
    let mut out = String::new();
    let events = outcome.trace.events();
    for check in outcome.failed_checks() {
        let _ = writeln!(out, "  expectation failed: {}", check.expectation);
        let _ = writeln!(out, "    seen: {}", check.detail);
        let _ = writeln!(
            out,
            "    seed: {}  (re-run with --seed {} --platform {})",
            outcome.seed, outcome.seed, outcome.platform
        );
        if events.is_empty() {
            let _ = writeln!(out, "    trace: (empty)");
            continue;
        }
        let centre = check
            .seq
            .map_or(events.len() - 1, |s| s as usize)
            .min(events.len() - 1);
        let from = centre.saturating_sub(EXCERPT_RADIUS);
        let to = (centre + EXCERPT_RADIUS + 1).min(events.len());
        let _ = writeln!(out, "    trace (events {from}..{to} of {}):", events.len());
        for event in &events[from..to] {
            let marker = if event.seq as usize == centre && check.seq.is_some() {
                ">>"
            } else {
                "  "
            };
            let _ = writeln!(out, "    {marker} {}", render_line(event));
        }
    }
    out
}

/// One table per scenario, plain: a row per metric, a column per platform. Rows whose value
/// is `0` or `-` on every platform are left out.
pub fn diff_table(scenario: &str, outcomes: &[&Outcome]) -> String {
    diff_table_in(Look::Plain, scenario, outcomes)
}

/// [`diff_table`] drawn in `look`, under the scenario's name.
pub fn diff_table_in(look: Look, scenario: &str, outcomes: &[&Outcome]) -> String {
    let mut names: Vec<&str> = Vec::new();
    for outcome in outcomes {
        for (name, _) in &outcome.metrics.0 {
            if !names.contains(&name.as_str()) {
                names.push(name);
            }
        }
    }
    let mut rows: Vec<Vec<String>> = names
        .into_iter()
        .map(|name| {
            std::iter::once(name.to_string())
                .chain(
                    outcomes
                        .iter()
                        .map(|o| o.metrics.get(name).unwrap_or("-").to_string()),
                )
                .collect::<Vec<_>>()
        })
        .filter(|row| row[1..].iter().any(|v| v != "0" && v != "-"))
        .collect();
    rows.push(
        std::iter::once("expectations".to_string())
            .chain(
                outcomes
                    .iter()
                    .map(|o| if o.passed { "pass" } else { "FAIL" }.to_string()),
            )
            .collect(),
    );
    let mut header = vec!["METRIC"];
    header.extend(outcomes.iter().map(|o| o.platform.as_str()));
    let mut out = format!("{scenario}\n");
    for line in table::render(look, &header, rows).lines() {
        let _ = writeln!(out, "  {line}");
    }
    out
}

/// The `--json` report: stable field order, traces only on request.
#[derive(Debug, Serialize)]
pub struct JsonReport<'a> {
    pub passed: bool,
    pub runs: Vec<JsonRun<'a>>,
}

#[derive(Debug, Serialize)]
pub struct JsonRun<'a> {
    pub file: String,
    #[serde(flatten)]
    pub outcome: &'a Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace: Option<&'a [crate::engine::TraceEvent]>,
}
