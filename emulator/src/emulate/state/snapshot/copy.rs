//! The file work snapshots share: durable copies of files and directory trees, and the
//! translation of the engine's file stamps from one copy of the bucket directories to another.

use std::fs::{self, File};
use std::path::Path;

use rusqlite::{Connection, params};

use super::{SnapshotError, io_at, sqlite_at};
use crate::emulate::state::buckets::stamp;
use crate::engine::is_staging_key;
use crate::engine::state_types::ObjectState;

/// Files and bytes copied.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Copied {
    pub files: u64,
    pub bytes: u64,
}

impl std::ops::AddAssign for Copied {
    fn add_assign(&mut self, other: Copied) {
        self.files += other.files;
        self.bytes += other.bytes;
    }
}

/// Copies the file `from` to `to` and fsyncs the copy; returns its length.
pub fn file(from: &Path, to: &Path) -> Result<u64, SnapshotError> {
    let bytes = fs::copy(from, to).map_err(io_at(from))?;
    sync(to)?;
    Ok(bytes)
}

/// Fsyncs the file or directory at `path` (a directory's entries are durable after a rename
/// or a create).
pub fn sync(path: &Path) -> Result<(), SnapshotError> {
    File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(io_at(path))
}

/// Copies the tree `from` into `to` (created), every file and directory fsynced. Staging
/// files of writes in progress (`<name>#<n>`) and symbolic links are left out.
pub fn tree(from: &Path, to: &Path) -> Result<Copied, SnapshotError> {
    fs::create_dir(to).map_err(io_at(to))?;
    let mut copied = Copied::default();
    for entry in fs::read_dir(from).map_err(io_at(from))? {
        let entry = entry.map_err(io_at(from))?;
        let (source, target) = (entry.path(), to.join(entry.file_name()));
        let kind = entry.file_type().map_err(io_at(&source))?;
        if kind.is_dir() {
            copied += tree(&source, &target)?;
        } else if kind.is_file() && !is_staging_key(&entry.file_name().to_string_lossy()) {
            copied.bytes += file(&source, &target)?;
            copied.files += 1;
        }
    }
    sync(to)?;
    Ok(copied)
}

/// Copies each of `dirs` that exists under `from` to the same name under `to`.
pub fn trees(from: &Path, to: &Path, dirs: &[&str]) -> Result<Copied, SnapshotError> {
    let mut copied = Copied::default();
    for dir in dirs {
        let source = from.join(dir);
        if source.is_dir() {
            copied += tree(&source, &to.join(dir))?;
        }
    }
    Ok(copied)
}

/// In the state file `db` (whose bucket directories were copied from `from` to `to`), each
/// object whose recorded stamp is that of its file under `from` gets the stamp of the copy:
/// a watcher on `to` then knows the copies as the files it recorded (a copy has a new inode
/// and time), while a file the engine had not recorded yet still looks new to it.
pub fn restamp(
    db: &Connection,
    db_path: &Path,
    from: &Path,
    to: &Path,
) -> Result<(), SnapshotError> {
    let sqlite = |e| sqlite_at(db_path)(e);
    let rows: Vec<(String, String, String)> = {
        let mut stmt = db
            .prepare("SELECT bucket, key, json FROM objects")
            .map_err(sqlite)?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(sqlite)?
            .collect::<Result<_, _>>()
            .map_err(sqlite)?
    };
    for (bucket, key, json) in rows {
        let Ok(mut object) = serde_json::from_str::<ObjectState>(&json) else {
            continue;
        };
        let file_stamp = |root: &Path| {
            let path = key.split('/').fold(root.join(&bucket), |p, s| p.join(s));
            fs::metadata(path).ok().map(|m| stamp(&m))
        };
        if object.file_stamp.is_none() || object.file_stamp != file_stamp(from) {
            continue;
        }
        object.file_stamp = file_stamp(to);
        let json = serde_json::to_string(&object).map_err(|e| SnapshotError::Manifest {
            path: db_path.display().to_string(),
            detail: e.to_string(),
        })?;
        db.execute(
            "UPDATE objects SET json = ?1 WHERE bucket = ?2 AND key = ?3",
            params![json, bucket, key],
        )
        .map_err(sqlite)?;
    }
    Ok(())
}
