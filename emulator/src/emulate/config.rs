//! How each worker or daemon runs locally: Rust `source` code is built with cargo; anything
//! else (images, other toolchains) is mapped to a local command by an optional config file
//! next to the stack (`alien-emulate.toml`), per resource: command, args, cwd, env.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Deserialize;

use super::host::ProcessSpec;
use crate::stack::{Code, Toolchain};

/// The file name looked for next to the stack.
pub const CONFIG_FILE: &str = "alien-emulate.toml";

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmulateConfig {
    #[serde(default)]
    pub resources: BTreeMap<String, ResourceCommand>,
}

/// A local command standing in for a resource's code.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceCommand {
    pub command: String,
    #[serde(default)]
    pub args: Vec<String>,
    /// Relative to the config file's directory.
    #[serde(default)]
    pub cwd: Option<PathBuf>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{file}: {message}")]
    Parse { file: PathBuf, message: String },
    #[error("{file}: {source}")]
    Io {
        file: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "resource '{resource}' runs {what}, which the emulator cannot run by itself: add a [resources.{resource}] entry with `command` to {config}"
    )]
    MissingMapping {
        resource: String,
        what: String,
        config: PathBuf,
    },
    #[error("building resource '{resource}' with cargo failed in {dir}: {message}")]
    Build {
        resource: String,
        dir: PathBuf,
        message: String,
    },
}

impl EmulateConfig {
    /// Reads `path`; a missing file at the default location is an empty config.
    pub fn load(path: &Path, explicit: bool) -> Result<EmulateConfig, ConfigError> {
        match std::fs::read_to_string(path) {
            Ok(text) => toml::from_str(&text).map_err(|e| ConfigError::Parse {
                file: path.to_path_buf(),
                message: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => {
                Ok(EmulateConfig::default())
            }
            Err(source) => Err(ConfigError::Io {
                file: path.to_path_buf(),
                source,
            }),
        }
    }
}

/// Resolves how to run `resource`: the config mapping wins; otherwise Rust source is built.
/// `on_progress` receives cargo's output lines.
pub fn resolve(
    resource: &str,
    code: &Code,
    stack_root: &Path,
    config: &EmulateConfig,
    config_path: &Path,
    on_progress: &mut dyn FnMut(&str),
) -> Result<ProcessSpec, ConfigError> {
    let config_dir = config_path.parent().unwrap_or(Path::new(".")).to_path_buf();
    if let Some(mapping) = config.resources.get(resource) {
        let cwd = mapping
            .cwd
            .as_ref()
            .map(|c| config_dir.join(c))
            .unwrap_or_else(|| config_dir.clone());
        let program = PathBuf::from(&mapping.command);
        let program = if program.components().count() > 1 && program.is_relative() {
            config_dir.join(program)
        } else {
            program
        };
        return Ok(ProcessSpec {
            command: program,
            args: mapping.args.clone(),
            cwd: Some(cwd),
            env: mapping.env.clone(),
        });
    }
    match code {
        Code::Source {
            src,
            toolchain: Toolchain::Rust { binary_name },
        } => {
            let dir = stack_root.join(src);
            let program = cargo_build(resource, &dir, binary_name, on_progress)?;
            Ok(ProcessSpec {
                command: program,
                args: Vec::new(),
                cwd: Some(dir),
                env: BTreeMap::new(),
            })
        }
        Code::Source { toolchain, .. } => Err(ConfigError::MissingMapping {
            resource: resource.to_string(),
            what: format!("source with the {} toolchain", toolchain_name(toolchain)),
            config: config_path.to_path_buf(),
        }),
        Code::Image { image } => Err(ConfigError::MissingMapping {
            resource: resource.to_string(),
            what: format!("the image '{image}'"),
            config: config_path.to_path_buf(),
        }),
    }
}

fn toolchain_name(t: &Toolchain) -> &'static str {
    match t {
        Toolchain::Rust { .. } => "rust",
        Toolchain::Typescript { .. } => "typescript",
        Toolchain::Docker { .. } => "docker",
    }
}

/// `cargo build --bin <binary>` in `dir`, streaming progress; returns the executable path
/// from cargo's JSON messages.
fn cargo_build(
    resource: &str,
    dir: &Path,
    binary: &str,
    on_progress: &mut dyn FnMut(&str),
) -> Result<PathBuf, ConfigError> {
    let fail = |message: String| ConfigError::Build {
        resource: resource.to_string(),
        dir: dir.to_path_buf(),
        message,
    };
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    scrub_crate_env(&mut command);
    let mut child = command
        .args([
            "build",
            "--bin",
            binary,
            "--message-format=json-render-diagnostics",
        ])
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| fail(format!("cannot run cargo: {e}")))?;
    let stderr = child.stderr.take().expect("piped");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let relay = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let stdout = child.stdout.take().expect("piped");
    let mut executable = None;
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        while let Ok(progress) = rx.try_recv() {
            on_progress(&progress);
        }
        let Ok(message) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        if message["reason"] == "compiler-artifact"
            && message["target"]["name"] == binary
            && let Some(path) = message["executable"].as_str()
        {
            executable = Some(PathBuf::from(path));
        }
    }
    let status = child.wait().map_err(|e| fail(e.to_string()))?;
    let _ = relay.join();
    while let Ok(progress) = rx.try_recv() {
        on_progress(&progress);
    }
    if !status.success() {
        return Err(fail(format!("cargo exited with {status}")));
    }
    executable.ok_or_else(|| fail(format!("cargo built no executable named '{binary}'")))
}

/// Removes the variables cargo sets for a crate being built or tested (when `alien` itself
/// runs under cargo): they would make build scripts of the app's dependencies rerun on
/// every switch.
pub fn scrub_crate_env(command: &mut Command) {
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy().into_owned();
        let crate_scoped = [
            "CARGO_MANIFEST_",
            "CARGO_PKG_",
            "CARGO_BIN_",
            "CARGO_CRATE_",
            "CARGO_PRIMARY_",
        ]
        .iter()
        .any(|prefix| name.starts_with(prefix));
        if crate_scoped
            || ["CARGO_TARGET_TMPDIR", "CARGO_RUSTC_CURRENT_DIR", "OUT_DIR"]
                .contains(&name.as_str())
        {
            command.env_remove(&name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_without_mapping_names_the_resource() {
        let code = Code::Image {
            image: "ghcr.io/x/api:1".into(),
        };
        let err = resolve(
            "api",
            &code,
            Path::new("."),
            &EmulateConfig::default(),
            Path::new("stack/alien-emulate.toml"),
            &mut |_| {},
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "resource 'api' runs the image 'ghcr.io/x/api:1', which the emulator cannot run by itself: add a [resources.api] entry with `command` to stack/alien-emulate.toml"
        );
    }

    #[test]
    fn mapping_resolves_relative_to_the_config_file() {
        let config: EmulateConfig =
            toml::from_str("[resources.api]\ncommand = \"./bin/api\"\nargs = [\"--v\"]\ncwd = \"app\"\nenv = { MODE = \"dev\" }\n").unwrap();
        let code = Code::Image { image: "x".into() };
        let spec = resolve(
            "api",
            &code,
            Path::new("."),
            &config,
            Path::new("/p/alien-emulate.toml"),
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(spec.command, PathBuf::from("/p/./bin/api"));
        assert_eq!(spec.cwd, Some(PathBuf::from("/p/app")));
        assert_eq!(spec.env["MODE"], "dev");
    }

    #[test]
    fn unknown_config_fields_are_errors() {
        let err = toml::from_str::<EmulateConfig>("[resources.api]\ncomand = \"x\"\n").unwrap_err();
        assert!(err.to_string().contains("unknown field `comand`"), "{err}");
    }
}
