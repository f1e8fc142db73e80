//! `alien conformance [--target T]... [--endpoint URL] [CASE...]`: runs the conformance cases
//! through the provider traits against the emulator's AWS profile and against real peers
//! (moto, LocalStack, AWS) through the AWS adapter, and prints a table case × target. Exit 1
//! on a difference that is not a listed peer gap, 2 on unusable input. `localstack-container`
//! (feature `testcontainers`) starts LocalStack in Docker itself, or skips its column when no
//! Docker engine answers (`conformance_container.rs`).

use std::process::ExitCode;

use alien_emulator::conformance::{
    CASES, Case, CaseRow, EmulatorTarget, Report, Target, judge, run,
};
use clap::Args;

use super::{EXIT_FAILED, emit, today, unusable};

#[cfg(feature = "testcontainers")]
#[path = "conformance_container.rs"]
mod container;

/// The target that runs LocalStack in Docker through testcontainers-modules.
const LOCALSTACK_CONTAINER: &str = "localstack-container";

#[derive(Debug, Args)]
pub struct ConformanceArgs {
    /// emulator, moto, localstack, aws or localstack-container (feature `testcontainers`:
    /// LocalStack in Docker, skipped without a Docker engine); repeat for several columns.
    #[arg(long = "target", default_value = "emulator")]
    targets: Vec<String>,
    /// Endpoint of the peer (moto or LocalStack); default `ALIEN_MOTO_URL` /
    /// `ALIEN_LOCALSTACK_URL`. Real AWS uses the SDK's default credentials and region.
    #[arg(long)]
    endpoint: Option<String>,
    /// Cases to run (default: all).
    cases: Vec<String>,
}

pub fn run_cli(args: ConformanceArgs) -> anyhow::Result<ExitCode> {
    if let Some(unknown) = args
        .cases
        .iter()
        .find(|c| !CASES.iter().any(|k| k.name == c.as_str()))
    {
        let names: Vec<&str> = CASES.iter().map(|c| c.name).collect();
        return Ok(unusable(format!(
            "no case named '{unknown}' (cases: {})",
            names.join(", ")
        )));
    }
    for target in &args.targets {
        if target == LOCALSTACK_CONTAINER && cfg!(not(feature = "testcontainers")) {
            return Ok(unusable(format!(
                "--target {LOCALSTACK_CONTAINER} starts LocalStack in Docker: this `alien` was built without the `testcontainers` feature (cargo build --features testcontainers)"
            )));
        }
        if ![
            "emulator",
            "moto",
            "localstack",
            "aws",
            LOCALSTACK_CONTAINER,
        ]
        .contains(&target.as_str())
        {
            return Ok(unusable(format!(
                "--target {target}: use emulator, moto, localstack or aws (or {LOCALSTACK_CONTAINER}, feature testcontainers)"
            )));
        }
    }
    let run_id = format!("{}", chrono::Utc::now().timestamp_millis());
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let mut report = Report::default();
        let mut columns = Vec::new();
        for target in &args.targets {
            let cells = match target.as_str() {
                "emulator" => column(&EmulatorTarget::new(today()), &run_id, &args.cases).await,
                #[cfg(feature = "testcontainers")]
                LOCALSTACK_CONTAINER => container::column(&run_id, &args.cases).await,
                peer => {
                    match peer_column(peer, args.endpoint.as_deref(), &run_id, &args.cases).await {
                        Ok(cells) => cells,
                        Err(message) => return Ok(unusable(message)),
                    }
                }
            };
            report.targets.push(target.clone());
            columns.push(cells);
        }
        for (i, case) in selected(&args.cases).enumerate() {
            report.rows.push(CaseRow {
                case: case.name,
                cells: columns.iter().map(|c| c[i].clone()).collect(),
            });
        }
        emit(&report.render());
        Ok(if report.failed() {
            ExitCode::from(EXIT_FAILED)
        } else {
            ExitCode::SUCCESS
        })
    })
}

/// The cases named in `cases` (all when empty), in table order.
fn selected(cases: &[String]) -> impl Iterator<Item = &'static Case> + '_ {
    CASES
        .iter()
        .filter(|c| cases.is_empty() || cases.iter().any(|n| n == c.name))
}

async fn column<T: Target>(
    target: &T,
    run_id: &str,
    cases: &[String],
) -> Vec<alien_emulator::conformance::Cell> {
    run(target, run_id, cases)
        .await
        .iter()
        .map(|(case, observed)| judge(target.name(), case, observed))
        .collect()
}

#[cfg(feature = "aws")]
async fn peer_column(
    peer: &str,
    endpoint: Option<&str>,
    run_id: &str,
    cases: &[String],
) -> Result<Vec<alien_emulator::conformance::Cell>, String> {
    use alien_emulator::conformance::AwsTarget;
    let env_var = match peer {
        "moto" => Some("ALIEN_MOTO_URL"),
        "localstack" => Some("ALIEN_LOCALSTACK_URL"),
        _ => None,
    };
    let endpoint = endpoint
        .map(str::to_string)
        .or_else(|| env_var.and_then(|v| std::env::var(v).ok()));
    let target = match (peer, endpoint) {
        ("aws", None) => AwsTarget::real_aws().await,
        (_, Some(url)) => AwsTarget::peer(peer, &url).await,
        (_, None) => {
            return Err(format!(
                "--target {peer} needs --endpoint or {}: start one with `bash scripts/peers/{peer}.sh start`",
                env_var.unwrap_or_default()
            ));
        }
    };
    Ok(column(&target, run_id, cases).await)
}

#[cfg(not(feature = "aws"))]
async fn peer_column(
    peer: &str,
    _endpoint: Option<&str>,
    _run_id: &str,
    _cases: &[String],
) -> Result<Vec<alien_emulator::conformance::Cell>, String> {
    Err(format!(
        "--target {peer} needs the AWS adapter: this `alien` was built without the `aws` feature (cargo build --features aws)"
    ))
}
