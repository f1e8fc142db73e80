//! A real Worker app built from the published `alien-sdk` 3.3.49 crates
//! (tests/fixtures/worker-app) hosted by `WorkerHost` end to end: HTTP on the registered
//! port, every task kind, bindings, timeouts, crashes, restarts and stop
//! (real-clients.md §3; published-3.3.49.md §6, §7, §12).
//!
//! The fixture is built first with `cargo build --manifest-path
//! tests/fixtures/worker-app/Cargo.toml` into the repository's target dir; a cold build takes
//! several minutes (alien-sdk pulls turso and tonic). A failed build fails every test here.
#![cfg(unix)]

mod fixture_host;

use std::{
    collections::BTreeMap,
    process::{Command, Stdio},
    time::Duration,
};

use alien_emulator::emulate::host::{HostEvent, RegisteredHandler, RestartReason, TaskOutcome};
use alien_emulator::engine::{
    CommandEvent, CronEvent, Event, HttpRequest, QueueMessage, StorageEvent,
};
use alien_providers::Payload;
use fixture_host::{BOUND, HostedApp};
use serde_json::{Value, json};

fn queue(payload: Value) -> Event {
    Event::Queue(QueueMessage {
        id: "msg-1".into(),
        payload: Payload::Json(payload),
        receipt_handle: "1:r".into(),
        source: "jobs".into(),
        attempt_count: 1,
        timestamp: chrono::Utc::now(),
        attributes: BTreeMap::new(),
    })
}

fn command(name: &str, params: Value) -> Event {
    Event::Command(CommandEvent {
        command_id: format!("cmd-{name}"),
        name: name.into(),
        params,
        attempt: 1,
        deadline: None,
    })
}

fn assert_success(outcome: &TaskOutcome) {
    assert!(outcome.is_success(), "expected success, got {outcome:?}");
}

fn pid_alive(pid: u32) -> bool {
    Command::new("kill")
        .args(["-0", &pid.to_string()])
        .stderr(Stdio::null())
        .status()
        .map(|status| status.success())
        .unwrap_or(false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_http_and_answers_every_task_kind() {
    let mut h = HostedApp::start("processor", |_| {}).await;
    let pid = h.host.pid().expect("running");
    let started = h.event(|e| matches!(e, HostEvent::Started { .. })).await;
    assert!(
        matches!(started[..], [HostEvent::Started { pid: p, http_port: Some(_), .. }] if p == pid),
        "{started:?}"
    );

    // HTTP goes straight to the port the app registered.
    let (status, body) = h.get("/health").await;
    assert_eq!((status, body.as_str()), (200, r#"{"status":"ok"}"#));
    let echoed = h
        .http
        .post(h.url("/echo").await)
        .body("ping")
        .send()
        .await
        .expect("POST /echo")
        .text()
        .await
        .expect("body");
    assert_eq!(echoed, "ping");

    let handlers = h.host.handlers().await;
    let expected: Vec<_> = [
        ("command", "add"),
        ("command", "echo"),
        ("command", "fail"),
        ("command", "slow"),
        ("cron", "*"),
        ("queue", "*"),
        ("storage", "*"),
    ]
    .into_iter()
    .map(|(t, r)| RegisteredHandler {
        handler_type: t.into(),
        resource_name: r.into(),
    })
    .collect();
    assert_eq!(handlers, expected);

    // The env contract as the app sees it.
    let (_, env) = h.get("/env").await;
    let env: BTreeMap<String, String> = serde_json::from_str(&env).expect("env JSON");
    let address = h.host.grpc_address().expect("running").to_string();
    assert_eq!(env.get("ALIEN_WORKER_GRPC_ADDRESS"), Some(&address));
    assert_eq!(env.get("ALIEN_BINDINGS_GRPC_ADDRESS"), Some(&address));
    assert_eq!(
        env.get("ALIEN_TRANSPORT").map(String::as_str),
        Some("local")
    );
    assert_eq!(
        env.get("ALIEN_DEPLOYMENT_TYPE").map(String::as_str),
        Some("local")
    );
    assert_eq!(
        env.get("ALIEN_CURRENT_WORKER_BINDING_NAME")
            .map(String::as_str),
        Some("processor")
    );

    // Queue: success, and the app saw the message.
    assert_success(&h.deliver(&queue(json!({"n": 1}))).await);
    assert_eq!(
        h.line("event queue").await,
        r#"event queue source=jobs attempt=1 id=msg-1 payload={"n":1}"#
    );
    // A text payload arrives as raw text.
    let text = Event::Queue(QueueMessage {
        payload: Payload::Text("plain words".into()),
        ..match queue(json!(null)) {
            Event::Queue(m) => m,
            _ => unreachable!(),
        }
    });
    assert_success(&h.deliver(&text).await);
    assert!(h.line("event queue").await.ends_with("payload=plain words"));

    // A failing handler is HANDLER_ERROR.
    match h.deliver(&queue(json!({"fail": true}))).await {
        TaskOutcome::Error { code, message } => {
            assert_eq!(code, "HANDLER_ERROR");
            assert!(message.contains("payload asked to fail"), "{message}");
        }
        other => panic!("expected HANDLER_ERROR, got {other:?}"),
    }

    let storage = Event::Storage(StorageEvent {
        key: "reports/a.csv".into(),
        event_type: "created".into(),
        bucket: "uploads".into(),
        size: 42,
        content_type: "text/csv".into(),
        timestamp: chrono::Utc::now(),
        sequence: 1,
    });
    assert_success(&h.deliver(&storage).await);
    assert_eq!(
        h.line("event storage").await,
        "event storage bucket=uploads key=reports/a.csv type=created size=42 content_type=text/csv"
    );

    let scheduled = chrono::DateTime::parse_from_rfc3339("2026-11-22T10:05:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let cron = Event::Cron(CronEvent {
        schedule_name: "*/5 * * * *".into(),
        scheduled_time: scheduled,
    });
    assert_success(&h.deliver(&cron).await);
    assert_eq!(
        h.line("event cron").await,
        "event cron schedule=*/5 * * * * time=2026-11-22T10:05:00+00:00"
    );

    // Commands return their JSON result bytes.
    match h.deliver(&command("add", json!({"a": 40, "b": 2}))).await {
        TaskOutcome::Success { response_data } => {
            let result: Value = serde_json::from_slice(&response_data).expect("JSON result");
            assert_eq!(result, json!({"sum": 42}));
        }
        other => panic!("expected success, got {other:?}"),
    }
    match h.deliver(&command("echo", json!({"x": [1, 2]}))).await {
        TaskOutcome::Success { response_data } => {
            assert_eq!(
                serde_json::from_slice::<Value>(&response_data).unwrap(),
                json!({"x": [1, 2]})
            );
        }
        other => panic!("expected success, got {other:?}"),
    }
    assert_eq!(
        h.deliver(&command("nope", json!({}))).await,
        TaskOutcome::Error {
            code: "COMMAND_ERROR".into(),
            message: "No handler for command: nope".into(),
        }
    );
    match h.deliver(&command("add", json!({"a": "x"}))).await {
        TaskOutcome::Error { code, message } => {
            assert_eq!(code, "COMMAND_ERROR");
            assert!(message.contains("DESERIALIZATION_FAILED"), "{message}");
        }
        other => panic!("expected COMMAND_ERROR, got {other:?}"),
    }

    // HTTP is not a task.
    let http = Event::Http(HttpRequest {
        request_id: "r1".into(),
        method: "GET".into(),
        path: "/health".into(),
        headers: BTreeMap::new(),
        body_bytes: 0,
    });
    assert!(matches!(
        h.deliver(&http).await,
        TaskOutcome::Error { code, .. } if code == TaskOutcome::NOT_A_TASK
    ));

    // stop(grace) ends the process.
    h.stop().await;
    let exits = h.event(|e| matches!(e, HostEvent::Exited { .. })).await;
    assert!(
        matches!(exits.last(), Some(HostEvent::Exited { pid: p, expected: true, .. }) if *p == pid),
        "{exits:?}"
    );
    assert!(!pid_alive(pid), "pid {pid} still alive after stop");
    assert_eq!(h.host.http_port().await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kv_and_storage_bindings_work_from_env() {
    let dir = tempfile::tempdir().expect("tempdir");
    let kv_dir = dir.path().join("kv");
    let storage_dir = dir.path().join("storage");
    std::fs::create_dir_all(&storage_dir).unwrap();
    let env = BTreeMap::from([
        (
            "ALIEN_CACHE_BINDING".to_string(),
            json!({"service": "local-kv", "dataDir": kv_dir}).to_string(),
        ),
        (
            "ALIEN_UPLOADS_BINDING".to_string(),
            json!({"service": "local-storage", "storagePath": storage_dir}).to_string(),
        ),
        (
            "ALIEN_LOCAL_STATE_DIRECTORY".to_string(),
            dir.path().join("state").display().to_string(),
        ),
    ]);
    let h = HostedApp::start("processor", |config| config.process.env = env).await;

    assert_eq!(h.put("/kv/greeting", "hello-kv").await, 204);
    assert_eq!(h.get("/kv/greeting").await, (200, "hello-kv".to_string()));
    assert_eq!(h.get("/kv/missing").await.0, 404);
    assert!(
        kv_dir.join("localkv.sqlite").is_file(),
        "KV store file created"
    );

    assert_eq!(h.put("/uploads/reports/a.txt", "file body").await, 201);
    assert_eq!(
        h.get("/uploads/reports/a.txt").await,
        (200, "file body".to_string())
    );
    assert_eq!(
        std::fs::read_to_string(storage_dir.join("reports/a.txt")).expect("object on disk"),
        "file body"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_timeout_restarts_the_app_with_a_fresh_server() {
    let mut h = HostedApp::start("slow", |_| {}).await;
    h.event(|e| matches!(e, HostEvent::Started { .. })).await;
    let old_pid = h.host.pid().expect("running");
    let old_address = h.host.grpc_address().expect("running");

    let outcome = tokio::time::timeout(
        BOUND,
        h.host.deliver(
            &queue(json!({"sleep_ms": 30_000})),
            Duration::from_millis(500),
        ),
    )
    .await
    .expect("timeout outcome in time");
    assert_eq!(outcome, TaskOutcome::Timeout);
    assert!(!pid_alive(old_pid), "the cancelled app was stopped");

    let seen = h.event(|e| matches!(e, HostEvent::Started { .. })).await;
    assert!(
        seen.contains(&HostEvent::Restarting {
            reason: RestartReason::TaskTimeout
        }),
        "{seen:?}"
    );
    assert!(
        seen.iter()
            .any(|e| matches!(e, HostEvent::Exited { pid, .. } if *pid == old_pid)),
        "{seen:?}"
    );
    let new_pid = h.host.pid().expect("restarted");
    assert_ne!(new_pid, old_pid);
    assert_ne!(h.host.grpc_address().expect("restarted"), old_address);

    // Works again, over HTTP and tasks.
    assert_success(&h.deliver(&queue(json!({"after": "timeout"}))).await);
    assert_eq!(h.get("/health").await.0, 200);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_supervisor_restarts_a_killed_app() {
    let mut h = HostedApp::start("fragile", |_| {}).await;
    h.event(|e| matches!(e, HostEvent::Started { .. })).await;
    let old_pid = h.host.pid().expect("running");

    let killed = Command::new("kill")
        .args(["-9", &old_pid.to_string()])
        .status()
        .expect("run kill");
    assert!(killed.success());

    let seen = h.event(|e| matches!(e, HostEvent::Started { .. })).await;
    match &seen[..] {
        [
            HostEvent::Exited {
                pid,
                status,
                expected: false,
            },
            HostEvent::Restarting {
                reason: RestartReason::Crashed,
            },
            HostEvent::Started {
                pid: new_pid,
                http_port: Some(_),
                ..
            },
        ] => {
            assert_eq!(*pid, old_pid);
            assert_eq!(status.signal, Some(9), "{status}");
            assert_ne!(*new_pid, old_pid);
        }
        other => panic!("unexpected events {other:?}"),
    }
    assert_success(&h.deliver(&queue(json!({"after": "kill"}))).await);
    assert_eq!(h.get("/health").await.0, 200);

    // A crash while a task is in flight is reported as such, then recovered from too.
    assert_eq!(
        h.deliver(&queue(json!({"exit": 3}))).await,
        TaskOutcome::Crashed
    );
    let seen = h.event(|e| matches!(e, HostEvent::Started { .. })).await;
    assert!(
        seen.iter().any(|e| matches!(
            e,
            HostEvent::Exited { status, expected: false, .. } if status.code == Some(3)
        )),
        "{seen:?}"
    );
    assert_success(&h.deliver(&command("add", json!({"a": 1, "b": 2}))).await);

    // An explicit restart starts a new process too.
    let before = h.host.pid().expect("running");
    tokio::time::timeout(BOUND, h.host.restart())
        .await
        .expect("restart in time")
        .expect("restart succeeds");
    assert_ne!(h.host.pid().expect("restarted"), before);
    assert!(!pid_alive(before), "old process gone after restart");
    assert_success(&h.deliver(&queue(json!({"after": "restart"}))).await);
    h.stop().await;
}
