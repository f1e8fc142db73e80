//! Attempts for real processes: each [`Dispatch`] the driver hands over (after its lease is on
//! disk) goes to its worker's process after the platform's cold start; the process's answer
//! becomes the attempt's end in the engine, durable before anything else happens.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::pool::{FIRST_INSTANCE, WorkerPool};
use crate::clock::Clock;
use crate::emulate::driver::Driver;
use crate::emulate::gateway::UpstreamPort;
use crate::emulate::host::{TaskOutcome, WorkerHost};
use crate::engine::{Dispatch, Event, HandlerResult};

/// The processes attempts go to.
#[derive(Clone)]
pub(super) struct Targets {
    pub pools: Arc<BTreeMap<String, Arc<WorkerPool>>>,
    pub upstreams: Arc<BTreeMap<String, UpstreamPort>>,
    pub driver: Driver,
}

/// Hands every dispatch from `rx` to its process, each on a task of its own.
pub(super) async fn deliver_all(targets: Targets, mut rx: mpsc::UnboundedReceiver<Dispatch>) {
    while let Some(dispatch) = rx.recv().await {
        spawn_delivery(&targets, dispatch);
    }
}

/// One attempt on a task of its own.
fn spawn_delivery(targets: &Targets, dispatch: Dispatch) {
    if let Some(pool) = targets.pools.get(&dispatch.worker).cloned() {
        tokio::spawn(deliver(targets.clone(), pool, dispatch));
    }
}

/// The platform's cold start (seeded), in the clock's time: in steps, so time travel shortens
/// the wait.
async fn cold_start(driver: &Driver, latency: Duration) {
    if latency.is_zero() {
        return;
    }
    let ready_at =
        driver.clock.now() + chrono::Duration::from_std(latency).unwrap_or(chrono::TimeDelta::MAX);
    loop {
        let left = driver.clock.sleep_duration_until(ready_at);
        if left.is_zero() {
            return;
        }
        tokio::time::sleep(left.min(Duration::from_millis(50))).await;
    }
}

/// One attempt: to its instance's process, the answer into the engine.
async fn deliver(targets: Targets, pool: Arc<WorkerPool>, dispatch: Dispatch) {
    cold_start(&targets.driver, dispatch.cold_start).await;
    let outcome = match pool.host(dispatch.instance).await {
        Ok(host) => attempt(&host, &dispatch).await,
        Err(error) => TaskOutcome::host_unavailable(error.to_string()),
    };
    settle(&targets, dispatch, outcome).await;
}

/// The attempt on its process. The engine's own timer decides the platform's timeout; the
/// host waits a little longer so the engine's verdict comes first. A `handler_crash` fault
/// kills the process as the attempt reaches it: the handler never completes.
async fn attempt(host: &WorkerHost, dispatch: &Dispatch) -> TaskOutcome {
    if dispatch.crash {
        // A scaled-to-zero app is started first: the attempt reaches a process.
        let _ = host.unpark().await;
        host.kill_process().await;
        TaskOutcome::Crashed
    } else {
        host.deliver(&dispatch.event, dispatch.timeout + Duration::from_secs(1))
            .await
    }
}

/// The process's answer becomes the attempt's end in the engine; instances the engine stopped
/// meanwhile stop. The attempts the end started (the next message for the freed instance) go
/// out as soon as the same change is on disk, without a round through the driver.
async fn settle(targets: &Targets, dispatch: Dispatch, outcome: TaskOutcome) {
    let mut response = None;
    let result = match outcome {
        TaskOutcome::Success { response_data } => {
            let body_bytes = response_data.len() as u64;
            response = Some(response_data);
            Some(HandlerResult::Ok {
                status: 200,
                body_bytes,
            })
        }
        TaskOutcome::Error { code, message } => {
            Some(HandlerResult::Err(format!("{code}: {message}")))
        }
        TaskOutcome::Crashed => Some(HandlerResult::Crash),
        TaskOutcome::Timeout => None,
    };
    let engine = &targets.driver.engine;
    if let Some(result) = result {
        let completed = engine
            .apply(|sim| {
                // The host submits a command's response for the app
                // (upstream-runtime-and-bindings.md §5.4).
                if let (Event::Command(command), Some(data)) = (&dispatch.event, response) {
                    let _ = sim.set_command_response_data(&command.command_id, data);
                }
                sim.complete(dispatch.invocation, result);
                (sim.take_stopped_instances(), sim.take_dispatches())
            })
            .await;
        match completed {
            // A recycled process is stopped before the next attempt can reach it.
            Ok((stopped, next)) => {
                stop_instances(targets, stopped).await;
                for dispatch in next {
                    spawn_delivery(targets, dispatch);
                }
            }
            Err(err) => eprintln!("alien emulate: {err}"),
        }
    }
    targets.driver.wake();
}

/// Stops the processes of instances the engine stopped (scale-in, scale to zero, recycling, a
/// crash). Instance 1 serves HTTP: its port is cleared until a request or attempt starts it.
pub(super) async fn stop_instances(targets: &Targets, stopped: Vec<(String, u32)>) {
    for (worker, instance) in stopped {
        let Some(pool) = targets.pools.get(&worker) else {
            continue;
        };
        if let (FIRST_INSTANCE, Some(upstream)) = (instance, targets.upstreams.get(&worker)) {
            upstream.clear();
        }
        pool.stop(instance).await;
    }
}
