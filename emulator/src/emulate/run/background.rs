//! The tasks that keep a running emulator in step with its processes: process starts and
//! exits into the trace (and each gateway pointed at its app's current port), scale to zero
//! and recycling, and the record of every child process in the state file.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, mpsc};

use super::dispatch::{Targets, stop_instances};
use super::pool::FIRST_INSTANCE;
use crate::emulate::gateway::UpstreamPort;
use crate::emulate::host::{HostEvent, WorkerEvent};
use crate::emulate::processes::{ProcessHook, ProcessNote};
use crate::emulate::state::EngineHandle;
use crate::emulate::state::store::StoreHandle;

/// How often the emulator looks for instances the engine stopped.
const PARK_POLL: Duration = Duration::from_millis(50);

/// Records every child the emulator spawns (and its exit) in the state file, so a run after a
/// crash can reap what this one leaves behind.
pub(super) fn record_children(store: Option<StoreHandle>) -> ProcessHook {
    Arc::new(move |note| {
        let Some(store) = &store else {
            return;
        };
        match note {
            ProcessNote::Started { pid, resource } => store.process_started(pid, &resource),
            ProcessNote::Exited { pid } => store.process_exited(pid),
        }
    })
}

/// Process starts and exits into the trace; each gateway follows its app's current port.
pub(super) async fn follow_processes(
    engine: EngineHandle,
    upstreams: BTreeMap<String, UpstreamPort>,
    mut events: mpsc::UnboundedReceiver<WorkerEvent>,
) {
    while let Some(event) = events.recv().await {
        let (worker, instance) = (event.worker.as_str(), event.instance);
        engine.record(|sim| match &event.event {
            HostEvent::Started { pid, .. } => sim.note_process_started(worker, instance, *pid),
            HostEvent::Exited {
                pid,
                status,
                expected,
            } => sim.note_process_exited(worker, instance, *pid, &status.to_string(), *expected),
            HostEvent::OutOfMemory {
                pid,
                error_type,
                message,
            } => sim.note_out_of_memory(worker, instance, *pid, error_type, message),
            _ => {}
        });
        // The gateway proxies to instance 1 (emulate/run/pool.rs).
        if let (
            HostEvent::Started {
                http_port: Some(p), ..
            },
            FIRST_INSTANCE,
            Some(upstream),
        ) = (&event.event, instance, upstreams.get(worker))
        {
            upstream.set(*p);
        }
    }
}

/// Scale-in, scale to zero and recycling: the engine names the instances it stopped; their
/// processes stop.
pub(super) async fn stop_idle_instances(targets: Targets, shutdown: Arc<Notify>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(PARK_POLL) => {}
            _ = shutdown.notified() => return,
        }
        let stopped = targets.driver.engine.lock().take_stopped_instances();
        stop_instances(&targets, stopped).await;
    }
}
