//! `alien emulate --record FILE`: the session's external inputs, each with the virtual time
//! at which the engine applied it, written at stop as a scenario (`crate::scenario`) that
//! `alien simulate` replays with scripted handlers and `alien chaos` sweeps faults over.
//!
//! The control API (sends, object puts and deletes, clock advances, cron fires), the SQS
//! endpoint (sends), the chaos API (fault rates, one-shot faults, daemon start and stop) and
//! each public worker gateway (requests) hand their input to the [`Recorder`] once the engine
//! accepted it. Recording is a push onto a list: the file is rendered and written only at
//! stop, off the async runtime, through a temporary file renamed over `FILE`.
//!
//! What the scenario format cannot express (object contents, cron fires by hand, …) is listed
//! in the file's header comment instead of being approximated silently (`steps.rs`). Inputs
//! the recorder never sees: commands (`alien command`), the app's own sends and writes (the
//! handler's outputs), files dropped straight into the bucket directories.

mod steps;
#[cfg(test)]
mod tests;
mod writer;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};

use crate::emulate::gateway::{Arrival, ArrivalObserver};
use crate::emulate::run::EmulateOptions;
use crate::engine::{FaultKind, SharedSim, Sim};
use crate::platform::Platform;
use crate::stack::Resource;

pub use steps::Input;

/// What the scenario's top-level fields and header say about the session.
#[derive(Debug, Clone)]
pub struct Session {
    /// The stack file emulate read (absolute).
    pub stack_file: PathBuf,
    pub stack_id: String,
    /// Queues the stack declares (a send to a queue made at run time cannot be replayed).
    pub queues: BTreeSet<String>,
    /// Workers of the stack (the header shows how to script their handlers).
    pub workers: Vec<String>,
    pub platform: Platform,
    /// Day whose limits applied (`--platform aws@2025-06`, else the day emulate started).
    pub profile_date: NaiveDate,
    /// The engine's virtual instant when recording began: every offset counts from here.
    pub start: DateTime<Utc>,
    pub seed: u64,
    /// `--cold-start`: None = the profile's, zero = off, else a fixed latency.
    pub cold_start: Option<Duration>,
    pub recycle: bool,
    pub time_scale: f64,
    /// Fault rates in force when recording began.
    pub fault_rates: Vec<(FaultKind, f64)>,
    /// The state directory held a previous run's state (not part of the scenario), if so.
    pub resumed_from: Option<PathBuf>,
}

impl Session {
    /// The session `options` start, with the engine `sim` as it is before any input;
    /// `resumed_from`: the state file, when it held a previous run's state.
    pub fn of(options: &EmulateOptions, sim: &Sim, resumed_from: Option<PathBuf>) -> Session {
        let stack = &options.stack.stack;
        let queues = stack
            .resources
            .iter()
            .filter(|(_, e)| matches!(e.config, Resource::Queue(_)))
            .map(|(id, _)| id.clone())
            .collect();
        Session {
            stack_file: options.stack.source.clone(),
            stack_id: stack.id.clone(),
            queues,
            workers: stack.workers().map(|(id, _)| id.to_string()).collect(),
            platform: options.profile.platform,
            profile_date: options.profile.as_of,
            start: sim.now(),
            seed: options.seed,
            cold_start: options.cold_start,
            recycle: options.recycle,
            time_scale: options.time_scale,
            fault_rates: sim.fault_rates().to_vec(),
            resumed_from,
        }
    }
}

/// One input and its offset from the session's start.
#[derive(Debug, Clone, PartialEq)]
struct Recorded {
    at: Duration,
    input: Input,
}

/// Collects a session's inputs; cheap to clone and safe to share across tasks.
#[derive(Clone)]
pub struct Recorder {
    shared: Arc<Shared>,
}

struct Shared {
    file: PathBuf,
    session: Session,
    inputs: Mutex<Vec<Recorded>>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("file", &self.shared.file)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("cannot write the recorded scenario to {}: {source}", file.display())]
    Write {
        file: PathBuf,
        source: std::io::Error,
    },
    #[error("writing the recorded scenario failed: {0}")]
    Task(String),
}

impl Recorder {
    /// A recorder that writes `file` (an absolute path) at [`Recorder::save`].
    pub fn new(file: PathBuf, session: Session) -> Recorder {
        Recorder {
            shared: Arc::new(Shared {
                file,
                session,
                inputs: Mutex::new(Vec::new()),
            }),
        }
    }

    pub fn file(&self) -> &Path {
        &self.shared.file
    }

    /// Notes `input`, applied by the engine at virtual instant `at`.
    pub fn note(&self, at: DateTime<Utc>, input: Input) {
        let at = offset(self.shared.session.start, at);
        self.shared
            .inputs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Recorded { at, input });
    }

    /// What a public worker gateway calls with each arriving request: noted at the instant
    /// of `sim`'s clock when it arrived.
    pub fn gateway_observer(&self, sim: SharedSim) -> ArrivalObserver {
        let recorder = self.clone();
        Arc::new(move |arrival: Arrival| {
            let now = sim.lock().unwrap_or_else(PoisonError::into_inner).now();
            recorder.note(
                now,
                Input::Http {
                    worker: arrival.worker,
                    method: arrival.method,
                    path: arrival.path,
                    bytes: arrival.body_bytes,
                },
            );
        })
    }

    /// The scenario text for a session that ended at virtual instant `end`.
    pub fn render(&self, end: DateTime<Utc>) -> String {
        let inputs = self
            .shared
            .inputs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let session = &self.shared.session;
        let end = offset(session.start, end);
        let plan = steps::plan(session, inputs, end);
        writer::render(session, &self.shared.file, &plan)
    }

    /// Writes the scenario for a session that ended at `end`: rendered and written off the
    /// async runtime, to a temporary file next to the target, then renamed over it.
    pub async fn save(&self, end: DateTime<Utc>) -> Result<PathBuf, RecordError> {
        let recorder = self.clone();
        tokio::task::spawn_blocking(move || {
            let text = recorder.render(end);
            let file = recorder.shared.file.clone();
            write_atomically(&file, &text)?;
            Ok(file)
        })
        .await
        .map_err(|e| RecordError::Task(e.to_string()))?
    }
}

/// `at` as an offset from `start`, in whole milliseconds (what scenario durations hold).
fn offset(start: DateTime<Utc>, at: DateTime<Utc>) -> Duration {
    let ms = (at - start).num_milliseconds().max(0);
    Duration::from_millis(ms.unsigned_abs())
}

/// `text` to `file` by a temporary sibling and a rename, so a reader never sees half a file.
fn write_atomically(file: &Path, text: &str) -> Result<(), RecordError> {
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "recorded.toml".into());
    let temp = file.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let failed = |source| RecordError::Write {
        file: file.to_path_buf(),
        source,
    };
    std::fs::write(&temp, text).map_err(failed)?;
    std::fs::rename(&temp, file).map_err(|source| {
        let _ = std::fs::remove_file(&temp);
        failed(source)
    })
}
