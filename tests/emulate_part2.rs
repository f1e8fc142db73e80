//! Acceptance: `alien emulate`, part two, through the CLI with real processes built on the
//! published crates (tests/fixtures/worker-app: the `worker-app` worker on alien-sdk 3.3.49
//! and the `daemon-app` daemon on alien-core 3.3.49's commands types), stack
//! tests/fixtures/stacks/emulate-part2:
//!
//! - a daemon that crashes at start-up is relaunched with the Local profile's 2^n s back-off,
//!   one that crashes later at the 5 s ready check, and a stop is SIGTERM to its group;
//! - commands (arc.v1): a round trip to a worker (pushed as a task) and to a daemon (leased
//!   by its own receiver), and an expired deadline;
//! - on AWS: the stack with its daemon is refused by the preflight (exit 1, before anything is
//!   built); without it, a worker-to-worker call past Lambda's 6 MB invoke payload fails as
//!   Lambda does, a worker holding only `queue/data-read` cannot send, and an idle worker
//!   scales to zero and pays a cold start;
//! - recycling the process between invocations exposes a counter kept in memory; a
//!   `handler_crash` fault kills the process mid-task.
//!
//! Time moves by `POST /clock/advance` (the engine's clock), never by sleeping.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{
    Emulate, advance, build_fixture, client, detail, events, on, repo, send, start_stack, status,
    trace, wait_trace,
};
use serde_json::{Value, json};

const STACK: &str = "tests/fixtures/stacks/emulate-part2";

/// The daemon binary the stack's `alien-emulate.toml` maps the `agent` image to (built once
/// into the shared target dir; the worker binary is built by `alien emulate` itself).
fn daemon_binary() -> PathBuf {
    build_fixture(&["--bin", "daemon-app"]);
    repo().join("target/debug/daemon-app")
}

/// The stack without its daemon, as AWS takes it: written to `dir` with the workers' source
/// paths made absolute.
fn without_daemon(dir: &Path) -> PathBuf {
    let fixture = repo().join(STACK);
    let mut stack: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture.join("alien.json")).unwrap())
            .unwrap();
    let resources = stack["resources"].as_object_mut().unwrap();
    resources.remove("agent");
    for (_, entry) in resources.iter_mut() {
        if let Some(src) = entry["config"]["code"]["src"].as_str() {
            let absolute = fixture.join(src).display().to_string();
            entry["config"]["code"]["src"] = json!(absolute);
        }
    }
    let path = dir.join("alien.json");
    std::fs::write(&path, stack.to_string()).unwrap();
    path
}

/// A config file mapping `agent` to the daemon binary with extra environment.
fn config_with(dir: &Path, env: &[(&str, &str)]) -> PathBuf {
    let mut text = format!(
        "[resources.agent]\ncommand = {:?}\n[resources.agent.env]\nALIEN_COMMANDS_POLL_INTERVAL_MS = \"100\"\n",
        daemon_binary().display().to_string()
    );
    for (k, v) in env {
        text.push_str(&format!("{k} = {v:?}\n"));
    }
    let path = dir.join("alien-emulate.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn start(platform: &str, state: &Path, extra: &[&str]) -> Emulate {
    daemon_binary();
    start_stack(STACK, platform, state, extra)
}

/// `alien command …` against the emulator; (exit code, stdout).
fn command(e: &Emulate, args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_alien"))
        .arg("command")
        .args(args)
        .args(["--url", &e.control])
        .output()
        .expect("run alien command");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    println!(
        "$ alien command {}\n{stdout}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), stdout)
}

fn ctl(e: &Emulate, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_alien"))
        .arg("ctl")
        .args(["--url", &e.control])
        .args(args)
        .output()
        .expect("run alien ctl");
    assert!(out.status.success(), "alien ctl {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Prints the daemon's trace lines (the closing note shows them).
fn print_daemon_trace(t: &[Value]) {
    for e in t.iter().filter(|e| e["resource"] == "agent") {
        println!(
            "{:>9} ms  {:<26} {}",
            e["t_ms"],
            e["kind"].as_str().unwrap_or_default(),
            e["detail"]
        );
    }
}

/// upstream-runtime-and-bindings.md §4.2 (Local: a start that dies within 50 ms is a failed
/// start, retried after 2^attempt s, up to 10; a daemon that exits after running is
/// relaunched at the controller's 5 s Ready check; stop = SIGTERM to the process group);
/// seeds 003-004 (status outputs `daemonName`, `running`).
#[test]
fn daemon_crashes_and_restarts_with_the_local_back_off() {
    let state = tempfile::tempdir().unwrap();
    let crash_file = state.path().join("crash-on-start");
    std::fs::write(&crash_file, "").unwrap();
    let config = config_with(
        state.path(),
        &[("CRASH_ON_START_FILE", crash_file.to_str().unwrap())],
    );
    let e = start(
        "local",
        state.path(),
        &["--config", config.to_str().unwrap()],
    );
    // Failed starts at +0, +2, +6, +14 and +30 s of engine time (2^n s apart).
    let mut t = trace(&e);
    while on(&t, "daemon_restart_scheduled", "agent").len() < 5 {
        advance(&e, "5s");
        t = trace(&e);
    }
    let delays: Vec<&str> = on(&t, "daemon_restart_scheduled", "agent")
        .iter()
        .filter_map(|x| detail(x, "in"))
        .collect();
    assert_eq!(delays[..5], ["2s", "4s", "8s", "16s", "32s"]);
    let starts: Vec<i64> = on(&t, "daemon_started", "agent")
        .iter()
        .map(|x| x["t_ms"].as_i64().unwrap())
        .collect();
    for (pair, want) in starts.windows(2).zip([2_000, 4_000, 8_000, 16_000]) {
        assert!(
            (pair[1] - pair[0] - want).abs() < 1_000,
            "starts {starts:?}"
        );
    }
    // Fixed before the sixth start, due 32 s after the fifth failure: it comes up and stays.
    std::fs::remove_file(&crash_file).unwrap();
    advance(&e, "35s");
    wait_trace(&e, "the daemon up again", |t| {
        on(t, "daemon_started", "agent").len() == 6
    });
    let status = status(&e);
    assert_eq!(status["daemons"][0]["daemonName"], "agent");
    assert_eq!(status["daemons"][0]["running"], true);

    // A crash after running a while: relaunched at the next Ready check, 5 s later.
    let (code, _) = command(&e, &["agent", "crash", "--wait", "2s"]);
    assert_eq!(code, 1, "the crashing daemon never answers");
    let t = wait_trace(&e, "the crash", |t| {
        on(t, "daemon_exited", "agent")
            .iter()
            .any(|x| detail(x, "code") == Some("3"))
    });
    assert_eq!(
        on(&t, "daemon_restart_scheduled", "agent")
            .last()
            .and_then(|x| detail(x, "in")),
        Some("5s")
    );
    advance(&e, "5s");
    wait_trace(&e, "the relaunch", |t| {
        on(t, "daemon_started", "agent").len() == 7
    });

    // Stop: SIGTERM to the group; the daemon exits by itself within its grace (2 s).
    ctl(&e, &["daemon", "agent", "stop"]);
    let t = wait_trace(&e, "the stop", |t| {
        on(t, "daemon_sigterm", "agent").len() == 1
            && on(t, "daemon_exited", "agent")
                .iter()
                .any(|x| detail(x, "code") == Some("0"))
    });
    assert!(on(&t, "daemon_killed", "agent").is_empty());
    print_daemon_trace(&t);

    // `alien ctl status`: the daemon's row says it stopped after its restarts (seed 004's
    // `running`), in a plain table off a terminal.
    let out = ctl(&e, &["status"]);
    let row = out
        .lines()
        .find(|l| l.split_whitespace().next() == Some("agent"))
        .unwrap_or_else(|| panic!("no agent row:\n{out}"));
    assert_eq!(row.split_whitespace().nth(2), Some("no"), "running: {row}");
    assert!(!out.contains('│'), "plain off a terminal:\n{out}");
}

/// upstream-runtime-and-bindings.md §5: a command to a worker is pushed as a task and the
/// host submits the app's answer; a daemon leases it through `POST /commands/leases` and
/// submits it itself; a deadline that passes first makes it EXPIRED.
#[test]
fn commands_round_trip_to_a_worker_and_a_daemon() {
    let state = tempfile::tempdir().unwrap();
    let e = start("local", state.path(), &[]);
    let (code, out) = command(&e, &["api", "echo", "--params", r#"{"hello":"worker"}"#]);
    assert_eq!(code, 0);
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap(),
        json!({"hello": "worker"})
    );
    let (code, out) = command(&e, &["api", "nope"]);
    assert_eq!(code, 1);
    assert_eq!(
        out.trim(),
        "error COMMAND_ERROR: No handler for command: nope"
    );

    let (code, out) = command(&e, &["agent", "ping", "--params", r#"{"n":1}"#]);
    assert_eq!(code, 0);
    let pong: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(pong["pong"], json!({"n": 1}));
    assert_eq!(pong["attempt"], 1);

    // A 60 s job with a 30 s deadline: the clock jumps past the deadline.
    let slow = Command::new(env!("CARGO_BIN_EXE_alien"))
        .args([
            "command",
            "agent",
            "sleep",
            "--params",
            r#"{"ms":60000}"#,
            "--deadline",
            "30s",
            "--url",
            &e.control,
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    wait_trace(&e, "the sleep command leased", |t| {
        t.iter().any(|x| {
            x["kind"] == "command_dispatched"
                && x["resource"] == "agent"
                && on(t, "command_created", "agent").len() == 2
        })
    });
    advance(&e, "31s");
    let out = slow.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "error COMMAND_EXPIRED: deadline passed"
    );
    let t = trace(&e);
    assert_eq!(on(&t, "command_expired", "agent").len(), 1);
    assert_eq!(on(&t, "command_succeeded", "agent").len(), 1);
    assert_eq!(on(&t, "command_succeeded", "api").len(), 1);
}

/// On AWS: seed 000 / upstream-runtime-and-bindings.md §3.5 (worker-to-worker is a Lambda
/// Invoke whose JSON payload carries the body in base64, 6 MB max); upstream permission
/// sets (queue/data-read has no sqs:SendMessage); seed 004 (no daemons on AWS); seed 001
/// (scale to zero when idle, cold starts of 1-3 s).
#[test]
fn aws_worker_calls_permissions_and_cold_starts() {
    let state = tempfile::tempdir().unwrap();
    let stack = tempfile::tempdir().unwrap();
    let stack = without_daemon(stack.path());
    let e = start_stack(stack.to_str().unwrap(), "aws", state.path(), &[]);
    let http = client();
    let api = e.gateway("api");
    assert!(
        !e.row("backend").contains("http://"),
        "a private worker has no public endpoint: {}",
        e.row("backend")
    );

    let call = |bytes: usize| -> Value {
        http.post(format!("{api}/call/backend?bytes={bytes}"))
            .send()
            .unwrap()
            .json()
            .unwrap()
    };
    let small = call(1_000);
    assert_eq!(
        (small["status"].as_u64(), small["bytes"].as_u64()),
        (Some(200), Some(1_000))
    );
    // 4.5 MiB of body is 6 MiB of base64: over the limit although the body is not.
    let big = call(4_718_592);
    assert_eq!(big["status"], 413, "{big}");
    assert!(
        big["body"].as_str().unwrap().contains(
            "Request must be smaller than 6291456 bytes for the InvokeFunction operation"
        ),
        "{big}"
    );

    let denied = http
        .post(format!("{}/send/jobs", e.gateway("reader")))
        .json(&json!({"x": 1}))
        .send()
        .unwrap();
    assert!(denied.status().is_server_error());
    let text = denied.text().unwrap();
    println!("reader's send: {text}");
    assert!(
        text.contains(
            "AccessDenied: 'reader' is not authorized to perform sqs:SendMessage on queue 'jobs'"
        ),
        "{text}"
    );
    assert!(
        text.contains("missing permission: queue/data-write or queue/publish"),
        "{text}"
    );

    // Idle for two 15-minute windows: scaled to zero, the process is stopped; the next
    // message pays the profile's cold start and runs in a fresh process.
    let first = send(&e, json!({"count": true}));
    wait_trace(&e, "the first message", |t| {
        events(t, "acked", &first).len() == 1
    });
    advance(&e, "31m");
    wait_trace(&e, "api scaled to zero and its process stopped", |t| {
        !on(t, "scaled_to_zero", "api").is_empty()
            && on(t, "process_exited", "api")
                .iter()
                .any(|x| detail(x, "by") == Some("emulator"))
    });
    let second = send(&e, json!({"count": true}));
    let t = wait_trace(&e, "the cold message", |t| {
        events(t, "acked", &second).len() == 1
    });
    let cold = on(&t, "cold_start", "api");
    let latency = detail(cold.last().unwrap(), "latency").unwrap();
    println!("cold start: {latency}");
    assert!(
        latency.starts_with('1') || latency.starts_with('2') || latency == "3s",
        "{latency}"
    );
    assert!(
        on(&t, "process_started", "api").len() >= 2,
        "a fresh process"
    );
    // A request through the gateway wakes a scaled-to-zero worker too.
    wait_trace(&e, "reader's process stopped", |t| {
        on(t, "process_exited", "reader")
            .iter()
            .any(|x| detail(x, "by") == Some("emulator"))
    });
    let health = client()
        .get(format!("{}/health", e.gateway("reader")))
        .send()
        .unwrap();
    assert_eq!(health.status(), 200);
    // The trace shows an event once it is on disk: wait for it rather than race it.
    wait_trace(&e, "reader's second process", |t| {
        on(t, "process_started", "reader").len() >= 2
    });
}

/// seed 001 ("stateless execution"): with recycling on, each invocation gets a fresh process,
/// so a counter kept in memory never gets past 1; anchors.md §14 item 4: a `handler_crash`
/// fault kills the process mid-task and the platform's retry delivers it again.
#[test]
fn recycling_exposes_in_memory_state_and_faults_crash_the_handler() {
    let state = tempfile::tempdir().unwrap();
    let e = start("local", state.path(), &[]);
    let api = e.gateway("api");
    let counter = || {
        client()
            .get(format!("{api}/kv/counter"))
            .send()
            .unwrap()
            .text()
            .unwrap()
    };
    let count_three = || {
        for _ in 0..3 {
            let id = send(&e, json!({"count": true}));
            wait_trace(&e, "a count acked", |t| events(t, "acked", &id).len() == 1);
        }
    };
    count_three();
    assert!(counter().contains('3'), "{}", counter());

    let faults = ctl(&e, &["faults", "--recycle", "on", "--seed", "7"]);
    assert!(faults.contains("\"recycle\": true"), "{faults}");
    count_three();
    let value = counter();
    println!("counter after three recycled invocations: {value}");
    assert!(value.contains('1') && !value.contains('3'), "{value}");
    assert!(on(&trace(&e), "recycled", "api").len() >= 3);
    ctl(&e, &["faults", "--recycle", "off"]);

    ctl(&e, &["inject", "handler_crash"]);
    let id = send(&e, json!({"n": 1}));
    wait_trace(&e, "the crash", |t| events(t, "crashed", &id).len() == 1);
    // Local: the lease (30 s) runs out and the message is delivered again.
    advance(&e, "31s");
    let t = wait_trace(&e, "the redelivery acked", |t| {
        events(t, "acked", &id).len() == 1
    });
    assert!(
        on(&t, "fault", "api")
            .iter()
            .any(|x| detail(x, "fault") == Some("handler_crash"))
    );
    assert!(
        on(&t, "process_exited", "api")
            .iter()
            .any(|x| detail(x, "by") == Some("itself"))
    );
}

/// seed 003 (the Local controller runs images only) and the config contract: a `source`
/// daemon is refused, an image without a mapping names the file to add it to; both are
/// unusable input (exit 2), before anything starts.
/// The platform preflight runs before anything is built: a daemon on AWS stops `alien
/// emulate` with the preflight's text and exit 1, as `alien check` reports it (seed 003:
/// Daemons run on Local and Kubernetes only).
#[test]
fn a_stack_the_platform_refuses_stops_before_any_build() {
    let state = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_alien"))
        .args(["emulate", STACK, "--platform", "aws", "--stop-after", "1s"])
        .arg("--state-dir")
        .arg(state.path())
        .current_dir(repo())
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stdout.contains(
            "error[DAEMON_PLATFORM_UNSUPPORTED]: Daemon 'agent' is not supported on platform 'aws'."
        ),
        "{stdout}"
    );
    assert!(!stderr.contains("building"), "nothing was built: {stderr}");
    assert!(
        !state.path().join("state.sqlite").exists(),
        "nothing was written"
    );
}

#[test]
fn daemon_code_needs_an_image_mapping() {
    let dir = tempfile::tempdir().unwrap();
    for (code, exit, expected) in [
        // The preflight refuses a source daemon (exit 1) before the configuration is read.
        (
            json!({"type": "source", "src": ".", "toolchain": {"type": "rust", "binaryName": "x"}}),
            1,
            "Daemon 'agent' uses code type 'source'",
        ),
        (
            json!({"type": "image", "image": "example.com/agent:1"}),
            2,
            "add a [resources.agent] entry with `command` to",
        ),
    ] {
        let stack = json!({"id": "d", "resources": {"agent": {"config": {
            "type": "daemon", "id": "agent", "links": [], "permissions": "p", "code": code},
            "lifecycle": "live", "dependencies": []}}});
        let path = dir.path().join("stack.json");
        std::fs::write(&path, stack.to_string()).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_alien"))
            .args(["emulate", path.to_str().unwrap(), "--platform", "local"])
            .args(["--stop-after", "1s", "--state-dir"])
            .arg(dir.path().join("state"))
            .output()
            .unwrap();
        let output = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(exit), "{output}");
        assert!(output.contains(expected), "{output}");
    }
}
