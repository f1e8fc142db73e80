//! Why a scenario could not be used. These are input errors (exit 2), distinct from unmet
//! expectations, which are results.

use std::path::PathBuf;

use crate::platform::Platform;
use crate::stack::StackError;

#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("{}: {source}", file.display())]
    Read {
        file: PathBuf,
        source: std::io::Error,
    },
    /// TOML syntax or a field of the wrong shape; line and column are 1-based.
    #[error("{}:{line}:{column}: {message}", file.display())]
    Syntax {
        file: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    /// A well-formed file whose content does not fit (unknown resource, bad date…).
    #[error("{}: {field}: {message}", file.display())]
    Invalid {
        file: PathBuf,
        field: String,
        message: String,
    },
    #[error("{}: stack: {source}", file.display())]
    Stack {
        file: PathBuf,
        source: Box<StackError>,
    },
    /// A step the engine refused as input (not a platform rejection, which is a result).
    #[error("{} ({platform}): steps[{step}]: {message}", file.display())]
    Step {
        file: PathBuf,
        platform: Platform,
        step: usize,
        message: String,
    },
    #[error("{}: no scenario files (*.toml) in this directory", dir.display())]
    EmptyDir { dir: PathBuf },
}
