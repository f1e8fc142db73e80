//! Writes one [`ChangeSet`] as rows: an upsert or delete per changed entity and an insert per
//! trace event, through cached prepared statements. Nothing is rewritten whole, so a write
//! costs the same at any queue depth.

use rusqlite::{Connection, params};

use crate::engine::{ChangeSet, ClockRow, Row};

fn bad_value(e: serde_json::Error) -> rusqlite::Error {
    rusqlite::Error::ToSqlConversionFailure(Box::new(e))
}

fn json<T: serde::Serialize>(value: &T) -> rusqlite::Result<String> {
    serde_json::to_string(value).map_err(bad_value)
}

/// Applies `changes` inside the caller's transaction.
pub fn apply(conn: &Connection, changes: &ChangeSet) -> rusqlite::Result<()> {
    messages(conn, changes)?;
    for d in &changes.dead_letters {
        conn.prepare_cached(
            "INSERT OR REPLACE INTO dead_letters(queue, pos, json) VALUES (?1, ?2, ?3)",
        )?
        .execute(params![d.queue, d.pos as i64, json(&d.dead_letter)?])?;
    }
    objects(conn, changes)?;
    kv(conn, changes)?;
    for (pos, cron) in &changes.crons {
        conn.prepare_cached("INSERT OR REPLACE INTO crons(pos, json) VALUES (?1, ?2)")?
            .execute(params![*pos as i64, json(cron)?])?;
    }
    for (pos, command) in &changes.commands {
        conn.prepare_cached("INSERT OR REPLACE INTO commands(pos, json) VALUES (?1, ?2)")?
            .execute(params![*pos as i64, json(command)?])?;
    }
    for event in &changes.trace {
        conn.prepare_cached("INSERT OR REPLACE INTO trace(seq, json) VALUES (?1, ?2)")?
            .execute(params![event.seq as i64, json(event)?])?;
    }
    Ok(())
}

fn messages(conn: &Connection, changes: &ChangeSet) -> rusqlite::Result<()> {
    for row in &changes.messages {
        match row {
            Row::Upsert(k, m) => conn
                .prepare_cached(
                    "INSERT OR REPLACE INTO messages(queue, subscription, seq, json)
                     VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute(params![k.queue, k.subscription, k.seq as i64, json(m)?])?,
            Row::Delete(k) => conn
                .prepare_cached(
                    "DELETE FROM messages WHERE queue = ?1 AND subscription = ?2 AND seq = ?3",
                )?
                .execute(params![k.queue, k.subscription, k.seq as i64])?,
        };
    }
    Ok(())
}

fn objects(conn: &Connection, changes: &ChangeSet) -> rusqlite::Result<()> {
    for row in &changes.objects {
        match row {
            Row::Upsert((bucket, key), o) => conn
                .prepare_cached(
                    "INSERT OR REPLACE INTO objects(bucket, key, json) VALUES (?1, ?2, ?3)",
                )?
                .execute(params![bucket, key, json(o)?])?,
            Row::Delete((bucket, key)) => conn
                .prepare_cached("DELETE FROM objects WHERE bucket = ?1 AND key = ?2")?
                .execute(params![bucket, key])?,
        };
    }
    Ok(())
}

fn kv(conn: &Connection, changes: &ChangeSet) -> rusqlite::Result<()> {
    for row in &changes.kv {
        match row {
            Row::Upsert((store, key), entry) => conn
                .prepare_cached("INSERT OR REPLACE INTO kv(store, key, json) VALUES (?1, ?2, ?3)")?
                .execute(params![store, key, json(entry)?])?,
            Row::Delete((store, key)) => conn
                .prepare_cached("DELETE FROM kv WHERE store = ?1 AND key = ?2")?
                .execute(params![store, key])?,
        };
    }
    for (store, version) in &changes.kv_versions {
        conn.prepare_cached(
            "INSERT OR REPLACE INTO kv_stores(store, next_version) VALUES (?1, ?2)",
        )?
        .execute(params![store, *version as i64])?;
    }
    Ok(())
}

/// The engine's clock, its id counter and the wall-clock instant of this write, with the time
/// scale that relates them (see [`crate::clock::resume_instant`]).
pub fn clock(
    conn: &Connection,
    clock: &ClockRow,
    wall: chrono::DateTime<chrono::Utc>,
    time_scale: f64,
) -> rusqlite::Result<()> {
    let rows = [
        ("clock_now", clock.now.to_rfc3339()),
        ("clock_wall", wall.to_rfc3339()),
        ("time_scale", time_scale.to_string()),
        ("counter", clock.counter.to_string()),
        ("trace_start", clock.trace_start.to_rfc3339()),
    ];
    for (key, value) in rows {
        conn.prepare_cached("INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)")?
            .execute(params![key, value])?;
    }
    Ok(())
}
