//! Evaluating `alien.ts` / `alien.js` the way alien-cli does (real-clients.md §1): run a small
//! ESM script that imports the stack file and prints `JSON.stringify(default, null, 2)`.
//! alien-cli takes bun only; we take `bun` when it is on PATH, else `node` (>= 20.6) with
//! module hooks (`hooks.mjs`) that load `.ts` as ESM and resolve `@alienplatform/core` from
//! a fallback directory.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use crate::stack::core_modules::{
    core_installed, default_core_modules_dir, install_core, project_provides_core,
};
use crate::stack::error::StackError;
use crate::stack::load::LoadOptions;

const LOADER_MJS: &str = include_str!("loader.mjs");
const HOOKS_MJS: &str = include_str!("hooks.mjs");

/// Internal variable through which the hooks learn the fallback `node_modules` directory.
const HOOKS_CORE_ENV: &str = "ALIEN_EMULATOR_CORE_MODULES";

/// A JavaScript runtime found on PATH.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum JsRuntime {
    Bun(PathBuf),
    Node(PathBuf),
}

impl JsRuntime {
    fn program(&self) -> &Path {
        match self {
            JsRuntime::Bun(p) | JsRuntime::Node(p) => p,
        }
    }

    fn name(&self) -> &'static str {
        match self {
            JsRuntime::Bun(_) => "bun",
            JsRuntime::Node(_) => "node",
        }
    }
}

/// `bun` first (what alien-cli uses), then `node`, searched in a PATH-style list.
pub(crate) fn find_runtime(path_var: Option<&OsStr>) -> Option<JsRuntime> {
    let path_var = path_var?;
    let find = |name: &str| {
        std::env::split_paths(path_var)
            .map(|dir| dir.join(name))
            .find(|candidate| is_executable(candidate))
    };
    find("bun")
        .map(JsRuntime::Bun)
        .or_else(|| find("node").map(JsRuntime::Node))
}

fn is_executable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        path.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        path.is_file()
    }
}

/// Runs a JavaScript/TypeScript stack file and returns what the loader printed: the default
/// export as `JSON.stringify(default, null, 2)`, unparsed. Most callers want
/// [`load_stack`](crate::stack::load_stack), which parses it.
pub fn evaluate_stack_script(file: &Path, options: &LoadOptions) -> Result<String, StackError> {
    let file = &std::path::absolute(file).map_err(|source| StackError::Io {
        path: file.to_path_buf(),
        source,
    })?;
    let path_var: Option<OsString> = options
        .runtime_path
        .clone()
        .or_else(|| std::env::var_os("PATH"));
    let runtime = find_runtime(path_var.as_deref()).ok_or_else(|| StackError::NoJsRuntime {
        file: file.to_path_buf(),
    })?;
    let dir = file.parent().unwrap_or(Path::new("/"));
    let core = fallback_core_modules(file, dir, options)?;

    let loader = LoaderFiles::write().map_err(|source| StackError::Io {
        path: std::env::temp_dir(),
        source,
    })?;
    let mut command = Command::new(runtime.program());
    command
        .arg(loader.loader_path())
        .arg(file)
        .current_dir(dir)
        .stdin(Stdio::null());
    if let Some(core) = &core {
        command.env(HOOKS_CORE_ENV, core);
        if let JsRuntime::Bun(_) = runtime {
            // bun does not run node's module hooks; like alien-cli, point NODE_PATH at the
            // fallback (bun resolves NODE_PATH since oven-sh/bun#14089).
            command.env(
                "NODE_PATH",
                prepend_path(core, std::env::var_os("NODE_PATH")),
            );
        }
    }
    let output = command.output().map_err(|e| StackError::JsEvaluation {
        file: file.to_path_buf(),
        runtime: runtime.name().into(),
        status: "could not start".into(),
        stderr: format!("{}: {e}", runtime.program().display()),
    })?;
    if !output.status.success() {
        return Err(StackError::JsEvaluation {
            file: file.to_path_buf(),
            runtime: runtime.name().into(),
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr)
                .trim_end()
                .to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// `dir` in front of an existing PATH-style list.
fn prepend_path(dir: &Path, existing: Option<OsString>) -> OsString {
    let mut dirs = vec![dir.to_path_buf()];
    dirs.extend(existing.iter().flat_map(std::env::split_paths));
    std::env::join_paths(dirs).unwrap_or_else(|_| dir.as_os_str().to_owned())
}

/// The fallback `node_modules` directory to hand to the hooks, installed if missing. None when
/// the project provides the package itself or the stack file does not mention it.
fn fallback_core_modules(
    file: &Path,
    dir: &Path,
    options: &LoadOptions,
) -> Result<Option<PathBuf>, StackError> {
    let text = std::fs::read_to_string(file).map_err(|source| StackError::Io {
        path: file.to_path_buf(),
        source,
    })?;
    if !text.contains("@alienplatform/core") || project_provides_core(dir) {
        return Ok(None);
    }
    let Some(node_modules) = options
        .core_modules
        .clone()
        .or_else(default_core_modules_dir)
    else {
        return Err(StackError::CoreInstall {
            file: file.to_path_buf(),
            dir: PathBuf::from("~/.cache/alien-emulator/core-modules"),
            message: "neither XDG_CACHE_HOME nor HOME is set; set ALIEN_CORE_MODULES".into(),
        });
    };
    // The runtime runs in the stack's directory, so a relative setting must not stay relative.
    let node_modules = std::path::absolute(&node_modules).unwrap_or(node_modules);
    if !core_installed(&node_modules) {
        install_core(&node_modules, file)?;
    }
    Ok(Some(node_modules))
}

/// `loader.mjs` and `hooks.mjs` in a fresh temporary directory, removed on drop.
struct LoaderFiles {
    dir: PathBuf,
}

impl LoaderFiles {
    fn write() -> std::io::Result<Self> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let base = std::env::temp_dir();
        let dir = loop {
            let candidate = base.join(format!(
                "alien-emulator-loader-{}-{}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::Relaxed)
            ));
            match std::fs::create_dir(&candidate) {
                Ok(()) => break candidate,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        };
        let files = LoaderFiles { dir };
        std::fs::write(files.loader_path(), LOADER_MJS)?;
        std::fs::write(files.dir.join("hooks.mjs"), HOOKS_MJS)?;
        Ok(files)
    }

    fn loader_path(&self) -> PathBuf {
        self.dir.join("loader.mjs")
    }
}

impl Drop for LoaderFiles {
    fn drop(&mut self) {
        // Best effort: a leftover directory in the temp dir is harmless.
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn executable(dir: &Path, name: &str) {
        let path = dir.join(name);
        std::fs::write(&path, "#!/bin/sh\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
    }

    /// alien-cli prefers bun (real-clients.md §1); node is our fallback.
    #[test]
    fn bun_is_preferred_over_node_across_path_entries() {
        let first = tempfile::tempdir().unwrap();
        let second = tempfile::tempdir().unwrap();
        executable(first.path(), "node");
        executable(second.path(), "bun");
        let path = std::env::join_paths([first.path(), second.path()]).unwrap();
        assert_eq!(
            find_runtime(Some(&path)),
            Some(JsRuntime::Bun(second.path().join("bun")))
        );
    }

    #[test]
    fn node_is_found_when_bun_is_absent() {
        let dir = tempfile::tempdir().unwrap();
        executable(dir.path(), "node");
        let path = OsString::from(dir.path());
        assert_eq!(
            find_runtime(Some(&path)),
            Some(JsRuntime::Node(dir.path().join("node")))
        );
    }

    #[cfg(unix)]
    #[test]
    fn non_executable_files_are_not_runtimes() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("node"), "").unwrap();
        assert_eq!(find_runtime(Some(dir.path().as_os_str())), None);
        assert_eq!(find_runtime(None), None);
    }

    #[cfg(unix)]
    #[test]
    fn fallback_goes_first_in_node_path() {
        let joined = prepend_path(Path::new("/cache/node_modules"), Some("/a:/b".into()));
        assert_eq!(joined, OsString::from("/cache/node_modules:/a:/b"));
        assert_eq!(
            prepend_path(Path::new("/cache/node_modules"), None),
            OsString::from("/cache/node_modules")
        );
    }

    #[test]
    fn loader_files_are_removed_on_drop() {
        let files = LoaderFiles::write().unwrap();
        let dir = files.dir.clone();
        assert!(files.loader_path().is_file());
        assert!(dir.join("hooks.mjs").is_file());
        drop(files);
        assert!(!dir.exists());
    }
}
