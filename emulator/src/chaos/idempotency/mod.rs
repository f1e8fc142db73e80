//! The idempotency detector (`alien chaos --idempotency`): the user's real worker processes
//! under `alien emulate`, three times with the same inputs, and the differences of the end
//! states in the user's terms. Seed 000 tells users to make handlers idempotent
//! (at-least-once delivery); this shows where they did not.
//!
//! The runs: clean; every input message delivered twice; every input message's first ack
//! lost (so it comes back after its lease). Both faults are armed once per input, just before
//! it is sent (`POST /faults/inject`), and each input is settled before the next one: a fault
//! *rate* of 1.0 would strike again at every redelivery it causes (a duplicate is itself a
//! delivery, a lost ack's redelivery is acked again), so no message would ever be acked.
//! Time moves only through `POST /clock/advance`, which hands each due attempt to the real
//! process and waits for its answer; each run ends with the consumed queues drained.
//!
//! - [`workload`]: the inputs (a scenario's send, put and advance steps, or a default);
//! - [`runs`]: one run, from a fresh state directory to its end state;
//! - [`end_state`]: KV entries and objects, read from the state directory after the run;
//! - [`trace_view`]: messages the app sent and deliveries, read from the run's trace;
//! - [`diff`]: what differs from the clean run;
//! - [`report`]: findings per worker, as text and JSON.

pub mod diff;
pub mod end_state;
pub mod report;
pub mod runs;
pub mod trace_view;
pub mod workload;

use std::fmt;

use serde::Serialize;

pub use diff::{Difference, InputSends, Shown};
pub use report::{Finding, Report, RunSummary};
pub use workload::{Input, Workload, WorkloadError};

use crate::emulate::control::ClientError;
use crate::emulate::run::EmulateError;
use crate::engine::FaultKind;
use crate::profile::Profile;
use crate::stack::LoadedStack;

/// How a run's deliveries are disturbed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Clean,
    DuplicateDelivery,
    LostAck,
}

impl Mode {
    /// The runs, in order: the clean one first, as the reference.
    pub const ALL: [Mode; 3] = [Mode::Clean, Mode::DuplicateDelivery, Mode::LostAck];

    /// The fault armed before each input message.
    pub fn fault(self) -> Option<FaultKind> {
        match self {
            Mode::Clean => None,
            Mode::DuplicateDelivery => Some(FaultKind::DuplicateDelivery),
            Mode::LostAck => Some(FaultKind::LostAck),
        }
    }

    /// In the report's words: "… with duplicate delivery, … without".
    pub fn label(self) -> &'static str {
        match self {
            Mode::Clean => "clean",
            Mode::DuplicateDelivery => "duplicate delivery",
            Mode::LostAck => "lost acks",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub struct IdempotencyOptions {
    pub stack: LoadedStack,
    pub profile: Profile,
    pub workload: Workload,
}

/// Why the detector could not finish. Each message names the run and says what failed; the
/// error it wraps is part of the message, not a separate source.
#[derive(Debug, thiserror::Error)]
pub enum IdempotencyError {
    /// The platform refuses the stack: the preflight's report.
    #[error("{0}")]
    Refused(String),
    #[error("{mode} run: starting alien emulate: {error}")]
    Start { mode: Mode, error: EmulateError },
    #[error("{mode} run: {error}")]
    Control { mode: Mode, error: ClientError },
    #[error("{mode} run: {message}")]
    Run { mode: Mode, message: String },
    #[error("{mode} run: {error}")]
    EndState {
        mode: Mode,
        error: end_state::EndStateError,
    },
}

/// Runs the three runs in turn (`progress` gets a line per run and the emulator's start-up
/// output) and compares them.
pub async fn detect(
    options: &IdempotencyOptions,
    progress: &mut dyn FnMut(&str),
) -> Result<Report, IdempotencyError> {
    let mut runs = Vec::with_capacity(Mode::ALL.len());
    for (i, mode) in Mode::ALL.into_iter().enumerate() {
        progress(&format!(
            "idempotency run {}/{}: {mode}…",
            i + 1,
            Mode::ALL.len()
        ));
        runs.push(runs::run(options, mode, progress).await?);
    }
    Ok(report::build(options, &runs))
}
