//! The real-time driver: the same engine `alien simulate` runs in virtual time, moved forward
//! by a [`ScaledClock`] (real time × `--time-scale`, plus whatever the control API advances:
//! time travel). Each tick runs the timers that are due and hands new attempts to the
//! processes and daemon starts and signals to the daemon runner; between ticks it sleeps
//! until the next timer or until something wakes it. What a tick changed is on disk before
//! its attempts reach a process, so a delivery the app saw is never forgotten by a restart.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, mpsc};

use super::state::EngineHandle;
use super::state::store::Ticket;
use crate::clock::{Clock, ScaledClock};
use crate::engine::{DaemonAction, Dispatch, SharedSim, Sim};

/// Longest sleep between ticks, so clock changes are noticed even without a wake-up.
const MAX_SLEEP: Duration = Duration::from_millis(250);

#[derive(Clone)]
pub struct Driver {
    pub sim: SharedSim,
    pub engine: EngineHandle,
    pub clock: Arc<ScaledClock>,
    wake: Arc<Notify>,
    daemon_actions: Option<mpsc::UnboundedSender<DaemonAction>>,
}

/// What one tick produced: attempts for processes, to hand over once `durable` resolved.
pub struct Tick {
    pub dispatches: Vec<Dispatch>,
    pub durable: Ticket,
}

impl Driver {
    /// A driver of `engine` (a shared simulation, or one with a store) on `clock`.
    pub fn new(engine: impl Into<EngineHandle>, clock: Arc<ScaledClock>) -> Driver {
        let engine = engine.into();
        Driver {
            sim: engine.sim().clone(),
            engine,
            clock,
            wake: Arc::new(Notify::new()),
            daemon_actions: None,
        }
    }

    /// Hands the engine's daemon starts and signals to `tx` (the daemon runner) after every
    /// tick and every step of time travel.
    pub fn with_daemon_actions(mut self, tx: mpsc::UnboundedSender<DaemonAction>) -> Driver {
        self.daemon_actions = Some(tx);
        self
    }

    /// What wakes the driver (for those reporting back without holding a `Driver`).
    pub(crate) fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    fn hand_off_daemon_actions(&self, sim: &mut Sim) {
        if let Some(tx) = &self.daemon_actions {
            for action in sim.take_daemon_actions() {
                let _ = tx.send(action);
            }
        }
    }

    /// The newest attempt with a real process now: a time-travel step waits for it and
    /// every older one.
    fn in_flight_now(&self) -> Option<u64> {
        let sim = self.sim.lock().unwrap_or_else(|p| p.into_inner());
        sim.newest_external_attempt()
    }

    /// Whether attempts up to `through` or daemon transitions are still with processes.
    fn still_in_flight(&self, through: Option<u64>) -> bool {
        let sim = self.sim.lock().unwrap_or_else(|p| p.into_inner());
        let daemons = self.daemon_actions.is_some() && sim.daemons_in_transition() > 0;
        daemons || through.is_some_and(|t| sim.external_in_flight_through(t) > 0)
    }

    /// Runs every timer due by the clock's now; returns the attempts for real processes
    /// and the ticket of the changes.
    pub fn tick(&self) -> Tick {
        let mut sim = self.engine.lock();
        // The control API may have moved the engine ahead (time travel): follow it.
        if let Ok(ahead) = (sim.now() - self.clock.now()).to_std() {
            self.clock.advance(ahead);
        }
        if let Err(err) = sim.run_until(self.clock.now()) {
            eprintln!("alien emulate: simulation step failed: {err}");
        }
        self.hand_off_daemon_actions(&mut sim);
        Tick {
            durable: self.engine.hand_over(&mut sim, false),
            dispatches: sim.take_dispatches(),
        }
    }

    /// Asks for a tick now (after an app sent a message, a process answered, …).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Time travel: moves the clock (and so the engine) forward by `d`.
    pub fn advance(&self, d: Duration) {
        self.clock.advance(d);
        self.wake();
    }

    /// Time travel with real processes: moves forward timer by timer and, whenever attempts
    /// are with processes (handed over before the jump or by a step of it), waits (in real
    /// time, up to `patience` per step) for their answers before moving on — so a jump over a
    /// lease expiry redelivers, and the app really handles it, instead of every attempt
    /// timing out inside the jump. Likewise a daemon (re)started inside the jump gets its
    /// startup check, and a stopped one the chance to exit, before time moves on. The new
    /// instant is on disk before it is returned.
    pub async fn travel(
        &self,
        by: Duration,
        patience: Duration,
    ) -> Result<chrono::DateTime<chrono::Utc>, crate::engine::SimError> {
        let (mut now, target) = {
            let sim = self.engine.lock();
            let now = sim.now();
            (
                now,
                now + chrono::Duration::from_std(by).unwrap_or(chrono::TimeDelta::MAX),
            )
        };
        loop {
            self.wake();
            self.settle(patience).await;
            if now >= target {
                return Ok(now);
            }
            let durable = {
                let mut sim = self.engine.lock();
                let step = sim
                    .next_deadline()
                    .filter(|t| *t <= target)
                    .unwrap_or(target);
                sim.run_until(step)?;
                self.hand_off_daemon_actions(&mut sim);
                now = sim.now();
                // The last step writes the clock even when nothing else changed: the new
                // instant is answered, so it must survive a restart.
                self.engine.hand_over(&mut sim, now >= target)
            };
            durable
                .wait()
                .await
                .map_err(|e| crate::engine::SimError::Invalid(e.to_string()))?;
        }
    }

    /// Waits (real time, up to `patience`) until the attempts with processes when it began,
    /// and any daemon transition, are over. Attempts that start meanwhile (traffic from
    /// outside the jump) do not hold it up: under steady load there is never a moment with
    /// none in flight.
    async fn settle(&self, patience: Duration) {
        let waited = tokio::time::Instant::now();
        let through = self.in_flight_now();
        while self.still_in_flight(through) && waited.elapsed() < patience {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    fn sleep_for(&self) -> Duration {
        let next = self
            .sim
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .next_deadline();
        next.map_or(MAX_SLEEP, |at| {
            self.clock.sleep_duration_until(at).min(MAX_SLEEP)
        })
    }

    /// Ticks until `shutdown` is notified, sending each dispatch to `out` once the tick's
    /// changes are on disk.
    pub async fn run(self, out: mpsc::UnboundedSender<Dispatch>, shutdown: Arc<Notify>) {
        loop {
            let tick = self.tick();
            if let Err(err) = tick.durable.wait().await {
                eprintln!("alien emulate: {err}");
            }
            for dispatch in tick.dispatches {
                if out.send(dispatch).is_err() {
                    return;
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(self.sleep_for()) => {}
                _ = self.wake.notified() => {}
                _ = shutdown.notified() => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::atomic::{AtomicU64, Ordering};

    use alien_providers::Payload;
    use chrono::{NaiveDate, TimeZone, Utc};

    use super::*;
    use crate::Platform;
    use crate::engine::{SendVia, Sim, SimConfig, shared};
    use crate::profile::Profile;

    /// Real time is injected, so the test never waits on the wall clock.
    #[test]
    fn ticks_follow_the_clock_and_time_travel() {
        let stack = crate::stack::parse_stack_json(
            r#"{"id":"s","resources":{
              "jobs":{"config":{"type":"queue","id":"jobs"},"lifecycle":"frozen","dependencies":[]},
              "w":{"config":{"type":"worker","id":"w","links":[],"permissions":"p","code":{"type":"image","image":"x"},
                "timeoutSeconds":10,"triggers":[{"type":"queue","queue":{"type":"queue","id":"jobs"}}]},"lifecycle":"live","dependencies":[]}}}"#,
            Path::new("s.json"),
        )
        .unwrap();
        let start = Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0).unwrap();
        let profile = Profile::new(
            Platform::Local,
            NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
        )
        .unwrap();
        let mut sim = Sim::new(&stack, profile, SimConfig::new(1, start));
        sim.set_external("w").unwrap();
        let sim = shared(sim);
        let real_ms = Arc::new(AtomicU64::new(0));
        let elapsed = real_ms.clone();
        let clock = Arc::new(
            ScaledClock::with_elapsed(start, 1.0, move || {
                Duration::from_millis(elapsed.load(Ordering::SeqCst))
            })
            .unwrap(),
        );
        let driver = Driver::new(sim.clone(), clock);
        sim.lock()
            .unwrap()
            .send("jobs", Payload::Text("x".into()), SendVia::Binding)
            .unwrap();
        let first = driver.tick().dispatches;
        assert_eq!(first.len(), 1, "delivered at once");
        // Nobody answers: the local 300 s task cap is far, the 30 s lease expires first.
        real_ms.store(29_000, Ordering::SeqCst);
        assert!(driver.tick().dispatches.is_empty());
        real_ms.store(30_000, Ordering::SeqCst);
        assert!(
            driver.tick().dispatches.is_empty(),
            "the single process is still busy with attempt 1"
        );
        // Time travel past the task cap: attempt 1 times out and attempt 2 is dispatched.
        driver.advance(Duration::from_secs(300));
        let second = driver.tick().dispatches;
        assert_eq!(second.len(), 1);
        assert_eq!(second[0].attempt, 2);
    }
}
