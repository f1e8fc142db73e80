//! Phase 3 of a start: the state. The state file is opened (an older format migrated, a newer
//! or broken one refused before anything is written), processes a previous run left behind
//! are reaped, and the engine goes on from the saved state at the instant
//! [`resume_instant`] gives, so the clock never goes back. Then the store's writer takes
//! over, and the engine reports every change to it.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;

use super::prepare::{Plan, run_blocking};
use super::{EmulateError, STATE_FILE};
use crate::clock::{ScaledClock, resume_instant};
use crate::emulate::processes::{self, ReapOutcome, Reaped};
use crate::emulate::state::EngineHandle;
use crate::emulate::state::store::{Loaded, Store, TraceReader, WriterOptions};
use crate::engine::{Sim, SimConfig, shared};

/// Trace events the engine keeps in memory (older ones are read from the state file).
pub const TRACE_WINDOW: usize = 10_000;

/// How long a process of a previous run gets between SIGTERM and SIGKILL.
const REAP_GRACE: Duration = Duration::from_secs(2);

/// The engine, resumed, with its clock and its store.
pub(super) struct Resumed {
    pub engine: EngineHandle,
    pub clock: Arc<ScaledClock>,
    pub trace_pages: Arc<TraceReader>,
}

/// Opens the state, reaps leftovers, restores the engine and starts the writer.
pub(super) async fn resume(
    plan: &Plan,
    progress: &mut dyn FnMut(&str),
) -> Result<Resumed, EmulateError> {
    let path = plan.state_dir.join(STATE_FILE);
    let opened = path.clone();
    let (store, loaded, reaped, trace_pages) = run_blocking(move || open(&opened)).await?;
    if let Some(version) = store.migrated_from() {
        progress(&format!(
            "migrated {} from state format v{version} to v{} (the v{version} file is kept as {})",
            path.display(),
            crate::emulate::state::store::FORMAT_VERSION,
            crate::emulate::state::store::backup_path(&path).display()
        ));
    }
    for note in reap_notes(&reaped) {
        progress(&note);
    }
    let wall = Utc::now();
    let start = loaded
        .as_ref()
        .map_or(wall, |l| resume_instant(&l.clock, wall));
    if let Some(loaded) = &loaded {
        progress(&format!(
            "resuming from {} (engine time {} when last written; now {start})",
            path.display(),
            loaded.clock.now
        ));
    }
    let options = &plan.options;
    let clock = Arc::new(ScaledClock::new(start, options.time_scale).map_err(super::io)?);
    let mut sim_config = SimConfig::new(options.seed, start);
    // The processes start warm; after scale to zero (or recycling) the next attempt pays
    // the profile's seeded cold start on top of the real process start.
    sim_config.cold_start_override = options.cold_start;
    sim_config.recycle = options.recycle;
    sim_config.max_local_instances = Some(options.max_instances);
    let profile = plan.profile.clone();
    let mut sim = match loaded {
        Some(l) => Sim::restore(&plan.stack, profile, sim_config, l.state),
        None => Sim::new(&plan.stack, profile, sim_config),
    };
    // Every worker's attempts go to its process (set before anything is delivered).
    for (id, _) in plan.stack.workers() {
        sim.set_external(id).map_err(super::io)?;
    }
    sim.track_changes(TRACE_WINDOW);
    let writer = store.start_writer(
        sim.trace().next_seq(),
        WriterOptions {
            trace_retention: options.trace_retention,
            time_scale: options.time_scale,
        },
    )?;
    Ok(Resumed {
        engine: EngineHandle::durable(shared(sim), writer),
        clock,
        trace_pages: Arc::new(trace_pages),
    })
}

type Opened = (Store, Option<Loaded>, Vec<Reaped>, TraceReader);

/// The blocking part: open (or migrate), load, reap and forget the previous run's children.
fn open(path: &Path) -> Result<Opened, EmulateError> {
    let store = Store::open(path)?;
    let loaded = store.load(TRACE_WINDOW)?;
    let reaped = loaded
        .as_ref()
        .map(|l| processes::reap(&l.processes, REAP_GRACE))
        .unwrap_or_default();
    store.clear_processes()?;
    let trace_pages = store.trace_reader()?;
    Ok((store, loaded, reaped, trace_pages))
}

/// One start-up note per process that was still running.
fn reap_notes(reaped: &[Reaped]) -> Vec<String> {
    reaped
        .iter()
        .filter_map(|r| {
            let how = match r.outcome {
                ReapOutcome::Gone => return None,
                ReapOutcome::Terminated => "stopped (SIGTERM)",
                ReapOutcome::Killed => "killed (SIGKILL after the grace period)",
            };
            Some(format!(
                "a previous run left {} (pid {}) running: {how}",
                r.record.resource, r.record.pid
            ))
        })
        .collect()
}
