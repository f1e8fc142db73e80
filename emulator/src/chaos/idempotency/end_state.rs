//! What a run leaves behind, read from its state directory once the emulator has stopped
//! (blocking file I/O: callers run it off the async runtime):
//!
//! - each KV store's entries, from the app's own `localkv.sqlite` (turso, format `localkv.v2`,
//!   published-3.3.49.md §5.2). The file is in the SQLite format with a write-ahead log the app
//!   does not checkpoint on exit, so the file and its `-wal` are copied into a scratch
//!   directory and read there with SQLite, which replays the log: the app's own files are never
//!   opened, so no SQLite `-shm` or checkpoint lands next to turso's `-tshm`. Values only:
//!   versions are fresh random tokens per write and TTLs run on the wall clock, so they differ
//!   between runs whatever the app does;
//! - each bucket's files under `<state>/storage/<bucket>/` (§5.1), by relative path, with
//!   their size and MD5 (object_store's `key#N` staging files are skipped);
//! - the messages the app sent, from the trace ([`super::trace_view`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::trace_view::SentMessages;
use crate::emulate::bindings::resource_dir;
use crate::engine::{etag_of, is_staging_key};
use crate::stack::{Resource, Stack};

/// The KV file of a `local-kv` binding's data directory (published-3.3.49.md §5.2).
pub const KV_FILE: &str = "localkv.sqlite";
/// The only store format this reader knows (the `meta` row `format`).
pub const KV_FORMAT: &str = "localkv.v2";

/// The end state of one run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EndState {
    /// KV store → key → value.
    pub kv: BTreeMap<String, BTreeMap<String, Vec<u8>>>,
    /// Bucket → object key → digest.
    pub objects: BTreeMap<String, BTreeMap<String, ObjectDigest>>,
    /// Queue → messages the app sent to it.
    pub sent: BTreeMap<String, SentMessages>,
}

/// An object's size and MD5 (hex), enough to tell two contents apart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectDigest {
    pub size: u64,
    pub md5: String,
}

impl ObjectDigest {
    pub fn of(body: &[u8]) -> ObjectDigest {
        ObjectDigest {
            size: body.len() as u64,
            md5: etag_of(body).trim_matches('"').to_string(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EndStateError {
    #[error("reading {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("reading KV '{store}' ({}): {message}", path.display())]
    Kv {
        store: String,
        path: PathBuf,
        message: String,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> EndStateError + '_ {
    move |source| EndStateError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The KV stores and buckets of `stack` in `state_dir`; KV files are copied under `scratch`.
pub fn read_resources(
    stack: &Stack,
    state_dir: &Path,
    scratch: &Path,
) -> Result<EndState, EndStateError> {
    let mut state = EndState::default();
    for (id, entry) in &stack.resources {
        match entry.config {
            Resource::Kv(_) => {
                let dir = resource_dir(state_dir, "kv", id);
                let copy = scratch.join(id);
                state.kv.insert(id.clone(), read_kv(id, &dir, &copy)?);
            }
            Resource::Storage(_) => {
                let dir = resource_dir(state_dir, "storage", id);
                state.objects.insert(id.clone(), read_bucket(&dir)?);
            }
            _ => {}
        }
    }
    Ok(state)
}

/// Every entry of the store in `data_dir` (none when the app never opened it), read from a
/// copy made in `copy_dir`.
pub fn read_kv(
    store: &str,
    data_dir: &Path,
    copy_dir: &Path,
) -> Result<BTreeMap<String, Vec<u8>>, EndStateError> {
    let file = data_dir.join(KV_FILE);
    if !file.is_file() {
        return Ok(BTreeMap::new());
    }
    std::fs::create_dir_all(copy_dir).map_err(io(copy_dir))?;
    let copy = copy_dir.join(KV_FILE);
    std::fs::copy(&file, &copy).map_err(io(&file))?;
    let wal = data_dir.join(format!("{KV_FILE}-wal"));
    if wal.is_file() {
        std::fs::copy(&wal, copy_dir.join(format!("{KV_FILE}-wal"))).map_err(io(&wal))?;
    }
    let fail = |message: String| EndStateError::Kv {
        store: store.to_string(),
        path: file.clone(),
        message,
    };
    let db = rusqlite::Connection::open(&copy).map_err(|e| fail(e.to_string()))?;
    let format: String = db
        .query_row("SELECT value FROM meta WHERE key = 'format'", [], |row| {
            row.get(0)
        })
        .map_err(|e| fail(format!("no format marker: {e}")))?;
    if format != KV_FORMAT {
        return Err(fail(format!(
            "unsupported store format '{format}' (this reader knows '{KV_FORMAT}')"
        )));
    }
    let mut query = db
        .prepare("SELECT key, value FROM kv ORDER BY key")
        .map_err(|e| fail(e.to_string()))?;
    let rows = query
        .query_map([], |row| {
            let value = match row.get_ref(1)? {
                rusqlite::types::ValueRef::Blob(b) | rusqlite::types::ValueRef::Text(b) => {
                    b.to_vec()
                }
                _ => Vec::new(),
            };
            Ok((row.get::<_, String>(0)?, value))
        })
        .map_err(|e| fail(e.to_string()))?;
    rows.collect::<Result<_, _>>()
        .map_err(|e| fail(e.to_string()))
}

/// Every object file under `dir`, by its key (the path relative to `dir`, `/`-separated).
pub fn read_bucket(dir: &Path) -> Result<BTreeMap<String, ObjectDigest>, EndStateError> {
    let mut objects = BTreeMap::new();
    if dir.is_dir() {
        walk(dir, "", &mut objects)?;
    }
    Ok(objects)
}

fn walk(
    dir: &Path,
    prefix: &str,
    objects: &mut BTreeMap<String, ObjectDigest>,
) -> Result<(), EndStateError> {
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let key = format!("{prefix}{name}");
        let kind = entry.file_type().map_err(io(&path))?;
        if kind.is_dir() {
            walk(&path, &format!("{key}/"), objects)?;
        } else if kind.is_file() && !is_staging_key(&name) {
            let body = std::fs::read(&path).map_err(io(&path))?;
            objects.insert(key, ObjectDigest::of(&body));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store in the `localkv.v2` schema (published-3.3.49.md §5.2), left in WAL mode with
    /// its last writes still in the log, as the app leaves it.
    fn write_store(dir: &Path, format: &str, rows: &[(&str, &[u8])]) -> rusqlite::Connection {
        std::fs::create_dir_all(dir).unwrap();
        let db = rusqlite::Connection::open(dir.join(KV_FILE)).unwrap();
        db.pragma_update(None, "journal_mode", "WAL").unwrap();
        db.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
        db.execute_batch(
            "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);
             CREATE TABLE kv(key TEXT PRIMARY KEY, value BLOB, expires_at INTEGER, version TEXT);",
        )
        .unwrap();
        db.execute("INSERT INTO meta VALUES ('format', ?1)", [format])
            .unwrap();
        for (key, value) in rows {
            db.execute(
                "INSERT INTO kv VALUES (?1, ?2, NULL, 'v')",
                rusqlite::params![key, value],
            )
            .unwrap();
        }
        db
    }

    #[test]
    fn kv_entries_are_read_from_a_copy_including_the_log() {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("kv/cache");
        // Kept open so nothing is checkpointed: the rows live only in the -wal file.
        let _app = write_store(&data, KV_FORMAT, &[("count", b"10"), ("seen-1", b"done")]);
        assert!(data.join(format!("{KV_FILE}-wal")).is_file());
        let before: Vec<_> = std::fs::read_dir(&data).unwrap().collect();
        let entries = read_kv("cache", &data, &tmp.path().join("copy")).unwrap();
        assert_eq!(
            entries,
            BTreeMap::from([
                ("count".to_string(), b"10".to_vec()),
                ("seen-1".to_string(), b"done".to_vec()),
            ])
        );
        let after: Vec<_> = std::fs::read_dir(&data).unwrap().collect();
        assert_eq!(
            before.len(),
            after.len(),
            "nothing added next to the app's files"
        );
    }

    #[test]
    fn a_store_never_opened_is_empty_and_another_format_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let none = read_kv("cache", &tmp.path().join("absent"), &tmp.path().join("c1"));
        assert_eq!(none.unwrap(), BTreeMap::new());
        let data = tmp.path().join("old");
        drop(write_store(&data, "localkv.v1", &[]));
        let err = read_kv("cache", &data, &tmp.path().join("c2")).unwrap_err();
        assert!(
            err.to_string()
                .contains("unsupported store format 'localkv.v1' (this reader knows 'localkv.v2')"),
            "{err}"
        );
    }

    #[test]
    fn bucket_files_by_relative_key_without_staging_files() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("out")).unwrap();
        std::fs::write(tmp.path().join("out/report.txt"), b"hello").unwrap();
        std::fs::write(tmp.path().join("out/report.txt#3"), b"half").unwrap();
        std::fs::write(tmp.path().join("a.bin"), b"").unwrap();
        let objects = read_bucket(tmp.path()).unwrap();
        assert_eq!(
            objects.keys().collect::<Vec<_>>(),
            ["a.bin", "out/report.txt"]
        );
        // `printf hello | md5sum`.
        assert_eq!(
            objects["out/report.txt"],
            ObjectDigest {
                size: 5,
                md5: "5d41402abc4b2a76b9719d911017c592".into()
            }
        );
    }
}
