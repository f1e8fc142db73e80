//! `alien chaos --idempotency <STACK> --platform <P> [--inputs SCENARIO.toml] [--json]`: the
//! stack's real workers under `alien emulate`, three times with the same inputs (clean, every
//! input delivered twice, every input's first ack lost), and what differs in the end states
//! (`alien_emulator::chaos::idempotency`). Exit 0: idempotent; 1: differences found; 2:
//! unusable input.

use std::path::PathBuf;
use std::process::ExitCode;

use alien_emulator::chaos::idempotency::{IdempotencyError, IdempotencyOptions, Workload, detect};
use alien_emulator::profile::ProfileSpec;
use alien_emulator::scenario::load_scenario;
use alien_emulator::stack::load_stack;
use anyhow::Context;

use super::{EXIT_FAILED, EXIT_UNUSABLE_INPUT, emit, today, unusable};

/// The idempotency detector's arguments.
#[derive(Debug)]
pub struct IdempotencyArgs {
    /// Stack whose real workers run: a .json file, an alien.ts / alien.js, or a directory
    /// holding one of them.
    pub stack: PathBuf,
    /// One platform: aws, gcp, azure, kubernetes or local, optionally pinned to a date
    /// (`aws@2025-06`).
    pub platform: String,
    /// A scenario whose send, put and advance steps are the inputs (its handlers are ignored:
    /// the real app handles). Default: messages `{"n": 1}` … `{"n": 10}` to each queue a
    /// worker consumes, then one hour.
    pub inputs: Option<PathBuf>,
    /// Print the report as JSON.
    pub json: bool,
}

pub fn run(args: IdempotencyArgs) -> anyhow::Result<ExitCode> {
    if args.platform == "all" {
        return Ok(unusable(
            "--platform all: the idempotency detector runs the real app on one platform; name one (aws, gcp, azure, kubernetes or local)",
        ));
    }
    let spec: ProfileSpec = match args.platform.parse() {
        Ok(spec) => spec,
        Err(e) => return Ok(unusable(format!("--platform {}: {e}", args.platform))),
    };
    let loaded = match load_stack(&args.stack) {
        Ok(loaded) => loaded,
        Err(err) => return Ok(unusable(format!("--idempotency: {err}"))),
    };
    let workload = match &args.inputs {
        Some(path) => match load_scenario(path) {
            Ok(scenario) => Workload::from_scenario(&scenario, &loaded.stack),
            Err(err) => return Ok(unusable(format!("--inputs: {err}"))),
        },
        None => Workload::default_for(&loaded.stack),
    };
    let workload = match workload {
        Ok(workload) => workload,
        Err(err) => return Ok(unusable(err)),
    };
    let options = IdempotencyOptions {
        stack: loaded,
        profile: spec.resolve(today())?,
        workload,
    };
    let runtime = tokio::runtime::Runtime::new()?;
    let detected = runtime.block_on(detect(&options, &mut |line| eprintln!("{line}")));
    let report = match detected {
        Ok(report) => report,
        // The platform refuses the stack: its preflight report, as `alien check` prints it.
        Err(IdempotencyError::Refused(report)) => {
            emit(&report);
            return Ok(ExitCode::from(EXIT_UNUSABLE_INPUT));
        }
        Err(err) => return Err(err).context("alien chaos --idempotency"),
    };
    if args.json {
        emit(&format!("{}\n", serde_json::to_string_pretty(&report)?));
    } else {
        emit(&report.render_text());
    }
    Ok(if report.idempotent {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FAILED)
    })
}
