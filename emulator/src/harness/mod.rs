//! A test harness for an Alien app's own `cargo test` (issue 14 item 4): `alien emulate` started
//! in-process on the app's stack and one platform, with its own temporary state directory, the
//! real worker processes, and virtual time that moves only when the test says so.
//!
//! ```no_run
//! # async fn example() -> Result<(), alien_emulator::harness::HarnessError> {
//! use alien_emulator::harness::Harness;
//! use serde_json::json;
//!
//! for platform in ["aws", "gcp"] {
//!     let app = Harness::start("examples/hello-worker/alien.json", platform).await?;
//!     let id = app.send("jobs", json!({"fail_times": 1})).await?;
//!     app.run_until_idle().await?;
//!     let attempts = app.attempts("jobs", &id).await?;
//!     assert_eq!(attempts.last().map(|a| a.outcome.as_str()), Some("succeeded"));
//!     app.stop().await;
//! }
//! # Ok(()) }
//! ```

mod command;
mod snapshots;
mod trace;

use std::path::{Path, PathBuf};
use std::time::Duration;

use alien_providers::Payload;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::emulate::control::{ClientError, ControlClient, TraceLine};
use crate::emulate::run::{EmulateError, EmulateOptions, Emulator};
use crate::profile::{ProfileSpec, ProfileSpecError};
use crate::stack::{StackError, load_stack};

pub use command::CommandOutcome;
pub use trace::Attempt;

/// Virtual seconds per real second: time moves only by [`Harness::advance`] (and the instant
/// answers of the app), so a test never waits on the wall clock.
const FROZEN: f64 = 1e-6;
/// How much virtual time one step of [`Harness::run_until_idle`] adds.
const IDLE_STEP: &str = "1m";
/// Most steps [`Harness::run_until_idle`] takes (a day of virtual time).
const IDLE_STEPS: usize = 24 * 60;
/// How long stopping gives each process before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    #[error("platform '{0}': {1}")]
    Platform(String, ProfileSpecError),
    #[error(transparent)]
    Stack(#[from] StackError),
    #[error("cannot make a state directory: {0}")]
    StateDir(std::io::Error),
    #[error(transparent)]
    Start(#[from] EmulateError),
    #[error(transparent)]
    Control(#[from] ClientError),
    #[error(transparent)]
    Commands(#[from] crate::emulate::commands_api::CommandsClientError),
    #[error("command {id} is still {state} after {waited:?}")]
    CommandPending {
        id: String,
        state: String,
        waited: Duration,
    },
    #[error(transparent)]
    Snapshot(#[from] crate::emulate::state::snapshot::SnapshotError),
    #[error(
        "still busy after {IDLE_STEPS} steps of {IDLE_STEP} (trace events every step; in flight: {0})"
    )]
    NotIdle(String),
}

/// A running emulator for one test: dropped or [`Harness::stop`]ped, its processes stop and
/// its state directory is removed.
pub struct Harness {
    emulator: Option<Emulator>,
    client: ControlClient,
    state_dir: PathBuf,
    platform: String,
    /// How the emulator was started (a restore starts it again, a fork starts another).
    options: EmulateOptions,
}

impl Harness {
    /// Starts the stack at `stack` (a stack JSON, `alien.ts`, or a directory) on `platform`
    /// (`aws`, `gcp@2025-06`, …) with cold starts off, in a fresh state directory.
    pub async fn start(stack: impl AsRef<Path>, platform: &str) -> Result<Harness, HarnessError> {
        let spec: ProfileSpec = platform
            .parse()
            .map_err(|e| HarnessError::Platform(platform.to_string(), e))?;
        let profile = spec
            .resolve(Utc::now().date_naive())
            .map_err(|e| HarnessError::Platform(platform.to_string(), e))?;
        let loaded = load_stack(stack.as_ref())?;
        let state_dir = fresh_state_dir().map_err(HarnessError::StateDir)?;
        let mut options = EmulateOptions::new(loaded, profile);
        options.state_dir = Some(state_dir.clone());
        options.time_scale = FROZEN;
        options.cold_start = Some(Duration::ZERO);
        Harness::launch(options, state_dir, platform.to_string()).await
    }

    /// Starts the emulator `options` describe on `state_dir` (which it then owns).
    async fn launch(
        mut options: EmulateOptions,
        state_dir: PathBuf,
        platform: String,
    ) -> Result<Harness, HarnessError> {
        options.state_dir = Some(state_dir.clone());
        let emulator =
            Emulator::start(options.clone(), &mut |line| tracing::debug!("{line}")).await?;
        let client = ControlClient::new(emulator.control_url.clone());
        Ok(Harness {
            emulator: Some(emulator),
            client,
            state_dir,
            platform,
            options,
        })
    }

    /// The platform as given to [`Harness::start`].
    pub fn platform(&self) -> &str {
        &self.platform
    }

    /// The control API's URL (for what the harness does not wrap).
    pub fn control_url(&self) -> String {
        self.emulator
            .as_ref()
            .map_or_else(String::new, |e| e.control_url.clone())
    }

    /// Sends `json` to `queue` as a producer would; returns the message id.
    pub async fn send(&self, queue: &str, json: Value) -> Result<String, HarnessError> {
        Ok(self.client.send(queue, &Payload::Json(json)).await?)
    }

    /// Moves virtual time by `by` (`"90s"`, `"1h"`); each attempt on the way is handed to the
    /// real process. Returns the new virtual now.
    pub async fn advance(&self, by: &str) -> Result<DateTime<Utc>, HarnessError> {
        Ok(self.client.advance(by).await?)
    }

    /// Advances a minute at a time until a minute passes with no trace event and no message
    /// in flight (at most a day). A message no worker consumes may stay visible: Pub/Sub's
    /// own pull subscription keeps a copy of each (upstream-cloud-semantics.md §13 item 1).
    pub async fn run_until_idle(&self) -> Result<(), HarnessError> {
        let mut last = self.last_seq().await?;
        for _ in 0..IDLE_STEPS {
            self.advance(IDLE_STEP).await?;
            let now = self.last_seq().await?;
            if now == last && self.in_flight().await?.is_empty() {
                return Ok(());
            }
            last = now;
        }
        Err(HarnessError::NotIdle(self.in_flight().await?.join(", ")))
    }

    /// The sequence number of the newest trace event.
    async fn last_seq(&self) -> Result<Option<u64>, HarnessError> {
        let mut last = None;
        loop {
            let page = self.client.trace_after(last, Duration::ZERO).await?;
            match page.last() {
                Some(e) => last = Some(e.seq),
                None => return Ok(last),
            }
        }
    }

    /// Queues with messages in flight, as `name (n)`.
    async fn in_flight(&self) -> Result<Vec<String>, HarnessError> {
        let status = self.client.status().await?;
        Ok(status["queues"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|q| {
                let held = q["in_flight"].as_u64()?;
                let name = q["name"].as_str()?;
                (held > 0).then(|| format!("{name} ({held} in flight)"))
            })
            .collect())
    }

    /// Every message `queue` holds, without leasing it.
    pub async fn peek(&self, queue: &str) -> Result<Vec<Value>, HarnessError> {
        Ok(self.client.peek(queue).await?)
    }

    /// The dead-letter queue of `queue`.
    pub async fn dead_letters(&self, queue: &str) -> Result<Vec<Value>, HarnessError> {
        Ok(self.client.dead_letters(queue).await?)
    }

    /// Writes an object (the app sees it in its `local-storage` binding, and storage triggers
    /// fire).
    pub async fn put(&self, bucket: &str, key: &str, body: &[u8]) -> Result<(), HarnessError> {
        self.client
            .put_object(bucket, key, body.to_vec(), "application/octet-stream")
            .await?;
        Ok(())
    }

    /// An object's bytes, or `None` when absent.
    pub async fn get(&self, bucket: &str, key: &str) -> Result<Option<Vec<u8>>, HarnessError> {
        Ok(self
            .client
            .get_object(bucket, key)
            .await?
            .map(|object| object.body))
    }

    /// Fires schedule trigger `index` of `worker` now.
    pub async fn fire_cron(&self, worker: &str, index: usize) -> Result<(), HarnessError> {
        Ok(self.client.fire_cron(worker, index).await?)
    }

    /// Arms a one-shot fault (`"handler_crash"`, `"lost_ack"`, …; daemon faults name it).
    pub async fn inject(&self, fault: &str, target: Option<&str>) -> Result<(), HarnessError> {
        self.client
            .post_json("/faults/inject", &json!({"fault": fault, "target": target}))
            .await?;
        Ok(())
    }

    /// The public URL of `worker`'s gateway, when it has one.
    pub async fn gateway_url(&self, worker: &str) -> Result<Option<String>, HarnessError> {
        let status = self.client.status().await?;
        Ok(status["workers"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|w| w["id"] == worker)
            .and_then(|w| w["gateway"].as_str().map(String::from)))
    }

    /// The whole trace so far.
    pub async fn trace(&self) -> Result<Vec<TraceLine>, HarnessError> {
        let mut all: Vec<TraceLine> = Vec::new();
        loop {
            let after = all.last().map(|e| e.seq);
            let page = self.client.trace_after(after, Duration::ZERO).await?;
            if page.is_empty() {
                return Ok(all);
            }
            all.extend(page);
        }
    }

    /// Every delivery of message `id` of `queue` and how it ended.
    pub async fn attempts(&self, queue: &str, id: &str) -> Result<Vec<Attempt>, HarnessError> {
        Ok(trace::attempts(&self.trace().await?, queue, id))
    }

    /// Why message `id` of `queue` came back, each time, in the engine's words.
    pub async fn redelivery_causes(
        &self,
        queue: &str,
        id: &str,
    ) -> Result<Vec<String>, HarnessError> {
        Ok(trace::causes(&self.trace().await?, queue, id))
    }

    /// Stops the processes and removes the state directory.
    pub async fn stop(mut self) {
        if let Some(emulator) = self.emulator.take() {
            emulator.stop(STOP_GRACE).await;
        }
        let dir = self.state_dir.clone();
        let _ = tokio::task::spawn_blocking(move || std::fs::remove_dir_all(dir)).await;
    }
}

/// A new directory under the system's temp dir, unique to this process and call.
fn fresh_state_dir() -> std::io::Result<PathBuf> {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("alien-harness-{}-{n}", std::process::id()));
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
