//! Tiny in-memory providers: just enough state to satisfy each trait's contract in the
//! generic drivers. Time stands still at the Unix epoch.

mod daemon;
mod kv;
mod queue;
mod schedule;
mod storage;
mod worker;

use std::sync::{Mutex, MutexGuard};

pub use daemon::MemDaemons;
pub use kv::MemKv;
pub use queue::MemQueue;
pub use schedule::MinuteSchedules;
pub use storage::MemStorage;
pub use worker::EchoWorker;

/// Locks `mutex`, ignoring poisoning (a panicking test already failed).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
