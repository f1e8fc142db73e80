//! Errors of stack parsing and loading. Every variant names the file it is about, so the CLI
//! can print it as is (and exits with code 2 on any of them).

use std::fmt;
use std::path::PathBuf;

use crate::stack::model::MAX_WORKER_TIMEOUT_SECONDS;

/// Why a stack could not be read, evaluated or parsed.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    /// The text is not JSON. Rendered as `file:line:column: message` (line and column are
    /// 1-based, as serde_json reports them).
    #[error("{}:{line}:{column}: {message}", file.display())]
    Syntax {
        file: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },

    /// The JSON is well formed but the stack itself (a top-level key) is invalid.
    #[error("{}: {message}", file.display())]
    InvalidStack { file: PathBuf, message: String },

    /// One entry of `resources` is invalid. `path` is the field path inside the entry
    /// (`config.triggers[0].queue`), empty when the entry as a whole is at fault.
    #[error("{}: resource '{resource}'{}: {message}{}", file.display(), TypeSuffix(resource_type.as_deref()), PathSuffix(path))]
    InvalidResource {
        file: PathBuf,
        resource: String,
        resource_type: Option<String>,
        path: String,
        message: String,
    },

    /// Worker `timeoutSeconds` outside `1..=3600`: upstream's serde check, code
    /// `WORKER_TIMEOUT_INVALID` (reference upstream-stack-and-limits.md §1.6).
    #[error(
        "{}: resource '{resource}' (worker): Worker timeoutSeconds must be between 1 and {MAX_WORKER_TIMEOUT_SECONDS} seconds, got {timeout_seconds}",
        file.display()
    )]
    WorkerTimeoutInvalid {
        file: PathBuf,
        resource: String,
        timeout_seconds: u32,
    },

    /// The path given to the loader does not exist.
    #[error("{}: no such file or directory", path.display())]
    NotFound { path: PathBuf },

    /// A directory without any of the stack files upstream looks for.
    #[error("{}: no stack file found (looked for {})", dir.display(), looked_for.join(", "))]
    NoStackFile {
        dir: PathBuf,
        looked_for: Vec<&'static str>,
    },

    /// A file whose extension is neither JSON nor JavaScript/TypeScript.
    #[error("{}: not a stack file (expected .json, .ts, .mts, .js or .mjs)", path.display())]
    UnsupportedFile { path: PathBuf },

    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// Neither `bun` nor `node` is on PATH.
    #[error(
        "{}: evaluating a JavaScript/TypeScript stack needs `bun` or `node` (>= 20.6) on PATH, and neither was found; install Node.js or use a stack.json",
        file.display()
    )]
    NoJsRuntime { file: PathBuf },

    /// The runtime ran but the stack file threw, had no default export, or node was too old.
    #[error("{}: evaluating the stack with {runtime} failed ({status}):\n{stderr}", file.display())]
    JsEvaluation {
        file: PathBuf,
        runtime: String,
        status: String,
        stderr: String,
    },

    /// `@alienplatform/core` could not be installed into the fallback directory.
    #[error("{}: could not install @alienplatform/core into {}: {message}", file.display(), dir.display())]
    CoreInstall {
        file: PathBuf,
        dir: PathBuf,
        message: String,
    },
}

impl StackError {
    /// Upstream's error code where one exists (`WORKER_TIMEOUT_INVALID`, reference §1.6).
    pub fn code(&self) -> Option<&'static str> {
        match self {
            StackError::WorkerTimeoutInvalid { .. } => Some("WORKER_TIMEOUT_INVALID"),
            _ => None,
        }
    }
}

/// ` (worker)` after a resource id, or nothing when the type is unknown.
struct TypeSuffix<'a>(Option<&'a str>);

impl fmt::Display for TypeSuffix<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(t) => write!(f, " ({t})"),
            None => Ok(()),
        }
    }
}

/// ` (at config.links[0])` after a message, or nothing for an empty path.
struct PathSuffix<'a>(&'a str);

impl fmt::Display for PathSuffix<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            Ok(())
        } else {
            write!(f, " (at {})", self.0)
        }
    }
}
