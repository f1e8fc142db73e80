//! Acceptance: `alien emulate` through the CLI with a real worker built on the published
//! `alien-sdk` 3.3.49 (tests/fixtures/worker-app), on the aws and gcp profiles: HTTP through
//! the gateway, 413 over Lambda's 6 MB, a handler that fails twice redelivered at the
//! profile's times (by clock advance, not sleeping), a storage event raised by the app's own
//! binding write, KV through the binding, and a cron fire by clock advance.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A running `alien emulate`, stopped (SIGKILL) when dropped.
struct Emulate {
    child: Child,
    control: String,
    gateway: String,
}

impl Drop for Emulate {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(platform: &str, state: &Path) -> Emulate {
    start_stack("examples/hello-worker", platform, state)
}

fn start_stack(stack: &str, platform: &str, state: &Path) -> Emulate {
    let mut child = Command::new(env!("CARGO_BIN_EXE_alien"))
        .args([
            "emulate",
            stack,
            "--platform",
            platform,
            "--stop-after",
            "10m",
        ])
        .arg("--state-dir")
        .arg(state)
        .current_dir(repo())
        // Share the workspace target dir so the fixture app is built once.
        .env("CARGO_TARGET_DIR", repo().join("target"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn alien emulate");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(900);
    let (mut control, mut gateway) = (None, None);
    while control.is_none() || gateway.is_none() {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .expect("alien emulate printed its status table (the first run builds the app)");
        println!("{line}");
        if let Some(rest) = line.strip_prefix("control API: ") {
            control = rest.split_whitespace().next().map(str::to_string);
        }
        if line.starts_with("app ") {
            if stack == "examples/hello-worker" {
                // aws and gcp run the readiness probe for public workers after deploy.
                assert!(line.contains("ready (GET /health → 200)"), "{line}");
            }
            gateway = line
                .split_whitespace()
                .find(|w| w.starts_with("http://"))
                .map(str::to_string);
        }
    }
    Emulate {
        child,
        control: control.unwrap(),
        gateway: gateway.unwrap(),
    }
}

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

fn advance(e: &Emulate, by: &str) {
    let r = client()
        .post(format!("{}/clock/advance", e.control))
        .json(&json!({"by": by}))
        .send()
        .unwrap();
    assert!(r.status().is_success(), "advance {by}: {}", r.status());
}

fn send(e: &Emulate, body: Value) -> String {
    let r = client()
        .post(format!("{}/queues/jobs/messages", e.control))
        .json(&json!({"json": body}))
        .send()
        .unwrap();
    assert!(r.status().is_success(), "send: {}", r.status());
    r.json::<Value>().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn trace(e: &Emulate) -> Vec<Value> {
    client()
        .get(format!("{}/trace", e.control))
        .send()
        .unwrap()
        .json::<Vec<Value>>()
        .unwrap()
}

/// Polls the trace (real time, bounded) until `pred` holds.
fn wait_trace(e: &Emulate, what: &str, pred: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let t = trace(e);
        if pred(&t) {
            return t;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; trace:\n{t:#?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn events<'a>(t: &'a [Value], kind: &str, subject: &str) -> Vec<&'a Value> {
    t.iter()
        .filter(|e| e["kind"] == kind && e["subject"] == subject)
        .collect()
}

fn common_checks(e: &Emulate) {
    let http = client();
    assert_eq!(
        http.get(format!("{}/health", e.gateway))
            .send()
            .unwrap()
            .status(),
        200
    );
    let put = http
        .put(format!("{}/kv/greeting", e.gateway))
        .body("hello-kv")
        .send()
        .unwrap();
    assert!(
        put.status().is_success(),
        "kv put through the binding: {}",
        put.status()
    );
    let got = http
        .get(format!("{}/kv/greeting", e.gateway))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(got.contains("hello-kv"), "kv get: {got}");
    // The app writes through its own local-storage binding; the emulator raises the event.
    let up = http
        .put(format!("{}/uploads/report.txt", e.gateway))
        .body("data")
        .send()
        .unwrap();
    assert!(up.status().is_success(), "upload: {}", up.status());
    // The app sends through its own queue binding (local-queue-http): the message enters the
    // emulated queue and is delivered back to the app's queue trigger.
    let sent_before = trace(e).iter().filter(|x| x["kind"] == "sent").count();
    let sent = http
        .post(format!("{}/jobs", e.gateway))
        .json(&json!({"from": "app"}))
        .send()
        .unwrap();
    assert_eq!(sent.status(), 202, "send through the binding");
    let t = wait_trace(e, "the app's own send", |t| {
        t.iter().filter(|x| x["kind"] == "sent").count() > sent_before
    });
    let id = t
        .iter()
        .filter(|x| x["kind"] == "sent")
        .nth(sent_before)
        .unwrap()["subject"]
        .as_str()
        .unwrap()
        .to_string();
    wait_trace(
        e,
        "the app's own message delivered back to it and acked",
        |t| events(t, "acked", &id).len() == 1,
    );
    wait_trace(e, "a storage event delivered to the app", |t| {
        t.iter()
            .any(|x| x["kind"] == "storage_event" && x["subject"] == "report.txt")
            && t.iter()
                .any(|x| x["kind"] == "succeeded" && x["subject"] == "uploads/report.txt")
    });
}

#[test]
fn aws_profile() {
    let state = tempfile::tempdir().unwrap();
    let e = start("aws", state.path());
    common_checks(&e);
    // seed 001: Lambda 6 MB synchronous payload limit.
    let big = client()
        .post(format!("{}/echo", e.gateway))
        .body(vec![0u8; 7 * 1024 * 1024])
        .send()
        .unwrap();
    assert_eq!(big.status(), 413);
    // Fails twice: visibility = max(30, min(43200, 6 × 30)) = 180 s between deliveries.
    let id = send(&e, json!({"fail_times": 2}));
    wait_trace(&e, "the first failure", |t| {
        events(t, "failed", &id).len() == 1
    });
    advance(&e, "179s");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        events(&trace(&e), "delivered", &id).len(),
        1,
        "not before the visibility timeout"
    );
    advance(&e, "1s");
    wait_trace(&e, "the second failure", |t| {
        events(t, "failed", &id).len() == 2
    });
    advance(&e, "180s");
    let t = wait_trace(&e, "the ack", |t| events(t, "acked", &id).len() == 1);
    let at: Vec<i64> = events(&t, "delivered", &id)
        .iter()
        .map(|x| x["t_ms"].as_i64().unwrap())
        .collect();
    assert_eq!(at.len(), 3);
    assert!(
        (at[1] - at[0] - 180_000).abs() < 2_000 && (at[2] - at[1] - 180_000).abs() < 2_000,
        "{at:?}"
    );
    // A cron fire by clock advance: "15 * * * *" fires within the next hour.
    advance(&e, "61m");
    wait_trace(&e, "a cron fire handled by the app", |t| {
        t.iter().any(|x| x["kind"] == "cron_fired")
            && t.iter().any(|x| {
                x["kind"] == "succeeded"
                    && x["resource"] == "app"
                    && x["subject"].as_str().is_some_and(|s| s.ends_with('Z'))
            })
    });
}

#[test]
fn gcp_profile() {
    let state = tempfile::tempdir().unwrap();
    let e = start("gcp", state.path());
    common_checks(&e);
    // Cloud Run takes 32 MB: 7 MB is proxied.
    let big = client()
        .post(format!("{}/echo", e.gateway))
        .body(vec![0u8; 7 * 1024 * 1024])
        .send()
        .unwrap();
    assert_eq!(big.status(), 200);
    // Pub/Sub push with no retry policy: redelivered at once, no clock advance needed.
    let id = send(&e, json!({"fail_times": 2}));
    let t = wait_trace(&e, "the ack after two immediate redeliveries", |t| {
        events(t, "acked", &id).len() == 1
    });
    let at: Vec<i64> = events(&t, "delivered", &id)
        .iter()
        .map(|x| x["t_ms"].as_i64().unwrap())
        .collect();
    assert_eq!(at.len(), 3);
    assert!(at[2] - at[0] < 10_000, "immediate redelivery: {at:?}");
}

/// Durable state: kill -9 of the emulator mid-stream, then a restart on the same state dir:
/// nothing acked is redelivered, nothing unacked is lost, the lease resumes.
#[test]
fn kill_9_and_restart_keeps_the_queue() {
    let state = tempfile::tempdir().unwrap();
    let (acked, pending) = {
        let mut e = start("aws", state.path());
        let acked = send(&e, json!({"n": 1}));
        let pending = send(&e, json!({"fail_times": 5}));
        wait_trace(&e, "one ack and one failure", |t| {
            events(t, "acked", &acked).len() == 1 && events(t, "failed", &pending).len() == 1
        });
        // SIGKILL: no chance to save anything more.
        e.child.kill().unwrap();
        e.child.wait().unwrap();
        (acked, pending)
    };
    let e = start("aws", state.path());
    let before = trace(&e).len();
    assert!(before > 0, "the trace survived the restart");
    // The failed message is still leased (visibility 180 s); it comes back when that ends.
    advance(&e, "181s");
    let t = wait_trace(&e, "the unacked message delivered again", |t| {
        events(t, "delivered", &pending).len() >= 2
    });
    assert_eq!(
        events(&t, "delivered", &acked).len(),
        1,
        "the acked message was not redelivered"
    );
}

/// Polls `url` (real time, bounded) until it answers 200.
fn wait_http_ok(url: &str) -> u16 {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = client()
            .get(url)
            .send()
            .map(|r| r.status().as_u16())
            .unwrap_or(0);
        if status == 200 || Instant::now() > deadline {
            return status;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A handler slower than `timeoutSeconds` (2 s here) times out at the platform's limit in
/// virtual time (the clock is advanced, not waited for), and the platform's retry applies; the
/// app keeps working afterwards (a 3.3.49 app is restarted after a task timeout).
#[test]
fn handler_timeout_on_aws_and_gcp() {
    for (platform, redelivered_after_ms) in [("aws", 30_000), ("gcp", 0)] {
        let state = tempfile::tempdir().unwrap();
        let e = start_stack(
            "tests/fixtures/stacks/emulate-timeout",
            platform,
            state.path(),
        );
        let slow = send(&e, json!({"sleep_ms": 5000}));
        advance(&e, "2s");
        let t = wait_trace(&e, "the timeout", |t| {
            !events(t, "timed_out", &slow).is_empty()
        });
        let timed_out = events(&t, "timed_out", &slow)[0];
        assert_eq!(timed_out["detail"][0], json!(["after", "2s"]), "{platform}");
        // aws: visible again after max(30, min(43200, 6 × 2)) = 30 s; gcp: at once.
        if redelivered_after_ms > 0 {
            advance(&e, "30s");
        }
        let t = wait_trace(&e, "the redelivery", |t| {
            events(t, "delivered", &slow).len() >= 2
        });
        let at: Vec<i64> = events(&t, "delivered", &slow)
            .iter()
            .map(|x| x["t_ms"].as_i64().unwrap())
            .collect();
        let after_timeout = at[1] - timed_out["t_ms"].as_i64().unwrap();
        assert!(
            (after_timeout - (redelivered_after_ms - 2_000).max(0)).abs() < 2_000,
            "{platform}: {at:?}"
        );
        // The app still serves (it was restarted after the timed-out task).
        let health = wait_http_ok(&format!("{}/health", e.gateway));
        assert_eq!(health, 200, "{platform}");
    }
}
