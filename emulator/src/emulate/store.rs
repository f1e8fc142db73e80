//! Durable state of `alien emulate` in SQLite (rusqlite, WAL, synchronous FULL): queues
//! (messages, leases, receive counts), dead letters, object metadata, the engine's KV, cron
//! last fires and the trace. Saved after every change that must survive `kill -9` (an ack, a
//! send, a delivery), loaded on start.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};

use crate::engine::SimState;

/// The store's format marker.
const FORMAT: &str = "alien-emulator.state.v1";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("state store {path}: {source}")]
    Sqlite {
        path: String,
        source: rusqlite::Error,
    },
    #[error("state store {path}: {message}")]
    Invalid { path: String, message: String },
}

pub struct Store {
    conn: Connection,
    path: String,
    saved_trace: usize,
}

impl Store {
    /// Opens (creating) `<state_dir>/state.sqlite`.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let p = path.display().to_string();
        let err = |source| StoreError::Sqlite {
            path: p.clone(),
            source,
        };
        let conn = Connection::open(path).map_err(err)?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;
             CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS messages(queue TEXT NOT NULL, pos INTEGER NOT NULL, json TEXT NOT NULL, PRIMARY KEY(queue, pos));
             CREATE TABLE IF NOT EXISTS dead_letters(queue TEXT NOT NULL, pos INTEGER NOT NULL, json TEXT NOT NULL, PRIMARY KEY(queue, pos));
             CREATE TABLE IF NOT EXISTS objects(bucket TEXT NOT NULL, key TEXT NOT NULL, size INTEGER NOT NULL, content_type TEXT NOT NULL, PRIMARY KEY(bucket, key));
             CREATE TABLE IF NOT EXISTS kv(store TEXT PRIMARY KEY, json TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS crons(pos INTEGER PRIMARY KEY, json TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS trace(seq INTEGER PRIMARY KEY, json TEXT NOT NULL);",
        )
        .map_err(err)?;
        let format: Option<String> = conn
            .query_row("SELECT value FROM meta WHERE key = 'format'", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(err)?;
        if let Some(format) = format.filter(|f| f != FORMAT) {
            return Err(StoreError::Invalid {
                path: p,
                message: format!("unsupported format '{format}' (this emulator writes '{FORMAT}')"),
            });
        }
        let saved_trace: i64 = conn
            .query_row("SELECT COUNT(*) FROM trace", [], |r| r.get(0))
            .map_err(err)?;
        Ok(Store {
            conn,
            path: p,
            saved_trace: saved_trace as usize,
        })
    }

    fn err(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    fn json<T: serde::Serialize>(&self, value: &T) -> Result<String, StoreError> {
        serde_json::to_string(value).map_err(|e| StoreError::Invalid {
            path: self.path.clone(),
            message: e.to_string(),
        })
    }

    /// Replaces the saved state with `state` in one transaction (the trace is appended).
    pub fn save(&mut self, state: &SimState) -> Result<(), StoreError> {
        let mut rows: Vec<(&str, usize, String)> = Vec::new();
        for q in &state.queues {
            for (pos, sub) in q.subscriptions.iter().enumerate() {
                rows.push((&q.id, pos, self.json(sub)?));
            }
        }
        let mut dead: Vec<(&str, usize, String)> = Vec::new();
        for q in &state.queues {
            for (pos, d) in q.dead_letters.iter().enumerate() {
                dead.push((&q.id, pos, self.json(d)?));
            }
        }
        let kv: Vec<(&String, String)> = state
            .kv
            .iter()
            .map(|(k, v)| Ok((k, self.json(v)?)))
            .collect::<Result<_, StoreError>>()?;
        let crons: Vec<String> = state
            .crons
            .iter()
            .map(|c| self.json(c))
            .collect::<Result<_, _>>()?;
        let trace: Vec<(u64, String)> = state
            .trace
            .iter()
            .skip(self.saved_trace)
            .map(|e| Ok((e.seq, self.json(e)?)))
            .collect::<Result<_, StoreError>>()?;
        let tx = self.conn.transaction().map_err(|e| StoreError::Sqlite {
            path: self.path.clone(),
            source: e,
        })?;
        let result = (|| {
            tx.execute_batch("DELETE FROM messages; DELETE FROM dead_letters; DELETE FROM objects; DELETE FROM kv; DELETE FROM crons;")?;
            for (k, v) in [
                ("format", FORMAT.to_string()),
                ("saved_at", state.saved_at.to_rfc3339()),
                ("counter", state.counter.to_string()),
                ("trace_start", state.trace_start.to_rfc3339()),
            ] {
                tx.execute(
                    "INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)",
                    params![k, v],
                )?;
            }
            for (queue, pos, json) in &rows {
                tx.execute(
                    "INSERT INTO messages(queue, pos, json) VALUES (?1, ?2, ?3)",
                    params![queue, *pos as i64, json],
                )?;
            }
            for (queue, pos, json) in &dead {
                tx.execute(
                    "INSERT INTO dead_letters(queue, pos, json) VALUES (?1, ?2, ?3)",
                    params![queue, *pos as i64, json],
                )?;
            }
            for (bucket, objects) in &state.objects {
                for o in objects {
                    tx.execute(
                        "INSERT INTO objects(bucket, key, size, content_type) VALUES (?1, ?2, ?3, ?4)",
                        params![bucket, o.key, o.size as i64, o.content_type],
                    )?;
                }
            }
            for (store, json) in &kv {
                tx.execute(
                    "INSERT INTO kv(store, json) VALUES (?1, ?2)",
                    params![store, json],
                )?;
            }
            for (pos, json) in crons.iter().enumerate() {
                tx.execute(
                    "INSERT INTO crons(pos, json) VALUES (?1, ?2)",
                    params![pos as i64, json],
                )?;
            }
            for (seq, json) in &trace {
                tx.execute(
                    "INSERT OR REPLACE INTO trace(seq, json) VALUES (?1, ?2)",
                    params![*seq as i64, json],
                )?;
            }
            Ok::<(), rusqlite::Error>(())
        })();
        result.map_err(|e| StoreError::Sqlite {
            path: self.path.clone(),
            source: e,
        })?;
        tx.commit().map_err(|e| self.err(e))?;
        self.saved_trace = state.trace.len();
        Ok(())
    }

    fn parse_json<T: serde::de::DeserializeOwned>(&self, json: String) -> Result<T, StoreError> {
        serde_json::from_str(&json).map_err(|e| StoreError::Invalid {
            path: self.path.clone(),
            message: e.to_string(),
        })
    }

    /// Rows of (key, json) from `sql`.
    fn keyed_json(&self, sql: &str) -> Result<Vec<(String, String)>, StoreError> {
        let mut stmt = self.conn.prepare(sql).map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .map_err(|e| self.err(e))?;
        rows.map(|r| r.map_err(|e| self.err(e))).collect()
    }

    /// The saved state, if any.
    pub fn load(&self) -> Result<Option<SimState>, StoreError> {
        let meta = |key: &str| -> Result<Option<String>, StoreError> {
            self.conn
                .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
                .optional()
                .map_err(|e| self.err(e))
        };
        let Some(saved_at) = meta("saved_at")? else {
            return Ok(None);
        };
        let invalid = |message: String| StoreError::Invalid {
            path: self.path.clone(),
            message,
        };
        let time = |s: String| {
            chrono::DateTime::parse_from_rfc3339(&s)
                .map(|t| t.to_utc())
                .map_err(|e| invalid(e.to_string()))
        };
        let mut queues: Vec<crate::engine::state_types::QueueState> = Vec::new();
        for (queue, json) in
            self.keyed_json("SELECT queue, json FROM messages ORDER BY queue, pos")?
        {
            if queues.last().is_none_or(|q| q.id != queue) {
                queues.push(crate::engine::state_types::QueueState {
                    id: queue.clone(),
                    subscriptions: Vec::new(),
                    dead_letters: Vec::new(),
                });
            }
            queues
                .last_mut()
                .expect("pushed")
                .subscriptions
                .push(self.parse_json(json)?);
        }
        for (queue, json) in
            self.keyed_json("SELECT queue, json FROM dead_letters ORDER BY queue, pos")?
        {
            match queues.iter_mut().find(|q| q.id == queue) {
                Some(q) => q.dead_letters.push(self.parse_json(json)?),
                None => queues.push(crate::engine::state_types::QueueState {
                    id: queue,
                    subscriptions: Vec::new(),
                    dead_letters: vec![self.parse_json(json)?],
                }),
            }
        }
        let mut objects: std::collections::BTreeMap<
            String,
            Vec<crate::engine::state_types::ObjectState>,
        > = Default::default();
        let mut stmt = self
            .conn
            .prepare("SELECT bucket, key, size, content_type FROM objects ORDER BY bucket, key")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })
            .map_err(|e| self.err(e))?;
        for row in rows {
            let (bucket, key, size, content_type) = row.map_err(|e| self.err(e))?;
            objects
                .entry(bucket)
                .or_default()
                .push(crate::engine::state_types::ObjectState {
                    key,
                    size: size as u64,
                    content_type,
                });
        }
        let mut kv = std::collections::BTreeMap::new();
        for (store, json) in self.keyed_json("SELECT store, json FROM kv")? {
            kv.insert(store, self.parse_json(json)?);
        }
        let strings = |sql: &str| -> Result<Vec<String>, StoreError> {
            let mut stmt = self.conn.prepare(sql).map_err(|e| self.err(e))?;
            let rows = stmt
                .query_map([], |r| r.get::<_, String>(0))
                .map_err(|e| self.err(e))?;
            rows.map(|r| r.map_err(|e| self.err(e))).collect()
        };
        let crons = strings("SELECT json FROM crons ORDER BY pos")?
            .into_iter()
            .map(|j| self.parse_json(j))
            .collect::<Result<_, _>>()?;
        let trace = strings("SELECT json FROM trace ORDER BY seq")?
            .into_iter()
            .map(|j| self.parse_json(j))
            .collect::<Result<_, _>>()?;
        Ok(Some(SimState {
            saved_at: time(saved_at)?,
            counter: meta("counter")?.and_then(|c| c.parse().ok()).unwrap_or(0),
            trace_start: time(
                meta("trace_start")?.ok_or_else(|| invalid("missing trace_start".into()))?,
            )?,
            queues,
            objects,
            kv,
            crons,
            trace,
        }))
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use alien_providers::Payload;
    use chrono::{NaiveDate, TimeZone, Utc};

    use super::*;
    use crate::Platform;
    use crate::engine::{SendVia, Sim, SimConfig};
    use crate::profile::Profile;

    #[test]
    fn saved_state_loads_back_equal() {
        let stack = crate::stack::parse_stack_json(
            r#"{"id":"s","resources":{
              "jobs":{"config":{"type":"queue","id":"jobs"},"lifecycle":"frozen","dependencies":[]},
              "files":{"config":{"type":"storage","id":"files"},"lifecycle":"frozen","dependencies":[]},
              "cache":{"config":{"type":"kv","id":"cache"},"lifecycle":"frozen","dependencies":[]}}}"#,
            Path::new("s.json"),
        )
        .unwrap();
        let profile = Profile::new(
            Platform::Azure,
            NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
        )
        .unwrap();
        let mut sim = Sim::new(
            &stack,
            profile,
            SimConfig::new(1, Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0).unwrap()),
        );
        sim.send("jobs", Payload::Text("a".into()), SendVia::Binding)
            .unwrap();
        sim.receive("jobs", 1, None).unwrap();
        sim.put_object("files", "a/b.txt", 3, "text/plain").unwrap();
        sim.kv_put(
            "cache",
            "k",
            b"v".to_vec(),
            None,
            alien_providers::PutCondition::None,
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("state.sqlite")).unwrap();
        assert!(store.load().unwrap().is_none());
        let state = sim.export_state();
        store.save(&state).unwrap();
        store.save(&state).unwrap();
        let reopened = Store::open(&dir.path().join("state.sqlite")).unwrap();
        assert_eq!(reopened.load().unwrap().unwrap(), state);
    }

    #[test]
    fn a_foreign_format_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.sqlite");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL); INSERT INTO meta VALUES ('format', 'other.v9');").unwrap();
        drop(conn);
        let err = Store::open(&path).err().expect("refused");
        assert!(
            err.to_string().contains("unsupported format 'other.v9'"),
            "{err}"
        );
    }
}
