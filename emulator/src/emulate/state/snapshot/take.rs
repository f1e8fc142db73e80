//! Taking a snapshot, on the store's writer thread at a commit point: the state file through
//! SQLite's online backup API, then the data directories, into a temporary directory that is
//! fsynced and renamed to the snapshot's name.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use rusqlite::{Connection, MAIN_DB, OptionalExtension};

use super::copy;
use super::{
    DATA_DIRS, MANIFEST, SNAPSHOTS_DIR, STATE_FILE, SnapshotError, SnapshotInfo, io_at, sqlite_at,
};

/// Writes snapshot `name` of the state file `conn` (the writer's connection, between two
/// commits) and the data directories of `state_dir`; an existing one is replaced only when
/// `force`. The snapshot is in place and durable when this returns.
pub fn take(
    conn: &Connection,
    state_dir: &Path,
    name: &str,
    force: bool,
) -> Result<SnapshotInfo, SnapshotError> {
    let root = state_dir.join(SNAPSHOTS_DIR);
    let target = root.join(name);
    if target.exists() && !force {
        return Err(SnapshotError::Exists(name.to_string()));
    }
    let fresh_root = !root.exists();
    fs::create_dir_all(&root).map_err(io_at(&root))?;
    let taken_at = Utc::now();
    let id = format!(
        "{}-{}",
        taken_at.timestamp_nanos_opt().unwrap_or(0),
        std::process::id()
    );
    let staging = root.join(format!(".tmp-{name}-{id}"));
    let written = write(conn, state_dir, &staging, name, &id, taken_at);
    let info = match written {
        Ok(info) => info,
        Err(err) => {
            let _ = fs::remove_dir_all(&staging);
            return Err(err);
        }
    };
    install(&staging, &target, &id)?;
    if fresh_root {
        copy::sync(state_dir)?;
    }
    Ok(info)
}

/// The whole snapshot in `staging`, its manifest last.
fn write(
    conn: &Connection,
    state_dir: &Path,
    staging: &Path,
    name: &str,
    id: &str,
    taken_at: DateTime<Utc>,
) -> Result<SnapshotInfo, SnapshotError> {
    fs::create_dir(staging).map_err(io_at(staging))?;
    let db_path = staging.join(STATE_FILE);
    conn.backup(MAIN_DB, &db_path, None::<fn(rusqlite::backup::Progress)>)
        .map_err(sqlite_at(&db_path))?;
    let copied = copy::trees(state_dir, staging, DATA_DIRS)?;
    let figures = {
        let db = Connection::open(&db_path).map_err(sqlite_at(&db_path))?;
        // One self-contained file; the processes of this run are not the copy's to reap.
        db.execute_batch("PRAGMA journal_mode=DELETE; DELETE FROM processes;")
            .map_err(sqlite_at(&db_path))?;
        copy::restamp(
            &db,
            &db_path,
            &state_dir.join("storage"),
            &staging.join("storage"),
        )?;
        Figures::read(&db).map_err(sqlite_at(&db_path))?
    };
    copy::sync(&db_path)?;
    let db_bytes = fs::metadata(&db_path).map_err(io_at(&db_path))?.len();
    let info = SnapshotInfo {
        name: name.to_string(),
        id: id.to_string(),
        taken_at,
        clock_now: figures.clock_now,
        queues: figures.queues,
        messages: figures.messages,
        dead_letters: figures.dead_letters,
        objects: figures.objects,
        object_bytes: bytes_under(&staging.join("storage")),
        files: copied.files + 1,
        bytes: copied.bytes + db_bytes,
    };
    let manifest = staging.join(MANIFEST);
    let text = serde_json::to_string_pretty(&info).map_err(|e| SnapshotError::Manifest {
        path: manifest.display().to_string(),
        detail: e.to_string(),
    })?;
    fs::write(&manifest, text).map_err(io_at(&manifest))?;
    copy::sync(&manifest)?;
    copy::sync(staging)?;
    Ok(info)
}

/// Renames `staging` to `target`, moving an older snapshot of the name aside first (and
/// removing it once the new one is in place).
fn install(staging: &Path, target: &Path, id: &str) -> Result<(), SnapshotError> {
    let root = target.parent().expect("a snapshot directory has a parent");
    let replaced: Option<PathBuf> = target.exists().then(|| {
        let name = target.file_name().unwrap_or_default().to_string_lossy();
        root.join(format!(".old-{name}-{id}"))
    });
    if let Some(old) = &replaced {
        fs::rename(target, old).map_err(io_at(target))?;
    }
    fs::rename(staging, target).map_err(io_at(target))?;
    copy::sync(root)?;
    if let Some(old) = replaced {
        let _ = fs::remove_dir_all(old);
    }
    Ok(())
}

/// The bytes of every file under `dir` (0 when it does not exist).
fn bytes_under(dir: &Path) -> u64 {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => bytes_under(&e.path()),
            Ok(t) if t.is_file() => e.metadata().map_or(0, |m| m.len()),
            _ => 0,
        })
        .sum()
}

/// What the copied state file holds, read back from it.
struct Figures {
    clock_now: Option<DateTime<Utc>>,
    queues: BTreeMap<String, u64>,
    messages: u64,
    dead_letters: u64,
    objects: u64,
}

impl Figures {
    fn read(db: &Connection) -> rusqlite::Result<Figures> {
        let count = |sql: &str| db.query_row(sql, [], |r| r.get::<_, i64>(0).map(|n| n as u64));
        let clock_now = db
            .query_row("SELECT value FROM meta WHERE key = 'clock_now'", [], |r| {
                r.get::<_, String>(0)
            })
            .optional()?
            .and_then(|t| t.parse().ok());
        let mut queues = BTreeMap::new();
        let mut stmt = db.prepare("SELECT queue, COUNT(*) FROM messages GROUP BY queue")?;
        for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))? {
            let (queue, n) = row?;
            queues.insert(queue, n as u64);
        }
        Ok(Figures {
            clock_now,
            messages: queues.values().sum(),
            queues,
            dead_letters: count("SELECT COUNT(*) FROM dead_letters")?,
            objects: count("SELECT COUNT(*) FROM objects")?,
        })
    }
}
