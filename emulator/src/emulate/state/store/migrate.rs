//! v1 → v2, in one transaction: a crash half-way leaves the v1 file as it was. A copy of the
//! v1 file is kept next to it first (`VACUUM INTO`, which reads through the WAL, so changes a
//! `kill -9` left there are in the copy too).

use std::collections::BTreeMap;
use std::path::Path;

use rusqlite::{Connection, params};

use super::schema::{self, CURRENT};
use crate::engine::state_types::{KvState, ObjectState, SubscriptionState};

/// Where the v1 file's copy goes: `state.v1.sqlite` next to `state.sqlite`.
pub fn backup_path(path: &Path) -> std::path::PathBuf {
    path.with_extension("v1.sqlite")
}

/// Rewrites a v1 file in the v2 layout.
pub fn v1_to_v2(conn: &mut Connection, path: &Path) -> rusqlite::Result<()> {
    let backup = backup_path(path);
    if !backup.exists() {
        conn.execute("VACUUM INTO ?1", [backup.to_string_lossy()])?;
    }
    let tx = conn.transaction()?;
    // dead_letters(queue, pos, json), crons(pos, json) and trace(seq, json) keep their shape.
    tx.execute_batch(
        "ALTER TABLE messages RENAME TO v1_messages;
         ALTER TABLE objects RENAME TO v1_objects;
         ALTER TABLE kv RENAME TO v1_kv;
         ALTER TABLE dead_letters RENAME TO v1_dead_letters;
         ALTER TABLE crons RENAME TO v1_crons;
         ALTER TABLE trace RENAME TO v1_trace;",
    )?;
    schema::create(&tx)?;
    copy_messages(&tx)?;
    copy_objects(&tx)?;
    copy_kv(&tx)?;
    tx.execute_batch(
        "INSERT INTO dead_letters(queue, pos, json) SELECT queue, pos, json FROM v1_dead_letters;
         INSERT INTO crons(pos, json) SELECT pos, json FROM v1_crons;
         INSERT INTO trace(seq, json) SELECT seq, json FROM v1_trace;
         DROP TABLE v1_messages; DROP TABLE v1_objects; DROP TABLE v1_kv;
         DROP TABLE v1_dead_letters; DROP TABLE v1_crons; DROP TABLE v1_trace;",
    )?;
    // v1 kept the engine's instant as `saved_at`; it wrote real time, so that is also the
    // wall-clock instant of the save.
    tx.execute_batch(
        "INSERT OR REPLACE INTO meta(key, value)
             SELECT 'clock_now', value FROM meta WHERE key = 'saved_at';
         INSERT OR REPLACE INTO meta(key, value)
             SELECT 'clock_wall', value FROM meta WHERE key = 'saved_at';
         DELETE FROM meta WHERE key = 'saved_at';",
    )?;
    tx.execute(
        "INSERT OR REPLACE INTO meta(key, value) VALUES ('format', ?1)",
        [schema::format_name(CURRENT)],
    )?;
    tx.commit()
}

fn bad_row(e: serde_json::Error) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
}

fn json<T: serde::Serialize>(value: &T) -> rusqlite::Result<String> {
    serde_json::to_string(value).map_err(bad_row)
}

/// One v1 row per subscription (its whole message list) → one v2 row per message.
fn copy_messages(tx: &Connection) -> rusqlite::Result<()> {
    let mut read = tx.prepare("SELECT queue, json FROM v1_messages ORDER BY queue, pos")?;
    let mut write =
        tx.prepare("INSERT INTO messages(queue, subscription, seq, json) VALUES (?1, ?2, ?3, ?4)")?;
    let rows = read.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    for row in rows {
        let (queue, text) = row?;
        let sub: SubscriptionState = serde_json::from_str(&text).map_err(bad_row)?;
        for m in &sub.messages {
            write.execute(params![queue, sub.name, m.seq as i64, json(m)?])?;
        }
    }
    Ok(())
}

/// v1 objects had columns (size, content type) only: no ETag or file stamp was kept.
fn copy_objects(tx: &Connection) -> rusqlite::Result<()> {
    let mut read = tx.prepare("SELECT bucket, key, size, content_type FROM v1_objects")?;
    let mut write = tx.prepare("INSERT INTO objects(bucket, key, json) VALUES (?1, ?2, ?3)")?;
    let rows = read.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, String>(3)?,
        ))
    })?;
    for row in rows {
        let (bucket, key, size, content_type) = row?;
        let object = ObjectState {
            key: key.clone(),
            size: size as u64,
            content_type,
            etag: String::new(),
            last_modified: None,
            file_stamp: None,
        };
        write.execute(params![bucket, key, json(&object)?])?;
    }
    Ok(())
}

/// One v1 row per store (all its entries) → one v2 row per entry plus the store's version.
fn copy_kv(tx: &Connection) -> rusqlite::Result<()> {
    let mut read = tx.prepare("SELECT store, json FROM v1_kv")?;
    let mut entry = tx.prepare("INSERT INTO kv(store, key, json) VALUES (?1, ?2, ?3)")?;
    let mut version = tx.prepare("INSERT INTO kv_stores(store, next_version) VALUES (?1, ?2)")?;
    let rows = read.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    let mut stores: BTreeMap<String, KvState> = BTreeMap::new();
    for row in rows {
        let (store, text) = row?;
        stores.insert(store, serde_json::from_str(&text).map_err(bad_row)?);
    }
    for (store, state) in stores {
        version.execute(params![store, state.next_version as i64])?;
        for (key, row) in &state.rows {
            entry.execute(params![store, key, json(row)?])?;
        }
    }
    Ok(())
}
