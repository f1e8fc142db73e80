//! Where `@alienplatform/core` comes from when a stack file imports it.
//!
//! alien-cli uses the project's own `node_modules` and otherwise installs the package into a
//! cache directory (real-clients.md §1, "How alien-cli turns alien.ts into JSON"). We do the
//! same with npm: the fallback is `$ALIEN_CORE_MODULES`, else
//! `$XDG_CACHE_HOME` (or `~/.cache`) `/alien-emulator/core-modules/1.4.0/node_modules`,
//! installed on first use. 1.4.0 is the only version published on npm (real-clients.md §1).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::stack::error::StackError;

/// The npm `@alienplatform/core` version stack files are evaluated against.
pub const ALIEN_CORE_VERSION: &str = "1.4.0";

/// Environment variable naming a `node_modules` directory that holds `@alienplatform/core`.
pub const CORE_MODULES_ENV: &str = "ALIEN_CORE_MODULES";

const PACKAGE: &str = "@alienplatform/core";

/// The cache fallback: `$XDG_CACHE_HOME` or `$HOME/.cache`, then
/// `alien-emulator/core-modules/<version>/node_modules`. None when neither variable is set.
pub fn default_core_modules_dir() -> Option<PathBuf> {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|home| PathBuf::from(home).join(".cache"))
        })?;
    Some(
        cache
            .join("alien-emulator")
            .join("core-modules")
            .join(ALIEN_CORE_VERSION)
            .join("node_modules"),
    )
}

/// True when node's resolution from `dir` would find the package: some ancestor holds
/// `node_modules/@alienplatform/core`.
pub(crate) fn project_provides_core(dir: &Path) -> bool {
    dir.ancestors()
        .any(|d| core_installed(&d.join("node_modules")))
}

/// True when `node_modules` holds the package.
pub(crate) fn core_installed(node_modules: &Path) -> bool {
    node_modules.join(PACKAGE).join("package.json").is_file()
}

/// `npm install --prefix <parent of node_modules> @alienplatform/core@1.4.0`, with a one-line
/// notice on stderr. `stack_file` is only used in error messages.
pub(crate) fn install_core(node_modules: &Path, stack_file: &Path) -> Result<(), StackError> {
    let fail = |message: String| StackError::CoreInstall {
        file: stack_file.to_path_buf(),
        dir: node_modules.to_path_buf(),
        message,
    };
    let prefix = match (node_modules.file_name(), node_modules.parent()) {
        (Some(name), Some(parent)) if name == "node_modules" => parent,
        _ => {
            return Err(fail(format!(
                "the directory must be named node_modules (set {CORE_MODULES_ENV} to <dir>/node_modules)"
            )));
        }
    };
    std::fs::create_dir_all(prefix).map_err(|e| fail(e.to_string()))?;
    eprintln!(
        "alien-emulator: installing {PACKAGE}@{ALIEN_CORE_VERSION} into {} (first use)",
        node_modules.display()
    );
    let output = Command::new("npm")
        .arg("install")
        .arg("--prefix")
        .arg(prefix)
        .args([
            "--no-audit",
            "--no-fund",
            "--save-exact",
            "--loglevel=error",
        ])
        .arg(format!("{PACKAGE}@{ALIEN_CORE_VERSION}"))
        .stdin(Stdio::null())
        .output()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => fail("npm not found on PATH".into()),
            _ => fail(format!("could not run npm: {e}")),
        })?;
    if !output.status.success() {
        return Err(fail(format!(
            "npm install failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim_end()
        )));
    }
    if !core_installed(node_modules) {
        return Err(fail(format!(
            "npm install succeeded but {PACKAGE} is not in the directory"
        )));
    }
    Ok(())
}
