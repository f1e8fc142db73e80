//! Pages of the trace from the file, for readers asking for events older than the engine's
//! in-memory window (`GET /trace?after=`). A connection of its own, read-only: WAL lets it
//! read while the writer writes. Blocking: call it off the async runtime.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OpenFlags};

use super::StoreError;
use crate::engine::TraceEvent;

pub struct TraceReader {
    conn: Mutex<Connection>,
    path: String,
}

impl TraceReader {
    pub fn open(path: &Path) -> Result<TraceReader, StoreError> {
        let shown = path.display().to_string();
        let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(
            |source| StoreError::Sqlite {
                path: shown.clone(),
                source,
            },
        )?;
        Ok(TraceReader {
            conn: Mutex::new(conn),
            path: shown,
        })
    }

    /// Events with `from <= seq < until`, oldest first, at most `limit`.
    pub fn page(&self, from: u64, until: u64, limit: usize) -> Result<Vec<TraceEvent>, StoreError> {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let sqlite = |source| StoreError::Sqlite {
            path: self.path.clone(),
            source,
        };
        let mut stmt = conn
            .prepare_cached(
                "SELECT json FROM trace WHERE seq >= ?1 AND seq < ?2 ORDER BY seq LIMIT ?3",
            )
            .map_err(sqlite)?;
        let rows = stmt
            .query_map(
                rusqlite::params![from as i64, until as i64, limit as i64],
                |r| r.get::<_, String>(0),
            )
            .map_err(sqlite)?;
        rows.map(|row| {
            let text = row.map_err(sqlite)?;
            serde_json::from_str(&text).map_err(|e| StoreError::Invalid {
                path: self.path.clone(),
                message: format!("table trace: {e}"),
            })
        })
        .collect()
    }
}
