//! `alien emulate <STACK> --platform <P> [--state-dir DIR] [--port N] [--config FILE]
//! [--time-scale X] [--otlp-endpoint URL]`: run the stack's workers as real processes behind the
//! emulated platform (its web console at `/ui` on the control port).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use alien_emulator::emulate::run::{EmulateError, EmulateOptions, Emulator};
use alien_emulator::profile::ProfileSpec;
use alien_emulator::stack::load_stack;
use clap::Args;

use super::{EXIT_FAILED, emit, today, unusable};

/// Where a running emulator writes its control API URL, for the CLI verbs.
pub const CONTROL_URL_FILE: &str = "control.url";

#[derive(Debug, Args)]
pub struct EmulateArgs {
    /// Stack: a .json file, an alien.ts / alien.js, or a directory holding one of them.
    stack: PathBuf,
    /// aws, gcp, azure, kubernetes or local, optionally pinned to a date (`aws@2025-06`).
    #[arg(long, short, default_value = "local")]
    platform: String,
    /// Durable state (storage, KV, control URL); default `.alien-emulator/` next to the stack.
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// Port of the control API and queue owner on 127.0.0.1 (0 = any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Maps resources to local commands; default `alien-emulate.toml` next to the stack.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Virtual seconds per real second (60 = one minute per second).
    #[arg(long, default_value_t = 1.0)]
    time_scale: f64,
    /// Stop gracefully after this long (e.g. `30s`); default: run until Ctrl-C.
    #[arg(long)]
    stop_after: Option<String>,
    /// Seed of the random stream (cold-start latencies, fault toggles): same seed, same draws.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Cold start after scale to zero: `profile` (the platform's range, seeded), `off`, or a
    /// fixed latency such as `800ms`.
    #[arg(long, default_value = "profile")]
    cold_start: String,
    /// Chaos: restart each worker process after every invocation, so code that keeps state
    /// in memory between invocations shows it (seed 001: stateless execution).
    #[arg(long)]
    recycle: bool,
    /// Trace events the state file keeps (the newest ones; `GET /trace?after=` pages them).
    #[arg(long, default_value_t = alien_emulator::emulate::state::store::DEFAULT_TRACE_RETENTION)]
    trace_retention: u64,
    /// Export the trace as OpenTelemetry spans over OTLP/HTTP to this URL while running
    /// (e.g. `http://127.0.0.1:4318/v1/traces`); needs the `otlp` feature.
    #[arg(long, value_name = "URL")]
    otlp_endpoint: Option<String>,
}

pub fn run(args: EmulateArgs) -> anyhow::Result<ExitCode> {
    let spec: ProfileSpec = match args.platform.parse() {
        Ok(spec) => spec,
        Err(e) => return Ok(unusable(format!("--platform {}: {e}", args.platform))),
    };
    let stop_after = match args
        .stop_after
        .as_deref()
        .map(alien_emulator::engine::duration_serde::parse_duration)
        .transpose()
    {
        Ok(d) => d,
        Err(e) => return Ok(unusable(format!("--stop-after: {e}"))),
    };
    let cold_start = match args.cold_start.as_str() {
        "profile" => None,
        "off" => Some(Duration::ZERO),
        fixed => match alien_emulator::engine::duration_serde::parse_duration(fixed) {
            Ok(d) => Some(d),
            Err(e) => {
                return Ok(unusable(format!(
                    "--cold-start {fixed}: {e} (use profile, off or a duration such as 800ms)"
                )));
            }
        },
    };
    let loaded = match load_stack(&args.stack) {
        Ok(loaded) => loaded,
        Err(err) => return Ok(unusable(err)),
    };
    let profile = spec.resolve(today())?;
    let otlp = match super::otlp::emulate_export(
        args.otlp_endpoint.as_deref(),
        &loaded.stack.id,
        profile.platform,
        args.seed,
    ) {
        Ok(otlp) => otlp,
        Err(code) => return Ok(code),
    };
    let header = format!(
        "alien emulate · stack '{}' · platform {} (limits as of {}) · time scale {}×",
        loaded.stack.id, profile.platform, profile.as_of, args.time_scale
    );
    let options = EmulateOptions {
        stack: loaded,
        profile,
        state_dir: args.state_dir,
        port: args.port,
        config: args.config,
        time_scale: args.time_scale,
        seed: args.seed,
        cold_start,
        recycle: args.recycle,
        trace_retention: args.trace_retention,
    };
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        // Build output: a spinner per build on a terminal, the lines as they come otherwise.
        let mut progress =
            super::progress::StartProgress::new(super::progress::stderr_is_terminal());
        let started = Emulator::start(options, &mut |line| progress.line(line)).await;
        progress.finish();
        let emulator = match started {
            Ok(emulator) => emulator,
            // The platform refuses the stack: the preflight's report, exit 1 (as `alien check`).
            Err(EmulateError::Preflight(report)) => {
                emit(&report);
                return Ok(ExitCode::from(EXIT_FAILED));
            }
            Err(err) => return Ok(unusable(err)),
        };
        for note in &emulator.notes {
            eprintln!("note: {note}");
        }
        tokio::fs::write(
            emulator.state_dir.join(CONTROL_URL_FILE),
            &emulator.control_url,
        )
        .await?;
        let look = alien_emulator::table::Look::for_stdout(false);
        println!("{}", emulator.render_status(&header, look));
        let otlp = otlp.map(|otlp| otlp.start(&emulator.control_url));
        match stop_after {
            Some(d) => tokio::time::sleep(d).await,
            None => {
                tokio::signal::ctrl_c().await?;
            }
        }
        super::otlp::finish(otlp).await;
        eprintln!("stopping: SIGTERM to every process, then kill after its grace period");
        emulator.stop(Duration::from_secs(10)).await;
        Ok(ExitCode::SUCCESS)
    })
}
