//! `alien profile <SPEC> [--json]`: every value of a platform profile with its source.

use std::process::ExitCode;

use clap::Args;

use super::check::parse_specs;
use super::{emit, today, unusable};

#[derive(Debug, Args)]
pub struct ProfileArgs {
    /// aws, gcp, azure, kubernetes or local, optionally pinned to a date (`aws@2025-06`); `all`.
    #[arg(value_delimiter = ',', default_value = "all")]
    platform: Vec<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: ProfileArgs) -> anyhow::Result<ExitCode> {
    let specs = match parse_specs(&args.platform) {
        Ok(specs) => specs,
        Err(message) => return Ok(unusable(message)),
    };
    let today = today();
    let mut tables = Vec::new();
    for spec in specs {
        let profile = spec.resolve(today)?;
        let values = profile.values();
        tables.push((profile, values));
    }
    if args.json {
        let json: Vec<_> = tables
            .iter()
            .map(|(p, values)| serde_json::json!({"platform": p.platform, "asOf": p.as_of, "values": values}))
            .collect();
        emit(&format!("{}\n", serde_json::to_string_pretty(&json)?));
        return Ok(ExitCode::SUCCESS);
    }
    let mut text = String::new();
    for (profile, values) in &tables {
        text.push_str(&format!(
            "{} (limits as of {}): {} values, each with its source\n",
            profile.platform,
            profile.as_of,
            values.len()
        ));
        for v in values {
            let since = v
                .since
                .as_deref()
                .map(|s| format!(" (since {s})"))
                .unwrap_or_default();
            text.push_str(&format!(
                "  {:<44} {:<40} {}{}\n",
                v.path,
                v.value.to_string(),
                v.source,
                since
            ));
        }
    }
    emit(&text);
    Ok(ExitCode::SUCCESS)
}
