//! Snapshots of `alien emulate`'s state (issue 14 item 5): `<state-dir>/snapshots/<name>/`
//! holds a copy of the state file taken with SQLite's online backup API
//! (<https://www.sqlite.org/backup.html>) and a copy of the data directories (bucket
//! directories, KV and vault directories, command payloads), both taken at one commit point
//! of the store's writer ([`save`]), so the copy holds every answered change up to that point
//! and no part of a later group. A snapshot is written into a temporary directory, fsynced
//! (files and directories) and renamed into place before anyone is answered.
//!
//! A snapshot becomes a state directory again by [`fork`] (a new directory) or [`restore`]
//! (the same one, while no emulator runs on it). Either way the emulator that starts on it
//! resumes at the snapshot's virtual instant: restoring is a deliberate jump of virtual time
//! the user asked for, and from there the clock only moves forward again (restarts included).

mod copy;
mod materialize;
mod take;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::EngineHandle;
use super::buckets::BucketDirs;

pub use materialize::{fork, restore};

/// Where a state directory keeps its snapshots.
pub const SNAPSHOTS_DIR: &str = "snapshots";
/// The description of a snapshot, inside its directory.
pub const MANIFEST: &str = "snapshot.json";
/// The directories of a state directory a snapshot holds beside the state file (see
/// `emulate::bindings::resource_dir` and the commands API's payload directory).
pub const DATA_DIRS: &[&str] = &["storage", "kv", "vault", "commands"];
/// The state file, as `alien emulate` names it.
pub use crate::emulate::run::STATE_FILE;

/// Longest snapshot name.
const MAX_NAME: usize = 64;

/// What a snapshot holds, read back from the copy itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotInfo {
    pub name: String,
    /// Unique to this take (a `--force` save under the same name gets a new one).
    pub id: String,
    /// Wall-clock instant the snapshot was taken.
    pub taken_at: DateTime<Utc>,
    /// The engine's virtual instant the snapshot holds (None: nothing was saved yet).
    pub clock_now: Option<DateTime<Utc>>,
    /// Messages held, per queue (every subscription's copy counts).
    pub queues: BTreeMap<String, u64>,
    pub messages: u64,
    pub dead_letters: u64,
    /// Objects the engine records, and the bytes of the object files copied.
    pub objects: u64,
    pub object_bytes: u64,
    /// Files in the snapshot and their bytes: the state file and the data directories' files
    /// (the manifest aside).
    pub files: u64,
    pub bytes: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error(
        "invalid snapshot name {name:?}: {reason} (use up to {MAX_NAME} letters, digits, '.', '_' or '-', starting with a letter or digit)"
    )]
    InvalidName { name: String, reason: &'static str },
    #[error("snapshot '{0}' already exists (save with --force to replace it)")]
    Exists(String),
    #[error("no snapshot '{name}' in {dir}")]
    NotFound { name: String, dir: String },
    #[error("{0} exists and is not an empty directory: fork into a new or empty directory")]
    TargetNotEmpty(String),
    #[error("snapshot '{0}' was replaced while it was being copied; try again")]
    Replaced(String),
    #[error("snapshots need a state directory (alien emulate keeps one)")]
    NoStateDir,
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Sqlite {
        path: String,
        source: rusqlite::Error,
    },
    #[error("{path}: {detail}")]
    Manifest { path: String, detail: String },
    #[error("the state writer has stopped")]
    Stopped,
}

/// An [`SnapshotError::Io`] about `path`.
fn io_at(path: &Path) -> impl FnOnce(std::io::Error) -> SnapshotError + '_ {
    move |source| SnapshotError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// An [`SnapshotError::Sqlite`] about `path`.
fn sqlite_at(path: &Path) -> impl FnOnce(rusqlite::Error) -> SnapshotError + '_ {
    move |source| SnapshotError::Sqlite {
        path: path.display().to_string(),
        source,
    }
}

/// Refuses a name that is not a plain directory name of [`MAX_NAME`] characters at most.
pub fn validate_name(name: &str) -> Result<(), SnapshotError> {
    let invalid = |reason| {
        Err(SnapshotError::InvalidName {
            name: name.to_string(),
            reason,
        })
    };
    if name.is_empty() {
        return invalid("it is empty");
    }
    if name.len() > MAX_NAME {
        return invalid("it is too long");
    }
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return invalid("it must start with a letter or digit");
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        return invalid("it holds a character other than letters, digits, '.', '_' and '-'");
    }
    Ok(())
}

/// The directory of snapshot `name` of `state_dir`.
pub fn dir_of(state_dir: &Path, name: &str) -> PathBuf {
    state_dir.join(SNAPSHOTS_DIR).join(name)
}

/// The manifest of the snapshot in `dir`.
pub fn read_manifest(dir: &Path) -> Result<SnapshotInfo, SnapshotError> {
    let path = dir.join(MANIFEST);
    let text = std::fs::read_to_string(&path).map_err(io_at(&path))?;
    serde_json::from_str(&text).map_err(|e| SnapshotError::Manifest {
        path: path.display().to_string(),
        detail: e.to_string(),
    })
}

/// The manifest of snapshot `name`, or [`SnapshotError::NotFound`].
fn existing(state_dir: &Path, name: &str) -> Result<(PathBuf, SnapshotInfo), SnapshotError> {
    validate_name(name)?;
    let dir = dir_of(state_dir, name);
    if !dir.join(MANIFEST).is_file() {
        return Err(SnapshotError::NotFound {
            name: name.to_string(),
            dir: state_dir.join(SNAPSHOTS_DIR).display().to_string(),
        });
    }
    let info = read_manifest(&dir)?;
    Ok((dir, info))
}

/// Every snapshot of `state_dir`, oldest first (blocking).
pub fn list(state_dir: &Path) -> Result<Vec<SnapshotInfo>, SnapshotError> {
    let root = state_dir.join(SNAPSHOTS_DIR);
    let entries = match std::fs::read_dir(&root) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_at(&root)(e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io_at(&root))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        // Temporary and replaced directories start with '.', which no name does.
        if validate_name(&name).is_ok() && entry.path().join(MANIFEST).is_file() {
            out.push(read_manifest(&entry.path())?);
        }
    }
    out.sort_by(|a, b| (a.taken_at, &a.name).cmp(&(b.taken_at, &b.name)));
    Ok(out)
}

/// Takes snapshot `name` of `engine`'s state at the store's next commit point, with the
/// engine's current instant written first; changes put through `buckets` are held back
/// meanwhile, so the bucket directories match the state file. Resolves once the snapshot is
/// on disk and in place.
pub async fn save(
    engine: &EngineHandle,
    buckets: Option<Arc<BucketDirs>>,
    name: &str,
    force: bool,
) -> Result<SnapshotInfo, SnapshotError> {
    validate_name(name)?;
    let store = engine.store().ok_or(SnapshotError::NoStateDir)?.clone();
    let (engine, name) = (engine.clone(), name.to_string());
    tokio::task::spawn_blocking(move || {
        // A control-API put or delete changes its file and hands its rows over under this
        // guard: none is half done while the copy is taken.
        let _writing = buckets.as_ref().map(|b| b.writing());
        // The clock row says the engine's instant now (it is written only with changes).
        let (_, clock) = engine.apply_deferred(|_| (), true);
        drop(clock);
        let (tx, rx) = std::sync::mpsc::channel();
        let state_dir = store.state_dir().to_path_buf();
        let queued = store.at_commit_point(move |conn| {
            let _ = tx.send(take::take(conn, &state_dir, &name, force));
        });
        if !queued {
            return Err(SnapshotError::Stopped);
        }
        rx.recv().map_err(|_| SnapshotError::Stopped)?
    })
    .await
    .map_err(|e| SnapshotError::Io {
        path: "snapshot task".into(),
        source: std::io::Error::other(e.to_string()),
    })?
}

#[cfg(test)]
mod tests;
