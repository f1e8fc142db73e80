//! `alien emulate <STACK> --platform <P> [--state-dir DIR] [--port N] [--config FILE]
//! [--time-scale X] [--otlp-endpoint URL] [--record FILE]`: run the stack's workers as real
//! processes behind the emulated platform (its web console at `/ui` on the control port) until
//! Ctrl-C or SIGTERM.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use alien_emulator::emulate::run::{EmulateError, EmulateOptions, Emulator};
use alien_emulator::profile::ProfileSpec;
use alien_emulator::stack::load_stack;
use anyhow::Context as _;
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
    /// The most instances (app processes) of one worker at once on this machine. Past it work
    /// waits for a free instance; the platform's own limit (`concurrencyLimit` or its default)
    /// still throttles where it is lower.
    #[arg(long, default_value_t = alien_emulator::emulate::run::DEFAULT_MAX_INSTANCES,
          value_parser = clap::value_parser!(u32).range(1..=256))]
    max_instances: u32,
    /// Hold each instance to the platform's CPU share (Lambda: memoryMb / 1769 vCPU, Cloud Run
    /// 1 vCPU, …) with a CFS quota. Off by default: memory and scratch limits always apply.
    #[arg(long)]
    cpu_limits: bool,
    /// Trace events the state file keeps (the newest ones; `GET /trace?after=` pages them).
    #[arg(long, default_value_t = alien_emulator::emulate::state::store::DEFAULT_TRACE_RETENTION)]
    trace_retention: u64,
    /// Export the trace as OpenTelemetry spans over OTLP/HTTP to this URL while running
    /// (e.g. `http://127.0.0.1:4318/v1/traces`); needs the `otlp` feature.
    #[arg(long, value_name = "URL")]
    otlp_endpoint: Option<String>,
    /// At stop, write the session's external inputs (sends, object puts and deletes, clock
    /// advances, fault changes, gateway requests) with their virtual times to FILE as a
    /// scenario: `alien simulate FILE` replays it with scripted handlers.
    #[arg(long, value_name = "FILE")]
    record: Option<PathBuf>,
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
    let record = match args.record.as_deref().map(record_target).transpose() {
        Ok(record) => record,
        Err(message) => return Ok(unusable(message)),
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
        record,
        max_instances: args.max_instances,
        cpu_limits: args.cpu_limits,
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
        let stop_signal = stop_signal()?;
        match stop_after {
            Some(d) => tokio::select! {
                () = tokio::time::sleep(d) => {}
                stopped = stop_signal => stopped?,
            },
            None => stop_signal.await?,
        }
        super::otlp::finish(otlp).await;
        eprintln!("stopping: SIGTERM to every process, then kill after its grace period");
        let recorded = emulator
            .finish(Duration::from_secs(10))
            .await
            .context("--record")?;
        if let Some(file) = recorded {
            eprintln!(
                "recorded the session's inputs to {0} (replay: alien simulate {0})",
                file.display()
            );
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// The `--record` file as an absolute path, refused when its directory does not exist or it
/// names a directory.
fn record_target(path: &Path) -> Result<PathBuf, String> {
    let absolute =
        std::path::absolute(path).map_err(|e| format!("--record {}: {e}", path.display()))?;
    if absolute.is_dir() {
        return Err(format!(
            "--record {}: is a directory; give a file such as session.toml",
            path.display()
        ));
    }
    match absolute.parent() {
        Some(dir) if dir.is_dir() => Ok(absolute),
        Some(dir) => Err(format!(
            "--record {}: directory {} does not exist",
            path.display(),
            dir.display()
        )),
        None => Err(format!("--record {}: not a file path", path.display())),
    }
}

/// Resolves on Ctrl-C (SIGINT) or, on Unix, SIGTERM: either stops the emulator the graceful
/// way (and writes `--record`). SIGTERM is caught from this call on; before it (during the
/// builds and start-up) it still ends the process at once.
fn stop_signal() -> std::io::Result<impl Future<Output = std::io::Result<()>>> {
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    Ok(async move {
        #[cfg(unix)]
        {
            tokio::select! {
                interrupted = tokio::signal::ctrl_c() => interrupted,
                _ = term.recv() => Ok(()),
            }
        }
        #[cfg(not(unix))]
        tokio::signal::ctrl_c().await
    })
}
