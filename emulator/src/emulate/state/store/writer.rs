//! Group commit on a thread of its own (design.md "State and durability"): operations hand
//! their [`ChangeSet`] over without waiting while they hold the engine lock, then wait for
//! their [`Ticket`] with the lock released. The thread takes every change set queued
//! meanwhile into one transaction and one fsync (WAL, synchronous FULL), then answers all of
//! them: concurrent operations share the cost of durability, and nothing slow runs under the
//! engine lock or on the async runtime.

use std::path::Path;
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};
use tokio::sync::{oneshot, watch};

use super::StoreError;
use super::apply;
use crate::emulate::processes::start_ticks;
use crate::engine::ChangeSet;

/// Most jobs one transaction takes (a bound on its size, not on throughput).
const MAX_BATCH: usize = 4096;

/// How many trace events the file keeps by default (older ones are deleted as new ones come).
pub const DEFAULT_TRACE_RETENTION: u64 = 1_000_000;

type Reply = oneshot::Sender<Result<(), String>>;

enum Job {
    Changes {
        changes: Box<ChangeSet>,
        /// Wall-clock instant the changes were taken at.
        wall: DateTime<Utc>,
        /// Write even when only the clock moved (time travel someone is answered about).
        force: bool,
        reply: Option<Reply>,
    },
    ProcessStarted {
        pid: u32,
        resource: String,
    },
    ProcessExited {
        pid: u32,
    },
    Flush(Reply),
    /// Work that must see the file at a commit point: after every job handed over before it
    /// is committed, before any later one is written (a snapshot).
    AtCommitPoint(CommitPointTask),
    /// Commit what came before, close the file and stop (answered once it is closed).
    Close(Reply),
}

/// What runs on the writer thread at a commit point, with the writer's connection.
type CommitPointTask = Box<dyn FnOnce(&Connection) + Send>;

/// A promise that a change set is on disk.
#[must_use = "a change is durable only once its ticket resolved"]
pub struct Ticket(Option<oneshot::Receiver<Result<(), String>>>);

impl Ticket {
    /// A ticket for work that needs no write (an emulator without a store).
    pub fn done() -> Ticket {
        Ticket(None)
    }

    /// Resolves once the change set is committed.
    pub async fn wait(self) -> Result<(), StoreError> {
        match self.0 {
            None => Ok(()),
            Some(rx) => rx
                .await
                .map_err(|_| StoreError::Stopped)?
                .map_err(StoreError::Write),
        }
    }

    /// [`Ticket::wait`] for threads outside the async runtime.
    pub fn wait_blocking(self) -> Result<(), StoreError> {
        match self.0 {
            None => Ok(()),
            Some(rx) => rx
                .blocking_recv()
                .map_err(|_| StoreError::Stopped)?
                .map_err(StoreError::Write),
        }
    }
}

/// How the writer runs.
#[derive(Debug, Clone, Copy)]
pub struct WriterOptions {
    /// Trace events kept in the file (the newest ones).
    pub trace_retention: u64,
    /// Virtual seconds per real second, written with the clock.
    pub time_scale: f64,
}

/// The store's writer: cheap to clone, one thread behind it.
#[derive(Clone)]
pub struct StoreHandle {
    jobs: mpsc::Sender<Job>,
    durable: watch::Receiver<u64>,
    state_dir: Arc<Path>,
}

impl StoreHandle {
    /// Hands `changes` (taken at wall-clock `wall`) to the writer; `force` writes the clock even
    /// when nothing else changed.
    pub fn submit(&self, changes: ChangeSet, wall: DateTime<Utc>, force: bool) -> Ticket {
        let (reply, rx) = oneshot::channel();
        let job = Job::Changes {
            changes: Box::new(changes),
            wall,
            force,
            reply: Some(reply),
        };
        match self.jobs.send(job) {
            Ok(()) => Ticket(Some(rx)),
            Err(_) => Ticket(Some(closed())),
        }
    }

    /// Records a child process of this run (for the next run to reap if this one dies).
    pub fn process_started(&self, pid: u32, resource: &str) {
        let _ = self.jobs.send(Job::ProcessStarted {
            pid,
            resource: resource.to_string(),
        });
    }

    pub fn process_exited(&self, pid: u32) {
        let _ = self.jobs.send(Job::ProcessExited { pid });
    }

    /// Resolves once everything handed over so far is on disk.
    pub fn flush(&self) -> Ticket {
        let (reply, rx) = oneshot::channel();
        match self.jobs.send(Job::Flush(reply)) {
            Ok(()) => Ticket(Some(rx)),
            Err(_) => Ticket(Some(closed())),
        }
    }

    /// Runs `task` on the writer thread once everything handed over before this call is
    /// committed, and before anything handed over after it is written. False when the writer
    /// has stopped (then `task` never runs).
    pub fn at_commit_point(&self, task: impl FnOnce(&Connection) + Send + 'static) -> bool {
        self.jobs.send(Job::AtCommitPoint(Box::new(task))).is_ok()
    }

    /// Commits everything handed over so far, closes the file and stops the writer; resolves
    /// once the file is closed (later changes fail with [`StoreError::Stopped`]). For whoever
    /// replaces the state file next (a snapshot restore).
    pub fn close(&self) -> Ticket {
        let (reply, rx) = oneshot::channel();
        match self.jobs.send(Job::Close(reply)) {
            Ok(()) => Ticket(Some(rx)),
            Err(_) => Ticket::done(),
        }
    }

    /// The directory of the state file (snapshots go under it).
    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// The sequence number after the newest trace event on disk (readers show only those).
    pub fn durable_trace(&self) -> watch::Receiver<u64> {
        self.durable.clone()
    }
}

/// A receiver whose sender is already gone (the writer stopped).
fn closed() -> oneshot::Receiver<Result<(), String>> {
    oneshot::channel().1
}

/// Starts the writer thread over `conn` (an open v2 file in `state_dir` whose trace ends
/// before `next_trace_seq`); it stops when every handle is dropped.
pub fn spawn(
    conn: Connection,
    state_dir: &Path,
    next_trace_seq: u64,
    options: WriterOptions,
) -> std::io::Result<(StoreHandle, JoinHandle<()>)> {
    let (jobs, rx) = mpsc::channel();
    let (durable_tx, durable) = watch::channel(next_trace_seq);
    let thread = std::thread::Builder::new()
        .name("alien-state-writer".into())
        .spawn(move || Writer::new(conn, durable_tx, options).run(rx))?;
    let handle = StoreHandle {
        jobs,
        durable,
        state_dir: state_dir.into(),
    };
    Ok((handle, thread))
}

struct Writer {
    conn: Connection,
    durable: watch::Sender<u64>,
    options: WriterOptions,
    /// The oldest trace event kept in the file (for retention).
    oldest_trace: Option<u64>,
}

impl Writer {
    fn new(conn: Connection, durable: watch::Sender<u64>, options: WriterOptions) -> Writer {
        let oldest_trace = conn
            .query_row("SELECT MIN(seq) FROM trace", [], |r| {
                r.get::<_, Option<i64>>(0)
            })
            .ok()
            .flatten()
            .map(|s| s as u64);
        Writer {
            conn,
            durable,
            options,
            oldest_trace,
        }
    }

    fn run(mut self, rx: mpsc::Receiver<Job>) {
        // A commit point or a close found while gathering a batch ends it; it runs right after.
        let mut next = None;
        while let Some(first) = next.take().or_else(|| rx.recv().ok()) {
            match first {
                Job::AtCommitPoint(task) => {
                    task(&self.conn);
                    continue;
                }
                Job::Close(reply) => {
                    drop(self);
                    let _ = reply.send(Ok(()));
                    return;
                }
                _ => {}
            }
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(job @ (Job::AtCommitPoint(_) | Job::Close(_))) => {
                        next = Some(job);
                        break;
                    }
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            self.commit(batch);
        }
    }

    /// Writes `batch` in one transaction (when it has rows) and answers each job.
    fn commit(&mut self, batch: Vec<Job>) {
        let result = if batch.iter().any(needs_write) {
            self.write(&batch).map_err(|e| e.to_string())
        } else {
            Ok(())
        };
        if let Err(err) = &result {
            tracing::error!(error = %err, "alien emulate: writing state failed");
        }
        for job in batch {
            let reply = match job {
                Job::Changes { reply, .. } => reply,
                Job::Flush(reply) => Some(reply),
                Job::ProcessStarted { .. }
                | Job::ProcessExited { .. }
                | Job::AtCommitPoint(_)
                | Job::Close(_) => None,
            };
            if let Some(reply) = reply {
                let _ = reply.send(result.clone());
            }
        }
    }

    /// One transaction for the whole batch; the newest clock row wins.
    fn write(&mut self, batch: &[Job]) -> rusqlite::Result<()> {
        let tx = self.conn.transaction()?;
        let mut newest_trace = None;
        let mut clock = None;
        for job in batch {
            match job {
                Job::Changes { changes, wall, .. } => {
                    apply::apply(&tx, changes)?;
                    if let Some(last) = changes.trace.last() {
                        newest_trace = Some(last.seq);
                    }
                    clock = Some((changes.clock, *wall));
                }
                Job::ProcessStarted { pid, resource } => {
                    // A process that is already gone has nothing to reap.
                    if let Some(ticks) = start_ticks(*pid) {
                        tx.prepare_cached(
                            "INSERT OR REPLACE INTO processes(pid, start_ticks, resource)
                             VALUES (?1, ?2, ?3)",
                        )?
                        .execute(params![
                            *pid as i64,
                            ticks as i64,
                            resource
                        ])?;
                    }
                }
                Job::ProcessExited { pid } => {
                    tx.prepare_cached("DELETE FROM processes WHERE pid = ?1")?
                        .execute([*pid as i64])?;
                }
                Job::Flush(_) | Job::AtCommitPoint(_) | Job::Close(_) => {}
            }
        }
        if let Some((row, wall)) = clock {
            apply::clock(&tx, &row, wall, self.options.time_scale)?;
        }
        if let Some(seq) = newest_trace {
            prune_trace(
                &tx,
                seq,
                self.options.trace_retention,
                &mut self.oldest_trace,
            )?;
        }
        tx.commit()?;
        if let Some(seq) = newest_trace {
            self.durable.send_replace(seq + 1);
        }
        Ok(())
    }
}

/// Deletes the oldest events once the file holds a tenth more than `retention` (so deletes
/// come in batches); `oldest` is the oldest event kept.
fn prune_trace(
    tx: &Connection,
    newest: u64,
    retention: u64,
    oldest: &mut Option<u64>,
) -> rusqlite::Result<()> {
    let keep = retention.max(1);
    let first = *oldest.get_or_insert(newest);
    if newest.saturating_sub(first) < keep + keep / 10 {
        return Ok(());
    }
    let first_kept = newest + 1 - keep;
    tx.prepare_cached("DELETE FROM trace WHERE seq < ?1")?
        .execute([first_kept as i64])?;
    *oldest = Some(first_kept);
    Ok(())
}

/// Whether a job has rows to write (a clock that only followed real time does not).
fn needs_write(job: &Job) -> bool {
    match job {
        Job::Changes { changes, force, .. } => *force || !changes.is_empty(),
        Job::ProcessStarted { .. } | Job::ProcessExited { .. } => true,
        Job::Flush(_) | Job::AtCommitPoint(_) | Job::Close(_) => false,
    }
}
