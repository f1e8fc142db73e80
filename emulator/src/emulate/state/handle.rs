//! The engine as every wire server and runtime part of `alien emulate` reaches it: the shared
//! simulation plus, when the emulator keeps state, the store's writer. An operation runs under
//! the engine lock, hands the rows it changed to the writer there, and is answered only once
//! they are on disk (design.md "State and durability"); the lock is never held while waiting.

use std::sync::MutexGuard;

use tokio::sync::watch;

use super::store::{StoreError, StoreHandle, Ticket};
use crate::engine::{SharedSim, Sim};

#[derive(Clone)]
pub struct EngineHandle {
    sim: SharedSim,
    store: Option<StoreHandle>,
}

/// An engine without a store (tests, tools): nothing to wait for.
impl From<SharedSim> for EngineHandle {
    fn from(sim: SharedSim) -> EngineHandle {
        EngineHandle { sim, store: None }
    }
}

impl EngineHandle {
    /// `sim` whose changes `store` writes (the simulation must track its changes).
    pub fn durable(sim: SharedSim, store: StoreHandle) -> EngineHandle {
        EngineHandle {
            sim,
            store: Some(store),
        }
    }

    pub fn sim(&self) -> &SharedSim {
        &self.sim
    }

    pub fn store(&self) -> Option<&StoreHandle> {
        self.store.as_ref()
    }

    pub fn lock(&self) -> MutexGuard<'_, Sim> {
        self.sim.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `op` on the engine and resolves to its result once what it changed is on disk.
    pub async fn apply<T>(&self, op: impl FnOnce(&mut Sim) -> T) -> Result<T, StoreError> {
        let (value, ticket) = self.apply_deferred(op, false);
        ticket.wait().await?;
        Ok(value)
    }

    /// [`EngineHandle::apply`] for threads outside the async runtime.
    pub fn apply_blocking<T>(&self, op: impl FnOnce(&mut Sim) -> T) -> Result<T, StoreError> {
        let (value, ticket) = self.apply_deferred(op, false);
        ticket.wait_blocking()?;
        Ok(value)
    }

    /// [`EngineHandle::apply`] that writes the clock even when nothing else changed (time
    /// travel: the new instant must survive a restart once it was answered).
    pub async fn apply_with_clock<T>(
        &self,
        op: impl FnOnce(&mut Sim) -> T,
    ) -> Result<T, StoreError> {
        let (value, ticket) = self.apply_deferred(op, true);
        ticket.wait().await?;
        Ok(value)
    }

    /// Runs `op` and hands its changes over without waiting: for callers that must release
    /// a lock of their own before they wait for the ticket.
    pub fn apply_deferred<T>(&self, op: impl FnOnce(&mut Sim) -> T, force: bool) -> (T, Ticket) {
        let mut sim = self.lock();
        let value = op(&mut sim);
        let ticket = self.hand_over(&mut sim, force);
        (value, ticket)
    }

    /// Runs `op` (a note nobody is answered about: a process start, a gateway request) and
    /// hands its changes to the writer without waiting for them.
    pub fn record(&self, op: impl FnOnce(&mut Sim)) {
        let (_, ticket) = self.apply_deferred(op, false);
        drop(ticket);
    }

    /// Hands the changes of `sim` (locked by the caller) to the writer; the ticket resolves
    /// once they are on disk.
    pub fn hand_over(&self, sim: &mut Sim, force: bool) -> Ticket {
        match &self.store {
            None => Ticket::done(),
            Some(store) => store.submit(sim.take_changes(), chrono::Utc::now(), force),
        }
    }

    /// The sequence number after the newest trace event on disk; None without a store (then
    /// every event in memory counts).
    pub fn durable_trace(&self) -> Option<watch::Receiver<u64>> {
        self.store.as_ref().map(StoreHandle::durable_trace)
    }
}
