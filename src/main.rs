//! `alien`: check, simulate and emulate Alien stacks on a laptop or in CI.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(code) => code,
        Err(err) => cli::unusable(format!("{err:#}")),
    }
}
