//! `alien check <STACK> --platform <P>[,<P>…|all] [--json]`.

use std::path::PathBuf;
use std::process::ExitCode;

use alien_emulator::Platform;
use alien_emulator::preflight;
use alien_emulator::profile::ProfileSpec;
use alien_emulator::stack::load_stack;
use clap::Args;

use super::{EXIT_FAILED, emit, today, unusable};

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Stack: a .json file, an alien.ts / alien.js, or a directory holding one of them.
    stack: PathBuf,
    /// Platforms to check: aws, gcp, azure, kubernetes, local (optionally @YYYY-MM[-DD]),
    /// comma-separated or repeated, or `all`.
    #[arg(long, short, value_delimiter = ',', default_value = "all")]
    platform: Vec<String>,
    /// Print a machine-readable JSON report.
    #[arg(long)]
    json: bool,
}

/// Expands `all` and parses each spec.
pub fn parse_specs(values: &[String]) -> Result<Vec<ProfileSpec>, String> {
    let mut specs = Vec::new();
    for value in values {
        if value.eq_ignore_ascii_case("all") {
            specs.extend(Platform::EMULATED.map(|platform| ProfileSpec {
                platform,
                as_of: None,
            }));
        } else {
            specs.push(
                value
                    .parse::<ProfileSpec>()
                    .map_err(|e| format!("--platform {value}: {e}"))?,
            );
        }
    }
    Ok(specs)
}

pub fn run(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let specs = match parse_specs(&args.platform) {
        Ok(specs) => specs,
        Err(message) => return Ok(unusable(message)),
    };
    let loaded = match load_stack(&args.stack) {
        Ok(loaded) => loaded,
        Err(err) => return Ok(unusable(err)),
    };
    let today = today();
    let mut reports = Vec::new();
    for spec in specs {
        let profile = spec.resolve(today)?;
        reports.push(preflight::run(&loaded.stack, &profile));
    }
    if args.json {
        let json = if reports.len() == 1 {
            serde_json::to_string_pretty(&reports[0])?
        } else {
            serde_json::to_string_pretty(&reports)?
        };
        emit(&format!("{json}\n"));
    } else {
        let texts: Vec<String> = reports.iter().map(|r| r.render_text()).collect();
        emit(&texts.join("\n"));
    }
    let failed = reports.iter().any(|r| !r.ok);
    Ok(if failed {
        ExitCode::from(EXIT_FAILED)
    } else {
        ExitCode::SUCCESS
    })
}
