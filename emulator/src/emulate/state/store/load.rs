//! Reads a v2 file back into the engine's state: every entity, the newest trace events (the
//! rest stay on disk for readers that page), the clock and the processes of the last run.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension};

use crate::clock::SavedClock;
use crate::emulate::processes::ProcessRecord;
use crate::engine::state_types::{KvState, QueueState, SubscriptionState};
use crate::engine::{CommandRecord, SimState, TraceEvent};

/// What a file holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    pub state: SimState,
    pub clock: SavedClock,
    /// Children of the previous run that were alive when it last wrote.
    pub processes: Vec<ProcessRecord>,
}

/// A row that does not read back: which table and why.
#[derive(Debug)]
pub struct BadRow(pub String);

impl From<rusqlite::Error> for BadRow {
    fn from(e: rusqlite::Error) -> BadRow {
        BadRow(e.to_string())
    }
}

fn parse<T: serde::de::DeserializeOwned>(table: &str, text: &str) -> Result<T, BadRow> {
    serde_json::from_str(text).map_err(|e| BadRow(format!("table {table}: {e}")))
}

fn meta(conn: &Connection, key: &str) -> Result<Option<String>, BadRow> {
    Ok(conn
        .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()?)
}

fn time(key: &str, text: &str) -> Result<DateTime<Utc>, BadRow> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.to_utc())
        .map_err(|e| BadRow(format!("meta {key} '{text}': {e}")))
}

/// Rows of (key, json) from `sql`.
fn keyed(conn: &Connection, sql: &str) -> Result<Vec<(String, String, String)>, BadRow> {
    let mut stmt = conn.prepare(sql)?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The state, or None for a file nothing was written to yet.
pub fn load(conn: &Connection, trace_window: usize) -> Result<Option<Loaded>, BadRow> {
    let Some(now) = meta(conn, "clock_now")? else {
        return Ok(None);
    };
    let now = time("clock_now", &now)?;
    let wall = match meta(conn, "clock_wall")? {
        Some(w) => time("clock_wall", &w)?,
        None => now,
    };
    let time_scale = meta(conn, "time_scale")?
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    let trace_start = match meta(conn, "trace_start")? {
        Some(t) => time("trace_start", &t)?,
        None => now,
    };
    let counter = meta(conn, "counter")?
        .map(|c| {
            c.parse()
                .map_err(|e| BadRow(format!("meta counter '{c}': {e}")))
        })
        .transpose()?
        .unwrap_or(0);
    let (trace, trace_next_seq) = recent_trace(conn, trace_window)?;
    let state = SimState {
        saved_at: now,
        counter,
        trace_start,
        queues: queues(conn)?,
        objects: objects(conn)?,
        kv: kv(conn)?,
        crons: ordered(conn, "crons", "SELECT json FROM crons ORDER BY pos")?,
        commands: ordered::<CommandRecord>(
            conn,
            "commands",
            "SELECT json FROM commands ORDER BY pos",
        )?,
        trace,
        trace_next_seq,
    };
    Ok(Some(Loaded {
        state,
        clock: SavedClock {
            now,
            wall,
            time_scale,
        },
        processes: processes(conn)?,
    }))
}

fn ordered<T: serde::de::DeserializeOwned>(
    conn: &Connection,
    table: &str,
    sql: &str,
) -> Result<Vec<T>, BadRow> {
    let mut stmt = conn.prepare(sql)?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    rows.map(|r| parse(table, &r?)).collect()
}

/// Messages grouped by queue, then subscription, in position order; then dead letters.
fn queues(conn: &Connection) -> Result<Vec<QueueState>, BadRow> {
    let mut queues: BTreeMap<String, QueueState> = BTreeMap::new();
    let rows = keyed(
        conn,
        "SELECT queue, subscription, json FROM messages ORDER BY queue, subscription, seq",
    )?;
    for (queue, subscription, text) in rows {
        let q = queues.entry(queue.clone()).or_insert_with(|| QueueState {
            id: queue,
            subscriptions: Vec::new(),
            dead_letters: Vec::new(),
        });
        if q.subscriptions
            .last()
            .is_none_or(|s| s.name != subscription)
        {
            q.subscriptions.push(SubscriptionState {
                name: subscription,
                messages: Vec::new(),
            });
        }
        let message = parse("messages", &text)?;
        if let Some(sub) = q.subscriptions.last_mut() {
            sub.messages.push(message);
        }
    }
    let mut stmt = conn.prepare("SELECT queue, json FROM dead_letters ORDER BY queue, pos")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    for row in rows {
        let (queue, text) = row?;
        let q = queues.entry(queue.clone()).or_insert_with(|| QueueState {
            id: queue,
            subscriptions: Vec::new(),
            dead_letters: Vec::new(),
        });
        q.dead_letters.push(parse("dead_letters", &text)?);
    }
    Ok(queues.into_values().collect())
}

fn objects(
    conn: &Connection,
) -> Result<BTreeMap<String, Vec<crate::engine::state_types::ObjectState>>, BadRow> {
    let mut out: BTreeMap<String, Vec<_>> = BTreeMap::new();
    for (bucket, _key, text) in keyed(
        conn,
        "SELECT bucket, key, json FROM objects ORDER BY bucket, key",
    )? {
        out.entry(bucket)
            .or_default()
            .push(parse("objects", &text)?);
    }
    Ok(out)
}

fn kv(conn: &Connection) -> Result<BTreeMap<String, KvState>, BadRow> {
    let mut out: BTreeMap<String, KvState> = BTreeMap::new();
    let mut stmt = conn.prepare("SELECT store, next_version FROM kv_stores")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
    for row in rows {
        let (store, next_version) = row?;
        out.insert(
            store,
            KvState {
                next_version: next_version as u64,
                rows: BTreeMap::new(),
            },
        );
    }
    for (store, key, text) in keyed(conn, "SELECT store, key, json FROM kv ORDER BY store, key")? {
        out.entry(store)
            .or_insert_with(|| KvState {
                next_version: 0,
                rows: BTreeMap::new(),
            })
            .rows
            .insert(key, parse("kv", &text)?);
    }
    Ok(out)
}

/// The newest `window` events, oldest first, and the next sequence number.
fn recent_trace(conn: &Connection, window: usize) -> Result<(Vec<TraceEvent>, u64), BadRow> {
    let last: Option<i64> = conn.query_row("SELECT MAX(seq) FROM trace", [], |r| r.get(0))?;
    let next_seq = last.map_or(0, |s| s as u64 + 1);
    let mut stmt = conn.prepare(
        "SELECT json FROM (SELECT seq, json FROM trace ORDER BY seq DESC LIMIT ?1) ORDER BY seq",
    )?;
    let rows = stmt.query_map([window as i64], |r| r.get::<_, String>(0))?;
    let events = rows
        .map(|r| parse("trace", &r?))
        .collect::<Result<_, _>>()?;
    Ok((events, next_seq))
}

fn processes(conn: &Connection) -> Result<Vec<ProcessRecord>, BadRow> {
    let mut stmt = conn.prepare("SELECT pid, start_ticks, resource FROM processes ORDER BY pid")?;
    let rows = stmt.query_map([], |r| {
        Ok(ProcessRecord {
            pid: r.get::<_, i64>(0)? as u32,
            start_ticks: r.get::<_, i64>(1)? as u64,
            resource: r.get(2)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
