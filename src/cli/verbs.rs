//! CLI verbs on a running emulator's control API: send, peek, dead-letters, put, get,
//! delete, fire-cron, advance, trace. The URL comes from `--url`, `ALIEN_EMULATOR_URL`, or
//! the `control.url` file a running `alien emulate` writes into its state directory.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use alien_emulator::emulate::control::ControlClient;
use alien_providers::Payload;
use anyhow::{Context, bail};
use clap::{Args, Subcommand};

use super::emit;
use super::emulate::CONTROL_URL_FILE;

#[derive(Debug, Args)]
pub struct VerbArgs {
    /// Control API URL of the running emulator.
    #[arg(long, global = true, env = "ALIEN_EMULATOR_URL")]
    url: Option<String>,
    /// State directory of the running emulator (to find its control URL).
    #[arg(long, global = true, default_value = ".alien-emulator")]
    state_dir: PathBuf,
    #[command(subcommand)]
    verb: Verb,
}

#[derive(Debug, Subcommand)]
enum Verb {
    /// Send a message to a queue (JSON if it parses, else text).
    Send { queue: String, message: String },
    /// Show a queue's messages without consuming them.
    Peek { queue: String },
    /// List a queue's dead letters.
    DeadLetters { queue: String },
    /// Put a file (or `-` for stdin) as an object.
    Put {
        bucket: String,
        key: String,
        file: PathBuf,
    },
    /// Print an object's content.
    Get { bucket: String, key: String },
    /// Delete an object.
    Delete { bucket: String, key: String },
    /// Fire a worker's schedule trigger now.
    FireCron {
        worker: String,
        #[arg(default_value_t = 0)]
        index: usize,
    },
    /// Move the emulator's clock forward (`30s`, `1h`, `2d`): leases expire, cron fires.
    Advance { by: String },
    /// Print the trace; `--follow` keeps streaming.
    Trace {
        #[arg(long)]
        follow: bool,
    },
}

pub fn run(args: VerbArgs) -> anyhow::Result<ExitCode> {
    let url = match args.url {
        Some(url) => url,
        None => {
            let file = args.state_dir.join(CONTROL_URL_FILE);
            std::fs::read_to_string(&file)
                .with_context(|| format!("no running emulator found: pass --url or start `alien emulate` (looked for {})", file.display()))?
                .trim()
                .to_string()
        }
    };
    let client = ControlClient::new(url);
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        match args.verb {
            Verb::Send { queue, message } => {
                let payload = match serde_json::from_str(&message) {
                    Ok(json) => Payload::Json(json),
                    Err(_) => Payload::Text(message),
                };
                emit(&format!("{}\n", client.send(&queue, &payload).await?));
            }
            Verb::Peek { queue } => emit(&format!(
                "{}\n",
                serde_json::to_string_pretty(&client.peek(&queue).await?)?
            )),
            Verb::DeadLetters { queue } => emit(&format!(
                "{}\n",
                serde_json::to_string_pretty(&client.dead_letters(&queue).await?)?
            )),
            Verb::Put { bucket, key, file } => {
                let body = if file.as_os_str() == "-" {
                    let mut buf = Vec::new();
                    std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf)?;
                    buf
                } else {
                    std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?
                };
                emit(&format!(
                    "{}\n",
                    client
                        .put_object(&bucket, &key, body, "application/octet-stream")
                        .await?
                ));
            }
            Verb::Get { bucket, key } => match client.get_object(&bucket, &key).await? {
                Some(object) => std::io::Write::write_all(&mut std::io::stdout(), &object.body)?,
                None => bail!("no object '{key}' in '{bucket}'"),
            },
            Verb::Delete { bucket, key } => client.delete_object(&bucket, &key).await?,
            Verb::FireCron { worker, index } => client.fire_cron(&worker, index).await?,
            Verb::Advance { by } => emit(&format!("now {}\n", client.advance(&by).await?)),
            Verb::Trace { follow } => {
                let mut after = None;
                loop {
                    let wait = if follow {
                        Duration::from_secs(10)
                    } else {
                        Duration::ZERO
                    };
                    let lines = client.trace_after(after, wait).await?;
                    for line in &lines {
                        let detail: Vec<String> = line
                            .detail
                            .iter()
                            .map(|(k, v)| format!("{k}={v}"))
                            .collect();
                        emit(&format!(
                            "{} {:<24} {:<14} {} {}\n",
                            alien_emulator::engine::offset(line.t_ms),
                            line.kind,
                            line.resource,
                            line.subject.as_deref().unwrap_or(""),
                            detail.join(" ")
                        ));
                        after = Some(line.seq);
                    }
                    if !follow {
                        break;
                    }
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}
