//! `alien conformance [--target T]... [--endpoint URL] [--observations] [CASE...]`: runs the
//! contract suite through the provider traits against every target named and prints a table
//! case × target (each target judged by its platform's facts). Exit 1 on a difference that is
//! not a listed known gap, 2 on unusable input.
//!
//! Targets: `emulator` (the engine under all five profiles, or `emulator-<platform>` for one),
//! `emulate-sqs` (an in-process `alien emulate` reached over its SQS endpoint), `moto`,
//! `localstack`, `aws` (AWS adapter), `pubsub-emulator` (GCP adapter on Google's Pub/Sub
//! emulator and fake-gcs-server), `azurite` (Azure adapter), and the Docker-backed
//! `localstack-container` and `servicebus-container`, whose columns read "skipped" with the
//! reason where no Docker engine answers (`conformance_container.rs`).

use std::process::ExitCode;

use alien_emulator::Platform;
use alien_emulator::conformance::{
    CASES, Case, CaseRow, Cell, EmulatorTarget, Observation, PLATFORMS, Report, Target, judge, run,
};
use clap::Args;

use super::{EXIT_FAILED, emit, today, unusable};

#[path = "conformance_peers.rs"]
mod peers;

#[cfg(feature = "testcontainers")]
#[path = "conformance_container.rs"]
mod container;

/// A column: one cell per selected case, with what the target observed.
pub type Column = Vec<(Cell, Vec<Observation>)>;

/// The target that runs LocalStack in Docker through testcontainers-modules.
const LOCALSTACK_CONTAINER: &str = "localstack-container";

/// Every target name, with the cargo feature it needs (`None`: always built).
const TARGETS: &[(&str, Option<&str>)] = &[
    ("emulator", None),
    ("emulator-aws", None),
    ("emulator-gcp", None),
    ("emulator-azure", None),
    ("emulator-local", None),
    ("emulator-kubernetes", None),
    ("emulate-sqs", Some("aws")),
    ("moto", Some("aws")),
    ("localstack", Some("aws")),
    ("aws", Some("aws")),
    (LOCALSTACK_CONTAINER, Some("testcontainers")),
    ("pubsub-emulator", Some("gcp")),
    ("azurite", Some("azure")),
];

#[derive(Debug, Args)]
pub struct ConformanceArgs {
    /// emulator (all five profiles) or emulator-<platform>, emulate-sqs, moto, localstack,
    /// aws, localstack-container, pubsub-emulator, azurite; repeat for several columns.
    #[arg(long = "target", default_value = "emulator")]
    targets: Vec<String>,
    /// Endpoint of the one peer named (moto, LocalStack, the Pub/Sub emulator or Azurite's
    /// blob endpoint); default: the peer's `ALIEN_<PEER>_URL` (scripts/peers/<peer>.sh start
    /// prints it).
    #[arg(long)]
    endpoint: Option<String>,
    /// After the table, print what every target observed in every case.
    #[arg(long)]
    observations: bool,
    /// Cases to run (default: all).
    cases: Vec<String>,
}

/// The target features this build has.
const BUILT_WITH: &[&str] = &[
    #[cfg(feature = "aws")]
    "aws",
    #[cfg(feature = "gcp")]
    "gcp",
    #[cfg(feature = "azure")]
    "azure",
    #[cfg(feature = "testcontainers")]
    "testcontainers",
];

/// Whether this build has `feature`.
fn built_with(feature: &str) -> bool {
    BUILT_WITH.contains(&feature)
}

/// The first problem with the arguments, if any.
fn check_args(args: &ConformanceArgs) -> Option<String> {
    if let Some(unknown) = args
        .cases
        .iter()
        .find(|c| !CASES.iter().any(|k| k.name == c.as_str()))
    {
        let names: Vec<&str> = CASES.iter().map(|c| c.name).collect();
        return Some(format!(
            "no case named '{unknown}' (cases: {})",
            names.join(", ")
        ));
    }
    for target in &args.targets {
        match TARGETS.iter().find(|(name, _)| name == target) {
            None => {
                let names: Vec<&str> = TARGETS.iter().map(|(n, _)| *n).collect();
                return Some(format!(
                    "--target {target}: use one of {}",
                    names.join(", ")
                ));
            }
            Some((_, Some(feature))) if !built_with(feature) => {
                return Some(format!(
                    "--target {target} needs this `alien` built with the `{feature}` feature (cargo build --features {feature})"
                ));
            }
            Some(_) => {}
        }
    }
    None
}

/// The columns `target` stands for (`emulator` is one per profile).
fn columns_of(target: &str) -> Vec<String> {
    if target == "emulator" {
        PLATFORMS.iter().map(|p| format!("emulator-{p}")).collect()
    } else {
        vec![target.to_string()]
    }
}

pub fn run_cli(args: ConformanceArgs) -> anyhow::Result<ExitCode> {
    if let Some(message) = check_args(&args) {
        return Ok(unusable(message));
    }
    let run_id = format!("{}", chrono::Utc::now().timestamp_millis());
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let mut report = Report::default();
        let mut columns = Vec::new();
        for name in args.targets.iter().flat_map(|t| columns_of(t)) {
            let cells = match column_for(&name, &args, &run_id).await {
                Ok(cells) => cells,
                Err(message) => return Ok(unusable(message)),
            };
            report.targets.push(name);
            columns.push(cells);
        }
        for (i, case) in selected(&args.cases).enumerate() {
            report.rows.push(CaseRow {
                case: case.name,
                cells: columns.iter().map(|c| c[i].0.clone()).collect(),
                observed: columns.iter().map(|c| c[i].1.clone()).collect(),
            });
        }
        let mut out = report.render_in(alien_emulator::table::Look::for_stdout(false));
        if args.observations {
            out.push('\n');
            out.push_str(&report.render_observations());
        }
        emit(&out);
        Ok(if report.failed() {
            ExitCode::from(EXIT_FAILED)
        } else {
            ExitCode::SUCCESS
        })
    })
}

/// Runs the selected cases on the target named `name`.
async fn column_for(name: &str, args: &ConformanceArgs, run_id: &str) -> Result<Column, String> {
    if let Some(platform) = name.strip_prefix("emulator-") {
        let platform: Platform = platform.parse().map_err(|e| format!("{e:?}"))?;
        return Ok(column(&EmulatorTarget::new(platform, today()), run_id, &args.cases).await);
    }
    #[cfg(feature = "testcontainers")]
    if name == LOCALSTACK_CONTAINER {
        return Ok(container::column(run_id, &args.cases).await);
    }
    peers::column(name, args.endpoint.as_deref(), run_id, &args.cases).await
}

/// The cases named in `cases` (all when empty), in table order.
fn selected(cases: &[String]) -> impl Iterator<Item = &'static Case> + '_ {
    CASES
        .iter()
        .copied()
        .filter(|c| cases.is_empty() || cases.iter().any(|n| n == c.name))
}

/// The selected cases on `target`, judged by its platform's facts.
async fn column<T: Target>(target: &T, run_id: &str, cases: &[String]) -> Column {
    run(target, run_id, cases)
        .await
        .into_iter()
        .map(|(case, outcome)| {
            let cell = judge(target.name(), target.platform(), case, &outcome);
            let observed = match outcome {
                Some(Ok(observed)) => observed,
                _ => Vec::new(),
            };
            (cell, observed)
        })
        .collect()
}

/// Every selected case as the same cell (a target that could not be brought up).
#[cfg(feature = "testcontainers")]
fn same_cells(cases: &[String], cell: &Cell) -> Column {
    selected(cases)
        .map(|_| (cell.clone(), Vec::new()))
        .collect()
}
