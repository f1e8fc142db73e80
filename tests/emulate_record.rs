//! Acceptance: `alien emulate --record FILE` (issue 13 item 4: "writes the session's external
//! inputs … with their virtual times as a scenario. `alien simulate` replays it with scripted
//! handlers"). A session of examples/hello-worker with real processes gets two sends, an
//! object put, a 1 h clock advance, a cron fire and a gateway request; SIGTERM stops it the
//! graceful way, which writes the file; `alien simulate` then replays it and its trace shows
//! the sends at the recorded offsets.
//!
//! The clock runs at a millionth of real time (`--time-scale 0.000001`), so only the advance
//! moves it and the recorded offsets are exact; time moves by `POST /clock/advance`, never by
//! sleeping.

mod common;

use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use common::{advance, client, repo, send, start_stack};
use serde_json::{Value, json};

/// Sends SIGTERM to `child` and waits (real time, bounded) for it to exit.
fn terminate(child: &mut Child) -> std::process::ExitStatus {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -TERM");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().expect("wait for alien emulate") {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "alien emulate stopped after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `alien simulate <file> --json --trace`: (exit code, report).
fn simulate(file: &Path) -> (i32, Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_alien"))
        .arg("simulate")
        .arg(file)
        .args(["--json", "--trace"])
        .current_dir(repo())
        .output()
        .expect("run alien simulate");
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "simulate printed JSON ({e}); stderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), report)
}

#[test]
fn a_recorded_session_replays_under_simulate() {
    // Under target/ so the stack's path relative to the file is the same on every machine.
    let dir = tempfile::tempdir_in(repo().join("target")).unwrap();
    let file = dir.path().join("session.toml");
    let state = dir.path().join("state");
    let mut e = start_stack(
        "examples/hello-worker",
        "aws@2026-01",
        &state,
        &[
            "--record",
            file.to_str().unwrap(),
            "--time-scale",
            "0.000001",
            "--cold-start",
            "off",
        ],
    );
    send(&e, json!({"n": 1}));
    let put = client()
        .put(format!("{}/storage/uploads/objects/hello.txt", e.control))
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .unwrap();
    assert!(put.status().is_success(), "put: {}", put.status());
    advance(&e, "1h");
    send(&e, json!({"n": 2}));
    let fired = client()
        .post(format!("{}/crons/app/0/fire", e.control))
        .send()
        .unwrap();
    assert!(fired.status().is_success(), "fire: {}", fired.status());
    let health = client()
        .get(format!("{}/health", e.gateway("app")))
        .send()
        .unwrap();
    assert_eq!(health.status(), 200, "the app answers its health check");

    let status = terminate(&mut e.child);
    assert!(status.success(), "SIGTERM stops gracefully: {status}");
    let text = std::fs::read_to_string(&file).expect("the recorded scenario was written");

    let scenario = alien_emulator::scenario::parse_scenario(&text, &file)
        .unwrap_or_else(|err| panic!("the recorded scenario parses: {err}\n{text}"));
    let recorded: Vec<i64> = scenario
        .spec
        .steps
        .iter()
        .filter(|s| s.send.is_some())
        .map(|s| s.at.expect("every recorded step has `at`").as_millis() as i64)
        .collect();
    assert_eq!(
        recorded,
        [0, 3_600_000],
        "sends at 0s and after the 1 h advance"
    );

    let (code, report) = simulate(&file);
    assert_eq!(code, 0, "the replay passes: {report:#}");
    let run = &report["runs"][0];
    assert_eq!(run["platform"], "aws");
    let sends: Vec<i64> = run["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["action"] == "send")
        .map(|s| s["t_ms"].as_i64().unwrap())
        .collect();
    assert_eq!(sends, recorded, "the replay sends at the recorded offsets");
    let sent: Vec<i64> = run["trace"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["kind"] == "sent" && t["resource"] == "jobs")
        .map(|t| t["t_ms"].as_i64().unwrap())
        .collect();
    assert_eq!(
        sent, recorded,
        "the trace's `sent` events are at those offsets"
    );

    // The virtual start is the wall clock when the session began.
    let redacted: String = text
        .lines()
        .map(|line| {
            if line.starts_with("start = ") {
                "start = \"[session start]\"".to_string()
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    insta::assert_snapshot!("recorded_hello_worker_session", redacted);
}
