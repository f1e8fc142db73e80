//! `alien simulate <SCENARIO|DIR>... [--platform P|all] [--seed N] [--json] [--diff-platforms]
//! [--trace] [--html FILE] [--otlp-endpoint URL]`: runs each scenario on each platform it
//! applies to, in virtual time.

use std::path::PathBuf;
use std::process::ExitCode;

use alien_emulator::Platform;
use alien_emulator::scenario::report::{self, JsonReport, JsonRun};
use alien_emulator::scenario::{
    Outcome, RunOptions, Scenario, load_scenario, run_scenario_with, scenario_files,
};
use clap::Args;

use super::{EXIT_FAILED, EXIT_UNUSABLE_INPUT, emit};

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Scenario files (.toml) or directories of them.
    #[arg(required = true)]
    scenarios: Vec<PathBuf>,
    /// Platforms to run on (intersected with each scenario's): aws, gcp, azure, kubernetes,
    /// local, comma-separated or repeated, or `all`.
    #[arg(long, short, value_delimiter = ',', default_value = "all")]
    platform: Vec<String>,
    /// Seed of every run (default: each scenario's own, else 1).
    #[arg(long)]
    seed: Option<u64>,
    /// Print a machine-readable JSON report.
    #[arg(long)]
    json: bool,
    /// Print, per scenario, a table with a row per metric and a column per platform.
    #[arg(long)]
    diff_platforms: bool,
    /// Print the full trace of every run.
    #[arg(long)]
    trace: bool,
    /// Write the runs' timeline (the web console's lanes, payloads included) to FILE as one
    /// self-contained HTML page; with --diff-platforms the platforms share one time axis.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    /// Export each run's trace as OpenTelemetry spans over OTLP/HTTP to this URL
    /// (e.g. `http://127.0.0.1:4318/v1/traces`); needs the `otlp` feature.
    #[arg(long, value_name = "URL")]
    otlp_endpoint: Option<String>,
}

pub(super) fn parse_platforms(values: &[String]) -> Result<Vec<Platform>, String> {
    let mut platforms = Vec::new();
    for value in values {
        if value.eq_ignore_ascii_case("all") {
            platforms.extend(Platform::EMULATED);
            continue;
        }
        let platform: Platform = value
            .parse()
            .map_err(|e| format!("--platform {value}: {e}"))?;
        if !Platform::EMULATED.contains(&platform) {
            return Err(format!(
                "--platform {value}: platform '{platform}' has no emulation profile"
            ));
        }
        platforms.push(platform);
    }
    Ok(platforms)
}

/// Every scenario in `paths` (files, or directories searched for `.toml` files).
pub(super) fn load_scenarios(paths: &[PathBuf]) -> Result<Vec<Scenario>, String> {
    let mut scenarios = Vec::new();
    for path in paths {
        for file in scenario_files(path).map_err(|e| e.to_string())? {
            scenarios.push(load_scenario(&file).map_err(|e| e.to_string())?);
        }
    }
    Ok(scenarios)
}

pub fn run(args: SimulateArgs) -> anyhow::Result<ExitCode> {
    let unusable = |message: String| {
        eprintln!("error: {message}");
        Ok(ExitCode::from(EXIT_UNUSABLE_INPUT))
    };
    let wanted = match parse_platforms(&args.platform) {
        Ok(p) => p,
        Err(message) => return unusable(message),
    };
    let mut otlp = match super::otlp::simulate_export(args.otlp_endpoint.as_deref()) {
        Ok(otlp) => otlp,
        Err(code) => return Ok(code),
    };
    let scenarios = match load_scenarios(&args.scenarios) {
        Ok(scenarios) => scenarios,
        Err(message) => return unusable(message),
    };
    let total = scenarios
        .iter()
        .map(|s| s.platforms.iter().filter(|p| wanted.contains(p)).count())
        .sum();
    // A bar over the runs on a terminal (stderr); nothing off one or with --json.
    let bar = super::progress::runs(total, !args.json && super::progress::stderr_is_terminal());
    let mut runs: Vec<(&Scenario, Outcome)> = Vec::new();
    for scenario in &scenarios {
        for platform in scenario.platforms.iter().filter(|p| wanted.contains(p)) {
            bar.set_message(format!("{} on {platform}", scenario.name()));
            let options = RunOptions {
                trace_payloads: args.html.is_some(),
                ..RunOptions::default()
            };
            match run_scenario_with(scenario, *platform, scenario.seed(args.seed), options) {
                Ok(outcome) => {
                    if let Some(otlp) = &mut otlp {
                        otlp.export(scenario, &outcome);
                    }
                    runs.push((scenario, outcome));
                }
                Err(err) => return unusable(err.to_string()),
            }
            bar.inc(1);
        }
    }
    bar.finish_and_clear();
    if let Some(path) = &args.html
        && let Err(err) = super::html_report::write(path, &runs, args.diff_platforms)
    {
        return unusable(format!("--html {}: {err}", path.display()));
    }
    let passed = runs.iter().all(|(_, o)| o.passed);
    if args.json {
        let report = JsonReport {
            passed,
            runs: runs
                .iter()
                .map(|(s, o)| JsonRun {
                    file: s.file.display().to_string(),
                    outcome: o,
                    trace: args.trace.then(|| o.trace.events()),
                })
                .collect(),
        };
        emit(&format!("{}\n", serde_json::to_string_pretty(&report)?));
    } else {
        emit(&render_text(&scenarios, &runs, &args));
    }
    Ok(if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FAILED)
    })
}

fn render_text(
    scenarios: &[Scenario],
    runs: &[(&Scenario, Outcome)],
    args: &SimulateArgs,
) -> String {
    let mut out = String::new();
    for (_, outcome) in runs {
        out.push_str(&report::summary_line(outcome));
        out.push('\n');
        if !outcome.passed {
            out.push_str(&report::failure_details(outcome));
        }
        if args.trace {
            out.push_str(&format!(
                "--- trace {} on {} (seed {})\n",
                outcome.scenario, outcome.platform, outcome.seed
            ));
            out.push_str(&outcome.trace.render_text());
        }
    }
    if args.diff_platforms {
        for scenario in scenarios {
            let outcomes: Vec<&Outcome> = runs
                .iter()
                .filter(|(s, _)| std::ptr::eq(*s, scenario))
                .map(|(_, o)| o)
                .collect();
            if !outcomes.is_empty() {
                out.push('\n');
                let look = alien_emulator::table::Look::for_stdout(args.json);
                out.push_str(&report::diff_table_in(look, scenario.name(), &outcomes));
            }
        }
    }
    let failed = runs.iter().filter(|(_, o)| !o.passed).count();
    out.push_str(&format!(
        "\n{} runs, {} passed, {failed} failed\n",
        runs.len(),
        runs.len() - failed
    ));
    out
}
