//! Acceptance: `alien emulate`'s state layer through the CLI, with the real fixture app on the
//! published alien-sdk 3.3.49 (stack tests/fixtures/stacks/emulate-state):
//!
//! - object bytes live in the bucket directory: bytes from `alien ctl put` are what the app
//!   reads through its `local-storage` binding, and bytes the app writes are what `alien ctl
//!   get` returns, across a `kill -9` too;
//! - a send answered on the control API, the SQS endpoint or the app's own queue binding is on
//!   disk: an immediate `kill -9` loses none of them; the clock does not go back, and the
//!   app's process dies with the emulator;
//! - on gcp a push endpoint that keeps failing gets Pub/Sub's push backoff;
//! - a state file written by the previous format is migrated and the emulator goes on from it.
//!
//! Time moves by `POST /clock/advance` (the engine's clock), never by sleeping.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{
    Emulate, advance, alive, client, ctl, events, now, on, repo, send, start_stack, trace_all,
    wait_trace,
};
use serde_json::{Value, json};

const STACK: &str = "tests/fixtures/stacks/emulate-state";

fn start(platform: &str, state: &Path) -> Emulate {
    start_stack(STACK, platform, state, &[])
}

fn kill_9(e: &mut Emulate) {
    e.child.kill().unwrap();
    e.child.wait().unwrap();
}

/// S3's ETag of a single-part object: the MD5 of the bytes, quoted.
fn md5_etag(bytes: &[u8]) -> String {
    alien_emulator::engine::etag_of(bytes)
}

#[test]
fn object_bytes_live_in_the_bucket_directory() {
    let state = tempfile::tempdir().unwrap();
    let mut e = start("aws", state.path());
    let app = e.gateway("app");
    let http = client();

    // `alien ctl put`: the bytes land in the bucket directory and the app reads them through
    // its own storage binding.
    let put_bytes: Vec<u8> = (0..70_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let file = state.path().join("photo.bin");
    std::fs::write(&file, &put_bytes).unwrap();
    let (code, out, err) = ctl(
        &e,
        &["put", "uploads", "in/photo.bin", file.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        String::from_utf8_lossy(&out).trim(),
        md5_etag(&put_bytes),
        "the ETag is the MD5 of the bytes"
    );
    let on_disk = std::fs::read(state.path().join("storage/uploads/in/photo.bin")).unwrap();
    assert_eq!(on_disk, put_bytes);
    let read = http
        .get(format!("{app}/uploads/in/photo.bin"))
        .send()
        .unwrap();
    assert_eq!(read.status(), 200);
    assert_eq!(
        read.bytes().unwrap().to_vec(),
        put_bytes,
        "the app reads the put"
    );

    // The app writes through its binding: the watcher records the object (and raises the
    // storage event), and `alien ctl get` returns the app's bytes.
    let app_bytes = b"written by the app through local-storage\n".repeat(100);
    let written = http
        .put(format!("{app}/uploads/out/report.txt"))
        .body(app_bytes.clone())
        .send()
        .unwrap();
    assert_eq!(written.status(), 201);
    let t = wait_trace(
        &e,
        "the app's object recorded and its event delivered",
        |t| {
            !events(t, "object_put", "out/report.txt").is_empty()
                && !events(t, "storage_event", "out/report.txt").is_empty()
        },
    );
    let put = events(&t, "object_put", "out/report.txt")[0];
    assert_eq!(
        put["detail"][0],
        json!(["bytes", app_bytes.len().to_string()])
    );
    let (code, got, err) = ctl(&e, &["get", "uploads", "out/report.txt"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(got, app_bytes, "alien ctl get returns the app's bytes");

    // After kill -9 and a restart both objects read back byte for byte, and nothing is
    // announced again (the files are the ones the engine recorded).
    kill_9(&mut e);
    let e = start("aws", state.path());
    for (key, bytes) in [("in/photo.bin", &put_bytes), ("out/report.txt", &app_bytes)] {
        let (code, got, err) = ctl(&e, &["get", "uploads", key]);
        assert_eq!(code, 0, "{err}");
        assert_eq!(&got, bytes, "{key} after the restart");
    }
    let after = trace_all(&e);
    assert_eq!(
        events(&after, "object_put", "out/report.txt").len(),
        1,
        "the restart did not announce the object again"
    );
    let (code, _, err) = ctl(&e, &["get", "uploads", "../escape"]);
    assert_ne!(code, 0);
    assert!(err.contains("'..' segment"), "{err}");
}

/// The token and endpoint of the app's binding to `queue`, as the app received them.
fn binding(e: &Emulate, queue: &str) -> (String, String) {
    let env: Value = client()
        .get(format!("{}/env", e.gateway("app")))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let name = format!("ALIEN_{}_BINDING", queue.to_uppercase());
    let binding: Value = serde_json::from_str(env[&name].as_str().unwrap()).unwrap();
    let endpoint = binding["endpoint"]
        .as_str()
        .or(binding["config"]["endpoint"].as_str())
        .unwrap_or_else(|| panic!("no endpoint in {binding}"))
        .to_string();
    let token = binding["token"]
        .as_str()
        .or(binding["config"]["token"].as_str())
        .unwrap_or_else(|| panic!("no token in {binding}"))
        .to_string();
    (endpoint, token)
}

#[test]
fn answered_sends_survive_an_immediate_kill_9() {
    let state = tempfile::tempdir().unwrap();
    let mut e = start("aws", state.path());
    let http = client();
    let (endpoint, token) = binding(&e, "backlog");
    let mut answered = Vec::new();
    for n in 0..20 {
        // The control API.
        let control = format!("control-{n}");
        let r = http
            .post(format!("{}/queues/backlog/messages", e.control))
            .json(&json!({"text": control}))
            .send()
            .unwrap();
        assert_eq!(r.status(), 201);
        answered.push(control);
        // The SQS endpoint.
        let sqs = format!("sqs-{n}");
        let r = http
            .post(format!("{}/", e.control))
            .header("x-amz-target", "AmazonSQS.SendMessage")
            .header("content-type", "application/x-amz-json-1.0")
            .json(&json!({"QueueUrl": format!("{}/000000000000/backlog", e.control), "MessageBody": sqs}))
            .send()
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().unwrap_or_default());
        answered.push(sqs);
        // The app's own local-queue-http binding protocol, with its token.
        let binding = format!("binding-{n}");
        let r = http
            .post(&endpoint)
            .bearer_auth(&token)
            .json(&json!({"operation": "send", "message": {"type": "text", "data": binding}}))
            .send()
            .unwrap();
        assert!(r.status().is_success(), "{}", r.text().unwrap_or_default());
        answered.push(binding);
    }
    advance(&e, "10m");
    let before = now(&e);
    let pid = wait_trace(&e, "the app's process", |t| {
        !on(t, "process_started", "app").is_empty()
    })
    .iter()
    .filter(|x| x["kind"] == "process_started")
    .filter_map(|x| x["detail"][0][1].as_str()?.parse::<u32>().ok())
    .next_back()
    .expect("the app's pid");
    assert!(alive(pid));
    kill_9(&mut e);

    // The app dies with the emulator (PR_SET_PDEATHSIG), no later than a moment after.
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!alive(pid), "the app (pid {pid}) outlived the emulator");

    let e = start("aws", state.path());
    assert!(
        now(&e) >= before,
        "the clock went back: {} < {before}",
        now(&e)
    );
    let held: Vec<String> = client()
        .get(format!("{}/queues/backlog/messages", e.control))
        .send()
        .unwrap()
        .json::<Vec<Value>>()
        .unwrap()
        .iter()
        .map(|m| m["payload"]["data"].as_str().unwrap().to_string())
        .collect();
    for sent in &answered {
        assert!(held.contains(sent), "{sent} was answered but is gone");
    }
    assert_eq!(held.len(), answered.len());
}

#[test]
fn gcp_backs_off_a_push_endpoint_that_keeps_failing() {
    let state = tempfile::tempdir().unwrap();
    let e = start("gcp", state.path());
    let id = send(&e, json!({"fail": true}));
    advance(&e, "10s");
    let t = trace_all(&e);
    let delays: Vec<&str> = events(&t, "push_backoff", &id)
        .iter()
        .filter_map(|x| x["detail"][0][1].as_str())
        .collect();
    for line in t.iter().filter(|x| x["subject"] == id.as_str()) {
        println!(
            "{} {} {}",
            alien_emulator::engine::offset(line["t_ms"].as_i64().unwrap()),
            line["kind"].as_str().unwrap(),
            line["detail"]
        );
    }
    // 100 ms after the first failed push, doubling (Pub/Sub push backoff, 100 ms to 60 s):
    // pushes at 0, 0.1, 0.3, 0.7, 1.5, 3.1 and 6.3 s, the next at 12.7 s. Real time also moves
    // the emulator's clock a little while the test runs, hence a range.
    let doubling = [
        "100ms", "200ms", "400ms", "800ms", "1s600ms", "3s200ms", "6s400ms", "12s800ms",
    ];
    assert!((6..=8).contains(&delays.len()), "{delays:?}");
    assert_eq!(delays, doubling[..delays.len()]);
    let deliveries = events(&t, "delivered", &id).len();
    assert!(
        deliveries == delays.len() || deliveries == delays.len() + 1,
        "{deliveries} deliveries, {} pauses",
        delays.len()
    );
}

#[test]
fn a_state_file_of_the_previous_format_is_migrated() {
    let state = tempfile::tempdir().unwrap();
    std::fs::copy(
        repo().join("emulator/tests/fixtures/state-v1.sqlite"),
        state.path().join("state.sqlite"),
    )
    .unwrap();
    // The fixture's stack: a worker `w` (image `x`, mapped to the fixture app) with a cron.
    // The file's engine time is 2026-01-05 and the emulator resumes it plus the real time
    // since then, so on a platform with retention (SQS: 4 days) its messages would have
    // expired; the local profile keeps messages for ever.
    let stack = state.path().join("v1.json");
    std::fs::write(
        &stack,
        json!({"id":"v1","resources":{
          "jobs":{"config":{"type":"queue","id":"jobs"},"lifecycle":"frozen","dependencies":[]},
          "files":{"config":{"type":"storage","id":"files"},"lifecycle":"frozen","dependencies":[]},
          "cache":{"config":{"type":"kv","id":"cache"},"lifecycle":"frozen","dependencies":[]},
          "w":{"config":{"type":"worker","id":"w","links":[],"permissions":"p","code":{"type":"image","image":"x"},
            "timeoutSeconds":10,"triggers":[{"type":"schedule","cron":"*/5 * * * *"}]},"lifecycle":"live","dependencies":[]}},
          "permissions":{"profiles":{"p":{}}}})
        .to_string(),
    )
    .unwrap();
    common::build_fixture(&["--bin", "worker-app"]);
    let config = state.path().join("alien-emulate.toml");
    std::fs::write(
        &config,
        format!(
            "[resources.w]\ncommand = {:?}\n",
            repo().join("target/debug/worker-app").display().to_string()
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_alien"))
        .args(["emulate", stack.to_str().unwrap(), "--platform", "local"])
        .args(["--stop-after", "2s", "--config", config.to_str().unwrap()])
        .arg("--state-dir")
        .arg(state.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("from state format v1 to v2"),
        "the migration is reported: {stderr}"
    );
    assert!(
        state.path().join("state.v1.sqlite").exists(),
        "the v1 file is kept"
    );
    let e = start_stack(
        stack.to_str().unwrap(),
        "local",
        state.path(),
        &["--config", config.to_str().unwrap()],
    );
    let held: Vec<String> = client()
        .get(format!("{}/queues/jobs/messages", e.control))
        .send()
        .unwrap()
        .json::<Vec<Value>>()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(held, ["m-6", "m-7"]);
    let dead: Vec<Value> = client()
        .get(format!("{}/queues/jobs/dead-letters", e.control))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(dead[0]["id"], "m-1");
    let t = trace_all(&e);
    assert_eq!(t[0]["kind"], "sent", "the v1 trace goes on: {}", t[0]);
    assert_eq!(t[0]["subject"], "m-1");
}
