//! `alien emulate` driven through the CLI as a user runs it: spawn, read the status table,
//! talk to the control API, poll the trace (real time, bounded) for what the engine recorded.

#![allow(dead_code)] // Each test crate uses its own subset.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `alien <args>` run to completion in the repository.
pub fn alien(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_alien"))
        .args(args)
        .current_dir(repo())
        .output()
        .expect("run alien")
}

/// A running `alien emulate`, stopped (SIGKILL) when dropped.
pub struct Emulate {
    pub child: Child,
    pub control: String,
    /// The status table's rows (after the header), as printed.
    pub rows: Vec<String>,
    /// Its stderr lines (the apps' output among them) when started by [`start_stack_logged`].
    pub logs: Arc<Mutex<Vec<String>>>,
}

impl Drop for Emulate {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Emulate {
    /// The row of `resource` in the status table.
    pub fn row(&self, resource: &str) -> &str {
        self.rows
            .iter()
            .find(|r| r.split_whitespace().next() == Some(resource))
            .unwrap_or_else(|| panic!("no status row for {resource}: {:#?}", self.rows))
    }

    /// The gateway URL of public worker `worker`.
    pub fn gateway(&self, worker: &str) -> String {
        self.row(worker)
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("{worker} has no gateway URL: {}", self.row(worker)))
            .to_string()
    }
}

/// Starts `alien emulate <stack> --platform <platform>` with `extra` arguments and waits for
/// its status table (the first run builds the fixture app).
pub fn start_stack(stack: &str, platform: &str, state: &Path, extra: &[&str]) -> Emulate {
    start(stack, platform, state, extra, false)
}

/// [`start_stack`], keeping every stderr line (`[worker] …` app output among them) in
/// [`Emulate::logs`] as well as printing it.
pub fn start_stack_logged(stack: &str, platform: &str, state: &Path, extra: &[&str]) -> Emulate {
    start(stack, platform, state, extra, true)
}

fn start(stack: &str, platform: &str, state: &Path, extra: &[&str], logged: bool) -> Emulate {
    let mut child = Command::new(env!("CARGO_BIN_EXE_alien"))
        .args([
            "emulate",
            stack,
            "--platform",
            platform,
            "--stop-after",
            "10m",
        ])
        .args(extra)
        .arg("--state-dir")
        .arg(state)
        .current_dir(repo())
        // Share the workspace target dir so the fixture app is built once.
        .env("CARGO_TARGET_DIR", repo().join("target"))
        .stdout(Stdio::piped())
        .stderr(if logged {
            Stdio::piped()
        } else {
            Stdio::inherit()
        })
        .spawn()
        .expect("spawn alien emulate");
    let logs = Arc::new(Mutex::new(Vec::new()));
    if let Some(stderr) = child.stderr.take() {
        let logs = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("{line}");
                logs.lock().unwrap().push(line);
            }
        });
    }
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(900);
    let (mut control, mut rows, mut in_table) = (None, Vec::new(), false);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .expect("alien emulate printed its status table (the first run builds the app)");
        println!("{line}");
        if let Some(rest) = line.strip_prefix("control API: ") {
            control = rest.split_whitespace().next().map(str::to_string);
        } else if line.starts_with("RESOURCE") {
            in_table = true;
        } else if in_table && line.trim().is_empty() {
            break;
        } else if in_table {
            rows.push(line);
        }
    }
    Emulate {
        child,
        control: control.expect("a control API line"),
        rows,
        logs,
    }
}

/// `cargo build --locked <args>` of the fixture app into the shared target dir, without the
/// crate-scoped variables cargo sets for this test (they would make the fixture's build
/// scripts rerun and rebuild what `alien emulate` just built).
pub fn build_fixture(args: &[&str]) {
    let mut cargo = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    alien_emulator::emulate::config::scrub_crate_env(&mut cargo);
    let status = cargo
        .args(["build", "--locked"])
        .args(args)
        .current_dir(repo().join("tests/fixtures/worker-app"))
        .env("CARGO_TARGET_DIR", repo().join("target"))
        .stdout(Stdio::null())
        .status()
        .expect("cargo build of the fixture app");
    assert!(status.success(), "cargo build {args:?} of the fixture app");
}

pub fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

pub fn advance(e: &Emulate, by: &str) {
    let r = client()
        .post(format!("{}/clock/advance", e.control))
        .json(&json!({"by": by}))
        .send()
        .unwrap();
    assert!(r.status().is_success(), "advance {by}: {}", r.status());
}

/// Sends a JSON message to queue `jobs`; returns its id.
pub fn send(e: &Emulate, body: Value) -> String {
    send_to(e, "jobs", body)
}

/// Sends `body` as JSON to `queue` through the control API; the message id.
pub fn send_to(e: &Emulate, queue: &str, body: Value) -> String {
    let r = client()
        .post(format!("{}/queues/{queue}/messages", e.control))
        .json(&json!({"json": body}))
        .send()
        .unwrap();
    assert!(r.status().is_success(), "send: {}", r.status());
    r.json::<Value>().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

pub fn trace(e: &Emulate) -> Vec<Value> {
    client()
        .get(format!("{}/trace", e.control))
        .send()
        .unwrap()
        .json::<Vec<Value>>()
        .unwrap()
}

/// Polls the trace (real time, bounded) until `pred` holds.
pub fn wait_trace(e: &Emulate, what: &str, pred: impl Fn(&[Value]) -> bool) -> Vec<Value> {
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

/// Trace events of `kind` about `subject`.
pub fn events<'a>(t: &'a [Value], kind: &str, subject: &str) -> Vec<&'a Value> {
    t.iter()
        .filter(|e| e["kind"] == kind && e["subject"] == subject)
        .collect()
}

/// Trace events of `kind` on `resource`.
pub fn on<'a>(t: &'a [Value], kind: &str, resource: &str) -> Vec<&'a Value> {
    t.iter()
        .filter(|e| e["kind"] == kind && e["resource"] == resource)
        .collect()
}

/// Polls `url` (real time, bounded) until it answers 200.
pub fn wait_http_ok(url: &str) -> u16 {
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

/// The whole trace, paged (`GET /trace` answers at most 10 000 events at a time).
pub fn trace_all(e: &Emulate) -> Vec<Value> {
    let mut all: Vec<Value> = Vec::new();
    loop {
        let mut url = format!("{}/trace", e.control);
        if let Some(last) = all.last() {
            url.push_str(&format!("?after={}", last["seq"]));
        }
        let page = client()
            .get(url)
            .send()
            .unwrap()
            .json::<Vec<Value>>()
            .unwrap();
        if page.is_empty() {
            return all;
        }
        all.extend(page);
    }
}

/// `alien ctl <args>` against the emulator; (exit code, stdout bytes, stderr text).
pub fn ctl(e: &Emulate, args: &[&str]) -> (i32, Vec<u8>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_alien"))
        .arg("ctl")
        .args(["--url", &e.control])
        .args(args)
        .output()
        .expect("run alien ctl");
    (
        out.status.code().unwrap_or(-1),
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Whether process `pid` is running (a zombie counts as gone).
pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let state = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .next()?
                .to_string();
            Some(state != "Z")
        })
        .unwrap_or(false)
}

/// `GET /status`.
pub fn status(e: &Emulate) -> Value {
    client()
        .get(format!("{}/status", e.control))
        .send()
        .unwrap()
        .json()
        .unwrap()
}

/// The engine's virtual now, from `GET /status`.
pub fn now(e: &Emulate) -> chrono::DateTime<chrono::Utc> {
    status(e)["now"].as_str().unwrap().parse().unwrap()
}

/// The value of detail `key` of a trace event.
pub fn detail<'a>(event: &'a Value, key: &str) -> Option<&'a str> {
    event["detail"]
        .as_array()?
        .iter()
        .find(|pair| pair[0] == key)
        .and_then(|pair| pair[1].as_str())
}
