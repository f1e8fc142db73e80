//! Real daemon processes (`/bin/sh` scripts) driven by the engine through the driver and the
//! runner. Engine time comes from an injected clock or time travel; the tests only wait (with
//! a timeout) for real processes to start or exit.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{NaiveDate, TimeZone, Utc};
use tokio::sync::mpsc;

use super::{CommandsEndpoint, DaemonRunner, DaemonSetup, prepare_daemon};
use crate::Platform;
use crate::clock::ScaledClock;
use crate::emulate::config::EmulateConfig;
use crate::emulate::driver::Driver;
use crate::emulate::host::{LogLine, LogSink, ProcessSpec};
use crate::emulate::processes::ProcessNote;
use crate::engine::duration_serde::format_duration;
use crate::engine::{DaemonState, Kind, Sim, SimConfig, shared};
use crate::profile::Profile;
use crate::stack::Stack;

/// How long a real process may take to start or exit.
const PROCESS_WAIT: Duration = Duration::from_secs(20);

fn stack() -> Stack {
    crate::stack::parse_stack_json(
        r#"{"id":"s","resources":{"agent":{"config":{"type":"daemon","id":"agent","links":[],"permissions":"p",
          "code":{"type":"image","image":"x"},"commandsEnabled":true,"stopGracePeriodSeconds":1,"environment":{}},
          "lifecycle":"live","dependencies":[]}}}"#,
        Path::new("s.json"),
    )
    .unwrap()
}

fn profile(platform: Platform) -> Profile {
    Profile::new(platform, NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()).unwrap()
}

struct Harness {
    driver: Driver,
    runner: DaemonRunner,
    /// Real milliseconds the injected clock reports.
    real_ms: Arc<AtomicU64>,
    lines: mpsc::UnboundedReceiver<LogLine>,
}

impl Harness {
    fn new(platform: Platform, spec: Option<ProcessSpec>) -> Harness {
        let start = Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0).unwrap();
        let mut sim = Sim::new(&stack(), profile(platform), SimConfig::new(1, start));
        sim.set_daemon_external("agent").unwrap();
        let real_ms = Arc::new(AtomicU64::new(0));
        let elapsed = real_ms.clone();
        let clock = Arc::new(
            ScaledClock::with_elapsed(start, 1.0, move || {
                Duration::from_millis(elapsed.load(Ordering::SeqCst))
            })
            .unwrap(),
        );
        let (actions_tx, actions_rx) = mpsc::unbounded_channel();
        let driver = Driver::new(shared(sim), clock).with_daemon_actions(actions_tx);
        let (log_tx, lines) = mpsc::unbounded_channel();
        let runner = DaemonRunner::new(&driver, LogSink::channel(log_tx));
        if let Some(spec) = spec {
            runner.set_spec("agent", spec);
        }
        tokio::spawn(runner.clone().run(actions_rx));
        Harness {
            driver,
            runner,
            real_ms,
            lines,
        }
    }

    fn script(platform: Platform, script: &str) -> Harness {
        Harness::new(
            platform,
            Some(ProcessSpec::new("/bin/sh").arg("-c").arg(script)),
        )
    }

    /// Moves the injected real clock forward and ticks.
    fn pass(&self, d: Duration) {
        self.real_ms
            .fetch_add(d.as_millis() as u64, Ordering::SeqCst);
        self.driver.tick();
    }

    fn count(&self, kind: Kind) -> usize {
        self.driver
            .sim
            .lock()
            .unwrap()
            .trace()
            .count(kind, Some("agent"))
    }

    fn trace(&self) -> String {
        self.driver.sim.lock().unwrap().trace().render_text()
    }

    fn state(&self) -> DaemonState {
        self.driver
            .sim
            .lock()
            .unwrap()
            .daemon_status("agent")
            .unwrap()
            .state
    }

    /// Waits (real time, bounded) until the trace has `n` events of `kind`.
    async fn until_count(&self, kind: Kind, n: usize) {
        let waited = tokio::time::Instant::now();
        while self.count(kind) < n {
            assert!(
                waited.elapsed() < PROCESS_WAIT,
                "waited for {n} × {}:\n{}",
                kind.as_str(),
                self.trace()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Waits (bounded) for an output line equal to `line`; returns everything read so far.
    async fn until_line(&mut self, line: &str, seen: &mut Vec<String>) {
        while !seen.iter().any(|l| l == line) {
            let next = tokio::time::timeout(PROCESS_WAIT, self.lines.recv())
                .await
                .unwrap_or_else(|_| panic!("no line '{line}' in {seen:?}"))
                .expect("log sink open");
            assert_eq!(
                next.worker, "agent",
                "lines are prefixed with the daemon id"
            );
            seen.push(next.line);
        }
    }

    /// Offsets (ms) of the daemon's events of `kind`.
    fn times(&self, kind: Kind) -> Vec<i64> {
        let sim = self.driver.sim.lock().unwrap();
        sim.trace()
            .events()
            .iter()
            .filter(|e| e.kind == kind)
            .map(|e| e.t_ms)
            .collect()
    }

    fn restart_delays(&self) -> Vec<String> {
        let sim = self.driver.sim.lock().unwrap();
        sim.trace()
            .events()
            .iter()
            .filter(|e| e.kind == Kind::DaemonRestartScheduled)
            .filter_map(|e| e.get("in").map(str::to_string))
            .collect()
    }
}

/// upstream-runtime-and-bindings.md §4.2: an exit within 50 ms of the spawn fails the start;
/// the executor retries after 2^attempt seconds, at most 10 times (profile
/// `daemon.restart` local: exponentialSeconds base 2, max_attempts 10).
#[tokio::test]
async fn local_failed_starts_back_off_exponentially_then_give_up() {
    let h = Harness::script(Platform::Local, "exit 1");
    h.driver.tick();
    for n in 1..=10u32 {
        h.until_count(Kind::DaemonRestartScheduled, n as usize)
            .await;
        let delay = Duration::from_secs(1 << n);
        assert_eq!(
            h.restart_delays().last().map(String::as_str),
            Some(format_duration(delay).as_str())
        );
        h.pass(delay);
    }
    h.until_count(Kind::DaemonGaveUp, 1).await;
    assert_eq!(h.count(Kind::DaemonStarted), 11);
    let starts: Vec<i64> = (0..=10).map(|n| ((1i64 << n) - 1) * 2000).collect();
    assert_eq!(h.times(Kind::DaemonStarted), starts);
    assert!(h.trace().contains("code=1 ran=0s pid="), "{}", h.trace());
    let view = &h.runner.status()[0];
    assert_eq!(
        (view.state, view.running, view.restarts, view.pid),
        (DaemonState::GaveUp, false, 10, None)
    );
    assert_eq!(
        view.last_exit.as_ref().and_then(|e| e.detail.as_deref()),
        Some("exit code 1")
    );
}

/// upstream-cloud-semantics.md §7 Restart row: the Local controller's Ready loop relaunches
/// a daemon that stopped after starting at its next 5 s tick; time travel across it starts
/// the process.
#[tokio::test]
async fn local_crash_after_startup_is_relaunched_at_the_ready_check_by_time_travel() {
    let h = Harness::script(Platform::Local, "sleep 1; exit 3");
    h.driver.tick();
    h.until_count(Kind::DaemonExited, 1).await;
    assert_eq!(h.restart_delays(), ["5s"]);
    let now = h
        .driver
        .travel(Duration::from_secs(5), PROCESS_WAIT)
        .await
        .unwrap();
    assert_eq!(now, Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 5).unwrap());
    assert!(
        h.trace().contains("+00:00:05.000 daemon_started"),
        "{}",
        h.trace()
    );
    let view = &h.runner.status()[0];
    assert!(view.running && view.pid.is_some(), "{view:?}");
    assert_eq!(view.restarts, 1);
    h.runner.shutdown(Duration::from_secs(5)).await;
}

/// Kubernetes restarts crashed containers with CrashLoopBackOff: 10 s doubling to 300 s
/// (profile `daemon.restart` kubernetes, [platform knowledge] kubelet).
#[tokio::test]
async fn kubernetes_crash_loop_back_off_doubles_from_ten_seconds() {
    let h = Harness::script(Platform::Kubernetes, "exit 1");
    h.driver.tick();
    for (n, secs) in [10u64, 20, 40].into_iter().enumerate() {
        h.until_count(Kind::DaemonRestartScheduled, n + 1).await;
        h.pass(Duration::from_secs(secs));
    }
    h.until_count(Kind::DaemonRestartScheduled, 4).await;
    assert_eq!(h.restart_delays(), ["10s", "20s", "40s", "1m20s"]);
    assert_eq!(h.times(Kind::DaemonStarted), [0, 10_000, 30_000, 70_000]);
}

/// upstream-runtime-and-bindings.md §4.2: stop sends SIGTERM to the daemon's process group,
/// so a child of the daemon gets it too; a daemon that exits within the grace stays stopped.
#[tokio::test]
async fn stop_terminates_the_whole_process_group() {
    let mut h = Harness::script(
        Platform::Local,
        r#"sh -c 'trap "echo child-term; exit 0" TERM; echo child-up; while :; do sleep 0.05; done' &
child=$!
trap 'echo parent-term; wait $child; exit 0' TERM
echo up
wait"#,
    );
    h.driver.tick();
    let mut seen = Vec::new();
    h.until_line("up", &mut seen).await;
    h.until_line("child-up", &mut seen).await;
    h.driver.sim.lock().unwrap().stop_daemon("agent").unwrap();
    h.driver.tick();
    h.until_count(Kind::DaemonExited, 1).await;
    h.until_line("parent-term", &mut seen).await;
    h.until_line("child-term", &mut seen).await;
    assert_eq!(h.state(), DaemonState::Stopped);
    h.pass(Duration::from_secs(60));
    assert_eq!(h.count(Kind::DaemonKilled), 0, "{}", h.trace());
    assert_eq!(h.count(Kind::DaemonStarted), 1, "stays stopped");
    assert!(h.trace().contains("code=0"), "{}", h.trace());
}

/// upstream-cloud-semantics.md §7 Stop row: SIGTERM, wait stopGracePeriodSeconds (1 s here,
/// engine time), then SIGKILL to the group.
#[tokio::test]
async fn a_daemon_ignoring_sigterm_is_killed_after_the_grace() {
    let mut h = Harness::script(
        Platform::Local,
        r#"trap "" TERM; echo up; while :; do sleep 0.05; done"#,
    );
    h.driver.tick();
    h.until_line("up", &mut Vec::new()).await;
    h.driver.sim.lock().unwrap().stop_daemon("agent").unwrap();
    h.driver.tick();
    h.pass(Duration::from_millis(999));
    assert_eq!(h.count(Kind::DaemonKilled), 0);
    h.pass(Duration::from_millis(1));
    h.until_count(Kind::DaemonExited, 1).await;
    let trace = h.trace();
    assert!(
        trace.contains("+00:00:00.000 daemon_sigterm           agent          why=stop grace=1s"),
        "{trace}"
    );
    assert!(
        trace.contains("+00:00:01.000 daemon_killed            agent          signal=SIGKILL"),
        "{trace}"
    );
    assert!(trace.contains("code=137 ran=1s pid="), "{trace}");
    assert!(trace.contains("signal=9"), "{trace}");
    assert_eq!(h.state(), DaemonState::Stopped);
}

/// published-3.3.49.md §9 and upstream-runtime-and-bindings.md §4.2: the process sees the
/// daemon env (commands receiver included) and no worker transport variables.
#[tokio::test]
async fn the_process_gets_the_daemon_env() {
    let stack = stack();
    let profile = profile(Platform::Local);
    let config: EmulateConfig = toml::from_str(
        "[resources.agent]\ncommand = \"/bin/sh\"\nargs = [\"-c\", \"env | sort; echo END; exec sleep 30\"]\n",
    )
    .unwrap();
    let setup = DaemonSetup {
        stack: &stack,
        profile: &profile,
        stack_root: Path::new("/tmp"),
        config: &config,
        config_path: Path::new("/tmp/alien-emulate.toml"),
        state_dir: Path::new("/tmp/state"),
        commands: CommandsEndpoint {
            url: "http://127.0.0.1:7000",
            token: "tok",
            deployment_id: "s",
        },
        queue_binding: &|_| None,
    };
    let spec = prepare_daemon(&setup, "agent").unwrap().unwrap();
    let mut h = Harness::new(Platform::Local, Some(spec));
    h.driver.tick();
    let mut seen = Vec::new();
    h.until_line("END", &mut seen).await;
    for expected in [
        "ALIEN_COMMANDS_URL=http://127.0.0.1:7000",
        "ALIEN_COMMANDS_TARGET_RESOURCE_TYPE=daemon",
        "ALIEN_COMMANDS_TARGET_RESOURCE_ID=agent",
        "ALIEN_DEPLOYMENT_TYPE=local",
    ] {
        assert!(seen.iter().any(|l| l == expected), "{expected} in {seen:?}");
    }
    assert!(
        !seen
            .iter()
            .any(|l| l.starts_with("ALIEN_TRANSPORT=") || l.starts_with("ALIEN_WORKER_GRPC")),
        "{seen:?}"
    );
    h.runner.shutdown(Duration::from_secs(5)).await;
}

/// A daemon without a prepared command fails to start like any failed spawn: the start
/// fails and the policy backs off.
#[tokio::test]
async fn a_missing_command_is_a_failed_start() {
    let h = Harness::new(Platform::Local, None);
    h.driver.tick();
    h.until_count(Kind::DaemonRestartScheduled, 1).await;
    assert_eq!(h.restart_delays(), ["2s"]);
    let view = &h.runner.status()[0];
    assert_eq!(
        view.last_exit.as_ref().map(|e| e.code),
        Some(127),
        "{view:?}"
    );
    assert!(view.table_detail().contains("spawn failed"), "{view:?}");
}

/// The runner tells its process hook of every daemon process: the start with the daemon id,
/// then the exit with the same pid once the process was waited for.
#[tokio::test]
async fn the_process_hook_sees_each_daemon_start_and_exit() {
    let h = Harness::script(Platform::Local, "exit 0");
    let (tx, mut notes) = mpsc::unbounded_channel();
    h.runner.set_process_hook(Arc::new(move |note| {
        let _ = tx.send(note);
    }));
    h.driver.tick();
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let note = tokio::time::timeout(PROCESS_WAIT, notes.recv())
            .await
            .unwrap_or_else(|_| panic!("two process notes in time; saw {seen:?}"))
            .expect("hook channel open");
        seen.push(note);
    }
    let ProcessNote::Started { pid, resource } = &seen[0] else {
        panic!("the first note is the start: {seen:?}");
    };
    assert_eq!(resource, "agent");
    assert!(*pid > 0);
    assert_eq!(seen[1], ProcessNote::Exited { pid: *pid });
    h.until_count(Kind::DaemonExited, 1).await;
}
