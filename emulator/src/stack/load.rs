//! Finding and reading a stack: a `.json` file, a JavaScript/TypeScript stack file, or a
//! directory searched in alien-cli's order `alien.ts`, `alien.js`, `alien.json`
//! (real-clients.md §1, "How alien-cli turns alien.ts into JSON").

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::stack::core_modules::CORE_MODULES_ENV;
use crate::stack::error::StackError;
use crate::stack::js;
use crate::stack::model::Stack;
use crate::stack::parse::parse_stack_json;

/// The file names looked for in a directory, in upstream's discovery order.
pub const STACK_FILE_NAMES: [&str; 3] = ["alien.ts", "alien.js", "alien.json"];

/// A parsed stack and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedStack {
    pub stack: Stack,
    /// The file actually read (absolute).
    pub source: PathBuf,
    /// The directory of that file (absolute): base of relative code paths and of state.
    pub root: PathBuf,
}

/// Knobs of [`load_stack_with`]; [`LoadOptions::from_env`] is what [`load_stack`] uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// The `node_modules` directory providing `@alienplatform/core` when the stack's project
    /// has none; installed on first use. None: the per-user cache directory.
    pub core_modules: Option<PathBuf>,
    /// PATH-style list searched for `bun` and `node`. None: the process's `PATH`.
    pub runtime_path: Option<OsString>,
}

impl LoadOptions {
    /// `core_modules` from `$ALIEN_CORE_MODULES` (when set and non-empty).
    pub fn from_env() -> Self {
        LoadOptions {
            core_modules: std::env::var_os(CORE_MODULES_ENV)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
            runtime_path: None,
        }
    }
}

/// Loads the stack at `path` (file or directory) with [`LoadOptions::from_env`].
pub fn load_stack(path: &Path) -> Result<LoadedStack, StackError> {
    load_stack_with(path, &LoadOptions::from_env())
}

/// Loads the stack at `path`. JSON is parsed directly; `.ts`, `.js` and `.mjs` files are
/// evaluated with bun or node and their printed default export parsed. Errors name `path`
/// as given (joined with the discovered file name for a directory).
pub fn load_stack_with(path: &Path, options: &LoadOptions) -> Result<LoadedStack, StackError> {
    let metadata = std::fs::metadata(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => StackError::NotFound {
            path: path.to_path_buf(),
        },
        _ => StackError::Io {
            path: path.to_path_buf(),
            source,
        },
    })?;
    let file = if metadata.is_dir() {
        discover(path)?
    } else {
        path.to_path_buf()
    };
    let source = std::path::absolute(&file).map_err(|source| StackError::Io {
        path: file.clone(),
        source,
    })?;
    let root = source
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("/"));

    let stack = match StackFileKind::of(&file) {
        Some(StackFileKind::Json) => {
            let text = std::fs::read_to_string(&file).map_err(|source| StackError::Io {
                path: file.clone(),
                source,
            })?;
            parse_stack_json(&text, &file)?
        }
        Some(StackFileKind::Script) => {
            let output = js::evaluate_stack_script(&source, options)?;
            parse_stack_json(&output, &file)?
        }
        None => return Err(StackError::UnsupportedFile { path: file }),
    };
    Ok(LoadedStack {
        stack,
        source,
        root,
    })
}

/// The first of [`STACK_FILE_NAMES`] present in `dir`.
fn discover(dir: &Path) -> Result<PathBuf, StackError> {
    STACK_FILE_NAMES
        .iter()
        .map(|name| dir.join(name))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| StackError::NoStackFile {
            dir: dir.to_path_buf(),
            looked_for: STACK_FILE_NAMES.to_vec(),
        })
}

enum StackFileKind {
    Json,
    Script,
}

impl StackFileKind {
    fn of(file: &Path) -> Option<Self> {
        match file.extension()?.to_str()? {
            "json" => Some(StackFileKind::Json),
            "ts" | "mts" | "js" | "mjs" => Some(StackFileKind::Script),
            _ => None,
        }
    }
}
