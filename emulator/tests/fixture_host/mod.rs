//! The fixture app (tests/fixtures/worker-app, alien-sdk 3.3.49) built once per test binary
//! and hosted by a `WorkerHost`, for the host tests (`host_worker_app.rs`, `host_limits.rs`).
//!
//! The fixture is built with `cargo build --manifest-path tests/fixtures/worker-app/Cargo.toml`
//! into the repository's target dir; a cold build takes several minutes (alien-sdk pulls turso
//! and tonic). A failed build fails every test that uses it.

#![allow(dead_code)] // Each test crate uses its own subset.

use std::{
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::OnceLock,
    time::{Duration, Instant},
};

use alien_emulator::emulate::host::{
    HostConfig, HostEvent, LogLine, LogSink, ProcessSpec, TaskOutcome, WorkerEvent, WorkerHost,
};
use alien_emulator::engine::Event;
use tokio::sync::mpsc;

/// Upper bound for any single wait (a 128 MB Lambda gets 0.072 vCPU).
pub const BOUND: Duration = Duration::from_secs(90);
/// Upper bound for building the fixture (a cold build is ~7 min on 2 cores).
const BUILD_BOUND: Duration = Duration::from_secs(40 * 60);
const TASK_TIMEOUT: Duration = Duration::from_secs(60);

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("emulator/ has a parent")
        .to_path_buf()
}

/// Builds the fixture app once per test binary and returns its path.
pub fn fixture_app() -> PathBuf {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BUILT
        .get_or_init(build_fixture)
        .clone()
        .unwrap_or_else(|error| panic!("{error}"))
}

fn build_fixture() -> Result<PathBuf, String> {
    let root = repo_root();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let manifest = root.join("tests/fixtures/worker-app/Cargo.toml");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    // One log per test process: nextest runs each test in its own process.
    let log = target.join(format!("worker-app-build-{}.log", std::process::id()));
    std::fs::create_dir_all(&target).map_err(|e| format!("create {}: {e}", target.display()))?;
    let log_file =
        std::fs::File::create(&log).map_err(|e| format!("create {}: {e}", log.display()))?;
    let started = Instant::now();
    let mut command = Command::new(&cargo);
    command
        .args(["build", "--locked", "--manifest-path"])
        .arg(&manifest)
        .env("CARGO_TARGET_DIR", &target);
    // Variables cargo sets for this test process would leak into the fixture's build and
    // make dependency build scripts that watch them (ring watches CARGO_MANIFEST_DIR)
    // rebuild, so a shell `cargo build` and this one would keep invalidating each other.
    alien_emulator::emulate::config::scrub_crate_env(&mut command);
    let mut child = command
        .stdout(Stdio::null())
        .stderr(log_file)
        .spawn()
        .map_err(|e| format!("cannot run {cargo:?} to build the worker-app fixture: {e}"))?;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() > BUILD_BOUND => {
                let _ = child.kill();
                return Err(format!(
                    "building the worker-app fixture took more than {BUILD_BOUND:?}; log: {}",
                    log.display()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(250)),
            Err(e) => return Err(format!("waiting for cargo: {e}")),
        }
    };
    let output = std::fs::read_to_string(&log).unwrap_or_default();
    if status.success() {
        let _ = std::fs::remove_file(&log);
    } else {
        let tail: Vec<_> = output.lines().rev().take(40).collect();
        let tail: Vec<_> = tail.into_iter().rev().collect();
        return Err(format!(
            "building the worker-app fixture failed ({status}); is protoc installed \
             (scripts/install-protoc.sh)? Last lines of {}:\n{}",
            log.display(),
            tail.join("\n")
        ));
    }
    eprintln!("worker-app fixture built in {:.1?}", started.elapsed());
    let binary = target.join("debug/worker-app");
    if binary.is_file() {
        Ok(binary)
    } else {
        Err(format!("fixture built but {} is missing", binary.display()))
    }
}

/// The fixture app under a [`WorkerHost`], with its output lines and host events.
pub struct HostedApp {
    pub host: WorkerHost,
    logs: mpsc::UnboundedReceiver<LogLine>,
    events: mpsc::UnboundedReceiver<WorkerEvent>,
    pub http: reqwest::Client,
}

impl HostedApp {
    /// Starts the fixture app as `worker`, with `configure` applied to its host config (its
    /// env, its limits…).
    pub async fn start(worker: &str, configure: impl FnOnce(&mut HostConfig)) -> Self {
        let app = tokio::task::spawn_blocking(fixture_app)
            .await
            .expect("fixture build task");
        let (log_tx, logs) = mpsc::unbounded_channel();
        let (event_tx, events) = mpsc::unbounded_channel();
        let mut config = HostConfig::new(worker, ProcessSpec::new(app));
        config.log_sink = LogSink::channel(log_tx);
        config.events = Some(event_tx);
        config.stop_grace = Duration::from_secs(5);
        configure(&mut config);
        let host = tokio::time::timeout(BOUND, WorkerHost::start(config))
            .await
            .expect("start in time")
            .unwrap_or_else(|error| panic!("start failed: {error}"));
        Self {
            host,
            logs,
            events,
            http: reqwest::Client::new(),
        }
    }

    pub async fn url(&self, path: &str) -> String {
        let port = self.host.http_port().await.expect("app registered a port");
        format!("http://127.0.0.1:{port}{path}")
    }

    pub async fn get(&self, path: &str) -> (u16, String) {
        let response = tokio::time::timeout(BOUND, self.http.get(self.url(path).await).send())
            .await
            .expect("HTTP in time")
            .expect("HTTP response");
        let status = response.status().as_u16();
        (status, response.text().await.expect("body"))
    }

    pub async fn put(&self, path: &str, body: &'static str) -> u16 {
        tokio::time::timeout(BOUND, self.http.put(self.url(path).await).body(body).send())
            .await
            .expect("HTTP in time")
            .expect("HTTP response")
            .status()
            .as_u16()
    }

    pub async fn deliver(&self, event: &Event) -> TaskOutcome {
        tokio::time::timeout(BOUND, self.host.deliver(event, TASK_TIMEOUT))
            .await
            .expect("delivery returns in time")
    }

    /// Waits for an app output line starting with `prefix`.
    pub async fn line(&mut self, prefix: &str) -> String {
        let mut seen = Vec::new();
        let found = tokio::time::timeout(BOUND, async {
            while let Some(line) = self.logs.recv().await {
                if line.line.starts_with(prefix) {
                    return Some(line.line);
                }
                seen.push(line.line);
            }
            None
        })
        .await;
        match found {
            Ok(Some(line)) => line,
            _ => panic!("no output line starting with {prefix:?}; saw {seen:?}"),
        }
    }

    /// Waits for a host event matching `wanted`, returning the events before it too.
    pub async fn event(&mut self, wanted: impl Fn(&HostEvent) -> bool) -> Vec<HostEvent> {
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

    pub async fn stop(&self) {
        tokio::time::timeout(BOUND, self.host.stop(Duration::from_secs(5)))
            .await
            .expect("stop in time")
            .expect("stop succeeds");
    }
}
