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

mod fixture_host;

use std::{collections::BTreeMap, path::PathBuf};

use alien_emulator::emulate::host::{HostEvent, InstanceLimits, RestartReason, TaskOutcome};
use alien_emulator::engine::{Event, QueueMessage};
use alien_emulator::platform::Platform;
use alien_emulator::profile::Profile;
use alien_providers::Payload;
use fixture_host::HostedApp;
use serde_json::{Value, json};

fn limits(platform: Platform, memory_mb: u32) -> InstanceLimits {
    let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
    let profile = Profile::new(platform, day).expect("an emulated platform");
    InstanceLimits::for_worker(&profile.worker.limits, memory_mb).expect("memory enforced")
}

/// A queue event with `payload`, delivery `attempt`.
fn queue(payload: Value, attempt: u32) -> Event {
    Event::Queue(QueueMessage {
        id: "msg-1".into(),
        payload: Payload::Json(payload),
        receipt_handle: format!("{attempt}:r"),
        source: "jobs".into(),
        attempt_count: attempt,
        timestamp: chrono::Utc::now(),
        attributes: BTreeMap::new(),
    })
}

/// The fixture app under the limits of `platform` at `memory_mb`.
async fn start(worker: &str, platform: Platform, memory_mb: u32) -> HostedApp {
    let limits = limits(platform, memory_mb);
    HostedApp::start(worker, |config| config.limits = Some(limits)).await
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
    let mut h = start("oom-aws", Platform::Aws, 128).await;
    h.event(|e| matches!(e, HostEvent::Started { .. })).await;
    let enforcement = h.host.enforcement().expect("limits in force");
    eprintln!("limits: {enforcement}");
    assert_eq!(enforcement.memory_mb, 128);
    assert_eq!(enforcement.millicpus, Some(72));
    let first = h.host.pid().expect("running");
    let cgroup = memory_cgroup_dir(first);

    assert!(
        h.deliver(&queue(json!({"alloc_mb": 16}), 1))
            .await
            .is_success()
    );
    assert_eq!(
        h.line("event alloc_mb").await,
        "event alloc_mb mb=16 pages=4096"
    );

    let outcome = h.deliver(&queue(json!({"alloc_mb": 300}), 1)).await;
    assert_eq!(
        outcome,
        TaskOutcome::Error {
            code: "Runtime.ExitError".into(),
            message: "Runtime exited with error: signal: killed".into(),
        }
    );
    let seen = h.event(|e| matches!(e, HostEvent::Started { .. })).await;
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
    assert!(
        h.deliver(&queue(json!({"alloc_mb": 16}), 2))
            .await
            .is_success()
    );
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
    let mut h = start("oom-gcp", Platform::Gcp, 512).await;
    h.event(|e| matches!(e, HostEvent::Started { .. })).await;
    let enforcement = h.host.enforcement().expect("limits in force");
    eprintln!("limits: {enforcement}");
    assert_eq!(enforcement.scratch_not_enforced, None, "{enforcement}");

    assert!(
        h.deliver(&queue(json!({"write_tmp_mb": 64}), 1))
            .await
            .is_success()
    );
    let line = h.line("event write_tmp_mb").await;
    assert!(
        line.starts_with("event write_tmp_mb mb=64 dir=") && line.contains("alien-scratch-"),
        "{line}"
    );

    let TaskOutcome::Error { code, message } =
        h.deliver(&queue(json!({"write_tmp_mb": 600}), 1)).await
    else {
        panic!("expected the Cloud Run memory error");
    };
    assert_eq!(code, "MemoryLimitExceeded");
    assert!(
        message.starts_with("Memory limit of 512 MiB exceeded with "),
        "{message}"
    );
    h.event(|e| matches!(e, HostEvent::Started { .. })).await;
    assert!(
        h.deliver(&queue(json!({"write_tmp_mb": 8}), 2))
            .await
            .is_success()
    );
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
