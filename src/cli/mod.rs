//! Argument parsing and dispatch. Each subcommand parses, calls the library, renders.

mod chaos;
mod chaos_idempotency;
mod check;
mod command;
mod conformance;
mod emulate;
mod html_report;
mod otlp;
mod profile;
mod progress;
mod simulate;
mod snapshot;
mod verbs;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit code for a failed check or expectation.
pub const EXIT_FAILED: u8 = 1;
/// Exit code for input that cannot be used (unreadable file, parse error, bad spec).
pub const EXIT_UNUSABLE_INPUT: u8 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "alien",
    version,
    about = "Check, simulate and emulate Alien stacks locally"
)]
pub struct Cli {
    #[command(subcommand)]
    command: TopCommand,
}

#[derive(Debug, Subcommand)]
enum TopCommand {
    /// Per-platform preflight of a stack (alien.ts, alien.js, a stack JSON or a directory).
    Check(check::CheckArgs),
    /// Show a platform profile: every value with its source.
    Profile(profile::ProfileArgs),
    /// Run scenario files in virtual time on each platform and check their expectations.
    Simulate(simulate::SimulateArgs),
    /// Run the stack offline: real worker processes behind the emulated platform.
    Emulate(emulate::EmulateArgs),
    /// Sweep seeded fault plans over scenarios in virtual time and check the invariants a
    /// serverless app relies on; shrink failures into regression scenarios.
    Chaos(chaos::ChaosArgs),
    /// Talk to a running emulator: status, send, peek, dead-letters, put, get, delete,
    /// fire-cron, advance (time travel), trace, snapshot.
    Ctl(verbs::VerbArgs),
    /// Invoke a command on a command-enabled worker or daemon of a running emulator and
    /// print its response (or its error code).
    Command(command::CommandArgs),
    /// Run the contract suite against the emulator's profiles and real peers (moto, LocalStack,
    /// AWS, Google's Pub/Sub emulator with fake-gcs-server, Azurite) through the same provider
    /// traits, and print the table.
    Conformance(conformance::ConformanceArgs),
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        TopCommand::Check(args) => check::run(args),
        TopCommand::Profile(args) => profile::run(args),
        TopCommand::Simulate(args) => simulate::run(args),
        TopCommand::Emulate(args) => emulate::run(args),
        TopCommand::Chaos(args) => chaos::run(args),
        TopCommand::Ctl(args) => verbs::run(args),
        TopCommand::Command(args) => command::run(args),
        TopCommand::Conformance(args) => conformance::run_cli(args),
    }
}

/// Reports input that cannot be used (a bad argument, an unreadable stack) and gives exit 2.
pub fn unusable(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(EXIT_UNUSABLE_INPUT)
}

/// Writes to stdout; a closed pipe (`alien profile | head`) ends the output quietly instead
/// of panicking.
pub fn emit(text: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    if let Err(err) = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        && err.kind() != std::io::ErrorKind::BrokenPipe
    {
        eprintln!("error: writing to stdout: {err}");
    }
}

/// Today's date in UTC: undated profile specs use the limits in force today.
pub fn today() -> chrono::NaiveDate {
    chrono::Utc::now().date_naive()
}
