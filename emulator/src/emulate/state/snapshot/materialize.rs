//! A snapshot made a state directory again: [`fork`] into a new directory, [`restore`] over
//! the state directory it was taken from. Both are offline file operations (no emulator may
//! run on the directory that changes; the CLI checks) and build the new state in a staging
//! directory first, fsynced, so a failure leaves the target as it was.
//!
//! Virtual time: the state file's clock row keeps the snapshot's instant and gets the
//! current wall-clock instant as the moment it was written, so the emulator that starts on
//! it resumes exactly at the snapshot's instant ([`crate::clock::resume_instant`] adds the
//! real time since that write): a deliberate jump the user asked for. Later restarts resume
//! from the restored clock row and go forward from there.

use std::fs;
use std::path::{Path, PathBuf};

use chrono::Utc;
use rusqlite::{Connection, params};

use super::copy;
use super::{DATA_DIRS, STATE_FILE, SnapshotError, SnapshotInfo, existing, io_at, sqlite_at};

/// Makes a new state directory `into` (absent or empty) from snapshot `name` of
/// `state_dir`; `alien emulate --state-dir <into>` then starts from the snapshot and
/// diverges from the original.
pub fn fork(state_dir: &Path, name: &str, into: &Path) -> Result<SnapshotInfo, SnapshotError> {
    let (snapshot, info) = existing(state_dir, name)?;
    let empty_target = into.is_dir();
    if into.exists() {
        let mut entries = fs::read_dir(into).map_err(|_| not_empty(into))?;
        if entries.next().is_some() {
            return Err(not_empty(into));
        }
    }
    let parent = match into.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&parent).map_err(io_at(&parent))?;
    let leaf = into.file_name().unwrap_or_default().to_string_lossy();
    let staging = parent.join(format!(".{leaf}.fork-{}", unique()));
    let built = build(&snapshot, &staging).and_then(|()| unchanged(&snapshot, &info));
    if let Err(err) = built {
        let _ = fs::remove_dir_all(&staging);
        return Err(err);
    }
    if empty_target {
        fs::remove_dir(into).map_err(io_at(into))?;
    }
    fs::rename(&staging, into).map_err(io_at(into))?;
    copy::sync(&parent)?;
    Ok(info)
}

/// Puts snapshot `name` of `state_dir` in place of its current state (state file and data
/// directories), while no emulator runs on it. The processes a crashed run left behind are
/// carried over, so the next start still reaps them. The replaced state is moved aside
/// (`.replaced-*`) and removed once the snapshot is in place.
pub fn restore(state_dir: &Path, name: &str) -> Result<SnapshotInfo, SnapshotError> {
    let (snapshot, info) = existing(state_dir, name)?;
    let stamp = unique();
    let staging = state_dir.join(format!(".restore-{name}-{stamp}"));
    let built = build(&snapshot, &staging)
        .and_then(|()| carry_processes(&state_dir.join(STATE_FILE), &staging.join(STATE_FILE)))
        .and_then(|()| unchanged(&snapshot, &info));
    if let Err(err) = built {
        let _ = fs::remove_dir_all(&staging);
        return Err(err);
    }
    let aside = state_dir.join(format!(".replaced-{stamp}"));
    fs::create_dir(&aside).map_err(io_at(&aside))?;
    // The WAL and its index go too: SQLite would replay an old WAL onto the new file.
    let wal = format!("{STATE_FILE}-wal");
    let shm = format!("{STATE_FILE}-shm");
    let current = [STATE_FILE, wal.as_str(), shm.as_str()]
        .into_iter()
        .chain(DATA_DIRS.iter().copied());
    for entry in current {
        let path = state_dir.join(entry);
        if path.exists() {
            fs::rename(&path, aside.join(entry)).map_err(io_at(&path))?;
        }
    }
    for entry in std::iter::once(STATE_FILE).chain(DATA_DIRS.iter().copied()) {
        let path = staging.join(entry);
        if path.exists() {
            fs::rename(&path, state_dir.join(entry)).map_err(io_at(&path))?;
        }
    }
    copy::sync(state_dir)?;
    let _ = fs::remove_dir_all(&aside);
    let _ = fs::remove_dir_all(&staging);
    Ok(info)
}

/// A state directory `dir` (created) from the snapshot in `snapshot`, fsynced, resuming at
/// the snapshot's instant.
fn build(snapshot: &Path, dir: &Path) -> Result<(), SnapshotError> {
    fs::create_dir(dir).map_err(io_at(dir))?;
    let db_path = dir.join(STATE_FILE);
    copy::file(&snapshot.join(STATE_FILE), &db_path)?;
    copy::trees(snapshot, dir, DATA_DIRS)?;
    {
        let db = Connection::open(&db_path).map_err(sqlite_at(&db_path))?;
        copy::restamp(
            &db,
            &db_path,
            &snapshot.join("storage"),
            &dir.join("storage"),
        )?;
        db.execute(
            "UPDATE meta SET value = ?1 WHERE key = 'clock_wall'",
            [Utc::now().to_rfc3339()],
        )
        .map_err(sqlite_at(&db_path))?;
    }
    copy::sync(&db_path)?;
    copy::sync(dir)
}

/// Copies the child processes recorded in the state file `from` (if it is readable) into
/// the state file `to`.
fn carry_processes(from: &Path, to: &Path) -> Result<(), SnapshotError> {
    if !from.is_file() {
        return Ok(());
    }
    // A state file that cannot be read has nothing to carry (it is being replaced).
    let rows: Vec<(i64, i64, String)> = Connection::open(from)
        .and_then(|db| {
            let mut stmt = db.prepare("SELECT pid, start_ticks, resource FROM processes")?;
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect()
        })
        .unwrap_or_default();
    let db = Connection::open(to).map_err(sqlite_at(to))?;
    for (pid, ticks, resource) in rows {
        db.execute(
            "INSERT OR REPLACE INTO processes(pid, start_ticks, resource) VALUES (?1, ?2, ?3)",
            params![pid, ticks, resource],
        )
        .map_err(sqlite_at(to))?;
    }
    Ok(())
}

/// Fails when the snapshot in `dir` is no longer the one described by `info` (a save with
/// `--force` replaced it while it was copied).
fn unchanged(dir: &Path, info: &SnapshotInfo) -> Result<(), SnapshotError> {
    match super::read_manifest(dir) {
        Ok(now) if now.id == info.id => Ok(()),
        _ => Err(SnapshotError::Replaced(info.name.clone())),
    }
}

fn not_empty(dir: &Path) -> SnapshotError {
    SnapshotError::TargetNotEmpty(dir.display().to_string())
}

/// A suffix no other staging directory of this process has.
fn unique() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{}-{n}", std::process::id())
}
