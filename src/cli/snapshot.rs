//! `alien ctl snapshot save|list|restore|fork`: snapshots of an emulator's state
//! (`alien_emulator::emulate::state::snapshot`). `save` and `list` ask the running emulator;
//! `restore` and `fork` are file operations on the state directory (`--state-dir`), and
//! `restore` is refused while an emulator answers on it.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use alien_emulator::emulate::control::ControlClient;
use alien_emulator::emulate::state::snapshot::{self, SnapshotInfo};
use alien_emulator::table::Look;
use clap::Subcommand;

use super::emulate::CONTROL_URL_FILE;
use super::verbs::control_url;
use super::{emit, unusable};

/// How long `restore` waits for an emulator's answer before taking it as stopped.
const RUNNING_PROBE: Duration = Duration::from_secs(2);

#[derive(Debug, Subcommand)]
pub enum SnapshotVerb {
    /// Save the running emulator's state as snapshot NAME (state file and data directories,
    /// taken at one commit point), under <state-dir>/snapshots/NAME.
    Save {
        name: String,
        /// Replace an existing snapshot of that name.
        #[arg(long)]
        force: bool,
        #[arg(long)]
        json: bool,
    },
    /// List the snapshots of the running emulator's state directory.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Put snapshot NAME back in place of the state of --state-dir (stop the emulator first;
    /// it resumes at the snapshot's virtual instant when started again).
    Restore { name: String },
    /// Make a new state directory DIR (absent or empty) from snapshot NAME of --state-dir;
    /// `alien emulate --state-dir DIR` then starts from it.
    Fork {
        name: String,
        /// The new state directory (`--state-dir` names the one holding the snapshot).
        #[arg(long, value_name = "DIR")]
        into: PathBuf,
    },
}

pub fn run(verb: SnapshotVerb, url: Option<String>, state_dir: &Path) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Runtime::new()?;
    match verb {
        SnapshotVerb::Save { name, force, json } => {
            if let Err(err) = snapshot::validate_name(&name) {
                return Ok(unusable(err));
            }
            let client = ControlClient::new(control_url(url, state_dir)?);
            let info = runtime.block_on(client.save_snapshot(&name, force))?;
            if json {
                emit(&format!("{}\n", serde_json::to_string_pretty(&info)?));
            } else {
                emit(&format!(
                    "saved snapshot '{}': {}\n",
                    info.name,
                    figures(&info)
                ));
            }
        }
        SnapshotVerb::List { json } => {
            let client = ControlClient::new(control_url(url, state_dir)?);
            let listed = runtime.block_on(client.snapshots())?;
            if json {
                emit(&format!("{}\n", serde_json::to_string_pretty(&listed)?));
            } else {
                emit(&table(&listed));
            }
        }
        SnapshotVerb::Restore { name } => {
            if let Err(err) = snapshot::validate_name(&name) {
                return Ok(unusable(err));
            }
            if let Some(running) = runtime.block_on(answering(state_dir)) {
                return Ok(unusable(format!(
                    "an emulator is running on {} (its control API at {running} answers): stop it, then restore",
                    state_dir.display()
                )));
            }
            let info = match snapshot::restore(state_dir, &name) {
                Ok(info) => info,
                Err(err) => return Ok(unusable(err)),
            };
            emit(&format!(
                "restored snapshot '{}' into {}: {}\n{}\n",
                info.name,
                state_dir.display(),
                figures(&info),
                resumes(&info, state_dir)
            ));
        }
        SnapshotVerb::Fork { name, into } => {
            if let Err(err) = snapshot::validate_name(&name) {
                return Ok(unusable(err));
            }
            let info = match snapshot::fork(state_dir, &name, &into) {
                Ok(info) => info,
                Err(err) => return Ok(unusable(err)),
            };
            emit(&format!(
                "forked snapshot '{}' of {} into {}: {}\n{}\n",
                info.name,
                state_dir.display(),
                into.display(),
                figures(&info),
                resumes(&info, &into)
            ));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The control URL of an emulator that answers on `state_dir`, if one does.
async fn answering(state_dir: &Path) -> Option<String> {
    let url = tokio::fs::read_to_string(state_dir.join(CONTROL_URL_FILE))
        .await
        .ok()?;
    let url = url.trim().to_string();
    let client = ControlClient::new(url.clone());
    match tokio::time::timeout(RUNNING_PROBE, client.status()).await {
        Ok(Ok(_)) => Some(url),
        _ => None,
    }
}

/// What a snapshot holds, in one line.
fn figures(info: &SnapshotInfo) -> String {
    let instant = info
        .clock_now
        .map_or_else(|| "none yet".to_string(), |t| t.to_rfc3339());
    format!(
        "{} messages, {} dead letters, {} object(s) ({} bytes); {} files, {} bytes; virtual time {instant}; taken {}",
        info.messages,
        info.dead_letters,
        info.objects,
        info.object_bytes,
        info.files,
        info.bytes,
        info.taken_at.to_rfc3339()
    )
}

/// Where the emulator started on `dir` resumes (the snapshot's instant, by design).
fn resumes(info: &SnapshotInfo, dir: &Path) -> String {
    match info.clock_now {
        Some(t) => format!(
            "`alien emulate --state-dir {}` resumes at virtual time {} (the snapshot's instant: \
             a jump of virtual time you asked for; it moves forward again from there)",
            dir.display(),
            t.to_rfc3339()
        ),
        None => format!(
            "`alien emulate --state-dir {}` starts from it",
            dir.display()
        ),
    }
}

fn table(listed: &[SnapshotInfo]) -> String {
    let rows = listed.iter().map(|s| {
        [
            s.name.clone(),
            s.taken_at.to_rfc3339(),
            s.clock_now.map_or_else(|| "-".into(), |t| t.to_rfc3339()),
            s.messages.to_string(),
            s.objects.to_string(),
            s.bytes.to_string(),
        ]
    });
    alien_emulator::table::render(
        Look::for_stdout(false),
        &[
            "NAME",
            "TAKEN AT",
            "VIRTUAL TIME",
            "MESSAGES",
            "OBJECTS",
            "BYTES",
        ],
        rows,
    )
}
