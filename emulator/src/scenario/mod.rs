//! Scenario files: one TOML format for the test suite, `alien simulate`, `--diff-platforms`
//! and chaos seeds (design.md "One scenario format"). A scenario names a stack, the
//! platforms it applies to, scripted handlers, faults, a timeline of actions, and the expected
//! outcome per platform, each derived from the reference facts it cites.
//!
//! ```text
//! load_scenario(path)                 parse + validate (errors name file, line, column, field)
//! run_scenario(&scenario, platform, seed) -> Outcome { checks, steps, metrics, trace }
//! report::{summary_line, failure_details, diff_table}
//! ```

mod error;
mod expect;
mod format;
mod metrics;
mod parse;
pub mod report;
mod run;

use std::path::{Path, PathBuf};

pub use error::ScenarioError;
pub use expect::{Check, evaluate_invariants};
pub use format::*;
pub use metrics::Metrics;
pub use parse::{DEFAULT_START, Scenario, load_scenario, parse_scenario};
pub use run::{
    Outcome, RunOptions, StepRecord, play_steps, prepare_sim, run_scenario, run_scenario_with,
};

/// The scenario files under `path`: the file itself, or every `*.toml` below a directory
/// (recursively, sorted; `stacks/` directories hold stacks, not scenarios).
pub fn scenario_files(path: &Path) -> Result<Vec<PathBuf>, ScenarioError> {
    let metadata = std::fs::metadata(path).map_err(|source| ScenarioError::Read {
        file: path.to_path_buf(),
        source,
    })?;
    if !metadata.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files = Vec::new();
    collect(path, &mut files)?;
    files.sort();
    if files.is_empty() {
        return Err(ScenarioError::EmptyDir {
            dir: path.to_path_buf(),
        });
    }
    Ok(files)
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), ScenarioError> {
    let read = |source| ScenarioError::Read {
        file: dir.to_path_buf(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(read)? {
        let path = entry.map_err(read)?.path();
        if path.is_dir() {
            collect(&path, files)?;
        } else if path.extension().is_some_and(|e| e == "toml") {
            files.push(path);
        }
    }
    Ok(())
}
