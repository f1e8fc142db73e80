//! The real fixture app (tests/fixtures/worker-app, alien-sdk 3.3.49) under a `WorkerHost`
//! with the platform's per-instance limits (issue 14 item 2): past its `memoryMb` it is
//! killed and reported in the platform's words, and the host starts a new process; under it
//! the same handler succeeds. Linux only: the limits are cgroups (or an rlimit).
//!
//! Sources: upstream-cloud-semantics.md §3.1 (Lambda `MemorySize = memoryMb`; Cloud Run
//! `limits.memory`); Lambda "Runtime exited with error: signal: killed" (Runtime.ExitError,
//! https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html); Cloud Run
//! "writing files to the filesystem" counts against memory
//! (https://cloud.google.com/run/docs/configuring/memory-limits).
#![cfg(target_os = "linux")]

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::OnceLock,
    time::Duration,
};

use alien_emulator::emulate::host::{
    HostConfig, HostEvent, InstanceLimits, LogLine, LogSink, ProcessSpec, RestartReason,
    TaskOutcome, WorkerEvent, WorkerHost,
};
use alien_emulator::engine::{Event, QueueMessage};
use alien_emulator::platform::Platform;
use alien_emulator::profile::Profile;
use alien_providers::Payload;
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// Upper bound for any single wait here (a 128 MB Lambda gets 0.072 vCPU).
const BOUND: Duration = Duration::from_secs(90);
const TASK_TIMEOUT: Duration = Duration::from_secs(60);

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("emulator/ has a parent")
        .to_path_buf()
}

/// Builds the fixture app once per test process (`cargo build --locked` into the shared
/// target dir, without this test's crate-scoped cargo variables) and returns its path.
fn fixture_app() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let root = repo_root();
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map_or_else(|| root.join("target"), PathBuf::from);
            let mut cargo = Command::new(std::env::var_os("CARGO").unwrap_or("cargo".into()));
            alien_emulator::emulate::config::scrub_crate_env(&mut cargo);
            let status = cargo
                .args(["build", "--locked", "--bin", "worker-app"])
                .current_dir(root.join("tests/fixtures/worker-app"))
                .env("CARGO_TARGET_DIR", &target)
                .stdout(Stdio::null())
                .status()
                .expect("run cargo");
            assert!(
                status.success(),
                "building the worker-app fixture failed (is protoc installed?)"
            );
            target.join("debug/worker-app")
        })
        .clone()
}

fn limits(platform: Platform, memory_mb: u32) -> InstanceLimits {
    let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
    let profile = Profile::new(platform, day).expect("an emulated platform");
    InstanceLimits::for_worker(&profile.worker.limits, memory_mb).expect("memory enforced")
}

struct Harness {
    host: WorkerHost,
    logs: mpsc::UnboundedReceiver<LogLine>,
    events: mpsc::UnboundedReceiver<WorkerEvent>,
}

impl Harness {
    async fn start(worker: &str, limits: InstanceLimits) -> Self {
        let app = tokio::task::spawn_blocking(fixture_app)
            .await
            .expect("fixture build task");
        let (log_tx, logs) = mpsc::unbounded_channel();
        let (event_tx, events) = mpsc::unbounded_channel();
        let mut config = HostConfig::new(worker, ProcessSpec::new(app));
        config.log_sink = LogSink::channel(log_tx);
        config.events = Some(event_tx);
        config.stop_grace = Duration::from_secs(5);
        config.limits = Some(limits);
        let host = tokio::time::timeout(BOUND, WorkerHost::start(config))
            .await
            .expect("start in time")
            .unwrap_or_else(|error| panic!("start failed: {error}"));
        Self { host, logs, events }
    }

    async fn deliver(&self, payload: Value, attempt: u32) -> TaskOutcome {
        let event = Event::Queue(QueueMessage {
            id: "msg-1".into(),
            payload: Payload::Json(payload),
            receipt_handle: format!("{attempt}:r"),
            source: "jobs".into(),
            attempt_count: attempt,
            timestamp: chrono::Utc::now(),
            attributes: BTreeMap::new(),
        });
        tokio::time::timeout(BOUND, self.host.deliver(&event, TASK_TIMEOUT))
            .await
            .expect("delivery returns in time")
    }

    async fn stop(&self) {
        tokio::time::timeout(BOUND, self.host.stop(Duration::from_secs(5)))
            .await
            .expect("stop in time")
            .expect("stop succeeds");
    }

    /// Waits for an app output line starting with `prefix`.
    async fn line(&mut self, prefix: &str) -> String {
        let found = tokio::time::timeout(BOUND, async {
            while let Some(line) = self.logs.recv().await {
                if line.line.starts_with(prefix) {
                    return Some(line.line);
                }
            }
            None
        })
        .await;
        found
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("no line {prefix:?}"))
    }

    /// The host events up to and including the first that matches `wanted`.
    async fn events_until(&mut self, wanted: impl Fn(&HostEvent) -> bool) -> Vec<HostEvent> {
        let mut seen = Vec::new();
        let found = tokio::time::timeout(BOUND, async {
            while let Some(event) = self.events.recv().await {
                let done = wanted(&event.event);
                seen.push(event.event);
                if done {
                    return true;
                }
            }
            false
        })
        .await;
        assert!(matches!(found, Ok(true)), "event not seen; saw {seen:?}");
        seen
    }
}

/// The memory cgroup directory of `pid` (v1 `memory` line or v2 `0::` line).
fn memory_cgroup_dir(pid: u32) -> Option<PathBuf> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    text.lines().find_map(|line| {
        if let Some(path) = line.split_once(":memory:").map(|(_, p)| p) {
            return Some(PathBuf::from(format!("/sys/fs/cgroup/memory{path}")));
        }
        None
    })
}

/// Lambda at 128 MB: `{"alloc_mb": 16}` succeeds; `{"alloc_mb": 300}` kills the process,
/// reported as Lambda reports it (Runtime.ExitError, "Runtime exited with error: signal:
/// killed"); the host starts a new process, which takes the retried delivery.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_its_memory_the_app_is_killed_with_the_lambda_error_and_restarted() {
    let mut h = Harness::start("oom-aws", limits(Platform::Aws, 128)).await;
    h.events_until(|e| matches!(e, HostEvent::Started { .. }))
        .await;
    let enforcement = h.host.enforcement().expect("limits in force");
    eprintln!("limits: {enforcement}");
    assert_eq!(enforcement.memory_mb, 128);
    assert_eq!(enforcement.millicpus, Some(72));
    let first = h.host.pid().expect("running");
    let cgroup = memory_cgroup_dir(first);

    assert!(h.deliver(json!({"alloc_mb": 16}), 1).await.is_success());
    assert_eq!(
        h.line("event alloc_mb").await,
        "event alloc_mb mb=16 pages=4096"
    );

    let outcome = h.deliver(json!({"alloc_mb": 300}), 1).await;
    assert_eq!(
        outcome,
        TaskOutcome::Error {
            code: "Runtime.ExitError".into(),
            message: "Runtime exited with error: signal: killed".into(),
        }
    );
    let seen = h
        .events_until(|e| matches!(e, HostEvent::Started { .. }))
        .await;
    match &seen[..] {
        [
            HostEvent::OutOfMemory {
                pid,
                error_type,
                message,
            },
            HostEvent::Exited {
                status,
                expected: false,
                ..
            },
            HostEvent::Restarting {
                reason: RestartReason::Crashed,
            },
            HostEvent::Started { pid: second, .. },
        ] => {
            assert_eq!(*pid, first);
            assert_eq!(error_type, "Runtime.ExitError");
            assert_eq!(message, "Runtime exited with error: signal: killed");
            assert_eq!(status.signal, Some(9), "{status}");
            assert_ne!(*second, first);
        }
        other => panic!("unexpected events {other:?}"),
    }
    // The dead instance's cgroup is gone.
    if let Some(dir) = cgroup {
        assert!(!dir.exists(), "{} left behind", dir.display());
    }
    // The retried delivery (attempt 2) reaches the new process and succeeds under the limit.
    assert!(h.deliver(json!({"alloc_mb": 16}), 2).await.is_success());
    let second = h.host.pid().expect("running");
    let cgroup = memory_cgroup_dir(second);
    h.stop().await;
    if let Some(dir) = cgroup {
        assert!(!dir.exists(), "{} left behind after stop", dir.display());
    }
}

/// Cloud Run at 512 MiB: the filesystem is in memory, so writing 600 MB to the scratch
/// directory kills the instance, with Cloud Run's "Memory limit of 512 MiB exceeded" line;
/// 64 MB is fine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloud_run_scratch_writes_count_against_memory() {
    let mut h = Harness::start("oom-gcp", limits(Platform::Gcp, 512)).await;
    h.events_until(|e| matches!(e, HostEvent::Started { .. }))
        .await;
    let enforcement = h.host.enforcement().expect("limits in force");
    eprintln!("limits: {enforcement}");
    assert_eq!(enforcement.scratch_not_enforced, None, "{enforcement}");

    assert!(h.deliver(json!({"write_tmp_mb": 64}), 1).await.is_success());
    let line = h.line("event write_tmp_mb").await;
    assert!(
        line.starts_with("event write_tmp_mb mb=64 dir=") && line.contains("alien-scratch-"),
        "{line}"
    );

    let TaskOutcome::Error { code, message } = h.deliver(json!({"write_tmp_mb": 600}), 1).await
    else {
        panic!("expected the Cloud Run memory error");
    };
    assert_eq!(code, "MemoryLimitExceeded");
    assert!(
        message.starts_with("Memory limit of 512 MiB exceeded with "),
        "{message}"
    );
    h.events_until(|e| matches!(e, HostEvent::Started { .. }))
        .await;
    assert!(h.deliver(json!({"write_tmp_mb": 8}), 2).await.is_success());
    let line = h.line("event write_tmp_mb").await;
    let dir = PathBuf::from(line.split_once("dir=").expect("dir=").1);
    assert!(dir.is_dir());
    h.stop().await;
    assert!(
        !dir.exists(),
        "scratch {} left behind after stop",
        dir.display()
    );
}
