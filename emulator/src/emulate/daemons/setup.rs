//! What a daemon process runs and with which environment.
//!
//! - Code: the Local and Kubernetes controllers run image daemons only (seed 003: source is
//!   "not currently supported by the Local or Kubernetes daemon controllers"); the image is
//!   mapped to a local command in `alien-emulate.toml`, like a worker's.
//! - Env (published-3.3.49.md §9 "Daemon: standard + linked bindings only (no transport, no
//!   self binding)"; upstream-runtime-and-bindings.md §4.2): `ALIEN_DEPLOYMENT_TYPE`, one
//!   `ALIEN_<LINK>_BINDING` per link, the daemon's `environment`, `PORT` from the first public
//!   endpoint, the commands receiver's `ALIEN_COMMANDS_*` when `commandsEnabled`; never
//!   `ALIEN_TRANSPORT`, `ALIEN_WORKER_GRPC_ADDRESS` or the secrets variables.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::emulate::bindings::link_env;
use crate::emulate::config::{self, ConfigError, EmulateConfig};
use crate::emulate::host::ProcessSpec;
use crate::emulate::host::env::ALIEN_DEPLOYMENT_TYPE;
use crate::profile::Profile;
use crate::stack::{Code, Daemon, Stack};

/// Stripped from a daemon's env: secrets arrive pre-resolved as plain variables
/// (upstream-runtime-and-bindings.md §4.2).
const STRIPPED: [&str; 2] = ["ALIEN_SECRETS", "ALIEN_RUNTIME_SECRETS"];

/// Where a command-enabled daemon's receiver reaches the emulator's commands API
/// (published-3.3.49.md §9, commands receiver names).
#[derive(Debug, Clone, Copy)]
pub struct CommandsEndpoint<'a> {
    /// `ALIEN_COMMANDS_URL`: the base URL of the commands API (the control URL).
    pub url: &'a str,
    /// `ALIEN_COMMANDS_TOKEN`.
    pub token: &'a str,
    /// `ALIEN_DEPLOYMENT_ID`.
    pub deployment_id: &'a str,
}

/// Everything [`prepare_daemon`] needs from `alien emulate`.
pub struct DaemonSetup<'a> {
    pub stack: &'a Stack,
    pub profile: &'a Profile,
    /// The stack's directory.
    pub stack_root: &'a Path,
    pub config: &'a EmulateConfig,
    pub config_path: &'a Path,
    /// `ALIEN_LOCAL_STATE_DIRECTORY` and the root of storage/KV/vault bindings.
    pub state_dir: &'a Path,
    pub commands: CommandsEndpoint<'a>,
    /// The `local-queue-http` binding JSON of a queue.
    pub queue_binding: &'a dyn Fn(&str) -> Option<Value>,
}

#[derive(Debug, thiserror::Error)]
pub enum DaemonSetupError {
    #[error("no daemon named '{0}' in the stack")]
    Unknown(String),
    #[error(
        "Daemon '{daemon}' uses code type 'source', which the Local and Kubernetes daemon controllers do not build; use code type 'image' and map it to a local command with a [resources.{daemon}] entry in {config}"
    )]
    SourceUnsupported {
        daemon: String,
        config: std::path::PathBuf,
    },
    #[error(transparent)]
    Config(#[from] ConfigError),
}

fn find<'a>(stack: &'a Stack, id: &str) -> Result<&'a Daemon, DaemonSetupError> {
    stack
        .daemons()
        .find(|(daemon, _)| *daemon == id)
        .map(|(_, daemon)| daemon)
        .ok_or_else(|| DaemonSetupError::Unknown(id.to_string()))
}

/// The environment of daemon `id`'s process (see the module docs).
pub fn daemon_env(
    stack: &Stack,
    id: &str,
    profile: &Profile,
    state_dir: &Path,
    commands: &CommandsEndpoint<'_>,
    queue_binding: &dyn Fn(&str) -> Option<Value>,
) -> Result<BTreeMap<String, String>, DaemonSetupError> {
    let daemon = find(stack, id)?;
    let mut env = daemon.environment.clone();
    env.extend(link_env(stack, &daemon.links, state_dir, queue_binding));
    env.insert(
        ALIEN_DEPLOYMENT_TYPE.into(),
        profile.platform.as_str().into(),
    );
    env.insert(
        "ALIEN_LOCAL_STATE_DIRECTORY".into(),
        state_dir.display().to_string(),
    );
    // upstream-stack-and-limits.md §1.10: "When a public endpoint is declared, PORT is set
    // to the endpoint port".
    if let Some(port) = daemon
        .public_endpoints
        .first()
        .and_then(|endpoint| endpoint["port"].as_u64())
    {
        env.insert("PORT".into(), port.to_string());
    }
    if daemon.commands_enabled {
        for (name, value) in [
            ("ALIEN_COMMANDS_URL", commands.url),
            ("ALIEN_COMMANDS_TOKEN", commands.token),
            ("ALIEN_DEPLOYMENT_ID", commands.deployment_id),
            ("ALIEN_COMMANDS_TARGET_RESOURCE_ID", id),
            ("ALIEN_COMMANDS_TARGET_RESOURCE_TYPE", "daemon"),
        ] {
            env.insert(name.into(), value.into());
        }
    }
    for name in STRIPPED {
        env.remove(name);
    }
    Ok(env)
}

/// How daemon `id` runs: its mapped command with [`daemon_env`]. `None` where the platform
/// has no daemon controller (the engine refuses the daemon; nothing runs).
pub fn prepare_daemon(
    setup: &DaemonSetup<'_>,
    id: &str,
) -> Result<Option<ProcessSpec>, DaemonSetupError> {
    let daemon = find(setup.stack, id)?;
    let profile = &setup.profile.daemon;
    if !profile.supported.value {
        return Ok(None);
    }
    if matches!(daemon.code, Code::Source { .. }) && !profile.source_code_supported.value {
        return Err(DaemonSetupError::SourceUnsupported {
            daemon: id.to_string(),
            config: setup.config_path.to_path_buf(),
        });
    }
    let mut spec = config::resolve(
        id,
        &daemon.code,
        setup.stack_root,
        setup.config,
        setup.config_path,
        &mut |line| tracing::info!(daemon = id, "{line}"),
    )?;
    spec.env.extend(daemon_env(
        setup.stack,
        id,
        setup.profile,
        setup.state_dir,
        &setup.commands,
        setup.queue_binding,
    )?);
    Ok(Some(spec))
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use serde_json::json;

    use super::*;
    use crate::Platform;

    const COMMANDS: CommandsEndpoint<'static> = CommandsEndpoint {
        url: "http://127.0.0.1:7000",
        token: "tok",
        deployment_id: "s",
    };

    fn stack(code: &str, commands: bool) -> Stack {
        crate::stack::parse_stack_json(
            &format!(
                r#"{{"id":"s","resources":{{
                  "files":{{"config":{{"type":"storage","id":"files"}},"lifecycle":"frozen","dependencies":[]}},
                  "agent":{{"config":{{"type":"daemon","id":"agent","links":[{{"type":"storage","id":"files"}}],"permissions":"p",
                    "code":{code},"commandsEnabled":{commands},"stopGracePeriodSeconds":1,
                    "publicEndpoints":[{{"name":"web","port":8081}}],
                    "environment":{{"LOG_LEVEL":"info","ALIEN_SECRETS":"{{}}"}}}},
                    "lifecycle":"live","dependencies":[]}}}}}}"#
            ),
            Path::new("s.json"),
        )
        .unwrap()
    }

    fn profile(platform: Platform) -> Profile {
        Profile::new(platform, NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()).unwrap()
    }

    fn env(commands: bool) -> BTreeMap<String, String> {
        daemon_env(
            &stack(r#"{"type":"image","image":"x"}"#, commands),
            "agent",
            &profile(Platform::Local),
            Path::new("/state"),
            &COMMANDS,
            &|_| None,
        )
        .unwrap()
    }

    /// published-3.3.49.md §9: a daemon gets the standard variables and its linked bindings,
    /// no transport and no self binding; §4.2 strips the secrets variables and sets PORT
    /// from the first public endpoint.
    #[test]
    fn daemon_env_is_standard_plus_links() {
        let env = env(false);
        assert_eq!(env["ALIEN_DEPLOYMENT_TYPE"], "local");
        assert_eq!(env["ALIEN_LOCAL_STATE_DIRECTORY"], "/state");
        assert_eq!(env["LOG_LEVEL"], "info");
        assert_eq!(env["PORT"], "8081");
        let files: Value = serde_json::from_str(&env["ALIEN_FILES_BINDING"]).unwrap();
        assert_eq!(
            files,
            json!({"service": "local-storage", "storagePath": "/state/storage/files"})
        );
        for absent in [
            "ALIEN_TRANSPORT",
            "ALIEN_WORKER_GRPC_ADDRESS",
            "ALIEN_AGENT_BINDING",
            "ALIEN_SECRETS",
            "ALIEN_COMMANDS_URL",
            "ALIEN_COMMANDS_TOKEN",
            "ALIEN_COMMANDS_TARGET_RESOURCE_ID",
        ] {
            assert!(!env.contains_key(absent), "{absent} must not be set");
        }
    }

    /// published-3.3.49.md §9 commands receiver names; seed 004 "Enable commands when the
    /// process should poll the manager for work".
    #[test]
    fn commands_enabled_daemons_get_the_receiver_env() {
        let env = env(true);
        assert_eq!(env["ALIEN_COMMANDS_URL"], "http://127.0.0.1:7000");
        assert_eq!(env["ALIEN_COMMANDS_TOKEN"], "tok");
        assert_eq!(env["ALIEN_DEPLOYMENT_ID"], "s");
        assert_eq!(env["ALIEN_COMMANDS_TARGET_RESOURCE_ID"], "agent");
        assert_eq!(env["ALIEN_COMMANDS_TARGET_RESOURCE_TYPE"], "daemon");
    }

    fn prepare(
        stack: &Stack,
        platform: Platform,
        config: &EmulateConfig,
    ) -> Result<Option<ProcessSpec>, DaemonSetupError> {
        let profile = profile(platform);
        let setup = DaemonSetup {
            stack,
            profile: &profile,
            stack_root: Path::new("/p"),
            config,
            config_path: Path::new("/p/alien-emulate.toml"),
            state_dir: Path::new("/state"),
            commands: COMMANDS,
            queue_binding: &|_| None,
        };
        prepare_daemon(&setup, "agent")
    }

    /// Seed 003: daemon source "is not currently supported by the Local or Kubernetes daemon
    /// controllers" (profile `daemon.source_code_supported`).
    #[test]
    fn source_code_is_refused_naming_the_daemon() {
        let stack = stack(
            r#"{"type":"source","src":"agent","toolchain":{"type":"rust","binaryName":"agent"}}"#,
            false,
        );
        let err = prepare(&stack, Platform::Local, &EmulateConfig::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Daemon 'agent' uses code type 'source', which the Local and Kubernetes daemon controllers do not build; use code type 'image' and map it to a local command with a [resources.agent] entry in /p/alien-emulate.toml"
        );
    }

    /// Seed 003: image daemons; the emulator maps the image to a local command.
    #[test]
    fn images_need_a_mapping() {
        let stack = stack(r#"{"type":"image","image":"ghcr.io/acme/agent:1"}"#, true);
        let err = prepare(&stack, Platform::Local, &EmulateConfig::default()).unwrap_err();
        assert!(
            matches!(&err, DaemonSetupError::Config(ConfigError::MissingMapping { resource, config, .. })
                if resource == "agent" && config == Path::new("/p/alien-emulate.toml")),
            "{err}"
        );
        let config: EmulateConfig = toml::from_str(
            "[resources.agent]\ncommand = \"/bin/sh\"\nargs = [\"-c\", \"true\"]\nenv = { MODE = \"dev\" }\n",
        )
        .unwrap();
        let spec = prepare(&stack, Platform::Kubernetes, &config)
            .unwrap()
            .unwrap();
        assert_eq!(spec.args, ["-c", "true"]);
        assert_eq!(spec.env["MODE"], "dev");
        assert_eq!(spec.env["ALIEN_DEPLOYMENT_TYPE"], "kubernetes");
        assert_eq!(spec.env["ALIEN_COMMANDS_TARGET_RESOURCE_TYPE"], "daemon");
    }

    /// Seed 004: AWS, GCP and Azure have no daemon controller: there is nothing to run.
    #[test]
    fn nothing_runs_where_daemons_are_refused() {
        let stack = stack(r#"{"type":"image","image":"x"}"#, false);
        for platform in [Platform::Aws, Platform::Gcp, Platform::Azure] {
            assert!(
                prepare(&stack, platform, &EmulateConfig::default())
                    .unwrap()
                    .is_none()
            );
        }
    }
}
