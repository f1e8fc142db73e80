//! Daemons under `alien emulate`: real processes, supervised by the engine's daemon model so
//! restarts, back-off and stop grace run in the engine's (scaled or virtual) time.
//!
//! ```text
//! prepare_daemon(setup, id)        image + alien-emulate.toml mapping → ProcessSpec with env
//! Sim::set_daemon_external(id)     the engine emits DaemonAction::{Start, Signal}
//! Driver::with_daemon_actions(tx)  every tick / travel step hands them to the runner
//! DaemonRunner::run(rx)            spawns, signals, reports every exit back to the engine
//! ```
//!
//! Sources: seeds 003-004 (Daemon overview and API), upstream-runtime-and-bindings.md §4.2,
//! published-3.3.49.md §9, upstream-cloud-semantics.md §7.

mod runner;
mod setup;
#[cfg(test)]
mod tests;

pub use runner::{DaemonRunner, DaemonView, LastExit};
pub use setup::{CommandsEndpoint, DaemonSetup, DaemonSetupError, daemon_env, prepare_daemon};
