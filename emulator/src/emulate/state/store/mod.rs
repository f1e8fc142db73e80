//! `alien emulate`'s durable state: `<state-dir>/state.sqlite` (rusqlite, WAL, synchronous
//! FULL). Opening checks the file's format before writing anything: an older format is
//! migrated (a copy of it kept first), and a newer, foreign or corrupt file is refused and left
//! as it is. [`Store::load`] reads the state back for the engine; [`Store::start_writer`]
//! hands the connection to the group-commit writer ([`writer`]), which then writes each
//! operation's changed rows ([`apply`]). Trace pages older than the engine's in-memory window
//! are read through a [`TraceReader`].

mod apply;
mod load;
mod migrate;
mod schema;
mod trace_pages;
mod writer;

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

pub use load::Loaded;
pub use migrate::backup_path;
pub use schema::CURRENT as FORMAT_VERSION;
pub use trace_pages::TraceReader;
pub use writer::{DEFAULT_TRACE_RETENTION, StoreHandle, Ticket, WriterOptions};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("state file {path}: {source}")]
    Sqlite {
        path: String,
        source: rusqlite::Error,
    },
    #[error(
        "state file {path} is not a readable SQLite database ({detail}); it was left as it is: move it away or use another --state-dir"
    )]
    Corrupt { path: String, detail: String },
    #[error(
        "state file {path} was written by a newer alien-emulator (format v{found}); this build reads formats up to v{supported}; it was left as it is"
    )]
    Newer {
        path: String,
        found: u32,
        supported: u32,
    },
    #[error(
        "state file {path} is not an alien-emulator state file ({detail}); it was left as it is"
    )]
    Foreign { path: String, detail: String },
    #[error("state file {path}: {message}")]
    Invalid { path: String, message: String },
    #[error("writing the state failed: {0}")]
    Write(String),
    #[error("the state writer has stopped")]
    Stopped,
}

/// An open state file in the current format.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    migrated_from: Option<u32>,
}

impl Store {
    /// Opens (creating) the state file at `path`, migrating an older format. Blocking: call it
    /// off the async runtime.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let shown = path.display().to_string();
        let sqlite = |source| StoreError::Sqlite {
            path: shown.clone(),
            source,
        };
        let mut conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
        )
        .map_err(sqlite)?;
        let format = schema::detect(&conn).map_err(|e| StoreError::Corrupt {
            path: shown.clone(),
            detail: e.to_string(),
        })?;
        match format {
            schema::Format::Version(found) if found > schema::CURRENT => {
                return Err(StoreError::Newer {
                    path: shown,
                    found,
                    supported: schema::CURRENT,
                });
            }
            schema::Format::Version(0) => {
                return Err(StoreError::Foreign {
                    path: shown,
                    detail: "format v0".into(),
                });
            }
            schema::Format::Foreign(name) => {
                return Err(StoreError::Foreign {
                    path: shown,
                    detail: name.map_or("no alien-emulator format marker".into(), |n| {
                        format!("format '{n}'")
                    }),
                });
            }
            _ => {}
        }
        conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;")
            .map_err(sqlite)?;
        conn.set_prepared_statement_cache_capacity(64);
        let mut migrated_from = None;
        match format {
            schema::Format::Empty => {
                let tx = conn.transaction().map_err(sqlite)?;
                schema::create(&tx).map_err(sqlite)?;
                tx.commit().map_err(sqlite)?;
            }
            schema::Format::Version(1) => {
                migrate::v1_to_v2(&mut conn, path).map_err(sqlite)?;
                migrated_from = Some(1);
            }
            _ => {}
        }
        Ok(Store {
            conn,
            path: path.to_path_buf(),
            migrated_from,
        })
    }

    /// The format the file had when this build migrated it on opening, if it did.
    pub fn migrated_from(&self) -> Option<u32> {
        self.migrated_from
    }

    /// The saved state (with the newest `trace_window` trace events), if anything was saved.
    pub fn load(&self, trace_window: usize) -> Result<Option<Loaded>, StoreError> {
        load::load(&self.conn, trace_window).map_err(|bad| StoreError::Invalid {
            path: self.path.display().to_string(),
            message: bad.0,
        })
    }

    /// Forgets the processes of the previous run (once they were reaped).
    pub fn clear_processes(&self) -> Result<(), StoreError> {
        self.conn
            .execute("DELETE FROM processes", [])
            .map(drop)
            .map_err(|source| StoreError::Sqlite {
                path: self.path.display().to_string(),
                source,
            })
    }

    /// A reader of trace pages on a connection of its own.
    pub fn trace_reader(&self) -> Result<TraceReader, StoreError> {
        TraceReader::open(&self.path)
    }

    /// Hands the file to the writer thread; `next_trace_seq` is the engine's next trace event.
    pub fn start_writer(
        self,
        next_trace_seq: u64,
        options: WriterOptions,
    ) -> Result<StoreHandle, StoreError> {
        let shown = self.path.display().to_string();
        let state_dir = self.path.parent().unwrap_or(Path::new("."));
        let (handle, _thread) = writer::spawn(self.conn, state_dir, next_trace_seq, options)
            .map_err(|e| StoreError::Invalid {
                path: shown,
                message: format!("cannot start the writer thread: {e}"),
            })?;
        Ok(handle)
    }
}

#[cfg(test)]
mod tests;
