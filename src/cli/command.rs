//! `alien command <RESOURCE> <NAME> [--params JSON] [--deadline D] [--wait D]`: invokes a
//! command (arc.v1) on a command-enabled worker or daemon of a running `alien emulate` and
//! prints its response, or its error code (upstream-runtime-and-bindings.md §5).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use alien_emulator::emulate::commands_api::{CommandsClient, base64};
use alien_emulator::emulate::control::ControlClient;
use anyhow::Context;
use clap::Args;
use serde_json::Value;

use super::emulate::CONTROL_URL_FILE;
use super::{EXIT_FAILED, emit, unusable};

#[derive(Debug, Args)]
pub struct CommandArgs {
    /// The command-enabled worker or daemon.
    resource: String,
    /// The command's name (what the app's handler is registered under).
    name: String,
    /// JSON parameters.
    #[arg(long, default_value = "{}")]
    params: String,
    /// Deadline, counted on the emulator's clock (e.g. `30s`); past it the command expires.
    #[arg(long)]
    deadline: Option<String>,
    /// How long (real time) to wait for a final state.
    #[arg(long, default_value = "120s")]
    wait: String,
    /// Control API URL of the running emulator.
    #[arg(long, env = "ALIEN_EMULATOR_URL")]
    url: Option<String>,
    /// State directory of the running emulator (to find its control URL).
    #[arg(long, default_value = ".alien-emulator")]
    state_dir: PathBuf,
}

/// How often the status is polled.
const POLL: Duration = Duration::from_millis(100);

pub fn run(args: CommandArgs) -> anyhow::Result<ExitCode> {
    let params: Value = match serde_json::from_str(&args.params) {
        Ok(v) => v,
        Err(e) => return Ok(unusable(format!("--params: not JSON: {e}"))),
    };
    let parse = alien_emulator::engine::duration_serde::parse_duration;
    let deadline = match args.deadline.as_deref().map(parse).transpose() {
        Ok(d) => d,
        Err(e) => return Ok(unusable(format!("--deadline: {e}"))),
    };
    let wait = match parse(&args.wait) {
        Ok(d) => d,
        Err(e) => return Ok(unusable(format!("--wait: {e}"))),
    };
    let url = match args.url {
        Some(url) => url,
        None => {
            let file = args.state_dir.join(CONTROL_URL_FILE);
            std::fs::read_to_string(&file)
                .with_context(|| {
                    format!(
                        "no running emulator found: pass --url or start `alien emulate` (looked for {})",
                        file.display()
                    )
                })?
                .trim()
                .to_string()
        }
    };
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let status = ControlClient::new(url.clone()).status().await?;
        let deployment = status["stack"].as_str().unwrap_or_default().to_string();
        let client = CommandsClient::new(url, deployment);
        let id = client
            .create(&args.resource, &args.name, &params, deadline)
            .await?;
        eprintln!("command {id} created for '{}'", args.resource);
        let started = Instant::now();
        loop {
            let status = client.status(&id).await?;
            let state = status["state"].as_str().unwrap_or_default();
            let attempt = status["attempt"].as_u64().unwrap_or_default();
            match state {
                "SUCCEEDED" => {
                    let body = &status["response"]["response"];
                    let bytes = body["inlineBase64"]
                        .as_str()
                        .map(base64::decode)
                        .transpose()
                        .context("the response is not valid base64")?
                        .unwrap_or_default();
                    let text = match serde_json::from_slice::<Value>(&bytes) {
                        Ok(json) => serde_json::to_string_pretty(&json)?,
                        Err(_) => String::from_utf8_lossy(&bytes).into_owned(),
                    };
                    eprintln!("{state} (attempt {attempt})");
                    emit(&format!("{text}\n"));
                    return Ok(ExitCode::SUCCESS);
                }
                "FAILED" | "EXPIRED" => {
                    let response = &status["response"];
                    let code = response["code"]
                        .as_str()
                        .unwrap_or(if state == "EXPIRED" {
                            "COMMAND_EXPIRED"
                        } else {
                            "UNKNOWN"
                        });
                    let message = response["message"].as_str().unwrap_or("deadline passed");
                    eprintln!("{state} (attempt {attempt})");
                    emit(&format!("error {code}: {message}\n"));
                    return Ok(ExitCode::from(EXIT_FAILED));
                }
                _ if started.elapsed() > wait => {
                    eprintln!(
                        "still {state} (attempt {attempt}) after {:?}; `alien command` stops waiting (the command goes on)",
                        wait
                    );
                    return Ok(ExitCode::from(EXIT_FAILED));
                }
                _ => tokio::time::sleep(POLL).await,
            }
        }
    })
}
