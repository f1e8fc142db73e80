//! The state file's formats. A file says which one it is in `meta.format`
//! (`alien-emulator.state.v<N>`); this build writes [`CURRENT`] and migrates older ones.
//!
//! - v1 (up to issue 9): each subscription's whole message list as one JSON row, rewritten
//!   with every table on every save.
//! - v2: one row per entity (message, dead letter, object, KV entry, KV store version, cron
//!   trigger, command, trace event, child process), written as they change.

use rusqlite::{Connection, OptionalExtension};

/// The format this build writes.
pub const CURRENT: u32 = 2;

const PREFIX: &str = "alien-emulator.state.v";

/// `meta.format` for version `n`.
pub fn format_name(n: u32) -> String {
    format!("{PREFIX}{n}")
}

/// What an existing file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Format {
    /// No tables yet (a new file).
    Empty,
    /// An alien-emulator state file of this version.
    Version(u32),
    /// A database that is not an alien-emulator state file (its `meta.format`, if any).
    Foreign(Option<String>),
}

/// Reads the format without writing anything (a file this build cannot use stays as it is).
pub fn detect(conn: &Connection) -> rusqlite::Result<Format> {
    let tables: i64 = conn.query_row("SELECT COUNT(*) FROM sqlite_master", [], |r| r.get(0))?;
    if tables == 0 {
        return Ok(Format::Empty);
    }
    let has_meta: bool = conn.query_row(
        "SELECT COUNT(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
        [],
        |r| r.get(0),
    )?;
    if !has_meta {
        return Ok(Format::Foreign(None));
    }
    let format: Option<String> = conn
        .query_row("SELECT value FROM meta WHERE key = 'format'", [], |r| {
            r.get(0)
        })
        .optional()?;
    Ok(match format {
        None => Format::Foreign(None),
        Some(name) => match name.strip_prefix(PREFIX).and_then(|n| n.parse().ok()) {
            Some(n) => Format::Version(n),
            None => Format::Foreign(Some(name)),
        },
    })
}

/// Creates the current format's tables (in the caller's transaction).
pub fn create(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
         CREATE TABLE messages(queue TEXT NOT NULL, subscription TEXT NOT NULL, seq INTEGER NOT NULL,
             json TEXT NOT NULL, PRIMARY KEY(queue, subscription, seq)) WITHOUT ROWID;
         CREATE TABLE dead_letters(queue TEXT NOT NULL, pos INTEGER NOT NULL, json TEXT NOT NULL,
             PRIMARY KEY(queue, pos)) WITHOUT ROWID;
         CREATE TABLE objects(bucket TEXT NOT NULL, key TEXT NOT NULL, json TEXT NOT NULL,
             PRIMARY KEY(bucket, key)) WITHOUT ROWID;
         CREATE TABLE kv(store TEXT NOT NULL, key TEXT NOT NULL, json TEXT NOT NULL,
             PRIMARY KEY(store, key)) WITHOUT ROWID;
         CREATE TABLE kv_stores(store TEXT PRIMARY KEY, next_version INTEGER NOT NULL);
         CREATE TABLE crons(pos INTEGER PRIMARY KEY, json TEXT NOT NULL);
         CREATE TABLE commands(pos INTEGER PRIMARY KEY, json TEXT NOT NULL);
         CREATE TABLE trace(seq INTEGER PRIMARY KEY, json TEXT NOT NULL);
         CREATE TABLE processes(pid INTEGER PRIMARY KEY, start_ticks INTEGER NOT NULL,
             resource TEXT NOT NULL);",
    )?;
    conn.execute(
        "INSERT OR REPLACE INTO meta(key, value) VALUES ('format', ?1)",
        [format_name(CURRENT)],
    )?;
    Ok(())
}
