//! Long-running daemons, addressed by resource id
//! (upstream-stack-and-limits.md §1.10; upstream-runtime-and-bindings.md §4.2).

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::Result;

/// How a daemon's last run ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DaemonExit {
    /// When it exited.
    pub at: DateTime<Utc>,
    /// Exit code; `None` when it was killed by a signal.
    pub code: Option<i32>,
}

/// Current state of a daemon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DaemonStatus {
    /// Daemon resource id.
    pub name: String,
    /// Whether a process is running now.
    pub running: bool,
    /// How often the supervisor restarted it after an exit it did not request.
    pub restarts: u32,
    /// The most recent exit, if any.
    pub last_exit: Option<DaemonExit>,
}

/// Starts, stops and observes daemons. An unknown `name` is `NotFound`.
pub trait DaemonProvider: Send + Sync {
    /// Starts daemon `name`; starting a running daemon is a no-op.
    fn start(&self, name: &str) -> impl Future<Output = Result<DaemonStatus>> + Send;

    /// Asks daemon `name` to stop and kills it once `grace` has passed (upstream: SIGTERM,
    /// then SIGKILL after `stopGracePeriodSeconds`, default 30 s, §4.2).
    fn stop(
        &self,
        name: &str,
        grace: Duration,
    ) -> impl Future<Output = Result<DaemonStatus>> + Send;

    /// Current state of daemon `name`.
    fn status(&self, name: &str) -> impl Future<Output = Result<DaemonStatus>> + Send;
}
