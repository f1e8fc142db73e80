//! CLI verbs on a running emulator's control API: status, send, peek, dead-letters, put,
//! get, delete, fire-cron, advance, trace, faults, inject, daemon, snapshot. The URL comes from `--url`, `ALIEN_EMULATOR_URL`, or
//! the `control.url` file a running `alien emulate` writes into its state directory.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use alien_emulator::emulate::control::{ControlClient, Status};
use alien_emulator::table::Look;
use alien_providers::Payload;
use anyhow::{Context, bail};
use clap::{Args, Subcommand};

use super::emulate::CONTROL_URL_FILE;
use super::{emit, progress};

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
    #[command(flatten)]
    Live(LiveVerb),
    /// Snapshots of the state: save, list, restore, fork.
    #[command(subcommand)]
    Snapshot(super::snapshot::SnapshotVerb),
}

#[derive(Debug, Subcommand)]
enum LiveVerb {
    /// Show the platform, the virtual now, and the workers, queues, schedule triggers and
    /// daemons (tables; `--json` prints `GET /status` as is).
    Status {
        #[arg(long)]
        json: bool,
    },
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
    /// On a terminal a bar on stderr shows the virtual time travelled so far.
    Advance { by: String },
    /// Print the trace; `--follow` keeps streaming.
    Trace {
        #[arg(long)]
        follow: bool,
    },
    /// Show or set the fault toggles: `--rate duplicate_delivery=0.2`, `--seed 7`,
    /// `--recycle on` (restart each worker process after every invocation).
    Faults {
        #[arg(long)]
        seed: Option<u64>,
        /// `on` or `off`.
        #[arg(long)]
        recycle: Option<String>,
        /// `kind=probability`, repeatable (kinds: duplicate_delivery, lost_ack,
        /// handler_crash, lease_expiry, cron_double_fire, cron_skip, cold_start_spike).
        #[arg(long = "rate")]
        rates: Vec<String>,
    },
    /// Arm a one-shot fault (`handler_crash`, `lost_ack`, …); daemon faults
    /// (`daemon_sigterm`, `daemon_crash`) need the daemon.
    Inject {
        fault: String,
        target: Option<String>,
    },
    /// Start or stop a daemon.
    Daemon { id: String, action: String },
}

/// The control URL: `url` when given, else the one `alien emulate` wrote into `state_dir`.
pub(super) fn control_url(url: Option<String>, state_dir: &Path) -> anyhow::Result<String> {
    match url {
        Some(url) => Ok(url),
        None => {
            let file = state_dir.join(CONTROL_URL_FILE);
            Ok(std::fs::read_to_string(&file)
                .with_context(|| format!("no running emulator found: pass --url or start `alien emulate` (looked for {})", file.display()))?
                .trim()
                .to_string())
        }
    }
}

pub fn run(args: VerbArgs) -> anyhow::Result<ExitCode> {
    let verb = match args.verb {
        Verb::Snapshot(verb) => return super::snapshot::run(verb, args.url, &args.state_dir),
        Verb::Live(verb) => verb,
    };
    let client = ControlClient::new(control_url(args.url, &args.state_dir)?);
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        match verb {
            LiveVerb::Status { json } => {
                let status = client.status().await?;
                if json {
                    emit(&format!("{}\n", serde_json::to_string_pretty(&status)?));
                } else {
                    let status: Status = serde_json::from_value(status)
                        .context("GET /status answered an unexpected document")?;
                    emit(&status.render_text(Look::for_stdout(false)));
                }
            }
            LiveVerb::Send { queue, message } => {
                let payload = match serde_json::from_str(&message) {
                    Ok(json) => Payload::Json(json),
                    Err(_) => Payload::Text(message),
                };
                emit(&format!("{}\n", client.send(&queue, &payload).await?));
            }
            LiveVerb::Peek { queue } => emit(&format!(
                "{}\n",
                serde_json::to_string_pretty(&client.peek(&queue).await?)?
            )),
            LiveVerb::DeadLetters { queue } => emit(&format!(
                "{}\n",
                serde_json::to_string_pretty(&client.dead_letters(&queue).await?)?
            )),
            LiveVerb::Put { bucket, key, file } => {
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
            LiveVerb::Get { bucket, key } => match client.get_object(&bucket, &key).await? {
                Some(object) => std::io::Write::write_all(&mut std::io::stdout(), &object.body)?,
                None => bail!("no object '{key}' in '{bucket}'"),
            },
            LiveVerb::Delete { bucket, key } => client.delete_object(&bucket, &key).await?,
            LiveVerb::FireCron { worker, index } => client.fire_cron(&worker, index).await?,
            LiveVerb::Advance { by } => {
                let draw = progress::stderr_is_terminal();
                let now = progress::advance(&client, &by, draw).await?;
                emit(&format!("now {now}\n"));
            }
            LiveVerb::Faults {
                seed,
                recycle,
                rates,
            } => {
                let mut body = serde_json::Map::new();
                if let Some(seed) = seed {
                    body.insert("seed".into(), seed.into());
                }
                if let Some(recycle) = recycle {
                    let on = match recycle.as_str() {
                        "on" | "true" => true,
                        "off" | "false" => false,
                        other => bail!("--recycle {other}: use on or off"),
                    };
                    body.insert("recycle".into(), on.into());
                }
                if !rates.is_empty() {
                    let mut map = serde_json::Map::new();
                    for rate in &rates {
                        let (kind, p) = rate
                            .split_once('=')
                            .with_context(|| format!("--rate {rate}: expected kind=probability"))?;
                        let p: f64 = p
                            .parse()
                            .with_context(|| format!("--rate {rate}: {p} is not a number"))?;
                        map.insert(kind.to_string(), p.into());
                    }
                    body.insert("rates".into(), map.into());
                }
                let reply = if body.is_empty() {
                    client.get_json("/faults").await?
                } else {
                    client.post_json("/faults", &body.into()).await?
                };
                emit(&format!("{}\n", serde_json::to_string_pretty(&reply)?));
            }
            LiveVerb::Inject { fault, target } => {
                let body = serde_json::json!({"fault": fault, "target": target});
                let reply = client.post_json("/faults/inject", &body).await?;
                emit(&format!("{reply}\n"));
            }
            LiveVerb::Daemon { id, action } => {
                let reply = client
                    .post_json(&format!("/daemons/{id}/{action}"), &serde_json::json!({}))
                    .await?;
                emit(&format!("{reply}\n"));
            }
            LiveVerb::Trace { follow } => {
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
