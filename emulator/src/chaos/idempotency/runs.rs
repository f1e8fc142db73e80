//! One run: a fresh state directory, the real app under `alien emulate` (in process), the
//! inputs played through the control API with the mode's fault armed before each message,
//! the consumed queues drained in virtual time, the trace read, the emulator stopped; then,
//! off the async runtime, the end state read and the directory removed.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::json;

use super::end_state::{EndState, read_resources};
use super::trace_view::{faults_struck, input_deliveries, sent_by_app};
use super::workload::{Input, Workload, consumed_queues};
use super::{IdempotencyError, IdempotencyOptions, Mode};
use crate::emulate::control::{ClientError, ControlClient, QueueStatus, Status, TraceLine};
use crate::emulate::run::{EmulateError, EmulateOptions, Emulator};
use crate::engine::duration_serde::format_duration;

/// After each input, the clock moves this far, so the attempts it caused are run and
/// answered before the next input (time travel waits for the process's answers).
const SETTLE: Duration = Duration::from_millis(1);
/// Draining advances the clock in steps of this size…
const DRAIN_STEP: Duration = Duration::from_secs(3600);
/// …at most this many times (one virtual day).
const DRAIN_STEPS: usize = 24;
/// Virtual seconds per real second: as good as stopped.
const FROZEN_TIME_SCALE: f64 = 1e-6;
/// Grace between SIGTERM and SIGKILL when the run's processes stop.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// How long one trace read waits for events still on their way to the state file.
const TRACE_WAIT: Duration = Duration::from_secs(5);

/// What one run gives the report.
#[derive(Debug, Clone)]
pub struct Run {
    pub mode: Mode,
    pub end: EndState,
    /// Deliveries of the input messages to workers.
    pub deliveries: usize,
    /// How often the mode's fault struck.
    pub faults: usize,
    /// Consumed queues still holding messages after draining.
    pub held: Vec<QueueStatus>,
    /// The input messages' ids, in sending order.
    pub input_ids: Vec<String>,
}

/// What the emulator part of a run gives, before the end state is read.
struct Played {
    input_ids: Vec<String>,
    held: Vec<QueueStatus>,
    trace: Vec<TraceLine>,
}

pub(super) async fn run(
    options: &IdempotencyOptions,
    mode: Mode,
    progress: &mut dyn FnMut(&str),
) -> Result<Run, IdempotencyError> {
    let failed = |message: String| IdempotencyError::Run { mode, message };
    let scratch = tokio::task::spawn_blocking(Scratch::create)
        .await
        .map_err(|e| failed(e.to_string()))?
        .map_err(|e| failed(format!("creating a temporary state directory: {e}")))?;
    let state_dir = scratch.path.join("state");
    let played = emulate(options, mode, &state_dir, progress).await;
    let stack = options.stack.stack.clone();
    let fault = mode.fault();
    tokio::task::spawn_blocking(move || {
        let result = played.and_then(|played| {
            let mut end = read_resources(&stack, &state_dir, &scratch.path.join("kv-copies"))
                .map_err(|error| IdempotencyError::EndState { mode, error })?;
            end.sent = sent_by_app(&played.trace, &played.input_ids);
            Ok(Run {
                mode,
                end,
                deliveries: input_deliveries(&played.trace, &played.input_ids),
                faults: fault.map_or(0, |f| faults_struck(&played.trace, f.as_str())),
                held: played.held,
                input_ids: played.input_ids,
            })
        });
        drop(scratch);
        result
    })
    .await
    .map_err(|e| failed(e.to_string()))?
}

/// Starts the emulator on `state_dir`, plays the inputs, drains, reads the trace and stops.
async fn emulate(
    options: &IdempotencyOptions,
    mode: Mode,
    state_dir: &Path,
    progress: &mut dyn FnMut(&str),
) -> Result<Played, IdempotencyError> {
    let mut settings = EmulateOptions::new(options.stack.clone(), options.profile.clone());
    settings.state_dir = Some(state_dir.to_path_buf());
    // Deliveries reach the process at once, so each armed fault strikes its own input.
    settings.cold_start = Some(Duration::ZERO);
    // Time moves only through `POST /clock/advance`: at a virtual microsecond per real
    // second, the real-time driver never runs a timer of its own between two steps of a
    // jump (an attempt it handed out there would not be waited for, and would time out).
    settings.time_scale = FROZEN_TIME_SCALE;
    // One instance: a duplicate then runs after its original, so a difference in the app's
    // resources comes from the second delivery, not from two instances racing on one key.
    settings.max_instances = 1;
    let emulator = match Emulator::start(settings, progress).await {
        Ok(emulator) => emulator,
        Err(EmulateError::Preflight(report)) => return Err(IdempotencyError::Refused(report)),
        Err(error) => return Err(IdempotencyError::Start { mode, error }),
    };
    let client = ControlClient::new(emulator.control_url.clone());
    let consumed = consumed_queues(&options.stack.stack);
    let played = match play(&client, &options.workload, mode, &consumed).await {
        Ok((input_ids, held)) => {
            let until = emulator
                .sim()
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .trace()
                .next_seq();
            read_trace(&client, until, mode).await.map(|trace| Played {
                input_ids,
                held,
                trace,
            })
        }
        Err(error) => Err(IdempotencyError::Control { mode, error }),
    };
    emulator.stop(STOP_GRACE).await;
    played
}

/// Plays the inputs, then drains; gives the input messages' ids and what stayed held.
async fn play(
    client: &ControlClient,
    workload: &Workload,
    mode: Mode,
    consumed: &[String],
) -> Result<(Vec<String>, Vec<QueueStatus>), ClientError> {
    let start = status(client).await?.now;
    let settle = format_duration(SETTLE);
    let mut ids = Vec::new();
    for input in &workload.inputs {
        match input {
            Input::Send { queue, payload } => {
                if let Some(fault) = mode.fault().filter(|_| consumed.contains(queue)) {
                    let arm = json!({ "fault": fault.as_str() });
                    client.post_json("/faults/inject", &arm).await?;
                }
                ids.push(client.send(queue, payload).await?);
                client.advance(&settle).await?;
            }
            Input::Put {
                bucket,
                key,
                body,
                content_type,
            } => {
                client
                    .put_object(bucket, key, body.clone(), content_type)
                    .await?;
                client.advance(&settle).await?;
            }
            Input::Advance(by) => {
                client.advance(&format_duration(*by)).await?;
            }
            Input::AdvanceTo(at) => {
                let now = status(client).await?.now;
                let target = chrono::Duration::from_std(*at)
                    .ok()
                    .and_then(|at| start.checked_add_signed(at));
                if let Some(ahead) = target.and_then(|t| (t - now).to_std().ok())
                    && !ahead.is_zero()
                {
                    client.advance(&format_duration(ahead)).await?;
                }
            }
        }
    }
    let held = drain(client, consumed).await?;
    Ok((ids, held))
}

/// Advances until no consumed queue holds a message (visible or in flight), at most
/// [`DRAIN_STEPS`] times; gives the queues still holding some.
async fn drain(
    client: &ControlClient,
    consumed: &[String],
) -> Result<Vec<QueueStatus>, ClientError> {
    let step = format_duration(DRAIN_STEP);
    let mut advanced = 0;
    loop {
        let held: Vec<QueueStatus> = status(client)
            .await?
            .queues
            .into_iter()
            .filter(|q| consumed.contains(&q.name) && q.visible + q.in_flight > 0)
            .collect();
        if held.is_empty() || advanced == DRAIN_STEPS {
            return Ok(held);
        }
        client.advance(&step).await?;
        advanced += 1;
    }
}

async fn status(client: &ControlClient) -> Result<Status, ClientError> {
    serde_json::from_value(client.status().await?).map_err(|e| ClientError::Decode {
        url: "/status".into(),
        detail: e.to_string(),
    })
}

/// Every trace event before `until`, paged through `GET /trace`.
async fn read_trace(
    client: &ControlClient,
    until: u64,
    mode: Mode,
) -> Result<Vec<TraceLine>, IdempotencyError> {
    let mut events: Vec<TraceLine> = Vec::new();
    loop {
        let after = events.last().map(|e| e.seq);
        if after.map_or(0, |seq| seq + 1) >= until {
            return Ok(events);
        }
        let page = client
            .trace_after(after, TRACE_WAIT)
            .await
            .map_err(|error| IdempotencyError::Control { mode, error })?;
        if page.is_empty() {
            return Err(IdempotencyError::Run {
                mode,
                message: format!(
                    "the trace stops after {} events; the engine recorded {until}",
                    events.len()
                ),
            });
        }
        events.extend(page);
    }
}

/// A directory of its own under the system's temporary directory, removed when dropped
/// (drop it off the async runtime: removal is blocking).
struct Scratch {
    path: PathBuf,
}

impl Scratch {
    fn create() -> std::io::Result<Scratch> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let base = std::env::temp_dir();
        loop {
            let path = base.join(format!(
                "alien-idempotency-{}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ));
            match std::fs::create_dir(&path) {
                Ok(()) => return Ok(Scratch { path }),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
